//! GitHub accounts' ages and the account each worker speaks for (`owp::store::accounts`).

use super::Db;

/// What is known of the GitHub account `account_id`: `(created_at, read_at)` (ms), the first
/// `None` when GitHub did not give it.
pub async fn account<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
) -> sqlx::Result<Option<(Option<i64>, i64)>> {
    let row = sqlx::query_file!("../../sql/accounts/account.sql", account_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.created_at, r.read_at)))
}

/// Up to `limit` linked or claiming workers whose GitHub account's age is not known and was not
/// asked for since `asked_before` (ms), when some repository asks for a minimum age:
/// `(worker_id, login, account_id)`.
pub async fn to_read<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    asked_before: i64,
    limit: i64,
) -> sqlx::Result<Vec<(String, String, Option<i64>)>> {
    let rows = sqlx::query_file!("../../sql/accounts/to_read.sql", asked_before, limit)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.github_login, r.github_account_id))
        .collect())
}

writes! {
    /// Keeps what GitHub said of account `account_id`, then named `login`: when it was created
    /// (ms; `None` when GitHub did not answer), asked at `now` (ms). A known age is never
    /// forgotten.
    remember(account_id: i64, login: &str, created_at: Option<i64>, now: i64)
        = "../../sql/accounts/remember.sql";
}

writes! {
    /// Worker `worker_id`'s link, made before account ids were kept, is to account
    /// `account_id`, unless another link is.
    link_account(account_id: i64, worker_id: &str) = "../../sql/accounts/link_account.sql";
}

/// Worker `worker_id` speaks for account `account_id` when its link does: `Some(its login)`
/// when this changed it.
pub async fn worker_account<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    worker_id: &str,
) -> sqlx::Result<Option<Option<String>>> {
    let row = sqlx::query_file!(
        "../../sql/accounts/worker_account.sql",
        account_id,
        worker_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| r.github_login))
}
