//! Limits every replica counts together (`owp::store::shared_limits`): one use of a name, in a
//! window on the clock or begun at its first use, the end of ended windows, and the one long
//! poll each worker holds. Whether any of several names is spent is composed (their count).

use super::Db;

writes! {
    /// One use of `name` in the window starting at `window` (of `span` ms), counted only while
    /// the window holds fewer than `limit` uses.
    take(name: &str, window: i64, limit: i64, span: i64) = "../../sql/limits/take.sql";
}

writes! {
    /// One use of `name` in a window of `span` ms begun at its first use (`now`, ms), counted
    /// only while the window holds fewer than `limit` uses.
    take_from_first_use(name: &str, now: i64, limit: i64, span: i64)
        = "../../sql/limits/take_from_first_use.sql";
}

writes! {
    /// Forgets the counts of windows that ended before `now` (ms).
    forget(now: i64) = "../../sql/limits/forget.sql";
}

writes! {
    /// `holder` is the long poll `worker_id` began last.
    hold_poll(worker_id: &str, holder: &str) = "../../sql/limits/hold_poll.sql";
}

/// The long poll `worker_id` began last.
pub async fn poll_holder<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    worker_id: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_file_scalar!("../../sql/limits/poll_holder.sql", worker_id)
        .fetch_optional(db)
        .await
}
