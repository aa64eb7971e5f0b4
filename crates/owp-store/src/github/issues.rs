//! Tasks made from GitHub issues (`gh_tasks`): the issue behind a task, its label warnings,
//! whether it left the pool, and its status comment.

use std::collections::HashMap;

use crate::engine::tx_conn::TxConnection;
use owp_sql_sqlite::github_rows::TaskFields;

use crate::composed;
use crate::engine::checked::{checked_in_tx, checked_read, checked_write};
use crate::{Backend, Store, StoreError, WriteTx};

/// The GitHub side of a task made from an issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GhTask {
    pub task_id: String,
    pub repo: String,
    pub issue_number: i64,
    pub label_warnings: Vec<String>,
    pub left_pool: Option<String>,
    pub status_comment_id: Option<i64>,
    pub status_body: Option<String>,
}

/// The GitHub side of a task as the statements of `sql/github_rows/` read it.
fn decode_task(fields: TaskFields) -> GhTask {
    let (task_id, repo, issue_number, warnings, left_pool, status_comment_id, status_body) = fields;
    GhTask {
        task_id,
        repo,
        issue_number,
        label_warnings: serde_json::from_str(&warnings).unwrap_or_default(),
        left_pool,
        status_comment_id,
        status_body,
    }
}

/// The issue and installation of each of `task_ids` made from a GitHub issue of an installed
/// repository, by task id (one query for all of a transaction's events).
pub async fn task_targets(
    conn: &mut TxConnection,
    task_ids: &[&str],
) -> Result<HashMap<String, (String, i64, i64)>, StoreError> {
    if task_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = serde_json::to_string(task_ids).map_err(|e| StoreError::Config(e.to_string()))?;
    // The ids travel as one JSON array, so the statement's text does not depend on their number.
    let backend = match conn.backend_name() {
        "PostgreSQL" => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let rows: Vec<(String, String, i64, Option<i64>)> = composed::github::task_targets(backend)
        .query_as()
        .bind(ids)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(task, repo, number, inst)| inst.map(|i| (task, (repo, number, i))))
        .collect())
}

/// Tasks made from issues and their status comments, read; each change in a transaction of its own
/// ([`Store::issues`]).
pub struct Issues<'s> {
    store: &'s Store,
}

/// Tasks made from issues and their status comments inside a caller's write transaction
/// ([`WriteTx::issues`]).
pub struct IssuesTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The view of the store named by [`Issues`].
    pub fn issues(&self) -> Issues<'_> {
        Issues { store: self }
    }
}

impl WriteTx {
    /// The view of this transaction named by [`IssuesTx`].
    pub fn issues(&mut self) -> IssuesTx<'_> {
        IssuesTx { tx: self }
    }
}

impl IssuesTx<'_> {
    /// Records the GitHub side of a task made from issue `number` of `repo`.
    pub async fn upsert_task(
        &mut self,
        task_id: &str,
        repo: &str,
        number: i64,
        label_warnings: &[String],
    ) -> Result<(), StoreError> {
        let warnings = serde_json::to_string(label_warnings).unwrap_or_else(|_| "[]".into());
        checked_in_tx!(
            self.tx.conn(),
            issues::record_task(task_id, repo, number, &warnings)
        )?;
        Ok(())
    }

    /// Whether the task's issue carries the repository's first-timers label (rule 14; the claim
    /// reads `tasks.first_timers`). Writes only a change.
    pub async fn set_first_timers(
        &mut self,
        task_id: &str,
        first_timers: bool,
    ) -> Result<(), StoreError> {
        let first_timers = i64::from(first_timers);
        checked_in_tx!(self.tx.conn(), issues::first_timers(task_id, first_timers))?;
        Ok(())
    }

    /// The GitHub side of a task.
    pub async fn task(&mut self, task_id: &str) -> Result<Option<GhTask>, StoreError> {
        let row = checked_in_tx!(self.tx.conn(), github_rows::task(task_id))?;
        Ok(row.map(decode_task))
    }

    /// The tasks of `repo`'s issues that are not finished (neither merged nor cancelled): those
    /// whose status comments still change, by issue number.
    pub async fn open_tasks_of_repo(&mut self, repo: &str) -> Result<Vec<String>, StoreError> {
        Ok(checked_in_tx!(
            self.tx.conn(),
            issues::open_tasks_of_repo(repo)
        )?)
    }

    /// Remembers a task's status comment and the body last written to it.
    pub async fn set_status_comment(
        &mut self,
        task_id: &str,
        comment_id: Option<i64>,
        body: Option<&str>,
    ) -> Result<(), StoreError> {
        set_status_comment(self.tx.conn(), task_id, comment_id, body).await
    }

    /// Marks (or clears, with `None`) that the issue left the pool while someone held it.
    pub async fn set_left_pool(
        &mut self,
        task_id: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        checked_in_tx!(self.tx.conn(), issues::left_pool(task_id, reason))?;
        Ok(())
    }
}

impl Issues<'_> {
    /// The GitHub side of a task.
    pub async fn task(&self, task_id: &str) -> Result<Option<GhTask>, StoreError> {
        let row = checked_read!(self.store, github_rows::task(task_id))?;
        Ok(row.map(decode_task))
    }

    /// The GitHub tasks of a repository.
    pub async fn tasks_of_repo(&self, repo: &str) -> Result<Vec<GhTask>, StoreError> {
        let rows = checked_read!(self.store, github_rows::tasks_of_repo(repo))?;
        Ok(rows.into_iter().map(decode_task).collect())
    }

    /// Tasks that are `ready` although their issue left the pool while someone held them.
    pub async fn left_pool_ready(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(checked_read!(self.store, github::left_pool_ready())?)
    }

    /// Remembers a task's status comment and the body last written to it.
    pub async fn set_status_comment(
        &self,
        task_id: &str,
        comment_id: Option<i64>,
        body: Option<&str>,
    ) -> Result<(), StoreError> {
        checked_write!(
            self.store,
            issues::status_comment(task_id, comment_id, body)
        )?;
        Ok(())
    }
}

async fn set_status_comment(
    conn: &mut TxConnection,
    task_id: &str,
    comment_id: Option<i64>,
    body: Option<&str>,
) -> Result<(), StoreError> {
    checked_in_tx!(conn, issues::status_comment(task_id, comment_id, body))?;
    Ok(())
}
