//! Checks of linked pull requests' head commits (`owp::store::checks`): what GitHub's check
//! suites, check runs and commit statuses reported, and the artifact a task in `pr_opened`
//! shows. The writes return the rows they changed.

use super::Db;

writes! {
    /// Pull request `pr_number` of `repo` has head commit `sha`.
    set_head(repo: &str, pr_number: i64, sha: &str) = "../../sql/checks/set_head.sql";
}

/// How many checks commit `sha` of `repo` keeps.
pub async fn count<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    sha: &str,
) -> sqlx::Result<i64> {
    let row = sqlx::query_file!("../../sql/checks/count.sql", repo, sha)
        .fetch_one(db)
        .await?;
    Ok(row.n)
}

writes! {
    /// Check `check_key` of commit `sha` of `repo` is in `state` at `now` (ms).
    record(repo: &str, sha: &str, check_key: &str, state: &str, now: i64)
        = "../../sql/checks/record.sql";
}

writes! {
    /// Check `check_key` of commit `sha` of `repo`, if kept, is in `state` at `now` (ms).
    update(repo: &str, sha: &str, check_key: &str, state: &str, now: i64)
        = "../../sql/checks/update.sql";
}

/// The states of commit `sha`'s checks in `repo`, each once.
pub async fn states<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    sha: &str,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/checks/states.sql", repo, sha)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.state).collect())
}

/// The tasks of `repo` whose acting, open linked pull request has head `sha`.
pub async fn tasks_with_head<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    sha: &str,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/checks/tasks_with_head.sql", repo, sha)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.task_id).collect())
}

writes! {
    /// Task `seq`, while in `pr_opened`, shows `artifact` (JSON) from `now` (ms).
    set_artifact(seq: i64, artifact: &str, now: i64) = "../../sql/checks/set_artifact.sql";
}
