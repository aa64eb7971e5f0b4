//! `Idempotency-Key`: the first response to (caller, key) is stored and replayed for 24 hours.

use super::engine::checked::{checked_in_tx, checked_write};
use super::engine::tx_conn::Typed;
use super::{Store, StoreError, now_ms};

/// Keys are kept this long.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3_600_000;
/// A first request that has not finished after this long is presumed lost (its process died); it
/// is never run again under its key, since it may have taken effect.
const IN_FLIGHT_TIMEOUT_MS: i64 = 60_000;

/// What to do with a request that carries an idempotency key.
#[derive(Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// First time: run it, then `finish`.
    Run,
    /// Seen before with the same body: replay this response.
    Replay {
        status: u16,
        content_type: String,
        body: String,
    },
    /// Seen before with another body.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
    /// The first request with this key never stored its answer (its process stopped while it
    /// ran): it may have taken effect, so it is not run again.
    Interrupted,
}

/// The requests that carried an `Idempotency-Key`, and their stored responses
/// ([`Store::idempotency_keys`]).
pub struct IdempotencyKeys<'s> {
    store: &'s Store,
}

impl Store {
    /// The view of the store named by [`IdempotencyKeys`].
    pub fn idempotency_keys(&self) -> IdempotencyKeys<'_> {
        IdempotencyKeys { store: self }
    }
}

impl IdempotencyKeys<'_> {
    /// Reserves `(caller, key)` for a request whose body hashes to `request_hash`.
    pub async fn begin(
        &self,
        caller: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<Idempotency, StoreError> {
        let mut tx = self.store.begin().await?;
        let now = tx.now;
        checked_in_tx!(
            tx.conn(),
            idempotency::forget_old(caller, key, now - IDEMPOTENCY_TTL_MS)
        )?;
        // Insert first: of several processes racing with one key exactly one inserts (on
        // PostgreSQL the others wait for it and then find its row), instead of all finding
        // nothing and all inserting.
        let inserted = checked_in_tx!(
            tx.conn(),
            idempotency::reserve(caller, key, request_hash, now)
        )?;
        let existing = if inserted == 1 {
            None
        } else {
            match tx.conn().typed() {
                Typed::Sqlite(conn) => {
                    owp_sql_sqlite::idempotency::stored(conn, caller, key).await?
                }
                Typed::Postgres(conn) => {
                    owp_sql_postgres::locks::idempotency_key(conn, caller, key).await?
                }
            }
        };
        let out = match existing {
            None => Idempotency::Run,
            Some((hash, _, _, _, _)) if hash != request_hash => Idempotency::Mismatch,
            Some((_, Some(status), content_type, body, _)) => Idempotency::Replay {
                status: u16::try_from(status).unwrap_or(500),
                content_type: content_type.unwrap_or_else(|| "application/json".into()),
                body: body.unwrap_or_default(),
            },
            Some((_, None, _, _, created)) if now - created > IN_FLIGHT_TIMEOUT_MS => {
                Idempotency::Interrupted
            }
            Some(_) => Idempotency::InFlight,
        };
        tx.commit().await?;
        Ok(out)
    }

    /// Stores the response of a request that ran (again on another connection when the
    /// connection is lost on the way: the statement is the same whether it ran once or twice).
    pub async fn finish(
        &self,
        caller: &str,
        key: &str,
        status: u16,
        content_type: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        let status = i64::from(status);
        again_if_cut(|| async {
            checked_write!(
                self.store,
                idempotency::finish(status, content_type, body, caller, key)
            )
        })
        .await
    }

    /// Forgets a reservation (the request failed on our side; a retry may run it), again on
    /// another connection when the connection is lost on the way: a request that failed because
    /// its database connections were cut must not leave its key reserved.
    pub async fn abort(&self, caller: &str, key: &str) -> Result<(), StoreError> {
        again_if_cut(|| async { checked_write!(self.store, idempotency::abort(caller, key)) }).await
    }

    /// Drops keys older than 24 hours.
    pub async fn sweep(&self) -> Result<u64, StoreError> {
        let n = checked_write!(
            self.store,
            idempotency::sweep(now_ms() - IDEMPOTENCY_TTL_MS)
        )?;
        Ok(n)
    }
}

/// How many times a statement of [`again_if_cut`] is sent.
const STATEMENT_ATTEMPTS: u32 = 4;

/// Runs an idempotent statement, again (after a short pause) while its connection is lost.
async fn again_if_cut<F, Fut, T>(mut statement: F) -> Result<(), StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match statement().await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_connection_lost() && attempt < STATEMENT_ATTEMPTS => {
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
