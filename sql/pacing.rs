//! The pace of the GitHub App's writes (`owp::store::github::write_pacing`): each
//! installation's log of content-creating requests (`gh_write_log`) and its pause
//! (`gh_installations.blocked_until`). The reads of an installation's row under its lock differ
//! by backend and are built at run time; the writes return the rows they changed.

use super::Db;

/// What an installation's log says of its writes: `(in the last minute, the oldest of them, in
/// the last hour, the oldest of them, the newest, until when one is in flight)`.
pub type WriteCounts = (i64, Option<i64>, i64, Option<i64>, Option<i64>, Option<i64>);

writes! {
    /// `installation_id` was limited by GitHub: no request of it before `until` (ms), the
    /// `streak`th limit in a row.
    limited(installation_id: i64, until: i64, streak: i64) = "../../sql/pacing/limited.sql";
}

writes! {
    /// GitHub asked `installation_id` to wait: no request of it before `until` (ms), or a later
    /// time it was given.
    block(installation_id: i64, until: i64) = "../../sql/pacing/block.sql";
}

writes! {
    /// Forgets `installation_id`'s writes made at or before `before` (ms).
    forget_writes(installation_id: i64, before: i64) = "../../sql/pacing/forget_writes.sql";
}

/// What `installation_id`'s log says of its writes since `minute_ago` and `hour_ago` (ms).
pub async fn write_counts<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    installation_id: i64,
    minute_ago: i64,
    hour_ago: i64,
) -> sqlx::Result<WriteCounts> {
    let r = sqlx::query_file!(
        "../../sql/pacing/write_counts.sql",
        installation_id,
        minute_ago,
        hour_ago
    )
    .fetch_one(db)
    .await?;
    Ok((
        r.minute,
        r.oldest_minute,
        r.hour,
        r.oldest_hour,
        r.newest,
        r.in_flight,
    ))
}

writes! {
    /// A write of `installation_id` reserved at `at` (ms), in flight until `in_flight_until`.
    take_write(installation_id: i64, at: i64, in_flight_until: Option<i64>)
        = "../../sql/pacing/take_write.sql";
}

writes! {
    /// `installation_id`'s write reserved at `reserved_at` (ms) was sent at `sent_at` and
    /// answered: it counts from `now` and is no longer in flight.
    write_answered(installation_id: i64, reserved_at: i64, now: i64, sent_at: i64)
        = "../../sql/pacing/write_answered.sql";
}

writes! {
    /// `installation_id`'s write reserved at `reserved_at` (ms) was never sent.
    write_unsent(installation_id: i64, reserved_at: i64) = "../../sql/pacing/write_unsent.sql";
}

/// Installation `id`'s pause: `(blocked until (ms), limits in a row)`.
pub async fn blocked<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: i64,
) -> sqlx::Result<Option<(i64, i64)>> {
    let row = sqlx::query_file!("../../sql/pacing/blocked.sql", id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.blocked_until, r.limit_streak)))
}
