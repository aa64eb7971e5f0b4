//! Archiving repositories and workers (admin only): what is archived stays in the database, since
//! events and outcomes name it, but leaves the admin state, the dashboard and the public board,
//! and takes no part in scheduling any more.
//!
//! - A **worker** is archived only while it holds no lease (`409 worker_busy` otherwise: its
//!   holder gives the work back, or an admin moves the tasks first). Its token stops working at
//!   once, and it is paused.
//! - A **repository** is archived only while none of its tasks is `leased`, `in_progress` or
//!   `pr_opened` (`409 repo_busy` otherwise): someone is working on it, and ending their lease
//!   behind their back would lose that work. Its other open tasks (`ready`, `blocked`) are
//!   cancelled, each with its event, so nothing of it can be offered; it takes no new import.
//!   `POST /v1/admin/repos` with its name brings it back: the operator's always, a maintainer's
//!   only when a maintainer archived it (`archived_by`; see [`super::repos::Steering`]).

use serde_json::json;

use super::composed;
use super::engine::checked::checked_in_tx;
use super::rows::{RepoRow, WorkerRow};
use super::workers::{hash_token, new_token};
use super::{NewEvent, StoreError, WriteTx};
use crate::domain::TaskStatus;

/// The reason recorded on tasks an archive cancels.
const ARCHIVE_REASON: &str = "the repository was archived";

/// Workers and repositories archived inside a caller's write transaction ([`WriteTx::archive`]).
pub struct ArchiveTx<'t> {
    tx: &'t mut WriteTx,
}

impl WriteTx {
    /// The view of this transaction named by [`ArchiveTx`].
    pub fn archive(&mut self) -> ArchiveTx<'_> {
        ArchiveTx { tx: self }
    }
}

impl ArchiveTx<'_> {
    /// Archives a worker that holds nothing; archiving it again changes nothing.
    pub async fn worker(&mut self, worker_id: &str) -> Result<WorkerRow, StoreError> {
        let worker = self.tx.workers().get(worker_id).await?;
        if worker.archived {
            return Ok(worker);
        }
        if worker.active_tasks > 0 {
            return Err(StoreError::conflict(
                "worker_busy",
                format!(
                    "worker `{worker_id}` holds {} lease(s); they must end (nack, or an admin \
                     status move of the task) before it is archived",
                    worker.active_tasks
                ),
            ));
        }
        // A fresh random token that nobody is given: the worker's own stops working.
        let (now, token_hash) = (self.tx.now, hash_token(&new_token()));
        checked_in_tx!(
            self.tx.conn(),
            workers::archive(now, &token_hash, worker_id)
        )?;
        self.tx.forget_known_workers();
        self.tx
            .event(NewEvent::new("worker.archived", "admin").worker(Some(worker_id)));
        self.tx
            .proposals()
            .end_of_worker(worker_id, "the worker was archived")
            .await?;
        self.tx.workers().get(worker_id).await
    }

    /// Archives a repository nobody is working on, cancelling its open tasks, and records who
    /// archived it (`actor`: whose archive a maintainer may undo depends on it); archiving it
    /// again changes nothing.
    pub async fn repo(&mut self, name: &str, actor: &str) -> Result<RepoRow, StoreError> {
        let repo = self.tx.repos().by_name(name).await?.ok_or_else(|| {
            StoreError::not_found("repo_not_found", format!("unknown repo `{name}`"))
        })?;
        if repo.archived {
            return Ok(repo);
        }
        let (busy,): (i64,) = composed::repos::busy()
            .query_as()
            .bind(repo.id)
            .fetch_one(self.tx.conn())
            .await?;
        if busy > 0 {
            return Err(StoreError::conflict(
                "repo_busy",
                format!(
                    "repository `{name}` has {busy} task(s) leased, in progress or with an open \
                     pull request; they must end before it is archived"
                ),
            ));
        }
        let open = checked_in_tx!(self.tx.conn(), tasks::open_of_repo(repo.id))?;
        for task_id in open {
            self.tx
                .leases()
                .admin_status(
                    &task_id,
                    TaskStatus::Cancelled,
                    Some(ARCHIVE_REASON.to_string()),
                    actor,
                )
                .await?;
        }
        let now = self.tx.now;
        checked_in_tx!(self.tx.conn(), repos::archive(now, actor, repo.id))?;
        self.tx.event(
            NewEvent::new("repo.archived", actor)
                .repo(name)
                .data(json!({"archived": true})),
        );
        self.tx
            .repos()
            .by_name(name)
            .await?
            .ok_or_else(|| StoreError::not_found("repo_not_found", "repo vanished"))
    }
}
