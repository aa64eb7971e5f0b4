//! Workers (`owp::store::workers`): registration, presence, pause and trust, and the implicit
//! worker of a person who claims by comment. The worker rows the store reads are composed
//! (`WORKER_SELECT`, with the person's settings); the writes return the rows they changed.

use super::Db;

writes! {
    /// Worker `id` registers at `now` (ms), online.
    register(
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
    ) = "../../sql/workers/register.sql";
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

writes! {
    /// Worker `id` was seen at `now` (ms), online.
    seen(id: &str, now: i64) = "../../sql/workers/seen.sql";
}

writes! {
    /// Worker `id` is `paused` or `idle` (`status`).
    set_status(id: &str, status: &str) = "../../sql/workers/set_status.sql";
}

writes! {
    /// Worker `id`'s own trust level is `trust`.
    set_trust(id: &str, trust: i64) = "../../sql/workers/set_trust.sql";
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

writes! {
    /// Implicit worker `id` was seen at `now` (ms), online, holding at most `max` tasks at once.
    implicit_seen(id: &str, now: i64, max: i64) = "../../sql/workers/implicit_seen.sql";
}

writes! {
    /// The implicit worker `id` of `account_id`, named `login`, made at `now` (ms): every skill,
    /// `points`, at most `max` tasks at once; 0 when the id is taken.
    implicit_create(id: &str, login: &str, points: i64, max: i64, now: i64, account_id: i64)
        = "../../sql/workers/implicit_create.sql";
}

writes! {
    /// Worker `id`, not seen since `cutoff` (ms), is offline (0: another process said so first).
    offline(id: &str, cutoff: i64) = "../../sql/workers/offline.sql";
}

writes! {
    /// Worker `worker_id` is archived at `now` (ms): paused, its token replaced by `token_hash`,
    /// the digest of one nobody is given.
    archive(now: i64, token_hash: &str, worker_id: &str) = "../../sql/workers/archive.sql";
}

writes! {
    /// Worker `worker_id`, unless it was archived, gets the token whose digest is `token_hash`,
    /// at `now` (ms).
    rotate_token(token_hash: &str, now: i64, worker_id: &str)
        = "../../sql/workers/rotate_token.sql";
}
