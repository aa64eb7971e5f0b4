//! Promotion rules and opt-ins (`owp::store::reputation`): each repository's rules, and whether a
//! worker's outcomes count for reputation and the leaderboard. The writes return the rows they
//! changed.

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

writes! {
    /// Worker `id` opts in or out (1 or 0) of `reputation` and the `leaderboard` (none:
    /// unchanged).
    opt_in(id: &str, reputation: Option<i64>, leaderboard: Option<i64>)
        = "../../sql/reputation/opt_in.sql";
}

writes! {
    /// Forgets repository `repo_id`'s promotion rules.
    clear_promotions(repo_id: i64) = "../../sql/reputation/clear_promotions.sql";
}

writes! {
    /// Repository `repo_id` promotes to trust `level` after `merged` merged pull requests.
    add_promotion(repo_id: i64, level: i64, merged: i64) = "../../sql/reputation/add_promotion.sql";
}
