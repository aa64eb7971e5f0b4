//! Repositories and issues as GitHub identifies them: by numeric id, whatever they are called.
//!
//! - A repository listed (by an installation, an event or reconciliation) under a new name with a
//!   known id was renamed or transferred: the pool renames it in place ([`follow_rename`]), so its
//!   tasks keep their ids, claims, budget and status comments, and nothing is cancelled.
//! - An issue moved to another repository ([`issue_moved`]) takes its task along when that
//!   repository is in the pool (same task, same claim, the same status comment edited); otherwise
//!   the task ends, saying where the issue went.

use serde_json::json;

use crate::domain::TaskStatus;
use crate::store::github::installations::GhRepo;
use crate::store::leases::{LeaseEnd, Move};
use crate::store::{NewEvent, StoreError, WriteTx};

/// `repo` is what GitHub calls the repository with id `github_id` now. When the pool knows that
/// id under another name, the repository is renamed in place. Returns the name the pool had.
pub async fn follow_rename(
    tx: &mut WriteTx,
    repo: &str,
    github_id: Option<i64>,
    actor: &str,
) -> Result<Option<String>, StoreError> {
    let Some(github_id) = github_id else {
        return Ok(None);
    };
    let Some(known) = tx.identity().repo_by_github_id(github_id).await? else {
        return Ok(None);
    };
    if known.repo == repo {
        return Ok(None);
    }
    if tx.identity().rename_repo(&known.repo, repo, actor).await? {
        tracing::info!(from = %known.repo, to = repo, github_id, "repository renamed");
        Ok(Some(known.repo))
    } else {
        // The new name is recorded as another repository (one that left the pool long ago): that
        // record keeps the name, and this one forgets the id so that the new name can have it.
        tracing::warn!(from = %known.repo, to = repo, github_id, "a renamed repository's new name is taken in the pool; the old record stays as it is");
        tx.identity().forget_github_id(&known.repo).await?;
        Ok(None)
    }
}

/// Where an issue went.
#[derive(Debug, Clone, Copy)]
pub struct MovedTo<'a> {
    /// `owner/name`, when GitHub said.
    pub repo: Option<&'a str>,
    /// GitHub's id of that repository, when GitHub said.
    pub repo_id: Option<i64>,
    pub number: Option<i64>,
}

/// The installed repository of the pool an issue moved to.
async fn pooled_repo(tx: &mut WriteTx, to: &MovedTo<'_>) -> Result<Option<GhRepo>, StoreError> {
    let by_id = match to.repo_id {
        Some(id) => tx.identity().repo_by_github_id(id).await?,
        None => None,
    };
    let found = match (by_id, to.repo) {
        (Some(r), _) => Some(r),
        (None, Some(name)) => tx.installations().repo(name).await?,
        (None, None) => None,
    };
    Ok(found.filter(|r| r.installation_id.is_some()))
}

/// Issue `number` of `repo` moved to another repository. A task made from it carries over when
/// the new repository is in the pool; otherwise it ends (cancelled, the reason naming where the
/// issue went). Either way an event `github.issue_transferred` records it.
pub async fn issue_moved(
    tx: &mut WriteTx,
    repo: &str,
    number: i64,
    to: MovedTo<'_>,
    actor: &str,
) -> Result<(), StoreError> {
    let key = format!("{repo}#{number}");
    let task = tx.tasks().by_key(repo, &key).await?;
    let Some(task) = task else {
        tx.outbox().drop_issue(repo, number).await?;
        return Ok(());
    };
    if tx.issues().task(&task.id).await?.is_none()
        || matches!(task.status, TaskStatus::Merged | TaskStatus::Cancelled)
    {
        tx.outbox().drop_issue(repo, number).await?;
        return Ok(());
    }
    let destination = match (to.repo, to.number) {
        (Some(r), Some(n)) => format!("{r}#{n}"),
        _ => "another repository".to_string(),
    };
    let pooled = pooled_repo(tx, &to).await?;
    let in_pool = pooled.is_some();
    if let (Some(target_repo), Some(new_number)) = (pooled, to.number)
        && target_repo.installation_id.is_some()
        && tx
            .identity()
            .move_task(&task, &target_repo.repo, new_number)
            .await?
    {
        tx.installations().recount_repo(repo).await?;
        tx.installations().recount_repo(&target_repo.repo).await?;
        tx.event(
            NewEvent::new("github.issue_transferred", actor)
                .repo(&target_repo.repo)
                .task(&task.id)
                .worker(task.worker_id.as_deref())
                .data(json!({
                    "from": key,
                    "to": format!("{}#{new_number}", target_repo.repo),
                    "carried_over": true,
                })),
        );
        return Ok(());
    }
    let why = if in_pool {
        format!("the issue was moved to {destination}, which has a task of its own for it")
    } else {
        format!("the issue was moved to {destination}, which is not in the pool")
    };
    let mv = Move {
        reason: Some(why.clone()),
        ..Move::to(TaskStatus::Cancelled, LeaseEnd::Admin)
    };
    tx.leases().apply_move(&task, &mv, actor).await?;
    tx.event(
        NewEvent::new("github.issue_transferred", actor)
            .repo(repo)
            .task(&task.id)
            .worker(task.worker_id.as_deref())
            .data(json!({"from": key, "to": destination, "carried_over": false, "reason": why})),
    );
    tx.outbox().drop_issue(repo, number).await?;
    Ok(())
}
