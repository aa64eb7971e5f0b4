//! The audit log (`owp::store::events`): read-only statements. Each gives events as
//! [`EventFields`].

use super::Db;

/// One event: `(id, kind, at, repo, task_id, worker_id, actor, data)`, `at` in ms and `data`
/// the JSON text as written.
pub type EventFields = (
    i64,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
);

/// The fields of one row of any statement here (each has its own record type).
macro_rules! fields {
    ($r:expr) => {{
        let r = $r;
        (
            r.id,
            r.kind,
            r.at,
            r.repo,
            r.task_id,
            r.worker_id,
            r.actor,
            r.data,
        )
    }};
}

/// The newest `limit` events, newest first.
pub async fn recent<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    limit: i64,
) -> sqlx::Result<Vec<EventFields>> {
    let rows = sqlx::query_file!("../../sql/events/recent.sql", limit)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| fields!(r)).collect())
}

/// The newest `limit` events of the public repositories, newest first.
pub async fn public_recent<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    limit: i64,
) -> sqlx::Result<Vec<EventFields>> {
    let rows = sqlx::query_file!("../../sql/events/public_recent.sql", limit)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| fields!(r)).collect())
}

/// At most `limit` events with an id above `after_id` and at most `horizon`, oldest first.
pub async fn after<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    after_id: i64,
    horizon: i64,
    limit: i64,
) -> sqlx::Result<Vec<EventFields>> {
    let rows = sqlx::query_file!("../../sql/events/after.sql", after_id, horizon, limit)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| fields!(r)).collect())
}

/// The events about task `task_id`, oldest first.
pub async fn of_task<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
) -> sqlx::Result<Vec<EventFields>> {
    let rows = sqlx::query_file!("../../sql/events/of_task.sql", task_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| fields!(r)).collect())
}

/// The first event about task `task_id`, if any.
pub async fn first_of_task<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
) -> sqlx::Result<Option<EventFields>> {
    let row = sqlx::query_file!("../../sql/events/first_of_task.sql", task_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| fields!(r)))
}

/// At most `limit` events about task `task_id` with an id below `before`, newest first.
pub async fn of_task_before<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
    before: i64,
    limit: i64,
) -> sqlx::Result<Vec<EventFields>> {
    let rows = sqlx::query_file!(
        "../../sql/events/of_task_before.sql",
        task_id,
        before,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| fields!(r)).collect())
}

/// The id of the newest event, if any.
pub async fn newest_id<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query_file!("../../sql/events/newest_id.sql")
        .fetch_one(db)
        .await?;
    Ok(row.id)
}
