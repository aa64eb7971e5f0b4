//! Promotion rules (`owp::store::reputation`): read-only statements.

use super::Db;

/// The promotion rules of repository `repo_id`, by level: `(level, merged)`.
pub async fn promotions<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
) -> sqlx::Result<Vec<(i64, i64)>> {
    let rows = sqlx::query_file!("../../sql/reputation/promotions.sql", repo_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.level, r.merged)).collect())
}

/// Every repository's promotion rules, by repository then level: `(repo_id, level, merged)`.
pub async fn all_promotions<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<Vec<(i64, i64, i64)>> {
    let rows = sqlx::query_file!("../../sql/reputation/all_promotions.sql")
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.repo_id, r.level, r.merged))
        .collect())
}
