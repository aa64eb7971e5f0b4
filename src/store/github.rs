//! Every query of the GitHub App: installations, the webhook inbox, the comment outbox, status
//! comments, linked pull requests, comment claims, worker links and scheduled job slots
//! (schema in `migrations/*/0002_github.sql`).
//!
//! Task changes never happen here: they go through [`WriteTx`]'s task methods like every other
//! change. What this module writes inside a transaction (outbox rows, claim records, the inbox's
//! `applied` mark) is written with the change it belongs to; the free functions that take a
//! connection serve both [`WriteTx`] and the change hook, which only has the connection.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor, Row};

use super::engine::sqlite_writer::ExecuteWrite;
use super::{Backend, Store, StoreError, WriteTx};

/// A content-creating request budget: at most this many per installation per minute (GitHub's
/// secondary limit is 80).
pub const WRITES_PER_MINUTE: i64 = 80;
/// … and at most this many per hour (GitHub's secondary limit is 500).
pub const WRITES_PER_HOUR: i64 = 480;
/// Replies and reactions leave this many writes of each minute, and four times as many of each
/// hour, to status comments, which go first.
pub const STATUS_RESERVE_PER_MINUTE: i64 = 20;
/// GitHub asks for content-creating requests to be made serially, about a second apart.
pub const WRITE_SPACING_MS: i64 = 1000;
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
/// A secondary limit more than this long after an installation's last pause starts its back-off
/// again from the first wait.
pub const LIMIT_STREAK_RESET_MS: i64 = HOUR_MS;

/// How an installation's content-creating requests are paced, across every replica (the
/// database holds the log): at most `per_minute` in any `minute_ms` and `per_hour` in any
/// `hour_ms`, each at least `spacing_ms` after the one before. Replies and reactions use three
/// quarters of each budget; the rest is left to status comments, which go first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WritePacing {
    pub per_minute: i64,
    pub per_hour: i64,
    pub spacing_ms: i64,
    /// The windows' lengths: a minute and an hour, except in tests that shorten them.
    pub minute_ms: i64,
    pub hour_ms: i64,
}

impl Default for WritePacing {
    /// GitHub's limits, with a margin on the hourly one.
    fn default() -> Self {
        WritePacing {
            per_minute: WRITES_PER_MINUTE,
            per_hour: WRITES_PER_HOUR,
            spacing_ms: WRITE_SPACING_MS,
            minute_ms: MINUTE_MS,
            hour_ms: HOUR_MS,
        }
    }
}

impl WritePacing {
    /// The budgets a kind of write may use: (per minute, per hour).
    fn budgets(&self, status: bool) -> (i64, i64) {
        if status {
            (self.per_minute, self.per_hour)
        } else if self.per_minute == WRITES_PER_MINUTE && self.per_hour == WRITES_PER_HOUR {
            (
                WRITES_PER_MINUTE - STATUS_RESERVE_PER_MINUTE,
                WRITES_PER_HOUR - 4 * STATUS_RESERVE_PER_MINUTE,
            )
        } else {
            (
                (self.per_minute * 3 / 4).max(1),
                (self.per_hour * 3 / 4).max(1),
            )
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Rows
// ------------------------------------------------------------------------------------------------

/// A repository the App is (or was) installed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GhRepo {
    pub repo: String,
    pub github_id: Option<i64>,
    /// `None` once the App left the repository.
    pub installation_id: Option<i64>,
    /// The last good `.github/owp.yml`, as JSON; `None`: the defaults.
    pub config: Option<String>,
    pub config_error: Option<String>,
    pub config_checked_at: i64,
}

pub(super) const GH_REPO_COLUMNS: &str =
    "repo, github_id, installation_id, config, config_error, config_checked_at";

pub(super) fn decode_repo(row: &AnyRow) -> Result<GhRepo, StoreError> {
    Ok(GhRepo {
        repo: row.try_get("repo")?,
        github_id: row.try_get("github_id")?,
        installation_id: row.try_get("installation_id")?,
        config: row.try_get("config")?,
        config_error: row.try_get("config_error")?,
        config_checked_at: row.try_get("config_checked_at")?,
    })
}

/// An installation of the App.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GhInstallation {
    pub id: i64,
    pub account: String,
    pub suspended: bool,
    pub blocked_until: i64,
}

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

const GH_TASK_COLUMNS: &str =
    "task_id, repo, issue_number, label_warnings, left_pool, status_comment_id, status_body";

fn decode_task(row: &AnyRow) -> Result<GhTask, StoreError> {
    let warnings: String = row.try_get("label_warnings")?;
    Ok(GhTask {
        task_id: row.try_get("task_id")?,
        repo: row.try_get("repo")?,
        issue_number: row.try_get("issue_number")?,
        label_warnings: serde_json::from_str(&warnings).unwrap_or_default(),
        left_pool: row.try_get("left_pool")?,
        status_comment_id: row.try_get("status_comment_id")?,
        status_body: row.try_get("status_body")?,
    })
}

/// A claim made by commenting `/owp claim`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GhClaim {
    pub task_id: String,
    pub lease_id: String,
    pub login: String,
    pub worker_id: String,
    /// The login's implicit worker (true) or a worker linked to the login (false).
    pub person: bool,
    pub ttl_ms: i64,
    pub reminder: bool,
    pub claimed_at: i64,
    pub last_activity_at: i64,
    pub reminded_at: Option<i64>,
}

const GH_CLAIM_COLUMNS: &str = "task_id, lease_id, login, worker_id, person, ttl_ms, reminder, \
    claimed_at, last_activity_at, reminded_at";

fn decode_claim(row: &AnyRow) -> Result<GhClaim, StoreError> {
    Ok(GhClaim {
        task_id: row.try_get("task_id")?,
        lease_id: row.try_get("lease_id")?,
        login: row.try_get("login")?,
        worker_id: row.try_get("worker_id")?,
        person: row.try_get::<i64, _>("person")? != 0,
        ttl_ms: row.try_get("ttl_ms")?,
        reminder: row.try_get::<i64, _>("reminder")? != 0,
        claimed_at: row.try_get("claimed_at")?,
        last_activity_at: row.try_get("last_activity_at")?,
        reminded_at: row.try_get("reminded_at")?,
    })
}

impl GhClaim {
    /// When the claim ends unless the claimer shows activity.
    pub fn expires_at(&self) -> i64 {
        self.last_activity_at + self.ttl_ms
    }
}

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

    fn parse(s: &str) -> Result<PrState, StoreError> {
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
    pub state: PrState,
    pub draft: bool,
    /// Whether it may act on the task (false: recorded for maintainers, but another person's
    /// while the task was claimed, or a draft that is not the holder's).
    pub acting: bool,
}

const LINKED_PR_COLUMNS: &str = "repo, pr_number, task_id, pr_url, author, state, draft, acting";

