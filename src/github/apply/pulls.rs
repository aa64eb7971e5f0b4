//! `pull_request`: a pull request closing a task's issue moves it to `pr_opened`; merged →
//! `merged`; closed unmerged → `ready` with one more attempt; reopened → `pr_opened`. Opened,
//! reopened or pushed, its changed files are read, and the tasks it acts on hold them (rule 10)
//! until it merges or closes; the tasks waiting on those paths are told in the same transaction.

use crate::domain::TaskStatus;
use crate::domain::paths::{self, PrLock};
use crate::github::api;
use crate::github::events::{PullRequest, PullRequestAction, PullRequestEvent};
use crate::github::service::Github;
use crate::github::sync::{
    ApplyError, may_act, pr_author_is_maintainer, same_repo_references, sync_pull, to_i64,
};
use crate::store::github::inbox::DeliveryOutcome;
use crate::store::{Store, StoreError};

use super::{NOT_INSTALLED, actor, ignore, read_repo};

pub(super) async fn pull_event(
    github: &Github,
    seq: i64,
    e: &PullRequestEvent,
) -> Result<(), ApplyError> {
    let who = actor(&e.sender.login);
    let repo = e.repo.full_name.as_str();
    let Some(read) = read_repo(github, &e.repo, e.installation_id, false).await? else {
        return ignore(github, seq, NOT_INSTALLED).await;
    };
    let installation = read.installation;
    let maintainer = pr_author_is_maintainer(github, installation, repo, &e.pull_request).await?;
    let changed = changed_paths(github, installation, repo, e, maintainer).await?;
    let mut tx = github.store.begin().await?;
    read.record(&mut tx, &who).await?;
    let watch = tx.watch_paths(repo).await?;
    let unlink_missing = matches!(e.action, PullRequestAction::Edited { .. });
    sync_pull(
        &mut tx,
        repo,
        &e.pull_request,
        unlink_missing,
        maintainer,
        changed.as_ref(),
        &who,
    )
    .await?;
    tx.paths_watched(watch, &who).await?;
    if e.action == PullRequestAction::Closed
        && e.pull_request.merged
        && e.repo.default_branch.as_deref() == Some(e.pull_request.base_ref.as_str())
    {
        // The merge may have changed `.github/owp.yml`.
        tx.gh_config_stale(repo).await?;
    }
    tx.gh_finish_delivery(seq, DeliveryOutcome::Applied, None)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// What the files a pull request changes lock (`domain::paths::from_changed_files`), read from
/// GitHub when it is opened, reopened or pushed and acts on a task of the pool (section 9: a
/// stranger's pull request on a claimed task costs no read); `None` otherwise. Pages are read
/// one at a time and no further than needed: once the files read are too broad to lock, the rest
/// cannot narrow them. A failed read is logged and is `None` too: the delivery's other effects
/// are applied, the task keeps the files it held, and the next push reads them again.
async fn changed_paths(
    github: &Github,
    installation: i64,
    repo: &str,
    e: &PullRequestEvent,
    maintainer: bool,
) -> Result<Option<PrLock>, StoreError> {
    let pr = &e.pull_request;
    let pushed = matches!(
        e.action,
        PullRequestAction::Opened | PullRequestAction::Reopened | PullRequestAction::Synchronize
    );
    if !(pushed && pr.open && acts_on_a_task(github, repo, pr, maintainer).await?) {
        return Ok(None);
    }
    let read = async {
        let client = api::installation(&github.app, installation).await?;
        let mut files = Vec::new();
        for page in 1..=api::PULL_FILES_PAGES {
            let (more_files, more) =
                api::pull_files_page(&client, repo, to_i64(pr.number), page).await?;
            files.extend(more_files);
            match paths::from_changed_files(&files) {
                None => return Ok(PrLock::TooBroad),
                Some(paths) if !more => return Ok(PrLock::Paths(paths)),
                Some(_) => {}
            }
        }
        // GitHub lists no more than this: what it does not list cannot be locked.
        Ok::<_, api::CallError>(PrLock::TooBroad)
    };
    match read.await {
        Ok(lock) => Ok(Some(lock)),
        Err(error) => {
            tracing::warn!(%error, pr = pr.number, "cannot read a pull request's changed files; the paths its tasks hold stay as they were");
            Ok(None)
        }
    }
}

/// Whether an open pull request closes an issue of the pool that is not done yet and would act on
/// it (`sync::may_act`): only then are its files worth a request.
async fn acts_on_a_task(
    github: &Github,
    repo: &str,
    pr: &PullRequest,
    maintainer: bool,
) -> Result<bool, StoreError> {
    let store: &Store = &github.store;
    let mut candidates = Vec::new();
    for r in same_repo_references(pr, repo) {
        if let Some(task) = store.task_by_key(repo, &r.key()).await?
            && !matches!(task.status, TaskStatus::Merged | TaskStatus::Cancelled)
            && store.gh_task(&task.id).await?.is_some()
        {
            candidates.push(task);
        }
    }
    if candidates.is_empty() {
        return Ok(false);
    }
    // Read only: the transaction changes nothing and is dropped.
    let mut tx = store.begin().await?;
    for task in &candidates {
        if may_act(&mut tx, task, pr, maintainer).await? {
            return Ok(true);
        }
    }
    Ok(false)
}
