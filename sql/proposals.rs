//! Proposals (`owp::store::proposals`): the sweep's work, an approval's writes and what a
//! proposer is told of an end. The proposals' own rows are read composed (`PROPOSAL_SELECT`); the
//! writes return the rows they changed.

use super::Db;

/// Whether the sweep of proposals has work at `now` (ms): a proposal whose end is not recorded
/// yet, or an open one expired.
pub async fn due<'c>(db: impl sqlx::Executor<'c, Database = Db>, now: i64) -> sqlx::Result<bool> {
    let row = sqlx::query_file!("../../sql/proposals/due.sql", now)
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}

/// Task `task_id` as a proposal sees it: `(seq, status, its repository's approval)`.
pub async fn task_of<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
) -> sqlx::Result<Option<(i64, String, String)>> {
    let row = sqlx::query_file!("../../sql/proposals/task_of.sql", task_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.seq, r.status, r.approval)))
}

/// The other open proposals of task `task_seq` than `id` were not chosen, at `now` (ms):
/// `(id, worker)` of each.
pub async fn not_chosen<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    now: i64,
    task_seq: i64,
    id: &str,
) -> sqlx::Result<Vec<(String, String)>> {
    let rows = sqlx::query_file!("../../sql/proposals/not_chosen.sql", now, task_seq, id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.worker_id)).collect())
}

/// Proposal `id` is open again.
pub async fn reopen<'c>(db: impl sqlx::Executor<'c, Database = Db>, id: &str) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/proposals/reopen.sql", id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Lease `lease_id`, given by an approval, is to be acknowledged by `accept_by` (ms), and
/// lives at least as long: when it expires.
pub async fn accept_by<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    accept_by: i64,
    lease_id: &str,
) -> sqlx::Result<i64> {
    let row = sqlx::query_file!("../../sql/proposals/accept_by.sql", accept_by, lease_id)
        .fetch_one(db)
        .await?;
    Ok(row.expires_at)
}

/// The open proposals whose time ran out by `now` (ms) expired then.
pub async fn expire<'c>(db: impl sqlx::Executor<'c, Database = Db>, now: i64) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/proposals/expire.sql", now)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Proposal `id`'s end has its audit event.
pub async fn recorded<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/proposals/recorded.sql", id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Proposal `id` as its proposer is told of its end: `(login, state, reason, worker id,
/// worker name, all skills)`.
pub async fn ended<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: &str,
) -> sqlx::Result<Option<(Option<String>, String, Option<String>, String, String, i64)>> {
    let row = sqlx::query_file!("../../sql/proposals/ended.sql", id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| {
        (
            r.login,
            r.state,
            r.reason,
            r.worker_id,
            r.name,
            r.all_skills,
        )
    }))
}
