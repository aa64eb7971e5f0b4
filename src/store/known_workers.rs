//! Authenticated workers, remembered for a moment.
//!
//! Every worker request starts by finding the worker its bearer token belongs to. Under load that
//! read is most of a request's own database work: on SQLite a read connection starts every read
//! with a cold page cache once any other connection has committed (which the writer does about a
//! hundred times a second), and on PostgreSQL it is a round trip to the database. A worker sends
//! several requests a second, so the row found by one of them is kept here and serves the next
//! ones for at most [`MAX_AGE`].
//!
//! What may be stale, and why that is safe:
//!
//! - **Changes made through this process** that a request must see at once (a new token, pause,
//!   trust, GitHub login) make the write transaction call [`super::WriteTx::forget_known_workers`];
//!   when it commits, every entry is dropped (a generation counter, so an entry being filled
//!   while that transaction commits is not kept either). They are rare admin and registration
//!   writes; the hot paths never call it.
//! - **Changes made by another process** (another replica on PostgreSQL, `owp admin` on the
//!   SQLite file) are seen within [`MAX_AGE`]: a replaced token keeps working that long on a
//!   replica that had just seen it.
//! - **The counters** (`active_tasks`, `active_points`), capacity, trust and pause are never
//!   taken from the request's row: a claim reads them in its own statement, and a heartbeat that
//!   asks to pause or resume compares with the worker as it is in its transaction.
//! - **`last_seen_at`** moves with every request of the worker. The store writes here what it
//!   committed or noted for the next presence flush ([`KnownWorkers::seen`]), so a remembered row
//!   carries the latest contact this process knows of. A row that says its worker is offline is never served from here: whether a request
//!   brings a worker back online (and logs `worker.online` once) is always decided on a fresh row.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::rows::WorkerRow;

/// How long a row read for one request may serve the next ones.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// At most this many tokens (and as many workers' contacts) are kept; past it the oldest half
/// goes (a process serving more workers than this just reads more often).
const MAX_ENTRIES: usize = 50_000;

#[derive(Default)]
pub struct KnownWorkers {
    /// Bumped by every commit that forgets the entries; an entry of an older one is not served.
    generation: AtomicU64,
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
    read_at: Instant,
}

impl KnownWorkers {
    /// Read before a row is looked up in the database, and passed to [`KnownWorkers::remember`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The worker of `token_hash` if a row of it was read less than [`MAX_AGE`] ago, no change
    /// through this process has been committed since, and it is online at `now` (ms).
    pub fn get(&self, token_hash: &str, now: i64, heartbeat_ttl_ms: i64) -> Option<WorkerRow> {
        let generation = self.generation();
        let inner = self.inner.lock().ok()?;
        let entry = inner.rows.get(token_hash)?;
        if entry.generation != generation || entry.read_at.elapsed() >= MAX_AGE {
            return None;
        }
        let mut row = entry.row.clone();
        row.fresh = false;
        if let Some(&seen) = inner.seen.get(&row.id) {
            row.last_seen_at = row.last_seen_at.max(Some(seen));
        }
        row.online(now, heartbeat_ttl_ms).then_some(row)
    }

    /// Keeps `row`, read from the database for `token_hash` after [`KnownWorkers::generation`]
    /// returned `generation`.
    pub fn remember(&self, token_hash: String, row: &WorkerRow, generation: u64) {
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
            let oldest_kept = at - 2 * MAX_AGE.as_millis() as i64;
            inner.seen.retain(|_, t| *t >= oldest_kept);
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
        WorkerRow {
            id: id.into(),
            name: id.into(),
            skills: vec![],
            all_skills: false,
            capacity_points: 5,
            max_concurrent_tasks: 1,
            github_login: None,
            paused: false,
            last_seen_at: Some(last_seen),
            trust_level: 0,
            capabilities: serde_json::Value::Null,
            active_points: 0,
            active_tasks: 0,
            extensions: Default::default(),
            created_at: 0,
            reputation_opt_in: false,
            leaderboard_opt_in: false,
            specialist: false,
            archived: false,
            fresh: true,
        }
    }

    const TTL: i64 = 90_000;

    #[test]
    fn serves_a_row_until_a_change_is_committed() {
        let known = KnownWorkers::default();
        let g = known.generation();
        known.remember("h1".into(), &worker("w1", 1_000), g);
        assert_eq!(known.get("h1", 1_500, TTL).unwrap().id, "w1");
        assert!(known.get("h2", 1_500, TTL).is_none(), "another token");
        known.forget_all();
        assert!(known.get("h1", 1_500, TTL).is_none());
    }

    #[test]
    fn a_row_read_before_a_change_committed_is_not_kept() {
        let known = KnownWorkers::default();
        // The read starts, the change commits, then the (old) row is remembered.
        let g = known.generation();
        known.forget_all();
        known.remember("h1".into(), &worker("w1", 1_000), g);
        assert!(known.get("h1", 1_500, TTL).is_none());
    }

    #[test]
    fn rows_carry_the_latest_contact_and_offline_rows_are_read_again() {
        let known = KnownWorkers::default();
        let g = known.generation();
        known.remember("h1".into(), &worker("w1", 1_000), g);
        known.seen("w1", 5_000);
        known.seen("w1", 4_000);
        assert_eq!(
            known.get("h1", 5_100, TTL).unwrap().last_seen_at,
            Some(5_000)
        );
        // Offline by its latest contact: the caller must decide on a fresh row.
        assert!(known.get("h1", 5_000 + TTL, TTL).is_none());
    }

    #[test]
    fn rows_expire() {
        let known = KnownWorkers::default();
        let g = known.generation();
        known.remember("h1".into(), &worker("w1", 1_000), g);
        known
            .inner
            .lock()
            .unwrap()
            .rows
            .get_mut("h1")
            .unwrap()
            .read_at -= MAX_AGE;
        assert!(known.get("h1", 1_500, TTL).is_none());
    }

    #[test]
    fn stays_bounded() {
        let known = KnownWorkers::default();
        let g = known.generation();
        for i in 0..MAX_ENTRIES + 10 {
            known.remember(format!("h{i}"), &worker(&format!("w{i}"), 1_000), g);
            known.seen(&format!("w{i}"), i as i64);
        }
        let inner = known.inner.lock().unwrap();
        assert!(inner.rows.len() <= MAX_ENTRIES);
        assert!(inner.rows.contains_key(&format!("h{}", MAX_ENTRIES + 9)));
        assert!(inner.seen.len() <= MAX_ENTRIES);
        assert!(inner.seen.contains_key(&format!("w{}", MAX_ENTRIES + 9)));
    }
}