fn decode_linked_pr(row: &AnyRow) -> Result<LinkedPr, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(LinkedPr {
        repo: row.try_get("repo")?,
        pr_number: row.try_get("pr_number")?,
        task_id: row.try_get("task_id")?,
        pr_url: row.try_get("pr_url")?,
        author: row.try_get("author")?,
        state: PrState::parse(&state)?,
        draft: row.try_get::<i64, _>("draft")? != 0,
        acting: row.try_get::<i64, _>("acting")? != 0,
    })
}

/// A webhook delivery claimed from the inbox.
#[derive(Clone, Debug)]
pub struct InboxDelivery {
    pub seq: i64,
    pub delivery_id: String,
    pub event: String,
    pub body: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// How a delivery left the inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Applied,
    Ignored,
    Failed,
}

impl DeliveryOutcome {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Applied => "applied",
            DeliveryOutcome::Ignored => "ignored",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

/// What an outbox row asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxKind {
    /// Create or edit the living status comment of a task (its text is made when sent).
    Status,
    /// Post a new comment.
    Comment,
    /// React to a command comment.
    Reaction,
}

impl OutboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Status => "status",
            OutboxKind::Comment => "comment",
            OutboxKind::Reaction => "reaction",
        }
    }

    fn parse(s: &str) -> Result<OutboxKind, StoreError> {
        match s {
            "status" => Ok(OutboxKind::Status),
            "comment" => Ok(OutboxKind::Comment),
            "reaction" => Ok(OutboxKind::Reaction),
            other => Err(StoreError::Db(sqlx::Error::Decode(
                format!("invalid outbox kind in database: {other:?}").into(),
            ))),
        }
    }
}

/// An outbox row claimed by a sender.
#[derive(Clone, Debug)]
pub struct OutboxRow {
    pub id: i64,
    pub uid: String,
    pub installation_id: i64,
    pub repo: String,
    pub issue_number: i64,
    pub kind: OutboxKind,
    pub task_id: Option<String>,
    pub comment_id: Option<i64>,
    pub body: String,
    pub revision: i64,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

const OUTBOX_COLUMNS: &str = "id, uid, installation_id, repo, issue_number, kind, task_id, \
    comment_id, body, revision, attempts";

fn decode_outbox(row: &AnyRow) -> Result<OutboxRow, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(OutboxRow {
        id: row.try_get("id")?,
        uid: row.try_get("uid")?,
        installation_id: row.try_get("installation_id")?,
        repo: row.try_get("repo")?,
        issue_number: row.try_get("issue_number")?,
        kind: OutboxKind::parse(&kind)?,
        task_id: row.try_get("task_id")?,
        comment_id: row.try_get("comment_id")?,
        body: row.try_get("body")?,
        revision: row.try_get("revision")?,
        attempts: row.try_get("attempts")?,
    })
}

/// Where an outbox row goes.
#[derive(Clone, Debug)]
pub struct OutboxTarget<'a> {
    pub installation_id: i64,
    pub repo: &'a str,
    pub issue_number: i64,
}

/// Why a link code was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Unknown, already used, or expired.
    UnknownCode,
    /// The worker is already linked to another login.
    LinkedElsewhere,
}

// ------------------------------------------------------------------------------------------------
// Functions on a connection (shared by WriteTx and the change hook), or on any executor (the same
// query for WriteTx, in its transaction, and for Store, on the read pool)
// ------------------------------------------------------------------------------------------------

/// `columns` (`a, b, …`) qualified with a table alias: `x.a, x.b, …`.
fn qualified(columns: &str, alias: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one row `SELECT {columns} FROM {from_where}` finds for `key` (bound as `$1`), decoded.
async fn row_by_key<'e, T>(
    exec: impl Executor<'e, Database = Any>,
    columns: &str,
    from_where: &str,
    key: &str,
    decode: fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let sql = format!("SELECT {columns} FROM {from_where}");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(exec)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// Every row `sql` finds for `key` (bound as `$1`), decoded.
async fn rows_by_key<'e, 'k, K, T>(
    exec: impl Executor<'e, Database = Any>,
    sql: String,
    key: K,
    decode: fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError>
where
    K: sqlx::Encode<'k, Any> + sqlx::Type<Any>,
{
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_all(exec)
        .await?;
    rows.iter().map(decode).collect()
}

/// Where [`row_by_key`] finds a repository by name, a task and a comment claim by task id.
const REPO_BY_NAME: &str = "gh_repos WHERE repo = $1";
const TASK_BY_ID: &str = "gh_tasks WHERE task_id = $1";
const CLAIM_BY_TASK: &str = "gh_claims WHERE task_id = $1";

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

/// The GitHub login proven for a worker, if any.
async fn login_of_worker<'e>(
    exec: impl Executor<'e, Database = Any>,
    worker_id: &str,
) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT login FROM gh_links WHERE worker_id = $1")
        .bind(worker_id)
        .fetch_optional(exec)
        .await?;
    Ok(row.map(|(l,)| l))
}

/// The issue and installation of each of `task_ids` made from a GitHub issue of an installed
/// repository, by task id (one query for all of a transaction's events).
pub async fn task_targets(
    conn: &mut AnyConnection,
    task_ids: &[&str],
) -> Result<HashMap<String, (String, i64, i64)>, StoreError> {
    if task_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = serde_json::to_string(task_ids).map_err(|e| StoreError::Config(e.to_string()))?;
    // The ids travel as one JSON array, so the statement's text does not depend on their number.
    let list = match conn.backend_name() {
        "PostgreSQL" => "SELECT jsonb_array_elements_text($1::jsonb)",
        _ => "SELECT value FROM json_each($1)",
    };
    let sql = format!(
        "SELECT g.task_id, g.repo, g.issue_number, r.installation_id \
         FROM gh_tasks g JOIN gh_repos r ON r.repo = g.repo WHERE g.task_id IN ({list})"
    );
    let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(task, repo, number, inst)| inst.map(|i| (task, (repo, number, i))))
        .collect())
}

/// Asks for the status comment of `task_id` to be written; pending requests of one task collapse
/// into one row (its revision goes up, so a sender busy with it sends again).
pub async fn enqueue_status(
    conn: &mut AnyConnection,
    now: i64,
    target: &OutboxTarget<'_>,
    task_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO gh_outbox (uid, installation_id, repo, issue_number, kind, task_id, body, \
         coalesce_key, revision, state, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, 'status', $5, '', $6, 1, 'pending', 0, $7, $7) \
         ON CONFLICT (coalesce_key) WHERE state = 'pending' AND coalesce_key IS NOT NULL \
         DO UPDATE SET revision = gh_outbox.revision + 1",
    )
    .bind(new_uid())
    .bind(target.installation_id)
    .bind(target.repo)
    .bind(target.issue_number)
    .bind(task_id)
    .bind(format!("status:{task_id}"))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Asks for a new comment.
pub async fn enqueue_comment(
    conn: &mut AnyConnection,
    now: i64,
    target: &OutboxTarget<'_>,
    task_id: Option<&str>,
    body: &str,
) -> Result<(), StoreError> {
    enqueue_once(conn, now, target, OutboxKind::Comment, task_id, None, body).await
}

