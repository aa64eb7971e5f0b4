//! Repositories' reviewers (`owp::store::github::reviewers`): read-only statements.

use super::Db;

/// The listed logins of `repo`'s reviewers (lower case), each with its account if resolved:
/// `(login_key, account_id)`.
pub async fn keys<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
) -> sqlx::Result<Vec<(String, Option<i64>)>> {
    let rows = sqlx::query_file!("../../sql/reviewers/keys.sql", repo)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.login_key, r.account_id))
        .collect())
}

/// The accounts the pool knows by `login` (lower case): persons met by it, and reviewers'
/// accounts for which GitHub last gave it.
pub async fn known_accounts<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    login: &str,
) -> sqlx::Result<Vec<i64>> {
    let rows = sqlx::query_file!("../../sql/reviewers/known_accounts.sql", login)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.account_id).collect())
}
