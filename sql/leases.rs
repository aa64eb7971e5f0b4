//! Leases (`owp::store::leases`): when a lease was granted, the next deadline, those due, a
//! lease's holder and its agent's last words.

use super::Db;

/// When lease `lease_id` was granted (ms), if it exists.
pub async fn created_at<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    lease_id: &str,
) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query_file!("../../sql/leases/created_at.sql", lease_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.created_at))
}

/// The earliest deadline (ms) of a lease that has not ended, if any.
pub async fn next_deadline<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query_file!("../../sql/leases/next_deadline.sql")
        .fetch_one(db)
        .await?;
    Ok(row.deadline)
}

/// The tasks of the first 200 leases due at `now` (ms), earliest first.
pub async fn due<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    now: i64,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/leases/due.sql", now)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Lease `lease_id`: `(its task's id, its worker, when it ended)`.
pub async fn holder<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    lease_id: &str,
) -> sqlx::Result<Option<(String, String, Option<i64>)>> {
    let row = sqlx::query_file!("../../sql/leases/holder.sql", lease_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.task_id, r.worker_id, r.ended_at)))
}

writes! {
    /// What lease `lease_id`'s agent last said it does, at `now` (ms).
    progress(line: &str, now: i64, lease_id: &str) = "../../sql/leases/progress.sql";
}

/// Whether worker `worker_id` ever held a lease on task `task_seq`.
pub async fn held_before<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_seq: i64,
    worker_id: &str,
) -> sqlx::Result<bool> {
    let row = sqlx::query_file!("../../sql/leases/held_before.sql", task_seq, worker_id)
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}

writes! {
    /// The live leases of worker `worker_id` at `now` (ms) last until `expires` (ms); one not
    /// acknowledged yet still ends at its accept-by deadline.
    renew_worker(expires: i64, now: i64, worker_id: &str) = "../../sql/leases/renew_worker.sql";
}

writes! {
    /// [`renew_worker`] for lease `lease_id` of worker `worker_id` alone.
    renew_one(expires: i64, now: i64, worker_id: &str, lease_id: &str)
        = "../../sql/leases/renew_one.sql";
}
