//! Leases (`owp::store::leases`): read-only statements.

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
