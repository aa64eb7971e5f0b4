//! A worker's `pr_opened` report of a GitHub task, checked against GitHub (contract section 14,
//! "GitHub's facts come only from GitHub"): the pull request it names must be an open pull
//! request of the task's repository whose author is the holder's person (the GitHub account the
//! holding worker was proven to speak for) or a maintainer of the repository, as GitHub answers.
//! Until GitHub answers, the task does not move.
//!
//! What GitHub said of a pull request lately (a read, or a `pull_request` delivery:
//! `store::github::known_answers`) answers without asking again for [`FRESH_MS`], a pull request
//! GitHub does not know too; a read GitHub must answer is first counted against the bounds of
//! [`crate::volunteer_reads`], and past them nothing is asked (`Limited`).

use std::time::Duration;

use crate::api::{self, CallError};
use crate::permissions::Ask;
use crate::service::Github;
use crate::store::StoreError;
use crate::store::github::known_answers::KnownPull;
use crate::store::github::pulls::PrState;
use crate::store::rows::TaskRow;
use crate::volunteer_reads::{self, Asker};

/// How long what GitHub said of a pull request answers a report without asking again (every
/// `pull_request` delivery and reconciliation renews it).
pub const FRESH_MS: i64 = 10 * 60_000;

/// Why a `pr_opened` report of a GitHub task is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrReportRefusal {
    /// GitHub knows no such pull request in the task's repository.
    NotFound { number: i64 },
    /// The pull request is closed (or merged already).
    NotOpen { number: i64 },
    /// Its author is neither the holder's person nor a maintainer.
    NotYours { number: i64, author: String },
    /// GitHub did not answer (or the App does not run here): ask again later.
    Unavailable,
    /// GitHub would have to be asked, and the reads this person, task or installation may cause
    /// are spent (the installation's permission reads among them): ask again after
    /// `retry_after`.
    Limited { retry_after: Duration },
}

/// Checks the pull request `number` that `worker_id`, the holder of GitHub task `task`, reports
/// as its own (see the module docs).
pub async fn check(
    github: &Github,
    task: &TaskRow,
    worker_id: &str,
    number: i64,
) -> Result<Result<(), PrReportRefusal>, StoreError> {
    let repo = task.repo.as_str();
    let Some(installation) = github
        .store
        .installations()
        .repo(repo)
        .await?
        .and_then(|r| r.installation_id)
    else {
        return Ok(Err(PrReportRefusal::Unavailable));
    };
    let person = github
        .store
        .person_links()
        .worker_account(worker_id)
        .await?;
    let asker = person.map_or(Asker::Worker(worker_id), Asker::Person);
    let may_read = async || -> Result<Result<(), PrReportRefusal>, StoreError> {
        Ok(
            match volunteer_reads::take(&github.store, installation, asker, Some(&task.id)).await? {
                None => Ok(()),
                Some(retry_after) => Err(PrReportRefusal::Limited { retry_after }),
            },
        )
    };
    let now = crate::store::now_ms();
    let pull = match github
        .store
        .known_answers()
        .pull(repo, number, now - FRESH_MS)
        .await?
    {
        Some(known) => known,
        None => {
            if let Err(limited) = may_read().await? {
                return Ok(Err(limited));
            }
            match read(github, installation, repo, number).await {
                Some(read) => {
                    github
                        .store
                        .known_answers()
                        .note_pull(repo, number, &read)
                        .await?;
                    read
                }
                None => return Ok(Err(PrReportRefusal::Unavailable)),
            }
        }
    };
    let (Some(state), Some(author_id), Some(author)) = (pull.state, pull.author_id, pull.author)
    else {
        return Ok(Err(PrReportRefusal::NotFound { number }));
    };
    if state != PrState::Open {
        return Ok(Err(PrReportRefusal::NotOpen { number }));
    }
    // The holder's person: the same GitHub account id (a login is never compared: it may have
    // changed hands).
    if person == Some(author_id) {
        return Ok(Ok(()));
    }
    let maintainer = match github.permissions.known(repo, &author) {
        Some(permission) => Ok(permission.is_maintainer()),
        None => {
            if let Err(limited) = may_read().await? {
                return Ok(Err(limited));
            }
            github
                .is_maintainer(installation, repo, &author, Ask::Counted)
                .await
        }
    };
    match maintainer {
        Ok(true) => Ok(Ok(())),
        Ok(false) => Ok(Err(PrReportRefusal::NotYours { number, author })),
        // The installation's permission reads are spent (`volunteer_reads::take_permission`), or
        // GitHub asked to wait: nothing was asked, and the worker is told when to report again.
        Err(CallError::Wait { until }) => {
            let wait = until.saturating_sub(crate::store::now_ms()).max(1000);
            Ok(Err(PrReportRefusal::Limited {
                retry_after: Duration::from_millis(u64::try_from(wait).unwrap_or(1000)),
            }))
        }
        Err(error) => {
            tracing::warn!(%error, repo, number, "cannot read a pull request author's permission; the report waits");
            Ok(Err(PrReportRefusal::Unavailable))
        }
    }
}

/// What GitHub says of pull request `number` of `repo` now; `None` when it did not answer.
async fn read(github: &Github, installation: i64, repo: &str, number: i64) -> Option<KnownPull> {
    let read = async {
        let client = api::installation(&github.app, installation).await?;
        api::pull(&client, repo, number).await
    };
    let read_at = crate::store::now_ms();
    match read.await {
        Ok(pr) => Some(known_pull(&pr, read_at)),
        Err(CallError::Permanent {
            status: 404 | 410, ..
        }) => Some(KnownPull {
            state: None,
            author_id: None,
            author: None,
            read_at,
        }),
        Err(error) => {
            tracing::warn!(%error, repo, number, "cannot read a reported pull request; the report waits");
            None
        }
    }
}

/// What a pull request GitHub sent or answered says, as kept (`read_at`: when GitHub said it).
pub fn known_pull(pr: &crate::events::PullRequest, read_at: i64) -> KnownPull {
    KnownPull {
        state: Some(if pr.open {
            PrState::Open
        } else if pr.merged {
            PrState::Merged
        } else {
            PrState::Closed
        }),
        author_id: i64::try_from(pr.author.id).ok(),
        author: Some(pr.author.login.clone()),
        read_at,
    }
}
