//! The GitHub reads a volunteer's action causes, bounded (contract section 14: open to strangers,
//! safe from them). A read GitHub must answer for a volunteer — a `pr_opened` report's pull
//! request and its author's permission, an account's age for a claim — is counted before it is
//! made, in the database where every replica sees it (`store::shared_limits`), per task, per
//! person (the GitHub account id a worker was proven to speak for, else the worker) and per
//! installation; past any bound nothing is asked and the caller is told how long to wait. The
//! answers are kept (`store::github::known_answers`), so what the App already knows is never
//! asked again: these bounds only count what is new.
//!
//! The bounds are chosen so that a real volunteer never meets them (one report of their pull
//! request, a retry or two) while 1,000 hostile volunteers together stay within a share of an
//! installation's 5,000 requests an hour: a person's bound alone cannot do that (1,000 × 20 is
//! 20,000), so the installation's bound caps the sum, and a real volunteer's own pull request,
//! which GitHub's `pull_request` delivery already told of, costs nothing and passes even while
//! strangers hold the installation's bound.

use std::time::Duration;

use crate::store::{HOUR_MS, Store, StoreError};

/// GitHub reads one task's holder may cause in a minute.
pub const PER_TASK_PER_MINUTE: u32 = 5;

/// GitHub reads one person (or one worker that speaks for no person) may cause in an hour.
pub const PER_PERSON_PER_HOUR: u32 = 20;

/// GitHub reads all the volunteers of one installation may cause in a minute (900 an hour: less
/// than a fifth of GitHub's 5,000).
pub const PER_INSTALLATION_PER_MINUTE: u32 = 15;

/// Permission reads (`GET …/collaborators/{login}/permission`) the volunteers of one
/// installation may cause in a minute, apart from the reads above (600 an hour): a stranger's
/// maintainer command, a pull request's author, the reply throttle's exemption. A person GitHub
/// said before maintains the repository is not counted ([`crate::permissions`]), nor is a
/// maintainer signing in.
pub const PERMISSIONS_PER_INSTALLATION_PER_MINUTE: u32 = 10;

/// Who a read is for.
#[derive(Clone, Copy, Debug)]
pub enum Asker<'a> {
    /// A GitHub account id (a proven person).
    Person(i64),
    /// A worker that speaks for no person.
    Worker(&'a str),
}

/// The one look at the bounds before a read for `asker` through `installation` (and `task`,
/// when the read is about one): `None` when the read may go (counted), else how long until it
/// may. The narrowest bound is taken first, so that one that refuses has not taken a use of a
/// wider one (a hostile person's spent hour takes nothing from the installation).
pub async fn take(
    store: &Store,
    installation: i64,
    asker: Asker<'_>,
    task: Option<&str>,
) -> Result<Option<Duration>, StoreError> {
    if let Some(task) = task
        && let Some(wait) = store
            .shared_limits()
            .take(&format!("ghr:task:{task}"), PER_TASK_PER_MINUTE)
            .await?
    {
        return Ok(Some(wait));
    }
    let person = match asker {
        Asker::Person(id) => format!("ghr:person:{id}"),
        Asker::Worker(id) => format!("ghr:worker:{id}"),
    };
    if let Some(wait) = store
        .shared_limits()
        .take_in(&person, PER_PERSON_PER_HOUR, HOUR_MS)
        .await?
    {
        return Ok(Some(wait));
    }
    store
        .shared_limits()
        .take(
            &format!("ghr:installation:{installation}"),
            PER_INSTALLATION_PER_MINUTE,
        )
        .await
}

/// The one look at the installation's bound before a permission read a volunteer's action
/// causes: `None` when the read may go (counted), else how long until it may.
pub async fn take_permission(
    store: &Store,
    installation: i64,
) -> Result<Option<Duration>, StoreError> {
    store
        .shared_limits()
        .take(
            &format!("ghr:permission:{installation}"),
            PERMISSIONS_PER_INSTALLATION_PER_MINUTE,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Timing;

    /// A task's bound refuses first and takes nothing of the person's; a person's spent hour
    /// takes nothing of the installation's; the installation's bound holds for everyone.
    #[tokio::test]
    async fn the_narrowest_bound_refuses_first() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
        let store = Store::open(&url, Timing::default()).await.unwrap();
        let mallory = Asker::Person(7);
        let mut granted = 0;
        for _ in 0..10 {
            if take(&store, 1, mallory, Some("t1"))
                .await
                .unwrap()
                .is_none()
            {
                granted += 1;
            }
        }
        assert_eq!(granted, PER_TASK_PER_MINUTE);
        // Other tasks: the person's hour is what is left.
        let mut granted_after = 0;
        for i in 0..40 {
            let task = format!("t{}", 100 + i);
            if take(&store, 1, mallory, Some(&task))
                .await
                .unwrap()
                .is_none()
            {
                granted_after += 1;
            }
        }
        assert_eq!(granted + granted_after, PER_INSTALLATION_PER_MINUTE);
        // The installation's minute is spent for a newcomer too, whose hour is untouched.
        let wait = take(&store, 1, Asker::Worker("w"), None).await.unwrap();
        assert!(wait.is_some_and(|w| w <= Duration::from_secs(60)));
        // Another installation is its own.
        assert_eq!(
            take(&store, 2, Asker::Worker("w"), None).await.unwrap(),
            None
        );
    }
}
