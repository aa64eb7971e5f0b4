//! Authenticated workers, remembered for a while.
//!
//! Every worker request starts by finding the worker its bearer token belongs to. Under load that
//! read is most of a request's own database work: on SQLite a read connection starts every read
//! with a cold page cache once any other connection has committed, and on PostgreSQL it is a
//! round trip to the database. An idle volunteer's tool heartbeats and asks for work every few
//! seconds, so the row found by one request is kept here and serves the next ones: for
//! [`WATCHED_MAX_AGE`] while this process is sure to learn of other processes' changes, for
//! [`MAX_AGE`] otherwise.
//!
//! What may be stale, and why that is safe:
//!
//! - **Changes made through this process** that a request must see at once (a new token, pause,
//!   trust, GitHub login, archiving) make the write transaction call
//!   [`super::WriteTx::forget_known_workers`]; when it commits, every entry is dropped (a
//!   generation counter, so an entry being filled while that transaction commits is not kept
//!   either). They are rare admin and registration writes; the hot paths never call it.
//! - **Changes made by another process** drop every entry here too, as soon as this process
//!   learns of them: on PostgreSQL the committing process says so in its cross-process
//!   notification (see `engine::replicas`), on SQLite this process's read of the event log (every
//!   250 ms in a server) finds events it did not write. Rows are kept for the long
//!   [`WATCHED_MAX_AGE`] only while that watch is known to work ([`KnownWorkers::watched`]: the
//!   PostgreSQL listener hears this process's own pings, the SQLite log was read a moment ago);
//!   a listener that lost its connection drops every entry and the next rows live [`MAX_AGE`].
//! - **The counters** (`active_tasks`, `active_points`), capacity, trust and pause are never
//!   taken from the request's row by a claim: it reads them in its own statement. A heartbeat
//!   trusts a remembered row's counters ([`WorkerRow::fresh`]) only while the pool has not changed
//!   since the row was read (the pool version of `leases::empty_claims`, which moves with every
//!   change this process commits or hears of, presence aside) and the watch works.
//! - **`last_seen_at`** moves with every request of the worker. The store writes here what it
//!   committed or noted for the next presence flush ([`KnownWorkers::seen`]), so a remembered row
//!   carries the latest contact this process knows of. A row that says its worker is offline is
//!   never served from here: whether a request brings a worker back online (and logs
//!   `worker.online` once) is always decided on a fresh row.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::rows::WorkerRow;

/// How long a row read for one request may serve the next ones while other processes' changes
/// are not watched.
pub const MAX_AGE: Duration = Duration::from_secs(1);
/// How long while they are (see the module docs).
pub const WATCHED_MAX_AGE: Duration = Duration::from_secs(60);

/// At most this many tokens (and as many workers' contacts) are kept; past it the oldest half
/// goes (a process serving more workers than this just reads more often). A row is about half
/// a kilobyte.
const MAX_ENTRIES: usize = 200_000;

#[derive(Default)]
pub struct KnownWorkers {
    /// Bumped by every commit that forgets the entries; an entry of an older one is not served.
    generation: AtomicU64,
    /// Until when (ms) other processes' changes are known to reach this process.
    watched_until: AtomicI64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// By token hash.
    rows: HashMap<String, Entry>,
    /// By worker id: the latest contact this process committed or noted (see
    /// [`super::presence`]).
    seen: HashMap<String, i64>,
}

struct Entry {
    row: WorkerRow,
    generation: u64,
    /// The pool's version when the row was read (see `leases::empty_claims`).
    pool_version: u64,
    read_at: Instant,
}

impl KnownWorkers {
    /// Read before a row is looked up in the database, and passed to [`KnownWorkers::remember`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Other processes' changes reach this process until `until` (ms): rows may be kept for
    /// [`WATCHED_MAX_AGE`] meanwhile.
    pub fn watched(&self, until: i64) {
        self.watched_until.fetch_max(until, Ordering::AcqRel);
    }

