//! Comment claims (`owp::store::github::claims`, table `gh_claims`): made by `/owp claim`, kept
//! alive by the claimer's activity, reminded at half time. Their reads are in `github_rows`;
//! the writes return the rows they changed.

use super::Db;

/// A comment claim of `task_id` by lease `lease_id` of `login` on `worker_id` (`person`: 1 the
/// login's implicit worker, 0 a linked one), living `ttl_ms` from each sign of activity,
/// reminded at half time with `reminder` (1), made at `now` (ms).
#[allow(clippy::too_many_arguments)]
pub async fn record<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
    lease_id: &str,
    login: &str,
    worker_id: &str,
    person: i64,
    ttl_ms: i64,
    reminder: i64,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/claims/record.sql",
        task_id,
        lease_id,
        login,
        worker_id,
        person,
        ttl_ms,
        reminder,
        now
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Forgets the comment claim of `task_id`.
pub async fn forget<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/claims/forget.sql", task_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// The claimer of `task_id` showed activity at `now` (ms).
pub async fn touch<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/claims/touch.sql", task_id, now)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// The claim of `task_id` reminded at `now` (ms), unless it was already or its claimer was
/// active since `activity_at` (ms).
pub async fn reminded<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
    now: i64,
    activity_at: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/claims/reminded.sql", task_id, now, activity_at)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Lease `lease_id` of claimed (in progress) `task_id` ends at `until` (ms), if it is still
/// running.
pub async fn move_deadline<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    lease_id: &str,
    task_id: &str,
    until: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/claims/move_deadline.sql",
        lease_id,
        task_id,
        until
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
