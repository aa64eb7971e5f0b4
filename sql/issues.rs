//! The GitHub side of tasks (`owp::store::github::issues`, table `gh_tasks`): the issue each
//! task was made from, its label warnings and its status comment. Their rows are read in
//! `github_rows`; the writes return the rows they changed.

use super::Db;

writes! {
    /// The GitHub side of `task_id`, made from issue `issue_number` of `repo`, with
    /// `label_warnings` (a JSON array).
    record_task(task_id: &str, repo: &str, issue_number: i64, label_warnings: &str)
        = "../../sql/issues/record_task.sql";
}

writes! {
    /// Whether `task_id`'s issue carries its repository's first-timers label (`first_timers`, 1
    /// or 0).
    first_timers(task_id: &str, first_timers: i64) = "../../sql/issues/first_timers.sql";
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

writes! {
    /// `task_id`'s status comment is GitHub's `comment_id`, last written with `body`.
    status_comment(task_id: &str, comment_id: Option<i64>, body: Option<&str>)
        = "../../sql/issues/status_comment.sql";
}

writes! {
    /// Why `task_id`'s issue left the pool while someone held it (`reason`), or none.
    left_pool(task_id: &str, reason: Option<&str>) = "../../sql/issues/left_pool.sql";
}
