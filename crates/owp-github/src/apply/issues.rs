//! `issues` and issue dependencies: an open issue with the ready label is a task; labels map to
//! its fields; closing it or removing the label cancels a task nobody holds, and tells the holder
//! otherwise; a dependency added or removed on GitHub holds or frees the task.

use crate::domain::TaskStatus;
use crate::domain::paths;
use crate::events::{self, IssueAction, IssueEvent};
use crate::identity;
use crate::permissions::Ask;
use crate::service::Github;
use crate::store::deps::ExternalBlocker;
use crate::store::github::inbox::DeliveryOutcome;
use crate::store::leases::{LeaseEnd, Move};
use crate::sync::{ApplyError, apply_blockers, key_of, read_blockers, sync_issue, to_i64};

use super::{NOT_INSTALLED, Write, actor, ignore, read_repo, write};

pub(super) async fn issue_event(
    github: &Github,
    seq: i64,
    e: &IssueEvent,
) -> Result<Write, ApplyError> {
    let repo = e.repo.full_name.as_str();
    if e.issue.is_pull_request {
        return Ok(ignore(seq, "a pull request"));
    }
    let Some(read) = read_repo(github, &e.repo, e.installation_id, true).await? else {
        return Ok(ignore(seq, NOT_INSTALLED));
    };
    let (installation, settings) = (read.installation, read.settings());
    let body_paths = maintainer_changed_paths(github, installation, repo, e).await;
    let blockers = read_blockers(github, installation, None, repo, &e.issue, &settings).await?;
    // GitHub has been read; everything the delivery changes commits together from here.
    let e = e.clone();
    Ok(write(move |github| async move {
        let who = actor(&e.sender.login);
        let repo = e.repo.full_name.as_str();
        let mut tx = github.store.begin().await?;
        read.record(&mut tx, &who).await?;
        // An issue's `Paths:` line, or its task leaving the pool, may move path locks.
        let paths = tx.paths().watch(repo).await?;
        // A closed (or deleted, or moved) issue stops holding the tasks it blocks; reopened, it
        // holds them again.
        let gone = matches!(
            e.action,
            IssueAction::Deleted | IssueAction::Transferred { .. }
        );
        tx.external_blockers()
            .state(&key_of(repo, e.issue.number), e.issue.open && !gone, &who)
            .await?;
        match &e.action {
            IssueAction::Transferred {
                new_repo,
                new_repo_id,
                new_number,
            } => {
                let to = identity::MovedTo {
                    repo: new_repo.as_deref(),
                    repo_id: new_repo_id.map(to_i64),
                    number: new_number.map(to_i64),
                };
                identity::issue_moved(&mut tx, repo, to_i64(e.issue.number), to, &who).await?;
            }
            IssueAction::Deleted => {
                let why = "the issue was deleted";
                if let Some(task) = tx
                    .tasks()
                    .by_key(repo, &key_of(repo, e.issue.number))
                    .await?
                    && !matches!(task.status, TaskStatus::Merged | TaskStatus::Cancelled)
                {
                    let mv = Move {
                        reason: Some(why.into()),
                        ..Move::to(TaskStatus::Cancelled, LeaseEnd::Admin)
                    };
                    tx.leases().apply_move(&task, &mv, &who).await?;
                }
                tx.outbox().drop_issue(repo, to_i64(e.issue.number)).await?;
            }
            _ => {
                if let Some(task) = sync_issue(
                    &mut tx,
                    installation,
                    repo,
                    &e.issue,
                    &settings,
                    body_paths,
                    &who,
                )
                .await?
                {
                    apply_blockers(&mut tx, &task, &blockers, &who).await?;
                }
            }
        }
        tx.paths().watched(paths, &who).await?;
        tx.inbox()
            .finish(seq, DeliveryOutcome::Applied, None)
            .await?;
        tx.commit().await?;
        Ok(())
    }))
}

/// Whether an edit changed the body's `Paths:` line and its editor maintains the repository:
/// only then does an existing task take the new paths (GitHub is asked only for such an edit;
/// an answer it does not give keeps the paths as they are).
async fn maintainer_changed_paths(
    github: &Github,
    installation: i64,
    repo: &str,
    e: &IssueEvent,
) -> bool {
    let IssueAction::Edited {
        previous_body: Some(previous),
        ..
    } = &e.action
    else {
        return false;
    };
    if paths::from_issue_body(previous) == paths::from_issue_body(&e.issue.body) {
        return false;
    }
    match github
        .is_maintainer(installation, repo, &e.sender.login, Ask::Counted)
        .await
    {
        Ok(maintainer) => maintainer,
        Err(error) => {
            tracing::warn!(%error, "cannot check an issue editor's permission; its paths stay");
            false
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Dependencies (GitHub's "blocked by")
// ------------------------------------------------------------------------------------------------

/// `issue_dependencies`: the blocked issue's task (if it is one) gains or loses the blocker. A
/// task already claimed keeps its holder: the rule decides offers, not who keeps a claim.
pub(super) fn dependency_event(seq: i64, e: &events::DependencyEvent) -> Write {
    let e = e.clone();
    write(move |github| async move {
        let who = actor(&e.sender.login);
        let key = key_of(&e.blocked.repo, e.blocked.number);
        let mut tx = github.store.begin().await?;
        if let Some(task) = tx.tasks().by_key(&e.blocked.repo, &key).await?
            && tx.issues().task(&task.id).await?.is_some()
        {
            let blocker = ExternalBlocker {
                key: key_of(&e.blocking.repo, e.blocking.number),
                open: e.blocking.open,
            };
            tx.external_blockers()
                .set(&task, &blocker, e.added, &who)
                .await?;
        }
        tx.inbox()
            .finish(seq, DeliveryOutcome::Applied, None)
            .await?;
        tx.commit().await?;
        Ok(())
    })
}
