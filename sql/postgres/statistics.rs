//! PostgreSQL's own counts of the tables' changes (`owp::store::engine::statistics`). SQLite
//! keeps no such counts and plans each statement from the schema: compiled for PostgreSQL only.

use super::Db;

/// The tables of the inbox and the outbox to analyze now: at least `min_changed` of their rows
/// changed since their last analysis, and at least a tenth of them.
pub async fn stale_tables<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    min_changed: i64,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!(
        "../../sql/postgres/statistics/stale_tables.sql",
        min_changed
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| r.table).collect())
}