/// Asks for a reaction (`+1`, `eyes`, …) on a comment.
pub async fn enqueue_reaction(
    conn: &mut AnyConnection,
    now: i64,
    target: &OutboxTarget<'_>,
    comment_id: i64,
    content: &str,
) -> Result<(), StoreError> {
    let comment_id = Some(comment_id);
    enqueue_once(
        conn,
        now,
        target,
        OutboxKind::Reaction,
        None,
        comment_id,
        content,
    )
    .await
}

/// Queues an outbox row that is sent once (never collapsed with another): a comment or a reaction.
async fn enqueue_once(
    conn: &mut AnyConnection,
    now: i64,
    target: &OutboxTarget<'_>,
    kind: OutboxKind,
    task_id: Option<&str>,
    comment_id: Option<i64>,
    body: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO gh_outbox (uid, installation_id, repo, issue_number, kind, task_id, \
         comment_id, body, state, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9)",
    )
    .bind(new_uid())
    .bind(target.installation_id)
    .bind(target.repo)
    .bind(target.issue_number)
    .bind(kind.as_str())
    .bind(task_id)
    .bind(comment_id)
    .bind(body)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The comment claim of a task, if it has one.
pub async fn claim_of_task(
    conn: &mut AnyConnection,
    task_id: &str,
) -> Result<Option<GhClaim>, StoreError> {
    row_by_key(conn, GH_CLAIM_COLUMNS, CLAIM_BY_TASK, task_id, decode_claim).await
}

/// Forgets the comment claim of a task.
pub async fn delete_claim(conn: &mut AnyConnection, task_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM gh_claims WHERE task_id = $1")
        .bind(task_id)
        .execute(conn)
        .await?;
    Ok(())
}

fn new_uid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

// ------------------------------------------------------------------------------------------------
// Inside a write transaction
// ------------------------------------------------------------------------------------------------

