//! The GitHub side of tasks (`owp::store::github::issues`, table `gh_tasks`): the issue each
//! task was made from, its label warnings and its status comment. Their rows are read in
//! `github_rows`; the writes return the rows they changed.

use super::Db;

/// The GitHub side of `task_id`, made from issue `issue_number` of `repo`, with
/// `label_warnings` (a JSON array).
pub async fn record_task<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
    repo: &str,
    issue_number: i64,
    label_warnings: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/issues/record_task.sql",
        task_id,
        repo,
        issue_number,
        label_warnings
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Whether `task_id`'s issue carries its repository's first-timers label (`first_timers`, 1
/// or 0).
pub async fn first_timers<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
    first_timers: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/issues/first_timers.sql", task_id, first_timers)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// The tasks of `repo`'s issues that are neither merged nor cancelled, by issue number.
pub async fn open_tasks_of_repo<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/issues/open_tasks_of_repo.sql", repo)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.task_id).collect())
}

/// `task_id`'s status comment is GitHub's `comment_id`, last written with `body`.
pub async fn status_comment<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
    comment_id: Option<i64>,
    body: Option<&str>,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/issues/status_comment.sql",
        task_id,
        comment_id,
        body
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Why `task_id`'s issue left the pool while someone held it (`reason`), or none.
pub async fn left_pool<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
    reason: Option<&str>,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/issues/left_pool.sql", task_id, reason)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
