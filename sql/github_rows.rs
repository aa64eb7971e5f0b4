//! The GitHub App's rows as the store reads them (`owp::store::github`): a repository's record
//! (`gh_repos`), the GitHub side of a task (`gh_tasks`), the pull requests linked to tasks
//! (`gh_linked_prs`) and comment claims (`gh_claims`). Each kind of row is one tuple type,
//! whichever statement read it.
//!
//! A write transaction reads some of the same rows with the same functions, on its own
//! connection.

use super::Db;

/// A repository's record: `(repo, github_id, installation_id, config, config_error,
/// config_checked_at)`.
pub type RepoFields = (
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
);

/// The GitHub side of a task: `(task_id, repo, issue_number, label_warnings, left_pool,
/// status_comment_id, status_body)`, `label_warnings` a JSON array.
pub type TaskFields = (
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
);

/// A linked pull request: `(repo, pr_number, task_id, pr_url, author, author_id, state, draft,
/// acting)`, `draft` and `acting` 0 or 1.
pub type LinkFields = (
    String,
    i64,
    String,
    String,
    String,
    Option<i64>,
    String,
    i64,
    i64,
);

/// A comment claim: `(task_id, lease_id, login, worker_id, person, ttl_ms, reminder,
/// claimed_at, last_activity_at, reminded_at)`, `person` and `reminder` 0 or 1.
pub type ClaimFields = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
);

macro_rules! repo {
    ($r:expr) => {{
        let r = $r;
        (
            r.repo,
            r.github_id,
            r.installation_id,
            r.config,
            r.config_error,
            r.config_checked_at,
        )
    }};
}

macro_rules! task {
    ($r:expr) => {{
        let r = $r;
        (
            r.task_id,
            r.repo,
            r.issue_number,
            r.label_warnings,
            r.left_pool,
            r.status_comment_id,
            r.status_body,
        )
    }};
}

macro_rules! link {
    ($r:expr) => {{
        let r = $r;
        (
            r.repo,
            r.pr_number,
            r.task_id,
            r.pr_url,
            r.author,
            r.author_id,
            r.state,
            r.draft,
            r.acting,
        )
    }};
}

macro_rules! claim {
    ($r:expr) => {{
        let r = $r;
        (
            r.task_id,
            r.lease_id,
            r.login,
            r.worker_id,
            r.person,
            r.ttl_ms,
            r.reminder,
            r.claimed_at,
            r.last_activity_at,
            r.reminded_at,
        )
    }};
}

/// The record of repository `repo`.
pub async fn repo<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
) -> sqlx::Result<Option<RepoFields>> {
    let row = sqlx::query_file!("../../sql/github_rows/repo.sql", repo)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| repo!(r)))
}

/// The record of the repository GitHub knows by `github_id`.
pub async fn repo_by_github_id<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    github_id: i64,
) -> sqlx::Result<Option<RepoFields>> {
    let row = sqlx::query_file!("../../sql/github_rows/repo_by_github_id.sql", github_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| repo!(r)))
}

/// The repositories the App is installed on, by name.
pub async fn installed_repos<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<Vec<RepoFields>> {
    let rows = sqlx::query_file!("../../sql/github_rows/installed_repos.sql")
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| repo!(r)).collect())
}

/// The repositories of installation `installation_id`, by name.
pub async fn installed_repos_of<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    installation_id: i64,
) -> sqlx::Result<Vec<RepoFields>> {
    let rows = sqlx::query_file!(
        "../../sql/github_rows/installed_repos_of.sql",
        installation_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| repo!(r)).collect())
}

/// The GitHub side of task `task_id`.
pub async fn task<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
) -> sqlx::Result<Option<TaskFields>> {
    let row = sqlx::query_file!("../../sql/github_rows/task.sql", task_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| task!(r)))
}

/// The GitHub side of the tasks of `repo`, by issue number.
pub async fn tasks_of_repo<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
) -> sqlx::Result<Vec<TaskFields>> {
    let rows = sqlx::query_file!("../../sql/github_rows/tasks_of_repo.sql", repo)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| task!(r)).collect())
}

/// The open pull requests that act on task `task_id`, oldest change first.
pub async fn open_links_of_task<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
) -> sqlx::Result<Vec<LinkFields>> {
    let rows = sqlx::query_file!("../../sql/github_rows/open_links_of_task.sql", task_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| link!(r)).collect())
}

/// The open pull requests that link task `task_id` without acting on it, at most 50.
pub async fn recorded_links_of_task<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
) -> sqlx::Result<Vec<LinkFields>> {
    let rows = sqlx::query_file!("../../sql/github_rows/recorded_links_of_task.sql", task_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| link!(r)).collect())
}

/// The open pull requests linked to the tasks of `repo`, by number.
pub async fn open_links_of_repo<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
) -> sqlx::Result<Vec<LinkFields>> {
    let rows = sqlx::query_file!("../../sql/github_rows/open_links_of_repo.sql", repo)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| link!(r)).collect())
}

/// The tasks pull request `number` of `repo` is linked to, by task id.
pub async fn links_of_pr<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    number: i64,
) -> sqlx::Result<Vec<LinkFields>> {
    let rows = sqlx::query_file!("../../sql/github_rows/links_of_pr.sql", repo, number)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| link!(r)).collect())
}

/// The comment claim of task `task_id`.
pub async fn claim<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
) -> sqlx::Result<Option<ClaimFields>> {
    let row = sqlx::query_file!("../../sql/github_rows/claim.sql", task_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| claim!(r)))
}

/// The comment claims whose half-time reminder is due at `now` (ms).
pub async fn due_reminders<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    now: i64,
) -> sqlx::Result<Vec<ClaimFields>> {
    let rows = sqlx::query_file!("../../sql/github_rows/due_reminders.sql", now)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| claim!(r)).collect())
}
