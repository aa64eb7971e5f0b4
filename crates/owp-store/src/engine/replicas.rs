//! What several `owp serve` processes on one PostgreSQL database need beyond row locks: a
//! commit-safe read position in the event log, cross-process wake-ups, retried transactions and
//! once-per-slot jobs. On SQLite every piece degrades to the trivial version (one writer at a time
//! commits event ids in order; other processes are seen by polling).
//!
//! # Reading the event log in order
//!
//! Event ids come from a sequence when a transaction inserts its events, just before it commits.
//! On PostgreSQL two transactions can commit in the opposite order of their ids, so a reader that
//! saw id 11 may later find id 10 appear. A reader that remembers only "the last id I sent" (an SSE
//! client's `Last-Event-ID`) would skip 10 forever.
//!
//! The store therefore publishes a *horizon*: the largest id below which the log is final, i.e.
//! every smaller id is either visible or will never be. Readers never go past it. A hole below a
//! visible id is waited on until it is provably permanent:
//! - every event id is drawn after its transaction has its transaction id (the column default
//!   `owp_next_event_id()` calls `pg_current_xact_id()` before `nextval`);
//! - so when a hole `g` is seen below a visible id, the transaction holding `g` already had an xid,
//!   smaller than a fresh xid `X` taken right after that read;
//! - once a snapshot's `xmin` is above `X`, every transaction with an xid up to `X` has ended;
//!   if `g` is still absent from that same snapshot, its transaction rolled back and the hole is
//!   skipped.
//!
//! The hole lasts only as long as the transactions that were running when it was seen (writers
//! draw their event ids right before `COMMIT`, so normally a few milliseconds). A safety valve
//! skips a hole after [`HOLE_GIVE_UP`] with a warning, so a stuck foreign transaction on the same
//! server cannot stall the stream forever.
//!
//! This keeps commits independent of each other (no global lock, no commit-ordered counter that
//! would serialise every write transaction behind one row).
//!
//! # Waking other processes
//!
//! After local commits, a small task sends `NOTIFY owp_changes` (at most every
//! [`NOTIFY_EVERY`], outside the write transactions: a `NOTIFY` inside a transaction takes a
//! cluster-wide lock at commit and would serialise every writer). Every process `LISTEN`s and wakes
//! its waiters ([`EmptyClaims::changed`]), which re-read the horizon. Long polls and SSE streams on
//! one replica therefore see changes made through another within tens of milliseconds; the
//! periodic poll of the event log remains as the fallback if a notification is lost. The same
//! notifications tell the others to forget the workers they remember by token after a change of
//! a worker's credentials, and a quiet notifier pings itself, so that a process knows whether its
//! listener hears everything (see [`crate::known_workers`]).
//!
//! [`EmptyClaims::changed`]: crate::leases::empty_claims::EmptyClaims::changed

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use sqlx::Row;
use tokio::sync::Notify;

use super::checked::checked_read;
use super::sqlite_writer::ExecuteWrite;
use super::write_tx::WriteTx;
use crate::{Backend, Store, StoreError};

/// How long a hole in the event ids is waited on at most.
pub const HOLE_GIVE_UP: Duration = Duration::from_secs(10);
/// Cross-process wake-ups are sent at most this often by one process.
pub const NOTIFY_EVERY: Duration = Duration::from_millis(20);
/// The PostgreSQL channel of cross-process wake-ups.
pub const CHANNEL: &str = "owp_changes";
/// A notifier with nothing to say pings this often (see [`Store::start_wakeups`]).
const PING_EVERY: Duration = Duration::from_millis(500);
/// How long one ping heard proves the listener works.
const WATCH_LASTS_MS: i64 = 1_500;
/// The payload's suffix of a ping.
const ALIVE: &str = "!alive";
/// The payload's suffix of commits that changed what authenticating a worker returns.
const FORGOT_WORKERS: &str = "+workers";
/// Attempts of a write transaction that keeps failing transiently.
pub const WRITE_ATTEMPTS: u32 = 5;
/// Ids read per round when the horizon catches up.
const HORIZON_BATCH: i64 = 1000;
/// How far below the newest event a new process starts checking for holes.
const HORIZON_START_WINDOW: i64 = 1000;

