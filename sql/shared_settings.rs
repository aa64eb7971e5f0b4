//! Settings every replica shares (`owp::store::shared_settings`): read-only statements.

use super::Db;

/// The value kept under `name`, if any.
pub async fn value<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    name: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_file_scalar!("../../sql/shared_settings/value.sql", name)
        .fetch_optional(db)
        .await
}
