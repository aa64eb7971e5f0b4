//! Blockers that are not tasks of the pool: GitHub issues that block a task's issue (GitHub's own
//! "blocked by"). They live in `task_deps` with no `blocker_seq`, holding while `holds` = 1
//! (the blocking issue is open). Every change that alters what a task waits on logs a
//! `task.waiting` event for it, so its status comment and event streams follow.

use serde_json::json;

use super::engine::checked::checked_in_tx;
use super::rows::TaskRow;
use super::{NewEvent, StoreError, WriteTx};
use crate::domain::limits;

/// A blocking issue: its key (`owner/name#N`) and whether it is open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalBlocker {
    pub key: String,
    pub open: bool,
}

/// Tasks blocked outside the pool (an issue of another repository) inside a caller's write
/// transaction ([`WriteTx::external_blockers`]).
pub struct ExternalBlockersTx<'t> {
    tx: &'t mut WriteTx,
}

impl WriteTx {
    /// The view of this transaction named by [`ExternalBlockersTx`].
    pub fn external_blockers(&mut self) -> ExternalBlockersTx<'_> {
        ExternalBlockersTx { tx: self }
    }
}

impl ExternalBlockersTx<'_> {
    /// Replaces the outside blockers of `task` with `blockers` (at most
    /// [`limits::MAX_BLOCKERS`] are kept). Blockers that are tasks of the pool are left alone.
    pub async fn set_all(
        &mut self,
        task: &TaskRow,
        blockers: &[ExternalBlocker],
        actor: &str,
    ) -> Result<(), StoreError> {
        checked_in_tx!(self.tx.conn(), deps::clear_outside(task.seq))?;
        for (position, b) in blockers.iter().take(limits::MAX_BLOCKERS).enumerate() {
            let (position, holds) = (
                i64::try_from(position).unwrap_or(i64::MAX),
                i64::from(b.open),
            );
            checked_in_tx!(
                self.tx.conn(),
                deps::add_outside(task.seq, &b.key, position, holds)
            )?;
        }
        self.waiting_changed(task, actor).await
    }

    /// Every outside blocker of `task` is closed (GitHub counts no open one): none holds it.
    pub async fn release(&mut self, task: &TaskRow, actor: &str) -> Result<(), StoreError> {
        checked_in_tx!(self.tx.conn(), deps::release_outside(task.seq))?;
        self.waiting_changed(task, actor).await
    }

    /// `task` is (now) blocked by `blocker`, or no longer (`added` false).
    pub async fn set(
        &mut self,
        task: &TaskRow,
        blocker: &ExternalBlocker,
        added: bool,
        actor: &str,
    ) -> Result<(), StoreError> {
        if added {
            let count = checked_in_tx!(self.tx.conn(), deps::other_count(task.seq, &blocker.key))?;
            if usize::try_from(count).unwrap_or(usize::MAX) >= limits::MAX_BLOCKERS {
                return Ok(());
            }
            let holds = i64::from(blocker.open);
            checked_in_tx!(
                self.tx.conn(),
                deps::keep_outside(task.seq, &blocker.key, holds)
            )?;
        } else {
            checked_in_tx!(self.tx.conn(), deps::drop_outside(task.seq, &blocker.key))?;
        }
        self.waiting_changed(task, actor).await
    }

    /// The issue keyed `key` was closed (`open` false) or reopened: it holds, or stops holding,
    /// every task it blocks. Returns those tasks.
    pub async fn state(
        &mut self,
        key: &str,
        open: bool,
        actor: &str,
    ) -> Result<Vec<TaskRow>, StoreError> {
        let holds = i64::from(open);
        let ids = checked_in_tx!(self.tx.conn(), deps::waiting_on(key, holds))?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut before = Vec::with_capacity(ids.len());
        for id in &ids {
            before.push(self.tx.tasks().get(id).await?);
        }
        checked_in_tx!(self.tx.conn(), deps::set_holds(key, holds))?;
        let mut out = Vec::with_capacity(before.len());
        for task in &before {
            self.waiting_changed(task, actor).await?;
            out.push(self.tx.tasks().get(&task.id).await?);
        }
        Ok(out)
    }

    /// Logs `task.waiting` when what `before` waited on has changed.
    async fn waiting_changed(&mut self, before: &TaskRow, actor: &str) -> Result<(), StoreError> {
        let after = self.tx.tasks().get(&before.id).await?;
        if after.waiting_on != before.waiting_on || after.blocked_by != before.blocked_by {
            self.tx.event(
                NewEvent::new("task.waiting", actor)
                    .repo(&after.repo)
                    .task(&after.id)
                    .data(json!({
                        "blocked_by": after.blocked_by,
                        "waiting_on": after.waiting_on,
                        "status": after.status.as_str(),
                    })),
            );
        }
        Ok(())
    }
}
