//! Row locks on PostgreSQL: `lock_task` (`owp::store::leases::transitions`), in the lock order
//! every writer keeps (a worker before the tasks it holds, a task before its lease), and an
//! installation's pause (`owp::store::github::write_pacing`). SQLite has one writer at a time and
//! no `FOR UPDATE`: these are compiled for PostgreSQL only.

use super::Db;

/// The worker that holds task `task_id` now: `None` for an unknown task, `Some(None)` for one
/// nobody holds.
pub async fn task_holder<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
) -> sqlx::Result<Option<Option<String>>> {
    let row = sqlx::query_file!("../../sql/postgres/locks/task_holder.sql", task_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.worker_id))
}

/// Locks worker `worker_id`'s row until commit.
pub async fn worker<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    worker_id: &str,
) -> sqlx::Result<()> {
    sqlx::query_file!("../../sql/postgres/locks/worker.sql", worker_id)
        .fetch_optional(db)
        .await?;
    Ok(())
}

/// Locks task `task_id`'s row until commit: `(its holder, its lease)` then.
pub async fn task<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
) -> sqlx::Result<(Option<String>, Option<String>)> {
    let row = sqlx::query_file!("../../sql/postgres/locks/task.sql", task_id)
        .fetch_one(db)
        .await?;
    Ok((row.worker_id, row.lease_id))
}

/// Locks lease `lease_id`'s row until commit.
pub async fn lease<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    lease_id: &str,
) -> sqlx::Result<()> {
    sqlx::query_file!("../../sql/postgres/locks/lease.sql", lease_id)
        .fetch_optional(db)
        .await?;
    Ok(())
}

/// Locks installation `id`'s row until commit: `(blocked until (ms), limits in a row)` then.
pub async fn installation<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: i64,
) -> sqlx::Result<Option<(i64, i64)>> {
    let row = sqlx::query_file!("../../sql/postgres/locks/installation.sql", id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.blocked_until, r.limit_streak)))
}

/// Locks key `key` of `caller` until commit: `(request hash, status, content type, body,
/// reserved at)`.
pub async fn idempotency_key<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    caller: &str,
    key: &str,
) -> sqlx::Result<Option<(String, Option<i64>, Option<String>, Option<String>, i64)>> {
    let row = sqlx::query_file!("../../sql/postgres/locks/idempotency_key.sql", caller, key)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| {
        (
            r.request_hash,
            r.status,
            r.content_type,
            r.body,
            r.created_at,
        )
    }))
}