/// The commit-safe read position of the event log (see the module docs).
#[derive(Default)]
pub(crate) struct Horizon {
    /// Every event id up to this one is final. Readable without the lock.
    safe: AtomicI64,
    /// Serialises advancing; holds the hole being waited on.
    hole: tokio::sync::Mutex<Option<Hole>>,
}

#[derive(Clone, Copy, Debug)]
struct Hole {
    /// The first missing id.
    id: i64,
    /// A transaction id assigned after the hole was seen.
    xid: i64,
    since: Instant,
}

impl Horizon {
    pub(crate) fn safe(&self) -> i64 {
        self.safe.load(Ordering::Acquire)
    }
}

/// Signals between the store and its background tasks.
#[derive(Default)]
pub(crate) struct Signals {
    /// Set by every local commit with events; consumed by the notifier.
    pub(crate) local_commit: Notify,
    /// Tasks written by imports since the last `ANALYZE tasks` of this process.
    pub(crate) rows_since_analyze: AtomicI64,
    /// Set by a local commit that changed what authenticating a worker returns; consumed by the
    /// notifier, which tells the other processes to forget the workers they remember.
    pub(crate) forgot_workers: AtomicBool,
}

impl Store {
    /// The horizon of the event log: every event with an id up to this is visible, and no event
    /// with a smaller id will ever appear (see the module docs). On SQLite this is the newest id.
    pub async fn event_horizon(&self) -> Result<i64, StoreError> {
        match self.backend {
            Backend::Sqlite => {
                let id = checked_read!(self, events::newest_id())?;
                Ok(id.unwrap_or(0))
            }
            Backend::Postgres => self.advance_horizon().await,
        }
    }

    /// The horizon as last computed, without asking the database (PostgreSQL).
    pub(crate) async fn known_horizon(&self) -> Result<i64, StoreError> {
        Ok(self.horizon.safe())
    }

