//! The public board's reads (`owp::store::board`): read-only statements.

use super::Db;

/// The names of the repositories whose boards anyone may read (public, not archived).
pub async fn public_repo_names<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_file_scalar!("../../sql/board/public_repo_names.sql")
        .fetch_all(db)
        .await
}
