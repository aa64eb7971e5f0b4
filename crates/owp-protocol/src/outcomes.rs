//! What became of a repository's work over a window: pull requests merged and closed unmerged,
//! the acceptance rate and the median lead time from a task's first claim to its merge.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The window the outcomes of a repository are counted over, in days.
pub const OUTCOME_DAYS: i64 = 30;

/// A repository's outcomes over the last [`OUTCOME_DAYS`] days.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RepoOutcomes {
    /// The window, in days (30).
    pub days: i64,
    /// Tasks merged in the window (merges decided by an admin or GitHub).
    pub merged: i64,
    /// Pull requests of tasks closed without merging in the window.
    pub closed_unmerged: i64,
    /// `merged / (merged + closed_unmerged)`, from 0 to 1; null when both are 0.
    pub acceptance_rate: Option<f64>,
    /// The median time from a merged task's first claim to its merge, in seconds; null when no
    /// task merged in the window (or none of them was ever claimed).
    pub lead_time_seconds: Option<f64>,
}

impl RepoOutcomes {
    /// Nothing merged or closed in the window.
    pub fn empty() -> RepoOutcomes {
        RepoOutcomes::new(0, 0, Vec::new())
    }

    /// The outcomes from counts and the lead times (ms) of the merged tasks that were claimed.
    pub fn new(merged: i64, closed_unmerged: i64, mut lead_times_ms: Vec<i64>) -> RepoOutcomes {
        let decided = merged + closed_unmerged;
        RepoOutcomes {
            days: OUTCOME_DAYS,
            merged,
            closed_unmerged,
            acceptance_rate: (decided > 0).then(|| merged as f64 / decided as f64),
            lead_time_seconds: median(&mut lead_times_ms).map(|ms| ms / 1000.0),
        }
    }
}

/// The median of `values` (the mean of the two middle ones of an even count); `None` when empty.
pub fn median(values: &mut [i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid] as f64
    } else {
        (values[mid - 1] as f64 + values[mid] as f64) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_median() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [7]), Some(7.0));
        assert_eq!(median(&mut [9, 1, 4]), Some(4.0));
        assert_eq!(median(&mut [10, 1, 4, 3]), Some(3.5));
        let none = RepoOutcomes::new(0, 0, vec![]);
        assert_eq!((none.acceptance_rate, none.lead_time_seconds), (None, None));
        let some = RepoOutcomes::new(3, 1, vec![60_000, 180_000, 120_000]);
        assert_eq!(some.acceptance_rate, Some(0.75));
        assert_eq!(some.lead_time_seconds, Some(120.0));
        assert_eq!(RepoOutcomes::new(0, 2, vec![]).acceptance_rate, Some(0.0));
    }
}
