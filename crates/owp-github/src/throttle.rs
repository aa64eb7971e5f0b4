//! How often the App answers one person.
//!
//! A comment command that is refused gets a reply saying why. One person can write hundreds of
//! comments a minute; answering each would flood the issue and use up the App's budget of
//! content-creating requests (GitHub allows 80 a minute and 500 an hour), so that status comments
//! wait behind the replies. Each person who is not a maintainer gets at most
//! [`REPLIES_PER_ISSUE`] replies on one issue in [`ISSUE_WINDOW`] and [`REPLIES_PER_INSTALLATION`]
//! in one installation in [`INSTALLATION_WINDOW`]; past that, the App reacts to the comment
//! (`confused`) instead of replying. A person is their GitHub account id, so a new login (a
//! rename) starts no new window.
//!
//! The replies are counted where every replica sees them (contract section 14: N replicas allow
//! what one allows): in the database's shared counts (`rate_counts`, `store::shared_limits`),
//! one conditional upsert per window in the transaction that writes the reply, so a count
//! commits with the reply it allowed and two replicas answering one person at once cannot both
//! take the last reply. A window begins at the first reply it counts (so replies close together
//! always share one, wherever the clock's minute turns), and its row lives until it ends (the
//! shared counts forget ended windows every minute): the table holds at most one row per person
//! and installation and one per person and issue they were answered on lately.

use std::time::Duration;

use crate::store::{Store, StoreError, WriteTx};

/// Replies to one person on one issue in [`ISSUE_WINDOW`].
pub const REPLIES_PER_ISSUE: u32 = 3;
/// The window the replies on one issue are counted in.
pub const ISSUE_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Replies to one person in one installation in [`INSTALLATION_WINDOW`].
pub const REPLIES_PER_INSTALLATION: u32 = 10;
/// The window the replies in one installation are counted in.
pub const INSTALLATION_WINDOW: Duration = Duration::from_secs(60);
/// The reaction given instead of a reply past the limit.
pub const THROTTLED_REACTION: &str = "confused";
/// The reaction given to a command whose reply would repeat one just written on the issue: the
/// answer is there already.
pub const COLLAPSED_REACTION: &str = "eyes";

/// The per-person reply limits of the App (counted in the database: see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct ReplyThrottle {
    per_issue: u32,
    issue_window_ms: i64,
    per_installation: u32,
    installation_window_ms: i64,
}

impl Default for ReplyThrottle {
    fn default() -> Self {
        ReplyThrottle::new(
            REPLIES_PER_ISSUE,
            ISSUE_WINDOW,
            REPLIES_PER_INSTALLATION,
            INSTALLATION_WINDOW,
        )
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// The shared count of `person`'s replies on issue `number` of `repo` in `installation`.
fn issue_count(installation: i64, repo: &str, number: i64, person: i64) -> String {
    format!(
        "reply:issue:{installation}:{}#{number}:{person}",
        repo.to_lowercase()
    )
}

/// The shared count of `person`'s replies in `installation`.
fn installation_count(installation: i64, person: i64) -> String {
    format!("reply:installation:{installation}:{person}")
}

impl ReplyThrottle {
    pub fn new(
        per_issue: u32,
        issue_window: Duration,
        per_installation: u32,
        installation_window: Duration,
    ) -> Self {
        ReplyThrottle {
            per_issue: per_issue.max(1),
            issue_window_ms: ms(issue_window),
            per_installation: per_installation.max(1),
            installation_window_ms: ms(installation_window),
        }
    }

    /// Whether `person` (a GitHub account id) may get one more reply on issue `number` of
    /// `repo`, counting it in `tx` (the transaction that writes the reply): one statement per
    /// window, the issue's first (a refusal there takes nothing of the installation's).
    pub async fn allow(
        &self,
        tx: &mut WriteTx,
        installation: i64,
        repo: &str,
        number: i64,
        person: i64,
    ) -> Result<bool, StoreError> {
        let issue = issue_count(installation, repo, number, person);
        if !tx
            .shared_limits()
            .take_in(&issue, self.per_issue, self.issue_window_ms)
            .await?
        {
            return Ok(false);
        }
        tx.shared_limits()
            .take_in(
                &installation_count(installation, person),
                self.per_installation,
                self.installation_window_ms,
            )
            .await
    }

    /// Whether `person`'s next reply on issue `number` of `repo` would be refused (their window
    /// there or in the installation is spent), on any replica: their permission is then asked of
    /// GitHub before the comment is answered, so that maintainers are never throttled. A count
    /// that cannot be read counts as not spent (the reply is counted when it is written).
    pub async fn was_limited(
        &self,
        store: &Store,
        installation: i64,
        repo: &str,
        number: i64,
        person: i64,
    ) -> bool {
        let issue = issue_count(installation, repo, number, person);
        let installation = installation_count(installation, person);
        store
            .shared_limits()
            .spent(&[
                (&issue, self.per_issue),
                (&installation, self.per_installation),
            ])
            .await
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Timing;

    /// Mallory's GitHub account id: whatever login she shows, she is one person.
    const MALLORY: i64 = 7;

    /// The default limits, in windows long enough (a day) that none ends during the test.
    fn throttle() -> ReplyThrottle {
        let day = Duration::from_secs(86_400);
        ReplyThrottle::new(REPLIES_PER_ISSUE, day, REPLIES_PER_INSTALLATION, day)
    }

    async fn allow(store: &Store, installation: i64, repo: &str, number: i64, who: i64) -> bool {
        let mut tx = store.begin().await.unwrap();
        let allowed = throttle()
            .allow(&mut tx, installation, repo, number, who)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        allowed
    }

    /// Two stores on one database (two replicas): together they answer one person as one would.
    #[tokio::test]
    async fn a_few_replies_per_issue_and_per_installation() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
        let a = Store::open(&url, Timing::default()).await.unwrap();
        let b = Store::open(&url, Timing::default()).await.unwrap();
        let throttle = throttle();
        for i in 0..REPLIES_PER_ISSUE {
            let store = if i % 2 == 0 { &a } else { &b };
            assert!(!throttle.was_limited(store, 1, "o/r", 5, MALLORY).await);
            assert!(allow(store, 1, "o/r", 5, MALLORY).await);
        }
        assert!(throttle.was_limited(&b, 1, "O/R", 5, MALLORY).await);
        assert!(
            !allow(&a, 1, "O/R", 5, MALLORY).await,
            "same person, same issue"
        );
        assert!(allow(&b, 1, "o/r", 5, 2).await, "someone else is answered");
        assert!(
            allow(&a, 2, "x/y", 5, MALLORY).await,
            "another installation"
        );
        // Across issues of one installation: the installation's limit.
        let mut answered = REPLIES_PER_ISSUE;
        for number in 6..100 {
            let store = if number % 2 == 0 { &a } else { &b };
            if allow(store, 1, "o/r", number, MALLORY).await {
                answered += 1;
            }
        }
        assert!(throttle.was_limited(&a, 1, "o/r", 200, MALLORY).await);
        assert_eq!(answered, REPLIES_PER_INSTALLATION);
    }
}
