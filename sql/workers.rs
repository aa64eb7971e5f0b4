//! Workers (`owp::store::workers`): registration, presence, pause and trust, and the implicit
//! worker of a person who claims by comment. The worker rows the store reads are composed
//! (`WORKER_SELECT`, with the person's settings); the writes return the rows they changed.

use super::Db;

/// Worker `id` registers at `now` (ms), online.
#[allow(clippy::too_many_arguments)]
pub async fn register<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: &str,
    name: &str,
    token_hash: &str,
    skills: &str,
    capacity_points: i64,
    max_concurrent_tasks: i64,
    claimed_login: Option<&str>,
    now: i64,
    capabilities: &str,
    extensions: &str,
    reputation_opt_in: i64,
    leaderboard_opt_in: i64,
    specialist: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/workers/register.sql",
        id,
        name,
        token_hash,
        skills,
        capacity_points,
        max_concurrent_tasks,
        claimed_login,
        now,
        capabilities,
        extensions,
        reputation_opt_in,
        leaderboard_opt_in,
        specialist
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Whether worker `id` is archived (1) or not (0).
pub async fn archived<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: &str,
) -> sqlx::Result<i64> {
    let row = sqlx::query_file!("../../sql/workers/archived.sql", id)
        .fetch_one(db)
        .await?;
    Ok(row.n)
}

/// Worker `id` was seen at `now` (ms), online.
pub async fn seen<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: &str,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/workers/seen.sql", id, now)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Worker `id` is `paused` or `idle` (`status`).
pub async fn set_status<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: &str,
    status: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/workers/set_status.sql", id, status)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Worker `id`'s own trust level is `trust`.
pub async fn set_trust<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: &str,
    trust: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/workers/set_trust.sql", id, trust)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// The implicit worker of GitHub account `account_id`, if it has one.
pub async fn implicit_of<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
) -> sqlx::Result<Option<String>> {
    let row = sqlx::query_file!("../../sql/workers/implicit_of.sql", account_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.id))
}

/// Implicit worker `id` was seen at `now` (ms), online, holding at most `max` tasks at once.
pub async fn implicit_seen<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: &str,
    now: i64,
    max: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/workers/implicit_seen.sql", id, now, max)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// The implicit worker `id` of `account_id`, named `login`, made at `now` (ms): every skill,
/// `points`, at most `max` tasks at once; 0 when the id is taken.
pub async fn implicit_create<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: &str,
    login: &str,
    points: i64,
    max: i64,
    now: i64,
    account_id: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/workers/implicit_create.sql",
        id,
        login,
        points,
        max,
        now,
        account_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Worker `id`, not seen since `cutoff` (ms), is offline (0: another process said so first).
pub async fn offline<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: &str,
    cutoff: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/workers/offline.sql", id, cutoff)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

writes! {
    /// Worker `worker_id` is archived at `now` (ms): paused, its token replaced by `token_hash`,
    /// the digest of one nobody is given.
    archive(now: i64, token_hash: &str, worker_id: &str) = "../../sql/workers/archive.sql";
}

writes! {
    /// Worker `worker_id`, unless it was archived, gets the token whose digest is `token_hash`,
    /// at `now` (ms).
    rotate_token(token_hash: &str, now: i64, worker_id: &str) = "../../sql/workers/rotate_token.sql";
}
