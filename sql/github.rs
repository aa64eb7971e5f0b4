//! The GitHub App's tables (`owp::store::github`): read-only statements.

use super::Db;

/// The installations the App knows, by id: `(id, account, suspended, blocked_until)`.
pub async fn installations<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<Vec<(i64, String, i64, i64)>> {
    let rows = sqlx::query_file!("../../sql/github/installations.sql")
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.account, r.suspended, r.blocked_until))
        .collect())
}

/// Tasks that are `ready` although their issue left the pool while someone held them:
/// `(task_id, left_pool)`.
pub async fn left_pool_ready<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<Vec<(String, String)>> {
    let rows = sqlx::query_file!("../../sql/github/left_pool_ready.sql")
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.task_id, r.left_pool)).collect())
}

/// GitHub's remembered answers, newest first, at most `limit`:
/// `(path, etag, body, next_page)`.
pub async fn etags<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    limit: i64,
) -> sqlx::Result<Vec<(String, String, String, Option<String>)>> {
    let rows = sqlx::query_file!("../../sql/github/etags.sql", limit)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.path, r.etag, r.body, r.next_page))
        .collect())
}
