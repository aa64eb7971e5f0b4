//! Settings every replica shares (`owp::store::shared_settings`): a value, and its conditional
//! writes.

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

writes! {
    /// The value kept under `name` becomes `value` at `now` (ms) if it is still `expected`.
    replace(value: &str, now: i64, name: &str, expected: &str)
        = "../../sql/shared_settings/replace.sql";
}

writes! {
    /// Keeps `value` under `name`, set at `now` (ms), unless a value is kept there already.
    keep(name: &str, value: &str, now: i64) = "../../sql/shared_settings/keep.sql";
}
