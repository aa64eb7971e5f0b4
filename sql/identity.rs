//! GitHub's ids as the identity of repositories (`owp::store::github::identity`): a
//! repository renamed or transferred, and an issue moved to another pooled repository, keep
//! their tasks. The writes return the rows they changed.

use super::Db;

/// Whether the App has a record of a repository named `repo` (names compared exactly).
pub async fn app_repo_named<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
) -> sqlx::Result<bool> {
    let row = sqlx::query_file!("../../sql/identity/app_repo_named.sql", repo)
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}

writes! {
    /// The pool's repository `old` is named `new` from `now` (ms) on.
    rename_policy(old: &str, new: &str, now: i64) = "../../sql/identity/rename_policy.sql";
}

writes! {
    /// `repo`'s clone URL becomes `url` where it was `former`, its former name's default.
    follow_clone_url(repo: &str, former: &str, url: &str)
        = "../../sql/identity/follow_clone_url.sql";
}

/// The task of repository `repo_id` with `key`, if there is one.
pub async fn task_with_key<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    key: &str,
) -> sqlx::Result<Option<String>> {
    let row = sqlx::query_file!("../../sql/identity/task_with_key.sql", repo_id, key)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.id))
}

/// The issue number `task_id` was made from, if it was.
pub async fn issue_of_task<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query_file!("../../sql/identity/issue_of_task.sql", task_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.issue_number))
}

writes! {
    /// `task_id` moves to repository `repo_id` under `key` at `now` (ms); its area lock stays
    /// only when nobody holds the same area there.
    move_task(task_id: &str, repo_id: i64, key: &str, now: i64)
        = "../../sql/identity/move_task.sql";
}

writes! {
    /// The leases of task `task_seq` in repository `from` are counted in repository `to`.
    move_leases(task_seq: i64, from: i64, to: i64) = "../../sql/identity/move_leases.sql";
}

writes! {
    /// `task_id` is made from issue `issue_number` of `repo` from now on.
    move_issue(task_id: &str, repo: &str, issue_number: i64) = "../../sql/identity/move_issue.sql";
}

writes! {
    /// The pending rows about issue `number` of `repo` go to issue `to_number` of `to_repo`,
    /// through the installation that serves it.
    move_pending_comments(repo: &str, number: i64, to_repo: &str, to_number: i64)
        = "../../sql/identity/move_pending_comments.sql";
}

writes! {
    /// The pending rows of `repo` go through `installation_id`.
    follow_installation(repo: &str, installation_id: i64)
        = "../../sql/identity/follow_installation.sql";
}

writes! {
    /// The App's record of `repo` forgets its GitHub id.
    forget_github_id(repo: &str) = "../../sql/identity/forget_github_id.sql";
}

writes! {
    /// Repository `old` is named `new` now, in `gh_repos`.
    rename_gh_repos(new: &str, old: &str) = "../../sql/identity/rename_gh_repos.sql";
}

writes! {
    /// Repository `old` is named `new` now, in `gh_tasks`.
    rename_gh_tasks(new: &str, old: &str) = "../../sql/identity/rename_gh_tasks.sql";
}

writes! {
    /// Repository `old` is named `new` now, in `gh_outbox`.
    rename_gh_outbox(new: &str, old: &str) = "../../sql/identity/rename_gh_outbox.sql";
}

writes! {
    /// Repository `old` is named `new` now, in `gh_linked_prs`.
    rename_gh_linked_prs(new: &str, old: &str) = "../../sql/identity/rename_gh_linked_prs.sql";
}

writes! {
    /// The keys of repository `repo`'s GitHub tasks that begin with `prefix` (of `prefix_len`
    /// characters) begin with `new_prefix` instead, the part from character `from` on kept;
    /// changed at `now` (ms).
    rename_keys(new_prefix: &str, from: i32, now: i64, repo: &str, prefix_len: i32, prefix: &str)
        = "../../sql/identity/rename_keys.sql";
}
