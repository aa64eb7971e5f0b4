//! The GitHub App's comment outbox (`owp::store::github::outbox`, table `gh_outbox`): rows
//! queued in the transaction of the change they report, and what becomes of a claimed row. The
//! claim itself is built at run time (it composes the pacing of each installation); the writes
//! return the rows they changed.

use super::Db;

writes! {
    /// Asks for the status comment of `task_id` on issue `issue_number` of `repo` (installation
    /// `installation_id`), asked at `now` and written from `due` (ms): a new row of `uid`, or the
    /// task's pending row (its `coalesce_key`) with its revision one up.
    enqueue_status(
        uid: &str,
        installation_id: i64,
        repo: &str,
        issue_number: i64,
        task_id: &str,
        now: i64,
        due: i64,
        coalesce_key: &str,
    ) = "../../sql/outbox/enqueue_status.sql";
}

writes! {
    /// A row sent once (a comment or a reaction, `kind`) of `uid` on issue `issue_number` of `repo`
    /// (installation `installation_id`), about `task_id` or `comment_id`, with `body`, due at once
    /// from `now` (ms).
    enqueue_once(
        uid: &str,
        installation_id: i64,
        repo: &str,
        issue_number: i64,
        kind: &str,
        task_id: Option<&str>,
        comment_id: Option<i64>,
        body: &str,
        now: i64,
    ) = "../../sql/outbox/enqueue_once.sql";
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

writes! {
    /// Drops the pending rows about issue `issue_number` of `repo` (it is gone).
    drop_issue(repo: &str, issue_number: i64) = "../../sql/outbox/drop_issue.sql";
}

writes! {
    /// Gives row `id`, claimed by `runner`, back, to be tried at `at` (ms), with `error` if any.
    give_back(id: i64, runner: &str, at: i64, error: Option<&str>)
        = "../../sql/outbox/give_back.sql";
}

writes! {
    /// Row `id`, claimed by `runner`, cannot be sent (`error`).
    fail(id: i64, runner: &str, error: &str) = "../../sql/outbox/fail.sql";
}

writes! {
    /// Row `id`, claimed by `runner` at `revision`, sent at `now` (ms) as GitHub's `github_id`:
    /// not marked (0) when its task changed since the claim (a status row's revision moved).
    mark_sent(id: i64, runner: &str, revision: i64, now: i64, github_id: Option<i64>)
        = "../../sql/outbox/mark_sent.sql";
}

writes! {
    /// Installation `installation_id`'s pending rows due before `until` (ms) and not claimed at
    /// `now` wait until `until`; with `replies_only`, only its replies and reactions.
    hold_installation(installation_id: i64, until: i64, now: i64, replies_only: bool)
        = "../../sql/outbox/hold_installation.sql";
}

writes! {
    /// Gives row `id`, claimed by `runner`, back untried, to be sent at `at` (ms): the claim does
    /// not count as an attempt.
    give_back_untried(id: i64, runner: &str, at: i64) = "../../sql/outbox/give_back_untried.sql";
}