    /// Whether other processes' changes are known to reach this process at `now` (ms).
    pub fn is_watched(&self, now: i64) -> bool {
        now < self.watched_until.load(Ordering::Acquire)
    }

    /// Other processes' changes may have been missed: rows are kept for [`MAX_AGE`] only, until
    /// [`KnownWorkers::watched`] says otherwise, and every row kept so far goes.
    pub fn unwatched(&self) {
        self.watched_until.store(0, Ordering::Release);
        self.forget_all();
    }

    /// The worker of `token_hash` if a row of it was read recently enough (see the module docs),
    /// no change through this process has been committed since, and it is online at `now` (ms).
    /// Its counters count as current ([`WorkerRow::fresh`]) when the pool is still at the
    /// `pool_version` it was read at and other processes' changes are watched.
    pub fn get(
        &self,
        token_hash: &str,
        now: i64,
        heartbeat_ttl_ms: i64,
        pool_version: u64,
    ) -> Option<WorkerRow> {
        let generation = self.generation();
        let watched = self.is_watched(now);
        let max_age = if watched { WATCHED_MAX_AGE } else { MAX_AGE };
        let inner = self.inner.lock().ok()?;
        let entry = inner.rows.get(token_hash)?;
        if entry.generation != generation || entry.read_at.elapsed() >= max_age {
            return None;
        }
        let mut row = entry.row.clone();
        row.fresh = watched && entry.row.fresh && entry.pool_version == pool_version;
        if let Some(&seen) = inner.seen.get(&row.id) {
            row.last_seen_at = row.last_seen_at.max(Some(seen));
        }
        row.online(now, heartbeat_ttl_ms).then_some(row)
    }

