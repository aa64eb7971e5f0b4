//! Proposals (`owp::store::proposals`): read-only statements.

use super::Db;

/// Whether the sweep of proposals has work at `now` (ms): a proposal whose end is not recorded
/// yet, or an open one expired.
pub async fn due<'c>(db: impl sqlx::Executor<'c, Database = Db>, now: i64) -> sqlx::Result<bool> {
    let row = sqlx::query_file!("../../sql/proposals/due.sql", now)
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}
