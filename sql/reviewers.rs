//! Repositories' reviewers (`owp::store::github::reviewers`): the listed reviewers, their
//! accounts, away state and assignments. The writes return the rows they changed.

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

/// The listed reviewers of repository `repo_id`: `(key, listed login, how many at once,
/// account)`.
pub async fn listed<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
) -> sqlx::Result<Vec<(String, String, i64, Option<i64>)>> {
    let rows = sqlx::query_file!("../../sql/reviewers/listed.sql", repo_id)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.login_key, r.login, r.capacity, r.account_id))
        .collect())
}

/// Reviewer `key` of repository `repo_id` is no longer listed.
pub async fn unlist<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    key: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/reviewers/unlist.sql", repo_id, key)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Reviewer `from` (its key) of repository `repo_id` is listed as `login` under `key`,
/// `capacity` at once, resolved to `account_id`.
pub async fn relist<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    from: &str,
    key: &str,
    login: &str,
    capacity: i64,
    account_id: Option<i64>,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/reviewers/relist.sql",
        repo_id,
        from,
        key,
        login,
        capacity,
        account_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Repository `repo_id` lists reviewer `login` (`key`), `capacity` at once, resolved to
/// `account_id`.
pub async fn list<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    key: &str,
    login: &str,
    capacity: i64,
    account_id: Option<i64>,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/reviewers/list.sql",
        repo_id,
        key,
        login,
        capacity,
        account_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Repository `repo_id` has `reviewers` reviewers.
pub async fn count<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    reviewers: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/reviewers/count.sql", repo_id, reviewers)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Repository `repo_id`'s reviewer `key`, not resolved yet, is `account_id`, unless another
/// of its reviewers is.
pub async fn resolve<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    key: &str,
    account_id: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/reviewers/resolve.sql", repo_id, key, account_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// GitHub names `account_id` `login` now: the reviewers resolved to it show that login.
pub async fn account_renamed<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    login: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/reviewers/account_renamed.sql", account_id, login)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// GitHub names `account_id` `login` now (`key`): a reviewer listed by that login and not
/// resolved yet is that account, unless another reviewer of the repository is.
pub async fn account_seen<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    login: &str,
    key: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/reviewers/account_seen.sql",
        account_id,
        login,
        key
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// The listed reviewers of `repo` whose login names no account the App has found yet.
pub async fn unresolved_of<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/reviewers/unresolved_of.sql", repo)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.login).collect())
}

/// Reviewer `key` of repository `repo_id` is away until `until` (ms), or back (`None`).
pub async fn away<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    key: &str,
    until: Option<i64>,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/reviewers/away.sql", repo_id, key, until)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// The pull request of task `task_seq` of repository `repo_id` is reviewed by `reviewer`
/// (lower case; `reviewer_id`) from `now` (ms) on.
pub async fn review<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_seq: i64,
    repo_id: i64,
    reviewer: &str,
    reviewer_id: Option<i64>,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/reviewers/review.sql",
        task_seq,
        repo_id,
        reviewer,
        reviewer_id,
        now
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Reviewer `key` of repository `repo_id` was last assigned at `now` (ms).
pub async fn assigned<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    key: &str,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/reviewers/assigned.sql", repo_id, key, now)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// The reviewer of task `task_seq` while its review is open: `(account id, login shown)`.
pub async fn open_review<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_seq: i64,
) -> sqlx::Result<Option<(Option<i64>, String)>> {
    let row = sqlx::query_file!("../../sql/reviewers/open_review.sql", task_seq)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.reviewer_id, r.login)))
}
