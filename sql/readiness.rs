//! What `/readyz` asks of the database (`owp::store::readiness`), and the write `owp doctor` rolls
//! back.

use super::Db;

/// The migrations applied: a query of the schema, answered by a usable database.
pub async fn migrations_applied<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<i64> {
    sqlx::query_file_scalar!("../../sql/readiness/migrations_applied.sql")
        .fetch_one(db)
        .await
}

writes! {
    /// A row `owp doctor` writes and rolls back (`value`: now, in ms), to prove that the
    /// database takes writes.
    probe_write(value: &str) = "../../sql/readiness/probe_write.sql";
}
