//! The GitHub App's inbox of webhook deliveries (`owp::store::github::inbox`, table
//! `gh_deliveries`) and the redeliveries it asked for (`gh_redeliveries`). The claim of the
//! next delivery in each lane's order is composed (its lock differs by backend:
//! `owp::store::composed::github`); the writes return the rows they changed.

use super::Db;

/// A verified delivery `delivery_id` of `event` with `body` (its SHA-256 `body_sha256`),
/// received at `now` (ms), in the lane of `lane_installation` and `lane_repo`: 0 when its id,
/// or the same signed body, was stored before.
#[allow(clippy::too_many_arguments)]
pub async fn store_delivery<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    delivery_id: &str,
    event: &str,
    body: &str,
    body_sha256: Option<&str>,
    now: i64,
    lane_installation: Option<i64>,
    lane_repo: Option<i64>,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/inbox/store_delivery.sql",
        delivery_id,
        event,
        body,
        body_sha256,
        now,
        lane_installation,
        lane_repo
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Delivery `seq` ended (`state`: `applied`, `ignored` or `failed`) at `now` (ms), with `error`
/// if any.
pub async fn finish<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    seq: i64,
    state: &str,
    now: i64,
    error: Option<&str>,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/inbox/finish.sql", seq, state, now, error)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Delivery `seq` is given back, to be tried again at `at` (ms), after `error`.
pub async fn retry<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    seq: i64,
    at: i64,
    error: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/inbox/retry.sql", seq, at, error)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// The App asked GitHub to redeliver `guid` (GitHub's attempt `attempt_id`) at `now` (ms).
pub async fn redelivery_asked<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    guid: &str,
    attempt_id: i64,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/inbox/redelivery_asked.sql",
        guid,
        attempt_id,
        now
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Forgets the redeliveries asked for before `before` (ms).
pub async fn sweep_redeliveries<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    before: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/inbox/sweep_redeliveries.sql", before)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
