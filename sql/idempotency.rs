//! Idempotency keys (`owp::store::idempotency`): a request's reservation, its answer, and their
//! end. On PostgreSQL the reserved row is read under a lock (`sql/postgres/locks/`).

use super::Db;

writes! {
    /// Key `key` of `caller` is forgotten if it was reserved before `before` (ms).
    forget_old(caller: &str, key: &str, before: i64) = "../../sql/idempotency/forget_old.sql";
}

writes! {
    /// Reserves key `key` of `caller` for a request whose body hashes to `request_hash`, at
    /// `now` (ms), unless it is reserved already.
    reserve(caller: &str, key: &str, request_hash: &str, now: i64)
        = "../../sql/idempotency/reserve.sql";
}

writes! {
    /// The answer to the request of key `key` of `caller`.
    finish(status: i64, content_type: &str, body: &str, caller: &str, key: &str)
        = "../../sql/idempotency/finish.sql";
}

writes! {
    /// Forgets the reservation of key `key` of `caller` while it has no answer.
    abort(caller: &str, key: &str) = "../../sql/idempotency/abort.sql";
}

writes! {
    /// Forgets the keys reserved before `before` (ms).
    sweep(before: i64) = "../../sql/idempotency/sweep.sql";
}

/// A stored key: `(request hash, status, content type, body, reserved at)`.
pub type StoredKey = (String, Option<i64>, Option<String>, Option<String>, i64);

/// Key `key` of `caller` as stored.
pub async fn stored<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    caller: &str,
    key: &str,
) -> sqlx::Result<Option<StoredKey>> {
    let row = sqlx::query_file!("../../sql/idempotency/stored.sql", caller, key)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| {
        (
            r.request_hash,
            r.status,
            r.content_type,
            r.body,
            r.created_at,
        )
    }))
}
