//! `pull_request`: a pull request closing a task's issue moves it to `pr_opened`; merged →
//! `merged`; closed unmerged → `ready` with one more attempt; reopened → `pr_opened`. Opened,
//! reopened or pushed, its changed files are read, and the tasks it acts on hold them (rule 10)
//! until it merges or closes; the tasks waiting on those paths are told in the same transaction.
//! Where the repository asks the holder for verified commits, its commits are read too, and the
//! task shows which are not verified (`artifact.commits`), or that GitHub has not said yet.

use crate::domain::TaskStatus;
use crate::domain::paths::{self, PrLock};
use crate::events::{PullRequest, PullRequestAction, PullRequestEvent};
use crate::service::Github;
use crate::store::github::inbox::DeliveryOutcome;
use crate::store::rows::TaskRow;
use crate::store::{Store, StoreError};
use crate::sync::{
    ApplyError, may_act, pr_author_is_maintainer, same_repo_references, sync_pull, to_i64,
};
use crate::{api, commits};

use super::{NOT_INSTALLED, Write, actor, ignore, read_repo, write};

pub(super) async fn pull_event(
    github: &Github,
    seq: i64,
    e: &PullRequestEvent,
) -> Result<Write, ApplyError> {
    let repo = e.repo.full_name.as_str();
    let Some(read) = read_repo(github, &e.repo, e.installation_id, false).await? else {
        return Ok(ignore(seq, NOT_INSTALLED));
    };
    let installation = read.installation;
    let maintainer = pr_author_is_maintainer(github, installation, repo, &e.pull_request).await?;
    let pr = &e.pull_request;
    let pushed = matches!(
        e.action,
        PullRequestAction::Opened | PullRequestAction::Reopened | PullRequestAction::Synchronize
    );
    // Reading GitHub is worth it only for a pull request that acts on a task of the pool.
    let acting = if pushed && pr.open {
        acting_on(github, repo, pr, maintainer).await?
    } else {
        Vec::new()
    };
    let changed = changed_paths(github, installation, repo, pr, &acting).await?;
    let unverified = unverified_commits(github, installation, repo, pr, &acting).await?;
    // GitHub has been read; everything the delivery changes commits together from here.
    let e = e.clone();
    Ok(write(move |github| async move {
        let who = actor(&e.sender.login);
        let repo = e.repo.full_name.as_str();
        let pr = &e.pull_request;
        let mut tx = github.store.begin().await?;
        read.record(&mut tx, &who).await?;
        // The logins the pool shows follow what GitHub sends: the sender and the author.
        for person in [&e.sender, &pr.author] {
            if !person.is_bot() {
                tx.person_links()
                    .seen(to_i64(person.id), &person.login)
                    .await?;
            }
        }
        let watch = tx.paths().watch(repo).await?;
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
        if let Some(unverified) = &unverified {
            let shown = commits::shown(unverified.as_deref());
            for link in tx.pulls().links_of_pr(repo, to_i64(pr.number)).await? {
                if link.acting {
                    tx.pr_checks()
                        .set_task_commits(&link.task_id, Some(shown.clone()), &who)
                        .await?;
                }
            }
        }
        tx.paths().watched(watch, &who).await?;
        // A merge that changes `.github/owp.yml` is read by its `push` to the default branch.
        tx.inbox()
            .finish(seq, DeliveryOutcome::Applied, None)
            .await?;
        tx.commit().await?;
        Ok(())
    }))
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
    pr: &PullRequest,
    acting: &[TaskRow],
) -> Result<Option<PrLock>, StoreError> {
    if acting.is_empty() {
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

/// The commits of a pull request that acts on a task whose holder the repository asks for
/// verified commits (`github::commits::asked_of`): `Some(Some(unverified SHAs))` as GitHub
/// answered, `Some(None)` when GitHub did not answer (the task shows them as not known, never
/// as ready, and reconciliation asks again), `None` when nobody asks.
async fn unverified_commits(
    github: &Github,
    installation: i64,
    repo: &str,
    pr: &PullRequest,
    acting: &[TaskRow],
) -> Result<Option<Option<Vec<String>>>, StoreError> {
    if acting.is_empty() {
        return Ok(None);
    }
    let claim = github.settings(repo).await?.config.claim;
    let mut asked = false;
    for task in acting {
        asked |= commits::asked_of(github, &claim, task).await?;
    }
    if !asked {
        return Ok(None);
    }
    let read = async {
        let client = api::installation(&github.app, installation).await?;
        commits::unverified(&client, repo, to_i64(pr.number)).await
    };
    match read.await {
        Ok(unverified) => Ok(Some(Some(unverified))),
        Err(error) => {
            tracing::warn!(%error, pr = pr.number, "cannot read a pull request's commits; its tasks show them as not known");
            Ok(Some(None))
        }
    }
}

/// The tasks of the pool, not done yet, whose issues an open pull request closes and on which it
/// would act (`sync::may_act`): only for those is reading its files or commits worth a request.
async fn acting_on(
    github: &Github,
    repo: &str,
    pr: &PullRequest,
    maintainer: bool,
) -> Result<Vec<TaskRow>, StoreError> {
    let store: &Store = &github.store;
    let mut candidates = Vec::new();
    for r in same_repo_references(pr, repo) {
        if let Some(task) = store.tasks().by_key(repo, &r.key()).await?
            && !matches!(task.status, TaskStatus::Merged | TaskStatus::Cancelled)
            && store.issues().task(&task.id).await?.is_some()
        {
            candidates.push(task);
        }
    }
    if candidates.is_empty() {
        return Ok(candidates);
    }
    // Read only: the transaction changes nothing and is dropped.
    let mut tx = store.begin().await?;
    let mut acting = Vec::new();
    for task in candidates {
        if may_act(&mut tx, &task, pr, maintainer).await? {
            acting.push(task);
        }
    }
    Ok(acting)
}
