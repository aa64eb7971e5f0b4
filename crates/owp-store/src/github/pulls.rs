//! Pull requests linked to tasks (`gh_linked_prs`): their state, author and whether they act on
//! the task.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::{qualified, rows_by_key};
use crate::{Store, StoreError, WriteTx};

/// State of a pull request linked to a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrState {
    Open,
    Closed,
    Merged,
}

impl PrState {
    pub fn as_str(self) -> &'static str {
        match self {
            PrState::Open => "open",
            PrState::Closed => "closed",
            PrState::Merged => "merged",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<PrState, StoreError> {
        match s {
            "open" => Ok(PrState::Open),
            "closed" => Ok(PrState::Closed),
            "merged" => Ok(PrState::Merged),
            other => Err(StoreError::Db(sqlx::Error::Decode(
                format!("invalid pull request state in database: {other:?}").into(),
            ))),
        }
    }
}

/// A pull request linked to a task by a closing keyword.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedPr {
    pub repo: String,
    pub pr_number: i64,
    pub task_id: String,
    pub pr_url: String,
    pub author: String,
    /// The author's GitHub account id (`None` for a link recorded before ids were kept).
    pub author_id: Option<i64>,
    pub state: PrState,
    pub draft: bool,
    /// Whether it may act on the task (false: recorded for maintainers, but another person's
    /// while the task was claimed, or a draft that is not the holder's).
    pub acting: bool,
}

const LINKED_PR_COLUMNS: &str =
    "repo, pr_number, task_id, pr_url, author, author_id, state, draft, acting";

fn decode_linked_pr(row: &AnyRow) -> Result<LinkedPr, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(LinkedPr {
        repo: row.try_get("repo")?,
        pr_number: row.try_get("pr_number")?,
        task_id: row.try_get("task_id")?,
        pr_url: row.try_get("pr_url")?,
        author: row.try_get("author")?,
        author_id: row.try_get("author_id")?,
        state: PrState::parse(&state)?,
        draft: row.try_get::<i64, _>("draft")? != 0,
        acting: row.try_get::<i64, _>("acting")? != 0,
    })
}

/// The open pull requests linked to a task that act on it (not those only recorded).
async fn open_links_of_task<'e>(
    exec: impl Executor<'e, Database = Any>,
    task_id: &str,
) -> Result<Vec<LinkedPr>, StoreError> {
    let sql = format!(
        "SELECT {LINKED_PR_COLUMNS} FROM gh_linked_prs WHERE task_id = $1 AND state = 'open' \
         AND acting = 1 ORDER BY updated_at"
    );
    rows_by_key(exec, sql, task_id, decode_linked_pr).await
}

impl WriteTx {
    /// Records (or updates) the link of a pull request to a task.
    pub async fn gh_upsert_linked_pr(&mut self, pr: &LinkedPr) -> Result<(), StoreError> {
        let now = self.now;
        sqlx::query(
            "INSERT INTO gh_linked_prs (repo, pr_number, task_id, pr_url, author, state, draft, \
             acting, updated_at, author_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (repo, pr_number, task_id) DO UPDATE SET pr_url = excluded.pr_url, \
             author = excluded.author, state = excluded.state, draft = excluded.draft, \
             acting = excluded.acting, updated_at = excluded.updated_at, \
             author_id = excluded.author_id",
        )
        .bind(&pr.repo)
        .bind(pr.pr_number)
        .bind(&pr.task_id)
        .bind(&pr.pr_url)
        .bind(&pr.author)
        .bind(pr.state.as_str())
        .bind(i64::from(pr.draft))
        .bind(i64::from(pr.acting))
        .bind(now)
        .bind(pr.author_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Marks whether a linked pull request's files are too broad to lock; returns whether the
    /// mark changed.
    pub async fn gh_set_paths_too_broad(
        &mut self,
        pr: &LinkedPr,
        too_broad: bool,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE gh_linked_prs SET paths_too_broad = $1 WHERE repo = $2 AND pr_number = $3 \
             AND task_id = $4 AND paths_too_broad <> $1",
        )
        .bind(i64::from(too_broad))
        .bind(&pr.repo)
        .bind(pr.pr_number)
        .bind(&pr.task_id)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    /// The tasks a pull request is linked to.
    pub async fn gh_links_of_pr(
        &mut self,
        repo: &str,
        number: i64,
    ) -> Result<Vec<LinkedPr>, StoreError> {
        let sql = format!(
            "SELECT {LINKED_PR_COLUMNS} FROM gh_linked_prs WHERE repo = $1 AND pr_number = $2 \
             ORDER BY task_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(repo)
            .bind(number)
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(decode_linked_pr).collect()
    }

    /// The open pull requests linked to a task.
    pub async fn gh_open_links_of_task(
        &mut self,
        task_id: &str,
    ) -> Result<Vec<LinkedPr>, StoreError> {
        open_links_of_task(self.conn(), task_id).await
    }
}

impl Store {
    /// The open pull requests linked to a task.
    pub async fn gh_open_links_of_task(&self, task_id: &str) -> Result<Vec<LinkedPr>, StoreError> {
        open_links_of_task(&self.read, task_id).await
    }

    /// The open pull requests that link a task but do not act on it (recorded for maintainers).
    pub async fn gh_recorded_links_of_task(
        &self,
        task_id: &str,
    ) -> Result<Vec<LinkedPr>, StoreError> {
        let sql = format!(
            "SELECT {LINKED_PR_COLUMNS} FROM gh_linked_prs WHERE task_id = $1 AND state = 'open' \
             AND acting = 0 ORDER BY pr_number LIMIT 50"
        );
        rows_by_key(&self.read, sql, task_id, decode_linked_pr).await
    }

    /// The open pull requests linked to the tasks of a repository (acting or only recorded).
    pub async fn gh_open_links_of_repo(&self, repo: &str) -> Result<Vec<LinkedPr>, StoreError> {
        let sql = format!(
            "SELECT {} FROM gh_linked_prs l JOIN gh_tasks g ON g.task_id = l.task_id \
             WHERE g.repo = $1 AND l.state = 'open' ORDER BY l.pr_number",
            qualified(LINKED_PR_COLUMNS, "l")
        );
        rows_by_key(&self.read, sql, repo, decode_linked_pr).await
    }
}