impl WriteTx {
    /// Records an installation (created, or seen again).
    pub async fn gh_upsert_installation(
        &mut self,
        id: i64,
        account: &str,
        suspended: bool,
    ) -> Result<(), StoreError> {
        let now = self.now;
        sqlx::query(
            "INSERT INTO gh_installations (id, account, suspended, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (id) DO UPDATE SET \
             account = CASE WHEN excluded.account = '' THEN gh_installations.account \
                            ELSE excluded.account END, \
             suspended = excluded.suspended, updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(account)
        .bind(i64::from(suspended))
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Forgets an installation: its repositories leave and its pending comments are dropped.
    /// Returns the repositories that left.
    pub async fn gh_delete_installation(&mut self, id: i64) -> Result<Vec<String>, StoreError> {
        let repos: Vec<(String,)> =
            sqlx::query_as("SELECT repo FROM gh_repos WHERE installation_id = $1")
                .bind(id)
                .fetch_all(self.conn())
                .await?;
        for (repo,) in &repos {
            self.gh_detach_repo(repo).await?;
        }
        sqlx::query("DELETE FROM gh_installations WHERE id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        sqlx::query("DELETE FROM gh_write_log WHERE installation_id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(repos.into_iter().map(|(r,)| r).collect())
    }

    /// Attaches a repository to an installation; true when it was not attached before.
    pub async fn gh_attach_repo(
        &mut self,
        repo: &str,
        github_id: Option<i64>,
        installation_id: i64,
    ) -> Result<bool, StoreError> {
        let now = self.now;
        let before: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT installation_id FROM gh_repos WHERE repo = $1")
                .bind(repo)
                .fetch_optional(self.conn())
                .await?;
        sqlx::query(
            "INSERT INTO gh_repos (repo, github_id, installation_id, joined_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (repo) DO UPDATE SET \
             github_id = COALESCE(excluded.github_id, gh_repos.github_id), \
             installation_id = excluded.installation_id, left_at = NULL, \
             joined_at = CASE WHEN gh_repos.installation_id IS NULL THEN excluded.joined_at \
                              ELSE gh_repos.joined_at END",
        )
        .bind(repo)
        .bind(github_id)
        .bind(installation_id)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(!matches!(before, Some((Some(_),))))
    }

    /// The App left a repository: it stays in the pool's records, and its pending comments are
    /// dropped (they can no longer be written).
    pub async fn gh_detach_repo(&mut self, repo: &str) -> Result<(), StoreError> {
        let now = self.now;
        sqlx::query("UPDATE gh_repos SET installation_id = NULL, left_at = $1 WHERE repo = $2")
            .bind(now)
            .bind(repo)
            .execute(self.conn())
            .await?;
        sqlx::query(
            "UPDATE gh_outbox SET state = 'dropped', last_error = 'the App left the repository', \
             claimed_by = NULL, claimed_until = NULL WHERE repo = $1 AND state = 'pending'",
        )
        .bind(repo)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Ids of a repository's issue tasks not yet taken (ready or blocked), for the repository's
    /// leaving the pool.
    pub async fn gh_untaken_issue_tasks(&mut self, repo: &str) -> Result<Vec<String>, StoreError> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT t.id FROM tasks t JOIN repos r ON r.id = t.repo_id \
             JOIN gh_tasks g ON g.task_id = t.id WHERE r.name = $1 AND t.status IN ('ready', 'blocked')",
        )
        .bind(repo)
        .fetch_all(self.conn())
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// The GitHub record of a repository.
    pub async fn gh_repo(&mut self, repo: &str) -> Result<Option<GhRepo>, StoreError> {
        row_by_key(
            self.conn(),
            GH_REPO_COLUMNS,
            REPO_BY_NAME,
            repo,
            decode_repo,
        )
        .await
    }

    /// Records the GitHub side of a task made from issue `number` of `repo`.
    pub async fn gh_upsert_task(
        &mut self,
        task_id: &str,
        repo: &str,
        number: i64,
        label_warnings: &[String],
    ) -> Result<(), StoreError> {
        let warnings = serde_json::to_string(label_warnings).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO gh_tasks (task_id, repo, issue_number, label_warnings) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (task_id) DO UPDATE SET \
             label_warnings = excluded.label_warnings",
        )
        .bind(task_id)
        .bind(repo)
        .bind(number)
        .bind(warnings)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The GitHub side of a task.
    pub async fn gh_task(&mut self, task_id: &str) -> Result<Option<GhTask>, StoreError> {
        row_by_key(
            self.conn(),
            GH_TASK_COLUMNS,
            TASK_BY_ID,
            task_id,
            decode_task,
        )
        .await
    }

    /// Marks (or clears, with `None`) that the issue left the pool while someone held it.
    pub async fn gh_set_left_pool(
        &mut self,
        task_id: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE gh_tasks SET left_pool = $1 WHERE task_id = $2")
            .bind(reason)
            .bind(task_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Queues the status comment of a task.
    pub async fn gh_enqueue_status(
        &mut self,
        target: &OutboxTarget<'_>,
        task_id: &str,
    ) -> Result<(), StoreError> {
        let now = self.now;
        enqueue_status(self.conn(), now, target, task_id).await
    }

    /// Whether the same reply text was queued for the same issue since `since` (ms).
    pub async fn gh_recent_reply(
        &mut self,
        target: &OutboxTarget<'_>,
        body: &str,
        since: i64,
    ) -> Result<bool, StoreError> {
        let repeated: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM gh_outbox WHERE repo = $1 AND issue_number = $2 AND kind = 'comment' \
             AND created_at >= $3 AND body = $4 LIMIT 1",
        )
        .bind(target.repo)
        .bind(target.issue_number)
        .bind(since)
        .bind(body)
        .fetch_optional(self.conn())
        .await?;
        Ok(repeated.is_some())
    }

    /// Queues a new comment.
    pub async fn gh_enqueue_comment(
        &mut self,
        target: &OutboxTarget<'_>,
        task_id: Option<&str>,
        body: &str,
    ) -> Result<(), StoreError> {
        let now = self.now;
        enqueue_comment(self.conn(), now, target, task_id, body).await
    }

    /// Queues a reaction on a comment.
    pub async fn gh_enqueue_reaction(
        &mut self,
        target: &OutboxTarget<'_>,
        comment_id: i64,
        content: &str,
    ) -> Result<(), StoreError> {
        let now = self.now;
        enqueue_reaction(self.conn(), now, target, comment_id, content).await
    }

    /// Drops the pending comments about one issue (it was deleted).
    pub async fn gh_drop_issue_outbox(
        &mut self,
        repo: &str,
        number: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE gh_outbox SET state = 'dropped', last_error = 'the issue is gone', \
             claimed_by = NULL, claimed_until = NULL \
             WHERE repo = $1 AND issue_number = $2 AND state = 'pending'",
        )
        .bind(repo)
        .bind(number)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Marks a claimed delivery done, in the transaction of its effects.
    pub async fn gh_finish_delivery(
        &mut self,
        seq: i64,
        outcome: DeliveryOutcome,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = self.now;
        sqlx::query(
            "UPDATE gh_deliveries SET state = $1, finished_at = $2, error = $3, \
             claimed_by = NULL, claimed_until = NULL WHERE seq = $4",
        )
        .bind(outcome.as_str())
        .bind(now)
        .bind(error)
        .bind(seq)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records a comment claim.
    #[allow(clippy::too_many_arguments)]
    pub async fn gh_insert_claim(
        &mut self,
        task_id: &str,
        lease_id: &str,
        login: &str,
        worker_id: &str,
        person: bool,
        ttl_ms: i64,
        reminder: bool,
    ) -> Result<(), StoreError> {
        let now = self.now;
        sqlx::query(
            "INSERT INTO gh_claims (task_id, lease_id, login, worker_id, person, ttl_ms, reminder, \
             claimed_at, last_activity_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             ON CONFLICT (task_id) DO UPDATE SET lease_id = excluded.lease_id, \
             login = excluded.login, worker_id = excluded.worker_id, person = excluded.person, \
             ttl_ms = excluded.ttl_ms, reminder = excluded.reminder, \
             claimed_at = excluded.claimed_at, last_activity_at = excluded.last_activity_at, \
             reminded_at = NULL",
        )
        .bind(task_id)
        .bind(lease_id)
        .bind(login)
        .bind(worker_id)
        .bind(i64::from(person))
        .bind(ttl_ms)
        .bind(i64::from(reminder))
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The comment claim of a task.
    pub async fn gh_claim(&mut self, task_id: &str) -> Result<Option<GhClaim>, StoreError> {
        claim_of_task(self.conn(), task_id).await
    }

    /// The claimer showed activity: the claim runs `ttl_ms` from now, and the task's lease with it.
    /// False when the claim's lease is no longer running.
    pub async fn gh_touch_claim(&mut self, claim: &GhClaim) -> Result<bool, StoreError> {
        let now = self.now;
        let until = now + claim.ttl_ms;
        let moved = self
            .move_claim_deadline(&claim.task_id, &claim.lease_id, until)
            .await?;
        if moved == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE gh_claims SET last_activity_at = $1, reminded_at = NULL WHERE task_id = $2",
        )
        .bind(now)
        .bind(&claim.task_id)
        .execute(self.conn())
        .await?;
        Ok(true)
    }

    /// Sets when a comment claim's lease ends (a comment claim lives by its TTL, not the API's
    /// lease TTL).
    pub async fn gh_set_claim_deadline(
        &mut self,
        task_id: &str,
        lease_id: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        self.move_claim_deadline(task_id, lease_id, until).await?;
        Ok(())
    }

    /// Sets when lease `lease_id` of a claimed (`in_progress`) task ends; how many tasks changed
    /// (0 when that lease is no longer running).
    async fn move_claim_deadline(
        &mut self,
        task_id: &str,
        lease_id: &str,
        until: i64,
    ) -> Result<u64, StoreError> {
        let now = self.now;
        self.store().note_deadline(until);
        let moved = sqlx::query(
            "UPDATE tasks SET lease_expires_at = $1, deadline = $1, updated_at = $2 \
             WHERE id = $3 AND lease_id = $4 AND status = 'in_progress'",
        )
        .bind(until)
        .bind(now)
        .bind(task_id)
        .bind(lease_id)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(moved)
    }

    /// Marks a claim reminded; false when someone else did it first (or the claimer was active).
    pub async fn gh_mark_reminded(
        &mut self,
        task_id: &str,
        activity_at: i64,
    ) -> Result<bool, StoreError> {
        let now = self.now;
        let n = sqlx::query(
            "UPDATE gh_claims SET reminded_at = $1 WHERE task_id = $2 AND reminded_at IS NULL \
             AND last_activity_at = $3",
        )
        .bind(now)
        .bind(task_id)
        .bind(activity_at)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records (or updates) the link of a pull request to a task.
    pub async fn gh_upsert_linked_pr(&mut self, pr: &LinkedPr) -> Result<(), StoreError> {
        let now = self.now;
        sqlx::query(
            "INSERT INTO gh_linked_prs (repo, pr_number, task_id, pr_url, author, state, draft, \
             acting, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (repo, pr_number, task_id) DO UPDATE SET pr_url = excluded.pr_url, \
             author = excluded.author, state = excluded.state, draft = excluded.draft, \
             acting = excluded.acting, updated_at = excluded.updated_at",
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
        .execute(self.conn())
        .await?;
        Ok(())
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

    /// The worker a GitHub login proved to own, if any.
    pub async fn gh_linked_worker(&mut self, login: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT worker_id FROM gh_links WHERE login = $1")
                .bind(login.to_lowercase())
                .fetch_optional(self.conn())
                .await?;
        Ok(row.map(|(w,)| w))
    }

    /// The GitHub login proven for a worker, if any.
    pub async fn gh_login_of_worker(
        &mut self,
        worker_id: &str,
    ) -> Result<Option<String>, StoreError> {
        login_of_worker(self.conn(), worker_id).await
    }

    /// A new one-time link code for a worker (stored hashed); earlier unused codes stop working.
    pub async fn gh_create_link_code(
        &mut self,
        worker_id: &str,
        code_hash: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let now = self.now;
        sqlx::query("DELETE FROM gh_link_codes WHERE worker_id = $1 AND used_at IS NULL")
            .bind(worker_id)
            .execute(self.conn())
            .await?;
        sqlx::query(
            "INSERT INTO gh_link_codes (code_hash, worker_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(code_hash)
        .bind(worker_id)
        .bind(now)
        .bind(expires_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Uses a link code: the login is linked to the code's worker. Returns the worker id.
    pub async fn gh_use_link_code(
        &mut self,
        code_hash: &str,
        login: &str,
    ) -> Result<Result<String, LinkRefusal>, StoreError> {
        let now = self.now;
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT worker_id FROM gh_link_codes WHERE code_hash = $1 AND used_at IS NULL \
             AND expires_at > $2",
        )
        .bind(code_hash)
        .bind(now)
        .fetch_optional(self.conn())
        .await?;
        let Some((worker_id,)) = row else {
            return Ok(Err(LinkRefusal::UnknownCode));
        };
        let login_key = login.to_lowercase();
        if let Some(other) = login_of_worker(self.conn(), &worker_id).await?
            && other != login_key
        {
            return Ok(Err(LinkRefusal::LinkedElsewhere));
        }
        sqlx::query("UPDATE gh_link_codes SET used_at = $1, used_by = $2 WHERE code_hash = $3")
            .bind(now)
            .bind(login)
            .bind(code_hash)
            .execute(self.conn())
            .await?;
        // A login owns one worker at a time: a new proof moves the link.
        sqlx::query("DELETE FROM gh_links WHERE login = $1")
            .bind(&login_key)
            .execute(self.conn())
            .await?;
        sqlx::query("INSERT INTO gh_links (login, worker_id, linked_at) VALUES ($1, $2, $3)")
            .bind(&login_key)
            .bind(&worker_id)
            .bind(now)
            .execute(self.conn())
            .await?;
        sqlx::query("UPDATE workers SET github_login = $1 WHERE id = $2")
            .bind(login)
            .bind(&worker_id)
            .execute(self.conn())
            .await?;
        self.forget_known_workers();
        Ok(Ok(worker_id))
    }

    /// How many claims were granted in a repository since `since`, and the oldest of them.
    pub async fn gh_claims_since(
        &mut self,
        repo_id: i64,
        since: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        let row: (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM leases WHERE repo_id = $1 AND created_at > $2",
        )
        .bind(repo_id)
        .bind(since)
        .fetch_one(self.conn())
        .await?;
        Ok(row)
    }

    /// When `worker_id` last gave task `task_seq` back, if it did.
    pub async fn gh_nacked_at(
        &mut self,
        task_seq: i64,
        worker_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT at FROM nacks WHERE task_seq = $1 AND worker_id = $2")
                .bind(task_seq)
                .bind(worker_id)
                .fetch_optional(self.conn())
                .await?;
        Ok(row.map(|(at,)| at))
    }

    /// The key of another task holding `area` in a repository.
    pub async fn gh_area_holder_key(
        &mut self,
        repo_id: i64,
        area: &str,
        except_task: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT key FROM tasks WHERE repo_id = $1 AND area = $2 AND id <> $3 \
             AND status IN ('leased', 'in_progress', 'pr_opened') ORDER BY seq LIMIT 1",
        )
        .bind(repo_id)
        .bind(area)
        .bind(except_task)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.and_then(|(k,)| k))
    }

    /// Sets a repository's live figures from its tasks when they drifted; returns the figures
    /// before and after when they were corrected.
    pub async fn gh_recount_repo(
        &mut self,
        repo: &str,
    ) -> Result<Option<((i64, i64), (i64, i64))>, StoreError> {
        let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT r.open_prs, r.active_leases, \
             (SELECT COUNT(*) FROM tasks t WHERE t.repo_id = r.id \
                AND (t.status = 'pr_opened' OR t.awaits_maintainer = 1)), \
             (SELECT COUNT(*) FROM tasks t WHERE t.repo_id = r.id \
                AND t.status IN ('leased', 'in_progress')) \
             FROM repos r WHERE r.name = $1",
        )
        .bind(repo)
        .fetch_optional(self.conn())
        .await?;
        let Some((open, active, real_open, real_active)) = row else {
            return Ok(None);
        };
        if (open, active) == (real_open, real_active) {
            return Ok(None);
        }
        sqlx::query("UPDATE repos SET open_prs = $1, active_leases = $2 WHERE name = $3")
            .bind(real_open)
            .bind(real_active)
            .bind(repo)
            .execute(self.conn())
            .await?;
        Ok(Some(((open, active), (real_open, real_active))))
    }
}

// ------------------------------------------------------------------------------------------------
// Outside transactions
// ------------------------------------------------------------------------------------------------

impl Store {
    /// Stores a verified webhook delivery; false when this delivery id, or the same signed body
    /// (`body_sha256`) under another id, was stored before.
    pub async fn gh_insert_delivery(
        &self,
        delivery_id: &str,
        event: &str,
        body: &str,
        body_sha256: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO gh_deliveries (delivery_id, event, body, body_sha256, received_at, \
             next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING",
        )
        .bind(delivery_id)
        .bind(event)
        .bind(body)
        .bind(body_sha256)
        .bind(now)
        .execute_write(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Whether a delivery id is in the inbox.
    pub async fn gh_delivery_known(&self, delivery_id: &str) -> Result<bool, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM gh_deliveries WHERE delivery_id = $1")
                .bind(delivery_id)
                .fetch_one(&self.read)
                .await?;
        Ok(n > 0)
    }

    /// How many deliveries the inbox holds (any state).
    pub async fn gh_delivery_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM gh_deliveries")
            .fetch_one(&self.read)
            .await?)
    }

    /// Claims the oldest delivery that is due, for `runner` until `until`. Deliveries are applied
    /// one at a time in the order they arrived: while the oldest due one is claimed by someone
    /// else, nothing is returned.
    pub async fn gh_claim_delivery(
        &self,
        runner: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<InboxDelivery>, StoreError> {
        let head: Option<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT seq, claimed_until FROM gh_deliveries WHERE state = 'pending' \
             AND next_attempt_at <= $1 ORDER BY seq LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&self.read)
        .await?;
        let Some((seq, claimed_until)) = head else {
            return Ok(None);
        };
        if claimed_until.is_some_and(|u| u > now) {
            return Ok(None);
        }
        if !self
            .gh_claim_row("gh_deliveries", "seq", seq, runner, now, until)
            .await?
        {
            return Ok(None);
        }
        let row: (i64, String, String, String, i64) = sqlx::query_as(
            "SELECT seq, delivery_id, event, body, attempts FROM gh_deliveries WHERE seq = $1",
        )
        .bind(seq)
        .fetch_one(&self.read)
        .await?;
        Ok(Some(InboxDelivery {
            seq: row.0,
            delivery_id: row.1,
            event: row.2,
            body: row.3,
            attempts: row.4,
        }))
    }

    /// Claims one pending row of a queue (`gh_deliveries` by `seq`, `gh_outbox` by `id`) for
    /// `runner` until `until`, unless someone else holds it now (a conditional update, so with
    /// several replicas one of them gets it); true when this call claimed it.
    async fn gh_claim_row(
        &self,
        table: &'static str,
        key: &'static str,
        row: i64,
        runner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE {table} SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
             WHERE {key} = $3 AND state = 'pending' AND (claimed_until IS NULL OR claimed_until <= $4)"
        );
        let n = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(runner)
            .bind(until)
            .bind(row)
            .bind(now)
            .execute_write(self)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Gives a claimed delivery back, to be tried again at `at` (or marks it failed).
    pub async fn gh_delivery_retry(
        &self,
        seq: i64,
        at: Option<i64>,
        error: &str,
    ) -> Result<(), StoreError> {
        // $1: when to try again, or when it failed.
        let (sql, instant) = match at {
            Some(at) => (
                "UPDATE gh_deliveries SET next_attempt_at = $1, error = $2, claimed_by = NULL, \
                 claimed_until = NULL WHERE seq = $3",
                at,
            ),
            None => (
                "UPDATE gh_deliveries SET state = 'failed', finished_at = $1, error = $2, \
                 claimed_by = NULL, claimed_until = NULL WHERE seq = $3",
                super::now_ms(),
            ),
        };
        sqlx::query(sql)
            .bind(instant)
            .bind(error)
            .bind(seq)
            .execute_write(self)
            .await?;
        Ok(())
    }

    /// Gives back every inbox and outbox row `runner` had claimed (the process is stopping).
    pub async fn gh_release_claims(&self, runner: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE gh_outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1",
        )
        .bind(runner)
        .execute_write(self)
        .await?;
        sqlx::query(
            "UPDATE gh_deliveries SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1",
        )
        .bind(runner)
        .execute_write(self)
        .await?;
        Ok(())
    }

    /// Pending deliveries and pending outbox rows.
    pub async fn gh_backlog(&self) -> Result<(i64, i64), StoreError> {
        let row: (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM gh_deliveries WHERE state = 'pending'), \
                    (SELECT COUNT(*) FROM gh_outbox WHERE state = 'pending')",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(row)
    }

    /// The earliest instant a pending delivery or outbox row is due (None when there is none).
    pub async fn gh_next_due(&self) -> Result<Option<i64>, StoreError> {
        let row: (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT MIN(next_attempt_at) FROM gh_deliveries WHERE state = 'pending'), \
                    (SELECT MIN(next_attempt_at) FROM gh_outbox WHERE state = 'pending')",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(match row {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Claims up to `limit` outbox rows that are due, for `runner` until `until`, status comments
    /// first. A reply or reaction waits while an older one about the same issue is pending
    /// (replies arrive in order), a status comment only for an older status row, and every row
    /// while its installation is rate-limited or suspended. Each row is claimed with a conditional
    /// update, so with several replicas exactly one sends it.
    pub async fn gh_claim_outbox(
        &self,
        runner: &str,
        now: i64,
        until: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let ids: Vec<(i64,)> = sqlx::query_as(
            "SELECT o.id FROM gh_outbox o WHERE o.state = 'pending' AND o.next_attempt_at <= $1 \
             AND (o.claimed_until IS NULL OR o.claimed_until <= $1) \
             AND NOT EXISTS (SELECT 1 FROM gh_outbox p WHERE p.state = 'pending' \
                 AND p.repo = o.repo AND p.issue_number = o.issue_number AND p.id < o.id \
                 AND (p.kind = 'status') = (o.kind = 'status')) \
             AND NOT EXISTS (SELECT 1 FROM gh_installations i WHERE i.id = o.installation_id \
                 AND (i.blocked_until > $1 OR i.suspended = 1)) \
             ORDER BY CASE WHEN o.kind = 'status' THEN 0 ELSE 1 END, o.id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for (id,) in ids {
            if !self
                .gh_claim_row("gh_outbox", "id", id, runner, now, until)
                .await?
            {
                continue;
            }
            let sql = format!("SELECT {OUTBOX_COLUMNS} FROM gh_outbox WHERE id = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_one(&self.read)
                .await?;
            out.push(decode_outbox(&row)?);
        }
        Ok(out)
    }

    /// An outbox row was sent. For a status row, `revision` must still be the row's: when the
    /// task changed meanwhile, the row stays pending (and is sent again) and false is returned.
    pub async fn gh_outbox_sent(
        &self,
        row: &OutboxRow,
        runner: &str,
        github_id: Option<i64>,
    ) -> Result<bool, StoreError> {
        let now = super::now_ms();
        let n = sqlx::query(
            "UPDATE gh_outbox SET state = 'sent', sent_at = $1, github_id = $2, last_error = NULL, \
             claimed_by = NULL, claimed_until = NULL \
             WHERE id = $3 AND claimed_by = $4 AND revision = $5",
        )
        .bind(now)
        .bind(github_id)
        .bind(row.id)
        .bind(runner)
        .bind(row.revision)
        .execute_write(self)
        .await?
        .rows_affected();
        if n == 0 {
            self.gh_outbox_retry(row.id, runner, now, None).await?;
        }
        Ok(n == 1)
    }

    /// Gives a claimed outbox row back, to be tried again at `at`.
    pub async fn gh_outbox_retry(
        &self,
        id: i64,
        runner: &str,
        at: i64,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE gh_outbox SET next_attempt_at = $1, last_error = COALESCE($2, last_error), \
             claimed_by = NULL, claimed_until = NULL WHERE id = $3 AND claimed_by = $4",
        )
        .bind(at)
        .bind(error)
        .bind(id)
        .bind(runner)
        .execute_write(self)
        .await?;
        Ok(())
    }

    /// An outbox row cannot be sent (the issue is gone, GitHub refuses it for good).
    pub async fn gh_outbox_failed(
        &self,
        id: i64,
        runner: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE gh_outbox SET state = 'failed', last_error = $1, claimed_by = NULL, \
             claimed_until = NULL WHERE id = $2 AND claimed_by = $3",
        )
        .bind(error)
        .bind(id)
        .bind(runner)
        .execute_write(self)
        .await?;
        Ok(())
    }

    /// Remembers a task's status comment and the body last written to it.
    pub async fn gh_set_status_comment(
        &self,
        task_id: &str,
        comment_id: Option<i64>,
        body: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE gh_tasks SET status_comment_id = $1, status_body = $2 WHERE task_id = $3",
        )
        .bind(comment_id)
        .bind(body)
        .bind(task_id)
        .execute_write(self)
        .await?;
        Ok(())
    }

    /// Reserves one content-creating request of an installation: `Ok(None)` when it may be sent
    /// now, `Ok(Some(at))` when it has to wait until `at` (the per-minute or per-hour budget is
    /// used up, or GitHub asked the App to wait). A status comment (`status`) may use the whole
    /// budget; replies and reactions leave a share of it to status comments.
    pub async fn gh_reserve_write(
        &self,
        installation_id: i64,
        status: bool,
    ) -> Result<Option<i64>, StoreError> {
        let pacing = WritePacing {
            spacing_ms: 0,
            ..WritePacing::default()
        };
        self.gh_pace_write(installation_id, status, &pacing, true)
            .await
    }

    /// Like [`Store::gh_reserve_write`] with `pacing`; with `reserve` false it only says whether
    /// a write could go now (nothing is taken), so that a sender waits before it reads anything.
    pub async fn gh_pace_write(
        &self,
        installation_id: i64,
        status: bool,
        pacing: &WritePacing,
        reserve: bool,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin().await?;
        let now = tx.now;
        let lock = match self.backend {
            Backend::Postgres if reserve => " FOR UPDATE",
            _ => "",
        };
        let blocked: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT blocked_until FROM gh_installations WHERE id = $1{lock}"
        )))
        .bind(installation_id)
        .fetch_optional(tx.conn())
        .await?;
        if let Some((until,)) = blocked
            && until > now
        {
            return Ok(Some(until));
        }
        if reserve {
            sqlx::query("DELETE FROM gh_write_log WHERE installation_id = $1 AND at <= $2")
                .bind(installation_id)
                .bind(now - pacing.hour_ms.max(pacing.minute_ms))
                .execute(tx.conn())
                .await?;
        }
        type Counts = (i64, Option<i64>, i64, Option<i64>, Option<i64>);
        let (minute, oldest_minute, hour, oldest_hour, newest): Counts = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN at > $2 THEN 1 ELSE 0 END), 0), \
             MIN(CASE WHEN at > $2 THEN at END), \
             COALESCE(SUM(CASE WHEN at > $3 THEN 1 ELSE 0 END), 0), \
             MIN(CASE WHEN at > $3 THEN at END), MAX(at) \
             FROM gh_write_log WHERE installation_id = $1",
        )
        .bind(installation_id)
        .bind(now - pacing.minute_ms)
        .bind(now - pacing.hour_ms)
        .fetch_one(tx.conn())
        .await?;
        let (per_minute, per_hour) = pacing.budgets(status);
        if minute >= per_minute {
            return Ok(Some(oldest_minute.unwrap_or(now) + pacing.minute_ms + 1));
        }
        if hour >= per_hour {
            return Ok(Some(oldest_hour.unwrap_or(now) + pacing.hour_ms + 1));
        }
        if let Some(newest) = newest
            && now < newest + pacing.spacing_ms
        {
            return Ok(Some(newest + pacing.spacing_ms));
        }
        if !reserve {
            return Ok(None);
        }
        sqlx::query("INSERT INTO gh_write_log (installation_id, at) VALUES ($1, $2)")
            .bind(installation_id)
            .bind(now)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(None)
    }

    /// GitHub named a secondary rate limit without saying how long to wait: the installation
    /// pauses `first_ms` the first time, twice as long each time the limit comes again within
    /// [`LIMIT_STREAK_RESET_MS`] of the last pause, at most `cap_ms`. Returns when it may send again.
    pub async fn gh_back_off_installation(
        &self,
        installation_id: i64,
        first_ms: i64,
        cap_ms: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        let now = tx.now;
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let row: Option<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT blocked_until, limit_streak FROM gh_installations WHERE id = $1{lock}"
        )))
        .bind(installation_id)
        .fetch_optional(tx.conn())
        .await?;
        let (blocked_until, streak) = row.unwrap_or((0, 0));
        let streak = if blocked_until > 0 && blocked_until + LIMIT_STREAK_RESET_MS >= now {
            streak.saturating_add(1).max(1)
        } else {
            1
        };
        let doublings = u32::try_from((streak - 1).clamp(0, 30)).unwrap_or(30);
        let wait = first_ms
            .max(1)
            .saturating_mul(1i64 << doublings)
            .min(cap_ms.max(first_ms));
        let until = blocked_until.max(now + wait);
        sqlx::query(
            "UPDATE gh_installations SET blocked_until = $1, limit_streak = $2 WHERE id = $3",
        )
        .bind(until)
        .bind(streak)
        .bind(installation_id)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(until)
    }

    /// GitHub asked the App to wait: no request of this installation before `until`.
    pub async fn gh_block_installation(
        &self,
        installation_id: i64,
        until: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE gh_installations SET blocked_until = CASE WHEN blocked_until < $1 THEN $1 \
             ELSE blocked_until END WHERE id = $2",
        )
        .bind(until)
        .bind(installation_id)
        .execute_write(self)
        .await?;
        Ok(())
    }

    /// The installations the App knows.
    pub async fn gh_installations(&self) -> Result<Vec<GhInstallation>, StoreError> {
        let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(
            "SELECT id, account, suspended, blocked_until FROM gh_installations ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, account, suspended, blocked_until)| GhInstallation {
                id,
                account,
                suspended: suspended != 0,
                blocked_until,
            })
            .collect())
    }

    /// The GitHub record of a repository.
    pub async fn gh_repo(&self, repo: &str) -> Result<Option<GhRepo>, StoreError> {
        row_by_key(&self.read, GH_REPO_COLUMNS, REPO_BY_NAME, repo, decode_repo).await
    }

    /// The repository of task `task_id` when `worker_id` holds the task and the GitHub App is
    /// installed on the repository: a `pr_url` reported for it must then be one of its pull
    /// requests. One indexed read, on the path of every `pr_opened`.
    pub async fn gh_installed_repo_of_held_task(
        &self,
        task_id: &str,
        worker_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT r.name FROM tasks t JOIN repos r ON r.id = t.repo_id \
             JOIN gh_repos g ON g.repo = r.name \
             WHERE t.id = $1 AND t.worker_id = $2 AND g.installation_id IS NOT NULL",
        )
        .bind(task_id)
        .bind(worker_id)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(|(repo,)| repo))
    }

    /// The repositories the App is installed on, optionally of one installation.
    pub async fn gh_installed_repos(
        &self,
        installation_id: Option<i64>,
    ) -> Result<Vec<GhRepo>, StoreError> {
        let sql = format!(
            "SELECT {GH_REPO_COLUMNS} FROM gh_repos WHERE installation_id IS NOT NULL \
             AND ($1 = 0 OR installation_id = $1) ORDER BY repo"
        );
        let installation_id = installation_id.unwrap_or(0);
        rows_by_key(&self.read, sql, installation_id, decode_repo).await
    }

    /// Stores the result of reading a repository's `.github/owp.yml`: the config to use from now
    /// on (`Some(None)` for the defaults, `None` to keep the last good one) and the error to show.
    /// `claims_per_hour` is the config's hourly claim cap, which every claim path enforces;
    /// `contract` its repo contract (JSON), which every lease carries.
    pub async fn gh_set_repo_config(
        &self,
        repo: &str,
        config: Option<(Option<&str>, Option<i64>, Option<&str>)>,
        error: Option<&str>,
        checked_at: i64,
    ) -> Result<(), StoreError> {
        match config {
            Some((config, claims_per_hour, contract)) => {
                // The cap, the contract and the config they came from change together.
                let mut tx = self.begin().await?;
                sqlx::query("UPDATE repos SET claims_per_hour = $1, contract = $2 WHERE name = $3")
                    .bind(claims_per_hour)
                    .bind(contract)
                    .bind(repo)
                    .execute(tx.conn())
                    .await?;
                sqlx::query(
                    "UPDATE gh_repos SET config = $1, config_error = $2, config_checked_at = $3 \
                     WHERE repo = $4",
                )
                .bind(config)
                .bind(error)
                .bind(checked_at)
                .bind(repo)
                .execute(tx.conn())
                .await?;
                tx.commit().await?;
            }
            None => {
                sqlx::query(
                    "UPDATE gh_repos SET config_error = $1, config_checked_at = $2 WHERE repo = $3",
                )
                .bind(error)
                .bind(checked_at)
                .bind(repo)
                .execute_write(self)
                .await?;
            }
        }
        Ok(())
    }

    /// Makes the next event of a repository read its `.github/owp.yml` again.
    pub async fn gh_config_stale(&self, repo: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE gh_repos SET config_checked_at = 0 WHERE repo = $1")
            .bind(repo)
            .execute_write(self)
            .await?;
        Ok(())
    }

    /// The GitHub side of a task.
    pub async fn gh_task(&self, task_id: &str) -> Result<Option<GhTask>, StoreError> {
        row_by_key(
            &self.read,
            GH_TASK_COLUMNS,
            TASK_BY_ID,
            task_id,
            decode_task,
        )
        .await
    }

    /// The GitHub tasks of a repository.
    pub async fn gh_tasks_of_repo(&self, repo: &str) -> Result<Vec<GhTask>, StoreError> {
        let sql =
            format!("SELECT {GH_TASK_COLUMNS} FROM gh_tasks WHERE repo = $1 ORDER BY issue_number");
        rows_by_key(&self.read, sql, repo, decode_task).await
    }

    /// Tasks that are `ready` although their issue left the pool while someone held them.
    pub async fn gh_left_pool_ready(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT g.task_id, g.left_pool FROM gh_tasks g JOIN tasks t ON t.id = g.task_id \
             WHERE g.left_pool IS NOT NULL AND t.status = 'ready'",
        )
        .fetch_all(&self.read)
        .await?)
    }

    /// The comment claim of a task.
    pub async fn gh_claim(&self, task_id: &str) -> Result<Option<GhClaim>, StoreError> {
        let mut conn = self.read.acquire().await?;
        claim_of_task(&mut conn, task_id).await
    }

    /// Comment claims whose half-time reminder is due.
    pub async fn gh_due_reminders(&self, now: i64) -> Result<Vec<GhClaim>, StoreError> {
        let sql = format!(
            "SELECT {} FROM gh_claims c JOIN tasks t ON t.id = c.task_id \
             WHERE c.person = 1 AND c.reminder = 1 AND c.reminded_at IS NULL \
             AND c.last_activity_at + c.ttl_ms / 2 <= $1 \
             AND t.status = 'in_progress' AND t.lease_id = c.lease_id",
            qualified(GH_CLAIM_COLUMNS, "c")
        );
        rows_by_key(&self.read, sql, now, decode_claim).await
    }

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

    /// The GitHub login proven for a worker, if any.
    pub async fn gh_login_of_worker(&self, worker_id: &str) -> Result<Option<String>, StoreError> {
        login_of_worker(&self.read, worker_id).await
    }

    /// When a lease was granted.
    pub async fn gh_lease_created_at(&self, lease_id: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT created_at FROM leases WHERE id = $1")
            .bind(lease_id)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.map(|(t,)| t))
    }

    /// Claims the run of scheduled job `name` for the instant `slot` (ms): true for exactly one
    /// caller per slot, in any number of processes sharing the database.
    pub async fn gh_claim_job_slot(
        &self,
        name: &str,
        slot: i64,
        runner: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO gh_job_runs (name, slot, runner, started_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name, slot) DO NOTHING",
        )
        .bind(name)
        .bind(slot)
        .bind(runner)
        .bind(super::now_ms())
        .execute_write(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records how a job slot ended, and forgets slots older than a week.
    pub async fn gh_finish_job_slot(
        &self,
        name: &str,
        slot: i64,
        outcome: &str,
    ) -> Result<(), StoreError> {
        let now = super::now_ms();
        sqlx::query(
            "UPDATE gh_job_runs SET finished_at = $1, outcome = $2 WHERE name = $3 AND slot = $4",
        )
        .bind(now)
        .bind(outcome)
        .bind(name)
        .bind(slot)
        .execute_write(self)
        .await?;
        sqlx::query("DELETE FROM gh_job_runs WHERE started_at < $1")
            .bind(now - 7 * 24 * 3_600_000)
            .execute_write(self)
            .await?;
        Ok(())
    }

    /// Whether the App already asked GitHub to redeliver `guid`.
    pub async fn gh_redelivery_requested(&self, guid: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM gh_redeliveries WHERE guid = $1")
            .bind(guid)
            .fetch_one(&self.read)
            .await?;
        Ok(n > 0)
    }

    /// Remembers that the App asked GitHub to redeliver `guid`.
    pub async fn gh_record_redelivery(
        &self,
        guid: &str,
        attempt_id: i64,
    ) -> Result<(), StoreError> {
        let now = super::now_ms();
        sqlx::query(
            "INSERT INTO gh_redeliveries (guid, attempt_id, requested_at) VALUES ($1, $2, $3) \
             ON CONFLICT (guid) DO NOTHING",
        )
        .bind(guid)
        .bind(attempt_id)
        .bind(now)
        .execute_write(self)
        .await?;
        sqlx::query("DELETE FROM gh_redeliveries WHERE requested_at < $1")
            .bind(now - 4 * 24 * 3_600_000)
            .execute_write(self)
            .await?;
        Ok(())
    }

    /// The outbox rows of an issue (any state), oldest first: `(kind, state, body)`.
    pub async fn gh_outbox_of_issue(
        &self,
        repo: &str,
        number: i64,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT kind, state, body FROM gh_outbox WHERE repo = $1 AND issue_number = $2 ORDER BY id",
        )
        .bind(repo)
        .bind(number)
        .fetch_all(&self.read)
        .await?)
    }
}
