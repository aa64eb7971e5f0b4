//! How often the App answers one person.
//!
//! A comment command that is refused gets a reply saying why. One person can write hundreds of
//! comments a minute; answering each would flood the issue and use up the App's budget of
//! content-creating requests (GitHub allows 80 a minute and 500 an hour), so that status comments
//! wait behind the replies. Each person who is not a maintainer gets at most
//! [`REPLIES_PER_ISSUE`] replies on one issue and [`REPLIES_PER_INSTALLATION`] in one installation
//! within a window that refills one reply every [`ISSUE_REFILL`] / [`INSTALLATION_REFILL`]; past
//! that, the App reacts to the comment (`confused`) instead of replying. A person is their GitHub
//! account id, so a new login (a rename) starts no new window. The limits are kept in
//! memory per process (a restart forgets them, which errs on the side of answering).

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Replies to one person on one issue before the window has to refill.
pub const REPLIES_PER_ISSUE: u32 = 3;
/// One more reply on an issue per this long.
pub const ISSUE_REFILL: Duration = Duration::from_secs(5 * 60);
/// Replies to one person in one installation before the window has to refill.
pub const REPLIES_PER_INSTALLATION: u32 = 10;
/// One more reply in an installation per this long.
pub const INSTALLATION_REFILL: Duration = Duration::from_secs(60);
/// The reaction given instead of a reply past the limit.
pub const THROTTLED_REACTION: &str = "confused";
/// The reaction given to a command whose reply would repeat one just written on the issue: the
/// answer is there already.
pub const COLLAPSED_REACTION: &str = "eyes";

/// The per-person reply limits of the App.
pub struct ReplyThrottle {
    per_issue: DefaultKeyedRateLimiter<(i64, String, i64, i64)>,
    per_installation: DefaultKeyedRateLimiter<(i64, i64)>,
    checks: AtomicU64,
    /// People who hit a limit lately (installation, GitHub account id): their permission is asked of GitHub
    /// before their next comment is answered, so that maintainers are never throttled.
    limited: Mutex<HashSet<(i64, i64)>>,
}

/// At most this many people are remembered as limited (then the list starts over).
const MAX_LIMITED: usize = 10_000;

impl Default for ReplyThrottle {
    fn default() -> Self {
        ReplyThrottle::new(
            REPLIES_PER_ISSUE,
            ISSUE_REFILL,
            REPLIES_PER_INSTALLATION,
            INSTALLATION_REFILL,
        )
    }
}

fn quota(burst: u32, refill: Duration) -> Quota {
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(refill.max(Duration::from_millis(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl ReplyThrottle {
    pub fn new(
        per_issue: u32,
        issue_refill: Duration,
        per_installation: u32,
        installation_refill: Duration,
    ) -> Self {
        ReplyThrottle {
            per_issue: RateLimiter::keyed(quota(per_issue, issue_refill)),
            per_installation: RateLimiter::keyed(quota(per_installation, installation_refill)),
            checks: AtomicU64::new(0),
            limited: Mutex::new(HashSet::new()),
        }
    }

    /// Whether `login` may get one more reply on issue `number` of `repo` (counting it).
    pub fn allow(&self, installation: i64, repo: &str, number: i64, person: i64) -> bool {
        // Now and then, forget people whose window is full again (bounded memory).
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.per_issue.retain_recent();
            self.per_installation.retain_recent();
        }
        let issue_key = (installation, repo.to_lowercase(), number, person);
        let allowed = self.per_issue.check_key(&issue_key).is_ok()
            && self
                .per_installation
                .check_key(&(installation, person))
                .is_ok();
        if !allowed && let Ok(mut limited) = self.limited.lock() {
            if limited.len() >= MAX_LIMITED {
                limited.clear();
            }
            limited.insert((installation, person));
        }
        allowed
    }

    /// Whether `login` hit a reply limit in `installation` lately.
    pub fn was_limited(&self, installation: i64, person: i64) -> bool {
        self.limited
            .lock()
            .is_ok_and(|l| l.contains(&(installation, person)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mallory's GitHub account id: whatever login she shows, she is one person.
    const MALLORY: i64 = 7;

    #[test]
    fn a_few_replies_per_issue_and_per_installation() {
        let throttle = ReplyThrottle::default();
        for _ in 0..REPLIES_PER_ISSUE {
            assert!(throttle.allow(1, "o/r", 5, MALLORY));
        }
        assert!(
            !throttle.allow(1, "O/R", 5, MALLORY),
            "same person, same issue"
        );
        assert!(throttle.allow(1, "o/r", 5, 2), "someone else is answered");
        assert!(throttle.allow(2, "x/y", 5, MALLORY), "another installation");
        // Across issues of one installation: the installation's limit.
        let mut answered = REPLIES_PER_ISSUE;
        for number in 6..100 {
            if throttle.allow(1, "o/r", number, MALLORY) {
                answered += 1;
            }
        }
        assert_eq!(answered, REPLIES_PER_INSTALLATION);
    }
}
