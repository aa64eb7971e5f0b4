//! The pool's figures for a `/metrics` scrape (`owp::store::gauges`): read-only statements.

use super::Db;

/// Tasks by repository and status: `(repository, status, tasks)`; a missing pair has none.
pub async fn tasks_by_status<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query_file!("../../sql/gauges/tasks_by_status.sql")
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.repo, r.status, r.tasks))
        .collect())
}

/// The workers: `(workers, online, capacity_online, active_points)`, where a worker is online
/// when it was seen after `online_after` (ms).
pub async fn workers<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    online_after: i64,
) -> sqlx::Result<(i64, i64, i64, i64)> {
    let r = sqlx::query_file!("../../sql/gauges/workers.sql", online_after)
        .fetch_one(db)
        .await?;
    Ok((r.workers, r.online, r.capacity_online, r.active_points))
}

/// Leases granted at or after `since` (ms), and how many of them expired or were given back.
pub async fn leases_since<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    since: i64,
) -> sqlx::Result<(i64, i64)> {
    let r = sqlx::query_file!("../../sql/gauges/leases_since.sql", since)
        .fetch_one(db)
        .await?;
    Ok((r.leases, r.requeued))
}

/// The `top` installations with the most comments waiting in the GitHub outbox, most first:
/// `(installation, comments)`.
pub async fn outbox_top_installations<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    top: i64,
) -> sqlx::Result<Vec<(i64, i64)>> {
    let rows = sqlx::query_file!("../../sql/gauges/outbox_top_installations.sql", top)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.installation_id, r.comments))
        .collect())
}

/// The comments waiting in the GitHub outbox.
pub async fn outbox_pending<'c>(db: impl sqlx::Executor<'c, Database = Db>) -> sqlx::Result<i64> {
    sqlx::query_file_scalar!("../../sql/gauges/outbox_pending.sql")
        .fetch_one(db)
        .await
}
