//! The GitHub App's upkeep (`owp::store::github::job_slots`, `etags`, `mod`): the slots of
//! jobs that run once across replicas, GitHub's answers kept for conditional requests, and
//! the claims a stopping process gives back. The writes return the rows they changed.

use super::Db;

/// `runner` takes `slot` (its scheduled instant) of job `name` at `now` (ms), unless another
/// did.
pub async fn take_job_slot<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    name: &str,
    slot: i64,
    runner: &str,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/upkeep/take_job_slot.sql",
        name,
        slot,
        runner,
        now
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// `slot` of job `name` ended at `now` (ms) with `outcome`.
pub async fn finish_job_slot<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    name: &str,
    slot: i64,
    now: i64,
    outcome: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/upkeep/finish_job_slot.sql",
        name,
        slot,
        now,
        outcome
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Forgets the job slots started before `before` (ms).
pub async fn sweep_job_runs<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    before: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/upkeep/sweep_job_runs.sql", before)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// GitHub's answer to `path` at `now` (ms): its `etag`, `body` and `next_page`.
pub async fn save_etag<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    path: &str,
    etag: &str,
    body: &str,
    next_page: Option<&str>,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/upkeep/save_etag.sql",
        path,
        etag,
        body,
        next_page,
        now
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Forgets GitHub's answers kept since before `before` (ms).
pub async fn sweep_etags<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    before: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/upkeep/sweep_etags.sql", before)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Gives back every outbox row `runner` claimed.
pub async fn release_outbox<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    runner: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/upkeep/release_outbox.sql", runner)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Gives back every delivery `runner` claimed.
pub async fn release_deliveries<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    runner: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/upkeep/release_deliveries.sql", runner)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
