//! A claim of one named task (`/owp claim` on GitHub): the task is taken by the claim's own
//! statement ([`super::sqlite_batch`], [`super::postgres_statement`]) narrowed to it
//! ([`Pick::Named`]), so every rule is the same SQL as every claim's; when it takes nothing, the
//! refusal names every rule that fails, read from those same conditions
//! ([`super::refusals::explain`]).

use super::refusals::explain;
use crate::claim_rules::Pick;
use crate::domain::{Lease, TaskStatus};
use crate::{Backend, StoreError, WriteTx};

impl WriteTx {
    /// Claims one named task (a `/owp claim` comment): every rule is checked by the claim's
    /// statement, and a refusal names every rule that failed. `insider`: GitHub marks the
    /// comment as a collaborator's, member's or owner's (a first-timers task refuses it).
    pub async fn claim_task(
        &mut self,
        worker_id: &str,
        task_id: &str,
        insider: bool,
    ) -> Result<Lease, StoreError> {
        let worker = self.workers().get(worker_id).await?;
        self.workers().mark_seen(&worker).await?;
        let task = self.leases().lock_task(task_id).await?;
        let pick = Pick::Named {
            seq: task.seq,
            insider,
        };
        let taken = match self.store().backend {
            Backend::Sqlite => self.claim_batched(&worker, pick).await,
            Backend::Postgres => self.claim_single(&worker, pick).await,
        };
        if let Some(lease) = taken? {
            return Ok(lease);
        }
        // Nothing was taken: the conditions that refused, read again in this transaction (on
        // PostgreSQL on a fresh snapshot, which sees what another transaction changed since).
        let (backend, now) = (self.store().backend, self.now);
        let explained = explain(self.conn(), backend, &worker, pick, 1, now).await?;
        match explained.into_iter().next() {
            Some(e) if e.task.status == TaskStatus::Ready && !e.refusals.is_empty() => {
                Err(StoreError::Refused(e.refusals))
            }
            // The task is no longer ready, or every condition holds now but a moment ago another
            // transaction held the task.
            _ => Err(StoreError::conflict(
                "task_not_ready",
                "the task was taken by someone else a moment ago",
            )),
        }
    }
}
