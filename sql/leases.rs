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
