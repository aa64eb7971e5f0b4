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

writes! {
    /// Reviewer `key` of repository `repo_id` is no longer listed.
    unlist(repo_id: i64, key: &str) = "../../sql/reviewers/unlist.sql";
}

writes! {
    /// Reviewer `from` (its key) of repository `repo_id` is listed as `login` under `key`,
    /// `capacity` at once, resolved to `account_id`.
    relist(repo_id: i64, from: &str, key: &str, login: &str, capacity: i64, account_id: Option<i64>)
        = "../../sql/reviewers/relist.sql";
}

writes! {
    /// Repository `repo_id` lists reviewer `login` (`key`), `capacity` at once, resolved to
    /// `account_id`.
    list(repo_id: i64, key: &str, login: &str, capacity: i64, account_id: Option<i64>)
        = "../../sql/reviewers/list.sql";
}

writes! {
    /// Repository `repo_id` has `reviewers` reviewers.
    count(repo_id: i64, reviewers: i64) = "../../sql/reviewers/count.sql";
}

writes! {
    /// Repository `repo_id`'s reviewer `key`, not resolved yet, is `account_id`, unless another
    /// of its reviewers is.
    resolve(repo_id: i64, key: &str, account_id: i64) = "../../sql/reviewers/resolve.sql";
}

writes! {
    /// GitHub names `account_id` `login` now: the reviewers resolved to it show that login.
    account_renamed(account_id: i64, login: &str) = "../../sql/reviewers/account_renamed.sql";
}

writes! {
    /// GitHub names `account_id` `login` now (`key`): a reviewer listed by that login and not
    /// resolved yet is that account, unless another reviewer of the repository is.
    account_seen(account_id: i64, login: &str, key: &str) = "../../sql/reviewers/account_seen.sql";
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

writes! {
    /// Reviewer `key` of repository `repo_id` is away until `until` (ms), or back (`None`).
    away(repo_id: i64, key: &str, until: Option<i64>) = "../../sql/reviewers/away.sql";
}

writes! {
    /// The pull request of task `task_seq` of repository `repo_id` is reviewed by `reviewer`
    /// (lower case; `reviewer_id`) from `now` (ms) on.
    review(task_seq: i64, repo_id: i64, reviewer: &str, reviewer_id: Option<i64>, now: i64)
        = "../../sql/reviewers/review.sql";
}

writes! {
    /// Reviewer `key` of repository `repo_id` was last assigned at `now` (ms).
    assigned(repo_id: i64, key: &str, now: i64) = "../../sql/reviewers/assigned.sql";
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