    /// Sets the starting point of the horizon shortly below the newest event, so a new process
    /// does not walk the whole log.
    pub(crate) async fn init_horizon(&self) -> Result<(), StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        let newest = checked_read!(self, events::newest_id())?;
        let start = (newest.unwrap_or(0) - HORIZON_START_WINDOW).max(0);
        self.horizon.safe.store(start, Ordering::Release);
        self.advance_horizon().await?;
        Ok(())
    }

    async fn advance_horizon(&self) -> Result<i64, StoreError> {
        let mut hole = self.horizon.hole.lock().await;
        let mut safe = self.horizon.safe();
        loop {
            // One statement, so the ids and `xmin` come from the same snapshot.
            let rows = sqlx::query(
                "SELECT x.xmin, e.id FROM \
                 (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin) x \
                 LEFT JOIN LATERAL (SELECT id FROM events WHERE id > $1 ORDER BY id LIMIT $2) e \
                 ON TRUE ORDER BY e.id",
            )
            .bind(safe)
            .bind(HORIZON_BATCH)
            .fetch_all(&self.read)
            .await?;
            let xmin: i64 = match rows.first() {
                Some(r) => r.try_get("xmin")?,
                None => break,
            };
            let mut seen = 0i64;
            let mut stalled = false;
            for row in &rows {
                let Some(id) = row.try_get::<Option<i64>, _>("id")? else {
                    continue;
                };
                seen += 1;
                if id == safe + 1 {
                    safe = id;
                    continue;
                }
                // Ids safe+1 ..= id-1 are missing below a visible id.
                match *hole {
                    Some(h) if h.id == safe + 1 => {
                        if xmin > h.xid {
                            // Every transaction that could hold the missing ids has ended, and
                            // they are absent from this snapshot: they will never appear.
                            safe = id;
                            *hole = None;
                            continue;
                        }
                        if h.since.elapsed() > HOLE_GIVE_UP {
                            tracing::warn!(
                                first_missing = h.id,
                                next = id,
                                "event ids still missing after {HOLE_GIVE_UP:?}; continuing past them"
                            );
                            safe = id;
                            *hole = None;
                            continue;
                        }
                    }
                    _ => {
                        let xid: i64 =
                            sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
                                .fetch_one(&self.read)
                                .await?;
                        *hole = Some(Hole {
                            id: safe + 1,
                            xid,
                            since: Instant::now(),
                        });
                    }
                }
                stalled = true;
                break;
            }
            if stalled || seen < HORIZON_BATCH {
                break;
            }
        }
        if hole.is_some_and(|h| h.id <= safe) {
            *hole = None;
        }
        self.horizon.safe.store(safe, Ordering::Release);
        Ok(safe)
    }

    /// Starts the cross-process wake-ups (PostgreSQL): a listener that wakes this process's waiters
    /// when another process commits, and a notifier that tells the others about local commits.
    /// Both end when the store is closed.
    ///
    /// A notification's payload is the sending store's id, then `+workers` when its commits
    /// changed what authenticating a worker returns (the receivers forget the workers they
    /// remember, see [`crate::known_workers`]), or `!alive` for the ping the notifier sends
    /// when it has nothing to say: a listener that hears its own store's pings knows that it
    /// misses nothing, and only then are workers remembered for long.
    pub(crate) async fn start_wakeups(&self, url: &str) -> Result<(), StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        let me = uuid::Uuid::new_v4().simple().to_string();
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        let store = self.clone();
        let mine = me.clone();
        tokio::spawn(async move {
            loop {
                if store.write.is_closed() {
                    break;
                }
                let heard = tokio::time::timeout(Duration::from_secs(1), listener.try_recv()).await;
                match heard {
                    Ok(Ok(Some(n))) => {
                        let payload = n.payload();
                        if payload.starts_with(mine.as_str()) {
                            // Its own word came back, a ping or a commit's: the listener hears
                            // everything said before it (a process that commits more often than
                            // it pings is watched all the same).
                            let until = crate::now_ms() + WATCH_LASTS_MS;
                            store.known_workers.watched(until);
                            continue;
                        }
                        if payload.ends_with(ALIVE) {
                            continue;
                        }
                        if payload.ends_with(FORGOT_WORKERS) {
                            store.known_workers.forget_all();
                        }
                        store.empty_claims.changed();
                        store.changed.notify_waiters();
                    }
                    // The connection was lost (the next call reconnects): whatever was said
                    // meanwhile is lost, so nothing remembered is trusted.
                    Ok(Ok(None)) | Ok(Err(_)) => {
                        // Its connection was most likely cut with the pool's: the pool tries each
                        // connection before use for a while.
                        crate::error::connection_lost();
                        if let Ok(Err(e)) = heard {
                            tracing::debug!(error = %e, "change listener reconnecting");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        store.known_workers.unwatched();
                        store.empty_claims.changed();
                        store.changed.notify_waiters();
                    }
                    Err(_) => {}
                }
            }
        });
        let store = self.clone();
        tokio::spawn(async move {
            loop {
                let woke =
                    tokio::time::timeout(PING_EVERY, store.signals.local_commit.notified()).await;
                if store.write.is_closed() {
                    break;
                }
                let forgot = store.signals.forgot_workers.swap(false, Ordering::AcqRel);
                let payload = match (woke.is_ok(), forgot) {
                    (_, true) => format!("{me}{FORGOT_WORKERS}"),
                    (true, false) => me.clone(),
                    (false, false) => format!("{me}{ALIVE}"),
                };
                // On the pool, not through the store's writes: a wake-up writes nothing, and
                // counts as none of them (`Store::commits`).
                if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(&payload)
                    .execute(&store.write)
                    .await
                {
                    tracing::debug!(error = %e, "change notification failed");
                    if forgot {
                        store.signals.forgot_workers.store(true, Ordering::Release);
                    }
                }
                tokio::time::sleep(NOTIFY_EVERY).await;
            }
        });
        Ok(())
    }

    /// Runs `work` in a write transaction and commits it, retrying the whole transaction when it
    /// fails transiently (SQLite busy, PostgreSQL serialization failure or deadlock). An error
    /// that records something final (an expiry discovered on the way, see
    /// [`StoreError::commits_anyway`]) still commits.
    ///
    /// `work` receives the transaction and hands it back with its result:
    /// `store.write(|mut tx| async move { let r = tx.claim(&w).await; (tx, r) })`.
    pub async fn write<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnMut(WriteTx) -> Fut,
        Fut: Future<Output = (WriteTx, Result<T, StoreError>)>,
    {
        self.write_with(work, Retry::Transient).await
    }

    /// [`Store::write`] run by [`Store::on_writer`]: one write transaction (retried when the
    /// database says so) on the writer thread.
    pub async fn write_on_writer<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnMut(WriteTx) -> Fut + Send + 'static,
        Fut: Future<Output = (WriteTx, Result<T, StoreError>)> + Send,
        T: Send + 'static,
    {
        self.on_writer(move |store| async move { store.write(work).await })
            .await
    }

    /// [`Store::write`] whose transaction begins with its first statements (see
    /// [`Store::begin_batched`]): for work whose first step on SQLite is a statement batch (the
    /// claim, ack and status paths of `store::leases`).
    pub(crate) async fn write_batched<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnMut(WriteTx) -> Fut,
        Fut: Future<Output = (WriteTx, Result<T, StoreError>)>,
    {
        self.write_with(work, Retry::Batched).await
    }

    /// [`Store::write`] for create-or-update work (imports by key, repository upserts): a unique
    /// violation means another process created the same row a moment ago, and running the work
    /// again takes the update path.
    pub(crate) async fn write_upsert<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnMut(WriteTx) -> Fut,
        Fut: Future<Output = (WriteTx, Result<T, StoreError>)>,
    {
        self.write_with(work, Retry::Upsert).await
    }

    async fn write_with<T, F, Fut>(&self, mut work: F, kind: Retry) -> Result<T, StoreError>
    where
        F: FnMut(WriteTx) -> Fut,
        Fut: Future<Output = (WriteTx, Result<T, StoreError>)>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = async {
                let tx = match kind {
                    Retry::Batched => self.begin_batched().await?,
                    Retry::Transient | Retry::Upsert => self.begin().await?,
                };
                let (tx, result) = work(tx).await;
                tx.finish(result).await
            }
            .await;
            match outcome {
                // A full pool already waited long enough; only conflicts are worth another go,
                // and a lost connection (before its `COMMIT`: nothing was committed).
                Err(e)
                    if (e.is_conflict()
                        || e.is_connection_lost()
                        || (kind == Retry::Upsert && e.is_unique_violation()))
                        && attempt < WRITE_ATTEMPTS =>
                {
                    tracing::debug!(error = %e, attempt, "retrying a write transaction");
                    tokio::time::sleep(retry_pause(attempt)).await;
                }
                other => return other,
            }
        }
    }

    /// Claims the run of job `name` for the time slot `slot` (e.g. `now / period`): true for
    /// exactly one caller per slot, in any number of processes sharing the database.
    pub async fn claim_job_slot(&self, name: &str, slot: i64) -> Result<bool, StoreError> {
        let key = format!("job:{name}");
        let n = sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value \
             WHERE CAST(settings.value AS BIGINT) < CAST(excluded.value AS BIGINT)",
        )
        .bind(&key)
        .bind(slot.to_string())
        .execute_write(self)
        .await?
        .rows_affected();
        Ok(n > 0)
    }
}

/// A short, jittered pause before retrying (so colliding transactions do not collide again).
/// Which failures [`Store::write_with`] retries, and how its transaction begins.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Transient failures (busy, serialization failure, deadlock).
    Transient,
    /// Transient failures, the transaction beginning with its first statements.
    Batched,
    /// Transient failures and unique violations (create-or-update work).
    Upsert,
}

fn retry_pause(attempt: u32) -> Duration {
    let base = 2u64 << attempt.min(6);
    let jitter = u64::from(rand::random::<u8>()) % base.max(1);
    Duration::from_millis(base + jitter)
}
