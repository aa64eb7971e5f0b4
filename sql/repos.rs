//! Repositories (`owp::store::repos`): read-only statements.

use super::Db;

/// The id of the repository named `name`, if the pool has one.
pub async fn id<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    name: &str,
) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query_file!("../../sql/repos/id.sql", name)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.id))
}
