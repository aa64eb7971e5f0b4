//! Who is online (`owp::store::workers`' presence sweep): read-only statements.

use super::Db;

/// Up to 500 workers still marked online whose last contact in the database is at or before
/// `cutoff` (ms), by id.
pub async fn due_offline<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    cutoff: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_file_scalar!("../../sql/presence/due_offline.sql", cutoff)
        .fetch_all(db)
        .await
}
