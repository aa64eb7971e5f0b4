//! The GitHub App's comment outbox (`owp::store::github::outbox`, table `gh_outbox`): rows
//! queued in the transaction of the change they report, and what becomes of a claimed row. The
//! claim itself is built at run time (it composes the pacing of each installation); the writes
//! return the rows they changed.

use super::Db;

/// Asks for the status comment of `task_id` on issue `issue_number` of `repo` (installation
/// `installation_id`), asked at `now` and written from `due` (ms): a new row of `uid`, or the
/// task's pending row (its `coalesce_key`) with its revision one up.
#[allow(clippy::too_many_arguments)]
pub async fn enqueue_status<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    uid: &str,
    installation_id: i64,
    repo: &str,
    issue_number: i64,
    task_id: &str,
    now: i64,
    due: i64,
    coalesce_key: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/outbox/enqueue_status.sql",
        uid,
        installation_id,
        repo,
        issue_number,
        task_id,
        now,
        due,
        coalesce_key
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// A row sent once (a comment or a reaction, `kind`) of `uid` on issue `issue_number` of `repo`
/// (installation `installation_id`), about `task_id` or `comment_id`, with `body`, due at once
/// from `now` (ms).
#[allow(clippy::too_many_arguments)]
pub async fn enqueue_once<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    uid: &str,
    installation_id: i64,
    repo: &str,
    issue_number: i64,
    kind: &str,
    task_id: Option<&str>,
    comment_id: Option<i64>,
    body: &str,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/outbox/enqueue_once.sql",
        uid,
        installation_id,
        repo,
        issue_number,
        kind,
        task_id,
        comment_id,
        body,
        now
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Whether a reply of `body` on issue `issue_number` of `repo` was queued since `since` (ms).
pub async fn recent_reply<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    issue_number: i64,
    body: &str,
    since: i64,
) -> sqlx::Result<bool> {
    let row = sqlx::query_file!(
        "../../sql/outbox/recent_reply.sql",
        repo,
        issue_number,
        body,
        since
    )
    .fetch_optional(db)
    .await?;
    Ok(row.is_some())
}

/// Whether a reply on issue `issue_number` of `repo` begins as `pattern` (lower-case, a `LIKE`
/// pattern).
pub async fn replied_to<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    issue_number: i64,
    pattern: &str,
) -> sqlx::Result<bool> {
    let row = sqlx::query_file!(
        "../../sql/outbox/replied_to.sql",
        repo,
        issue_number,
        pattern
    )
    .fetch_optional(db)
    .await?;
    Ok(row.is_some())
}

/// Drops the pending rows about issue `issue_number` of `repo` (it is gone).
pub async fn drop_issue<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    issue_number: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/outbox/drop_issue.sql", repo, issue_number)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Gives row `id`, claimed by `runner`, back, to be tried at `at` (ms), with `error` if any.
pub async fn give_back<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: i64,
    runner: &str,
    at: i64,
    error: Option<&str>,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/outbox/give_back.sql", id, runner, at, error)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Row `id`, claimed by `runner`, cannot be sent (`error`).
pub async fn fail<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: i64,
    runner: &str,
    error: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/outbox/fail.sql", id, runner, error)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Row `id`, claimed by `runner` at `revision`, sent at `now` (ms) as GitHub's `github_id`:
/// not marked (0) when its task changed since the claim (a status row's revision moved).
pub async fn mark_sent<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: i64,
    runner: &str,
    revision: i64,
    now: i64,
    github_id: Option<i64>,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/outbox/mark_sent.sql",
        id,
        runner,
        revision,
        now,
        github_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Installation `installation_id`'s pending rows due before `until` (ms) and not claimed at
/// `now` wait until `until`; with `replies_only`, only its replies and reactions.
pub async fn hold_installation<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    installation_id: i64,
    until: i64,
    now: i64,
    replies_only: bool,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/outbox/hold_installation.sql",
        installation_id,
        until,
        now,
        replies_only
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Gives row `id`, claimed by `runner`, back untried, to be sent at `at` (ms): the claim does
/// not count as an attempt.
pub async fn give_back_untried<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: i64,
    runner: &str,
    at: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/outbox/give_back_untried.sql", id, runner, at)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