    /// Keeps `row`, read from the database for `token_hash` after [`KnownWorkers::generation`]
    /// returned `generation` and the pool was at `pool_version`.
    pub fn remember(
        &self,
        token_hash: String,
        row: &WorkerRow,
        generation: u64,
        pool_version: u64,
    ) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.rows.len() >= MAX_ENTRIES {
            let mut ages: Vec<Instant> = inner.rows.values().map(|e| e.read_at).collect();
            let (_, &mut median, _) = ages.select_nth_unstable(MAX_ENTRIES / 2);
            inner.rows.retain(|_, e| e.read_at > median);
        }
        inner.rows.insert(
            token_hash,
            Entry {
                row: row.clone(),
                generation,
                pool_version,
                read_at: Instant::now(),
            },
        );
    }

    /// This process committed `last_seen_at = at` for `worker_id`, or noted that contact for the
    /// next presence flush.
    pub fn seen(&self, worker_id: &str, at: i64) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if let Some(t) = inner.seen.get_mut(worker_id) {
            *t = (*t).max(at);
            return;
        }
        if inner.seen.len() >= MAX_ENTRIES {
            let mut times: Vec<i64> = inner.seen.values().copied().collect();
            let (_, &mut median, _) = times.select_nth_unstable(MAX_ENTRIES / 2);
            inner.seen.retain(|_, t| *t > median);
        }
        inner.seen.insert(worker_id.to_string(), at);
    }

    /// The latest contact of `worker_id` this process wrote or noted, if it still keeps it.
    pub fn latest_contact(&self, worker_id: &str) -> Option<i64> {
        self.inner.lock().ok()?.seen.get(worker_id).copied()
    }

    /// Drops every entry (after a commit that changed what authentication returns).
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut inner) = self.inner.lock() {
            inner.rows.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(id: &str, last_seen: i64) -> WorkerRow {
        WorkerRow::idle_for_tests(id, last_seen)
    }

    const TTL: i64 = 90_000;

    #[test]
    fn serves_a_row_until_a_change_is_committed() {
        let known = KnownWorkers::default();
        let g = known.generation();
        known.remember("h1".into(), &worker("w1", 1_000), g, 0);
        assert_eq!(known.get("h1", 1_500, TTL, 0).unwrap().id, "w1");
        assert!(known.get("h2", 1_500, TTL, 0).is_none(), "another token");
        known.forget_all();
        assert!(known.get("h1", 1_500, TTL, 0).is_none());
    }

    #[test]
    fn a_row_read_before_a_change_committed_is_not_kept() {
        let known = KnownWorkers::default();
        // The read starts, the change commits, then the (old) row is remembered.
        let g = known.generation();
        known.forget_all();
        known.remember("h1".into(), &worker("w1", 1_000), g, 0);
        assert!(known.get("h1", 1_500, TTL, 0).is_none());
    }

    #[test]
    fn rows_carry_the_latest_contact_and_offline_rows_are_read_again() {
        let known = KnownWorkers::default();
        let g = known.generation();
        known.remember("h1".into(), &worker("w1", 1_000), g, 0);
        known.seen("w1", 5_000);
        known.seen("w1", 4_000);
        assert_eq!(
            known.get("h1", 5_100, TTL, 0).unwrap().last_seen_at,
            Some(5_000)
        );
        // Offline by its latest contact: the caller must decide on a fresh row.
        assert!(known.get("h1", 5_000 + TTL, TTL, 0).is_none());
    }

    #[test]
    fn rows_expire() {
        let known = KnownWorkers::default();
        let g = known.generation();
        known.remember("h1".into(), &worker("w1", 1_000), g, 0);
        known
            .inner
            .lock()
            .unwrap()
            .rows
            .get_mut("h1")
            .unwrap()
            .read_at -= MAX_AGE;
        assert!(known.get("h1", 1_500, TTL, 0).is_none());
    }

    /// While other processes' changes are watched a row lives [`WATCHED_MAX_AGE`], and its
    /// counters count as current while the pool stays at the version it was read at; a watch
    /// that lapses or breaks shortens the life again, and a broken one drops every row.
    #[test]
    fn watched_rows_live_longer_and_their_counters_only_while_the_pool_stands_still() {
        let known = KnownWorkers::default();
        let g = known.generation();
        known.remember("h1".into(), &worker("w1", 1_000), g, 7);
        let age = |known: &KnownWorkers, d: Duration| {
            known
                .inner
                .lock()
                .unwrap()
                .rows
                .get_mut("h1")
                .unwrap()
                .read_at -= d;
        };
        assert!(
            !known.get("h1", 1_500, TTL, 7).unwrap().fresh,
            "not watched"
        );
        known.watched(2_000);
        assert!(known.get("h1", 1_500, TTL, 7).unwrap().fresh);
        assert!(
            !known.get("h1", 1_500, TTL, 8).unwrap().fresh,
            "the pool moved"
        );
        age(&known, MAX_AGE);
        assert!(
            known.get("h1", 1_500, TTL, 7).is_some(),
            "watched: kept longer"
        );
        assert!(known.get("h1", 2_000, TTL, 7).is_none(), "the watch lapsed");
        known.watched(10_000);
        age(&known, WATCHED_MAX_AGE);
        assert!(
            known.get("h1", 2_000, TTL, 7).is_none(),
            "too old even watched"
        );

        known.remember("h1".into(), &worker("w1", 1_000), known.generation(), 7);
        known.unwatched();
        assert!(
            known.get("h1", 2_000, TTL, 7).is_none(),
            "a broken watch drops all"
        );
    }

    #[test]
    fn stays_bounded() {
        let known = KnownWorkers::default();
        let g = known.generation();
        for i in 0..MAX_ENTRIES + 10 {
            known.remember(format!("h{i}"), &worker(&format!("w{i}"), 1_000), g, 0);
            known.seen(&format!("w{i}"), i as i64);
        }
        let inner = known.inner.lock().unwrap();
        assert!(inner.rows.len() <= MAX_ENTRIES);
        assert!(inner.rows.contains_key(&format!("h{}", MAX_ENTRIES + 9)));
        assert!(inner.seen.len() <= MAX_ENTRIES);
        assert!(inner.seen.contains_key(&format!("w{}", MAX_ENTRIES + 9)));
    }
}
