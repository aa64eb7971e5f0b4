//! A worker's `pr_opened` report of a GitHub task, checked against GitHub (contract section 14,
//! "GitHub's facts come only from GitHub"): the pull request it names must be an open pull
//! request of the task's repository whose author is the holder's person (the GitHub account the
//! holding worker was proven to speak for) or a maintainer of the repository, as GitHub answers.
//! Until GitHub answers, the task does not move.

use crate::github::api::{self, CallError};
use crate::github::service::Github;
use crate::store::StoreError;
use crate::store::rows::TaskRow;

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
        .gh_repo(repo)
        .await?
        .and_then(|r| r.installation_id)
    else {
        return Ok(Err(PrReportRefusal::Unavailable));
    };
    let read = async {
        let client = api::installation(&github.app, installation).await?;
        api::pull(&client, repo, number).await
    };
    let pr = match read.await {
        Ok(pr) => pr,
        Err(CallError::Permanent {
            status: 404 | 410, ..
        }) => return Ok(Err(PrReportRefusal::NotFound { number })),
        Err(error) => {
            tracing::warn!(%error, repo, number, "cannot read a reported pull request; the report waits");
            return Ok(Err(PrReportRefusal::Unavailable));
        }
    };
    if !pr.open || pr.merged {
        return Ok(Err(PrReportRefusal::NotOpen { number }));
    }
    if authored_by_holder(github, worker_id, &pr.author).await? {
        return Ok(Ok(()));
    }
    match github
        .is_maintainer(installation, repo, &pr.author.login)
        .await
    {
        Ok(true) => Ok(Ok(())),
        Ok(false) => Ok(Err(PrReportRefusal::NotYours {
            number,
            author: pr.author.login.clone(),
        })),
        Err(error) => {
            tracing::warn!(%error, repo, number, "cannot read a pull request author's permission; the report waits");
            Ok(Err(PrReportRefusal::Unavailable))
        }
    }
}

/// Whether `author` is the person worker `worker_id` speaks for: the same GitHub account id (a
/// login is never compared: it may have changed hands).
async fn authored_by_holder(
    github: &Github,
    worker_id: &str,
    author: &crate::github::events::Actor,
) -> Result<bool, StoreError> {
    Ok(github
        .store
        .gh_worker_account(worker_id)
        .await?
        .is_some_and(|account| i64::try_from(author.id) == Ok(account)))
}
