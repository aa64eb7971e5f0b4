//! A worker's proof of its person with GitHub's device flow, under way
//! (`owp::store::github::device_links`, table `worker_link_flows`). The writes return the rows
//! they changed.

use super::Db;

writes! {
    /// Forgets the flows that expired before `before` (ms), and `worker_id`'s flows under way.
    clear_flows(before: i64, worker_id: &str) = "../../sql/device_links/clear_flows.sql";
}

writes! {
    /// `worker_id`'s flow `digest`, polled no sooner than every `interval_ms`, made at `now` and
    /// valid until `expires_at` (ms).
    start_flow(digest: &str, worker_id: &str, interval_ms: i64, now: i64, expires_at: i64)
        = "../../sql/device_links/start_flow.sql";
}

/// A poll of `worker_id`'s live, unused flow `digest` at `now` (ms), if its interval has
/// passed since the last one (which this one then is).
pub async fn poll_flow<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    digest: &str,
    worker_id: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let row = sqlx::query_file!(
        "../../sql/device_links/poll_flow.sql",
        digest,
        worker_id,
        now
    )
    .fetch_optional(db)
    .await?;
    Ok(row.is_some())
}

/// `worker_id`'s live, unused flow `digest` at `now` (ms): `(polled_at, interval_ms)`.
pub async fn flow_wait<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    digest: &str,
    worker_id: &str,
    now: i64,
) -> sqlx::Result<Option<(Option<i64>, i64)>> {
    let row = sqlx::query_file!(
        "../../sql/device_links/flow_wait.sql",
        digest,
        worker_id,
        now
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.polled_at, r.interval_ms)))
}

writes! {
    /// `worker_id`'s flow `digest` polls no sooner than every `interval_ms` from now on.
    slow_flow(digest: &str, worker_id: &str, interval_ms: i64)
        = "../../sql/device_links/slow_flow.sql";
}

writes! {
    /// Ends `worker_id`'s unused flow `digest` at `now` (ms).
    end_flow(digest: &str, worker_id: &str, now: i64) = "../../sql/device_links/end_flow.sql";
}
