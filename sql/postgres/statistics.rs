//! PostgreSQL's own counts of the tables' rows and changes (`owp::store::engine::statistics`). SQLite
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

/// The rows `table` held at its last analysis, as PostgreSQL's statistics say (negative before
/// the first).
pub async fn table_rows<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    table: &str,
) -> sqlx::Result<f64> {
    let row = sqlx::query_file!("../../sql/postgres/statistics/table_rows.sql", table)
        .fetch_one(db)
        .await?;
    Ok(row.rows)
}
