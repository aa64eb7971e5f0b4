//! GitHub's limits on content-creating requests, read from the times at which one installation's
//! writes arrived: at most [`PER_MINUTE`] in any minute, [`PER_HOUR`] in any hour, and each about
//! [`SPACING_MS`] after the one before.

use std::collections::VecDeque;

/// Content-creating requests GitHub takes from one installation in any minute.
pub(crate) const PER_MINUTE: usize = 80;
/// … and in any hour.
pub(crate) const PER_HOUR: usize = 500;
/// GitHub asks for them about a second apart.
pub(crate) const SPACING_MS: u64 = 1000;
/// Two writes closer than `SPACING_MS` by less than this count as a second apart: the App spaces
/// its writes when it sends them, and the time they take to arrive varies a little.
pub(crate) const SPACING_SLACK_MS: u64 = 50;

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 3_600_000;

/// What one installation's writes looked like to GitHub.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct WriteCheck {
    pub(crate) writes: usize,
    /// The shortest time between two writes, in ms (`None` with fewer than two).
    pub(crate) min_gap_ms: Option<u64>,
    /// The most writes that arrived in any minute, and in any hour.
    pub(crate) max_per_minute: usize,
    pub(crate) max_per_hour: usize,
    /// Writes that arrived less than a second (less the slack) after the one before.
    pub(crate) too_close: usize,
    /// Writes that made a minute hold more than 80, or an hour more than 500.
    pub(crate) over_budget: usize,
    /// When the first and the last write arrived (ms since the simulation started).
    pub(crate) first_ms: Option<u64>,
    pub(crate) last_ms: Option<u64>,
}

impl WriteCheck {
    /// The mean time between two writes, in ms (`None` with fewer than two).
    pub(crate) fn mean_gap_ms(&self) -> Option<f64> {
        match (self.first_ms, self.last_ms) {
            (Some(first), Some(last)) if self.writes > 1 => {
                Some((last - first) as f64 / (self.writes - 1) as f64)
            }
            _ => None,
        }
    }

    /// Times GitHub would have seen this installation write faster than it allows.
    pub(crate) fn violations(&self) -> usize {
        self.too_close + self.over_budget
    }
}

/// Checks the arrival times (ms, in any order) of one installation's writes.
pub(crate) fn check(times_ms: &[u64]) -> WriteCheck {
    let mut times = times_ms.to_vec();
    times.sort_unstable();
    let mut out = WriteCheck {
        writes: times.len(),
        first_ms: times.first().copied(),
        last_ms: times.last().copied(),
        ..WriteCheck::default()
    };
    let mut minute = VecDeque::new();
    let mut hour = VecDeque::new();
    for (i, &t) in times.iter().enumerate() {
        if i > 0 {
            let gap = t - times[i - 1];
            out.min_gap_ms = Some(out.min_gap_ms.map_or(gap, |g| g.min(gap)));
            if gap + SPACING_SLACK_MS < SPACING_MS {
                out.too_close += 1;
            }
        }
        let over = [(&mut minute, MINUTE_MS), (&mut hour, HOUR_MS)].map(|(window, length)| {
            window.push_back(t);
            while window.front().is_some_and(|&first| first + length <= t) {
                window.pop_front();
            }
            window.len()
        });
        out.max_per_minute = out.max_per_minute.max(over[0]);
        out.max_per_hour = out.max_per_hour.max(over[1]);
        if over[0] > PER_MINUTE || over[1] > PER_HOUR {
            out.over_budget += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_second_apart_are_within_the_limits() {
        let times: Vec<u64> = (0..200).map(|i| 5_000 + i * 1_000).collect();
        let c = check(&times);
        assert_eq!(c.writes, 200);
        assert_eq!(c.min_gap_ms, Some(1_000));
        assert_eq!((c.max_per_minute, c.max_per_hour), (60, 200));
        assert_eq!(c.violations(), 0);
        assert_eq!(check(&[]), WriteCheck::default());
        assert_eq!(check(&[7]).min_gap_ms, None);
    }

    #[test]
    fn writes_too_close_are_counted_whatever_their_order() {
        // 960 ms is within the slack; 900 ms is not.
        let c = check(&[2_860, 0, 1_000, 1_960]);
        assert_eq!((c.too_close, c.min_gap_ms), (1, Some(900)));
        assert_eq!(c.violations(), 1);
    }

    #[test]
    fn a_minute_or_an_hour_over_budget_is_counted() {
        // 81 writes 700 ms apart: 80 in the first 56 s, the 81st still in that minute.
        let fast: Vec<u64> = (0..81).map(|i| i * 700).collect();
        let c = check(&fast);
        assert_eq!(c.max_per_minute, 81);
        assert_eq!((c.over_budget, c.too_close), (1, 80));
        // 501 writes 7 s apart: under 80 a minute, but 501 in under an hour.
        let slow: Vec<u64> = (0..501).map(|i| i * 7_000).collect();
        let c = check(&slow);
        assert_eq!((c.max_per_hour, c.over_budget, c.too_close), (501, 1, 0));
        assert_eq!(c.max_per_minute, 9);
    }
}
