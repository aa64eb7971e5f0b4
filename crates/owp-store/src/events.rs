//! The audit log: read side (the write side is `engine::write_tx::WriteTx::commit`). Its
//! statements are checked by the compiler (`sql/events`).

use serde_json::Value;

use super::{Store, StoreError, format_ts};
use crate::domain::Event;
use crate::engine::checked::checked_read;

/// An event as the statements of `sql/events` give it.
pub(super) fn decode(fields: owp_sql_sqlite::events::EventFields) -> Event {
    let (id, kind, at, repo, task_id, worker_id, actor, data) = fields;
    Event {
        id,
        kind,
        at: format_ts(at),
        repo,
        task_id,
        worker_id,
        actor,
        data: serde_json::from_str(&data).unwrap_or(Value::Null),
    }
}

/// The audit log, read: the newest events, those after an id, a task's ([`Store::events`]).
pub struct Events<'s> {
    store: &'s Store,
}

impl Store {
    /// The view of the store named by [`Events`].
    pub fn events(&self) -> Events<'_> {
        Events { store: self }
    }
}

impl Events<'_> {
    /// The newest `limit` events, oldest first.
    pub async fn recent(&self, limit: i64) -> Result<Vec<Event>, StoreError> {
        let rows = checked_read!(self.store, events::recent(limit))?;
        Ok(rows.into_iter().rev().map(decode).collect())
    }

    /// Events after `after_id`, oldest first (the SSE tail). Only events up to the log's horizon
    /// are returned, so a reader that continues after the last id it got never skips an event
    /// that commits later with a smaller id (see `replicas`).
    pub async fn after(&self, after_id: i64, limit: i64) -> Result<Vec<Event>, StoreError> {
        // SQLite commits one writer at a time, so its ids are already in commit order.
        let mut horizon = i64::MAX;
        if self.store.backend == super::Backend::Postgres {
            horizon = self.store.known_horizon().await?;
            if horizon <= after_id {
                horizon = self.store.event_horizon().await?;
            }
        }
        let rows = checked_read!(self.store, events::after(after_id, horizon, limit))?;
        Ok(rows.into_iter().map(decode).collect())
    }

    /// Events about one task, oldest first.
    pub async fn of_task(&self, task_id: &str) -> Result<Vec<Event>, StoreError> {
        let rows = checked_read!(self.store, events::of_task(task_id))?;
        Ok(rows.into_iter().map(decode).collect())
    }

    /// The first event about one task (its creation), if any. One index entry, however long the
    /// task's history: `events_task` orders a task's events by id on both backends.
    pub async fn first_of_task(&self, task_id: &str) -> Result<Option<Event>, StoreError> {
        let row = checked_read!(self.store, events::first_of_task(task_id))?;
        Ok(row.map(decode))
    }

    /// At most `limit` events about one task with an id below `before`, newest first.
    pub async fn of_task_before(
        &self,
        task_id: &str,
        before: i64,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        let rows = checked_read!(self.store, events::of_task_before(task_id, before, limit))?;
        Ok(rows.into_iter().map(decode).collect())
    }

    /// The id of the newest event a reader may rely on (0 when the log is empty): every event up
    /// to it is visible and none with a smaller id will appear later (see `replicas`).
    pub async fn last_id(&self) -> Result<i64, StoreError> {
        let id = self.store.event_horizon().await?;
        let foreign = self.store.empty_claims.read_newest(id);
        if self.store.backend == super::Backend::Sqlite {
            // Another process's change is seen here (PostgreSQL's processes say so instead,
            // see `engine::replicas`): workers remembered by their tokens are read again.
            if foreign {
                self.store.known_workers.forget_all();
            }
            self.store.known_workers.watched(super::now_ms() + 1_000);
        }
        Ok(id)
    }
}
