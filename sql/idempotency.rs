//! Idempotency keys (`owp::store::idempotency`): a request's reservation, its answer, and their
//! end. The reserved row is read with the backend's lock (composed).

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
