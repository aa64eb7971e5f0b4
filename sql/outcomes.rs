//! What became of each repository's work (`owp::store::outcomes`): read-only statements.

use super::Db;

/// Tasks merged and closed unmerged since `since` (ms), by repository and kind:
/// `(repository, kind, tasks)`; `public_only` reads public, unarchived repositories alone.
pub async fn decided<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    since: i64,
    public_only: bool,
) -> sqlx::Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query_file!("../../sql/outcomes/decided.sql", since, public_only)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.repo, r.kind, r.n)).collect())
}

/// Each task merged since `since` (ms): `(repository, lead time)`, the lead time (ms) from its
/// first claim to the merge (`None` when no lease came before it); `public_only` as in
/// [`decided`].
pub async fn lead_times<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    since: i64,
    public_only: bool,
) -> sqlx::Result<Vec<(String, Option<i64>)>> {
    let rows = sqlx::query_file!("../../sql/outcomes/lead_times.sql", since, public_only)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.repo, r.lead_ms)).collect())
}
