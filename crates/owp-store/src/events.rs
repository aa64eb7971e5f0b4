//! The audit log: read side (the write side is `engine::write_tx::WriteTx::commit`).

use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, format_ts};
use crate::domain::Event;

pub(super) const EVENT_SELECT: &str =
    "SELECT id, kind, at, repo, task_id, worker_id, actor, data FROM events";

pub(super) fn decode(row: &AnyRow) -> Result<Event, StoreError> {
    let data: String = row.try_get("data")?;
    Ok(Event {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        at: format_ts(row.try_get("at")?),
        repo: row.try_get("repo")?,
        task_id: row.try_get("task_id")?,
        worker_id: row.try_get("worker_id")?,
        actor: row.try_get("actor")?,
        data: serde_json::from_str(&data).unwrap_or(Value::Null),
    })
}

impl Store {
    /// The newest `limit` events, oldest first.
    pub async fn recent_events(&self, limit: i64) -> Result<Vec<Event>, StoreError> {
        let sql = format!("{EVENT_SELECT} ORDER BY id DESC LIMIT $1");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        let mut out: Vec<Event> = rows.iter().map(decode).collect::<Result<_, _>>()?;
        out.reverse();
        Ok(out)
    }

    /// Events after `after_id`, oldest first (the SSE tail). Only events up to the log's horizon
    /// are returned, so a reader that continues after the last id it got never skips an event
    /// that commits later with a smaller id (see `replicas`).
    pub async fn events_after(&self, after_id: i64, limit: i64) -> Result<Vec<Event>, StoreError> {
        // SQLite commits one writer at a time, so its ids are already in commit order.
        let mut horizon = i64::MAX;
        if self.backend == super::Backend::Postgres {
            horizon = self.known_horizon().await?;
            if horizon <= after_id {
                horizon = self.event_horizon().await?;
            }
        }
        let sql = format!("{EVENT_SELECT} WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(after_id)
            .bind(horizon)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(decode).collect()
    }

    /// Events about one task, oldest first.
    pub async fn task_events(&self, task_id: &str) -> Result<Vec<Event>, StoreError> {
        let sql = format!("{EVENT_SELECT} WHERE task_id = $1 ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(task_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(decode).collect()
    }

    /// The first event about one task (its creation), if any. One index entry, however long the
    /// task's history: `events_task` orders a task's events by id on both backends.
    pub async fn first_task_event(&self, task_id: &str) -> Result<Option<Event>, StoreError> {
        let sql = format!("{EVENT_SELECT} WHERE task_id = $1 ORDER BY id LIMIT 1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(task_id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// At most `limit` events about one task with an id below `before`, newest first.
    pub async fn task_events_before(
        &self,
        task_id: &str,
        before: i64,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        let sql =
            format!("{EVENT_SELECT} WHERE task_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(task_id)
            .bind(before)
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(decode).collect()
    }

    /// The id of the newest event a reader may rely on (0 when the log is empty): every event up
    /// to it is visible and none with a smaller id will appear later (see `replicas`).
    pub async fn last_event_id(&self) -> Result<i64, StoreError> {
        let id = self.event_horizon().await?;
        let foreign = self.empty_claims.read_newest(id);
        if self.backend == super::Backend::Sqlite {
            // Another process's change is seen here (PostgreSQL's processes say so instead,
            // see `engine::replicas`): workers remembered by their tokens are read again.
            if foreign {
                self.known_workers.forget_all();
            }
            self.known_workers.watched(super::now_ms() + 1_000);
        }
        Ok(id)
    }
}
