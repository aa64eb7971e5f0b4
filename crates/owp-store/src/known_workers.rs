//! Authenticated workers, remembered for a while.
//!
//! Every worker request starts by finding the worker its bearer token belongs to. Under load that
//! read is most of a request's own database work: on SQLite a read connection starts every read
//! with a cold page cache once any other connection has committed, and on PostgreSQL it is a
//! round trip to the database. An idle volunteer's tool heartbeats and asks for work every few
//! seconds, so the row found by one request is kept here and serves the next ones: for
//! up to [`WATCHED_MAX_AGE`] while this process is sure to learn of other processes' changes
//! ([`TokenDigest::watched_life`]), for [`MAX_AGE`] otherwise.
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
//! - **Rows in use are read again before they end**, many in one statement
//!   ([`KnownWorkers::due`], `Workers::refresh_remembered`): a crowd of workers that came online
//!   together would otherwise be read again one request at a time when their rows end, each read
//!   costing several heartbeats. A row is read again once it has served a request and passed three
//!   quarters of its watched life; a row no request used since it was read just ends.
//! - **`last_seen_at`** moves with every request of the worker. A remembered row keeps the value
//!   it was read with; the store adds the latest contact this process noted or committed
//!   (`super::presence`), and serves no remembered row of a worker that is offline by it: whether
//!   a request brings a worker back online (and logs `worker.online` once) is always decided on
//!   a fresh row.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::presence::{ContactCell, SHARDS};
use super::rows::WorkerRow;

/// How long a row read for one request may serve the next ones while other processes' changes
/// are not watched.
pub const MAX_AGE: Duration = Duration::from_secs(1);
/// How long while they are (see the module docs).
pub const WATCHED_MAX_AGE: Duration = Duration::from_secs(60);

/// At most this many tokens are kept; past it the oldest half of a shard goes (a process serving
/// more workers than this just reads more often). A row is about half a kilobyte.
const MAX_ENTRIES: usize = 200_000;

/// The SHA-256 digest of a worker's token: what the database stores (in hex) and what the
/// remembered rows are found by. It is uniformly random, so its first bytes are its hash.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenDigest(pub [u8; 32]);

impl std::hash::Hash for TokenDigest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

impl TokenDigest {
    /// The digest of `token`.
    pub fn of(token: &str) -> TokenDigest {
        use sha2::{Digest, Sha256};
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }

    /// The digest a token's row stores (64 hex digits), if it is one.
    pub fn from_hex(hex: &str) -> Option<TokenDigest> {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(hex, &mut digest).ok()?;
        Some(TokenDigest(digest))
    }

    fn shard(&self) -> usize {
        usize::from(self.0[8]) % SHARDS
    }

    /// How long the row of this token lives while watched: between three quarters of
    /// [`WATCHED_MAX_AGE`] and all of it, evenly over tokens, so that the rows of workers that
    /// all came online together are not all read again in the same moment.
    pub fn watched_life(&self) -> Duration {
        let spread = u32::from(u16::from_le_bytes([self.0[10], self.0[11]]));
        let quarter = WATCHED_MAX_AGE / 4;
        WATCHED_MAX_AGE - quarter + quarter * spread / u32::from(u16::MAX)
    }
}

#[derive(Default)]
pub struct KnownWorkers {
    /// Bumped by every commit that forgets the entries; an entry of an older one is not served.
    generation: AtomicU64,
    /// Until when (ms) other processes' changes are known to reach this process.
    watched_until: AtomicI64,
    /// By token digest ([`TokenDigest::shard`]).
    rows: [Mutex<HashMap<TokenDigest, Entry>>; SHARDS],
}

struct Entry {
    row: WorkerRow,
    /// The worker's contacts (the same cell as `super::presence`'s).
    contact: Arc<ContactCell>,
    generation: u64,
    /// The pool's version when the row was read (see `leases::empty_claims`).
    pool_version: u64,
    read_at: Instant,
    /// Whether a request was served from it since it was read.
    served: bool,
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

    /// The worker of `token` if a row of it was read recently enough (see the module docs) and
    /// no change through this process has been committed since. Its counters count as current
    /// ([`WorkerRow::fresh`]) when the pool is still at the `pool_version` it was read at and
    /// other processes' changes are watched at `now` (ms). Its `last_seen_at` is the row's: the
    /// caller adds the contacts this process knows, and serves no row of a worker gone offline.
    pub fn get(
        &self,
        token: &TokenDigest,
        now: i64,
        pool_version: u64,
    ) -> Option<(WorkerRow, Arc<ContactCell>)> {
        let generation = self.generation();
        let watched = self.is_watched(now);
        let max_age = if watched {
            token.watched_life()
        } else {
            MAX_AGE
        };
        let mut rows = self.rows[token.shard()].lock().ok()?;
        let entry = rows.get_mut(token)?;
        if entry.generation != generation || entry.read_at.elapsed() >= max_age {
            return None;
        }
        entry.served = true;
        let mut row = entry.row.clone();
        row.fresh = watched && entry.row.fresh && entry.pool_version == pool_version;
        Some((row, Arc::clone(&entry.contact)))
    }

    /// Keeps `row`, read from the database for `token` after [`KnownWorkers::generation`]
    /// returned `generation` and the pool was at `pool_version`, with its worker's `contact`.
    pub fn remember(
        &self,
        token: TokenDigest,
        row: &WorkerRow,
        contact: Arc<ContactCell>,
        generation: u64,
        pool_version: u64,
    ) {
        let Ok(mut rows) = self.rows[token.shard()].lock() else {
            return;
        };
        if rows.len() >= MAX_ENTRIES / SHARDS {
            let mut ages: Vec<Instant> = rows.values().map(|e| e.read_at).collect();
            let (_, &mut median, _) = ages.select_nth_unstable(MAX_ENTRIES / SHARDS / 2);
            rows.retain(|_, e| e.read_at > median);
        }
        rows.insert(
            token,
            Entry {
                row: row.clone(),
                contact,
                generation,
                pool_version,
                read_at: Instant::now(),
                served: false,
            },
        );
    }

    /// Up to `most` tokens whose rows are worth reading again now, at `now` (ms): while other
    /// processes' changes are watched, those that served a request since they were read and
    /// have passed three quarters of their watched life. (Unwatched rows live a second: none is
    /// due.)
    pub fn due(&self, now: i64, most: usize) -> Vec<TokenDigest> {
        let mut due = Vec::new();
        if !self.is_watched(now) {
            return due;
        }
        for shard in &self.rows {
            let Ok(rows) = shard.lock() else {
                continue;
            };
            let ripe = rows.iter().filter(|(token, entry)| {
                entry.served && entry.read_at.elapsed() >= token.watched_life() * 3 / 4
            });
            due.extend(ripe.map(|(token, _)| *token).take(most - due.len()));
            if due.len() >= most {
                break;
            }
        }
        due
    }

    /// Makes the remembered row of `token`, or every one, `by` older (for tests of what
    /// happens as rows age).
    #[cfg(test)]
    pub fn age(&self, token: Option<&TokenDigest>, by: Duration) {
        for shard in &self.rows {
            for (key, entry) in shard.lock().unwrap().iter_mut() {
                if token.is_none_or(|t| t == key) {
                    entry.read_at -= by;
                }
            }
        }
    }

    /// Drops every entry (after a commit that changed what authentication returns).
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        for shard in &self.rows {
            if let Ok(mut rows) = shard.lock() {
                rows.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(id: &str, last_seen: i64) -> WorkerRow {
        WorkerRow::idle_for_tests(id, last_seen)
    }

    fn digest(token: &str) -> TokenDigest {
        TokenDigest::of(token)
    }

    /// Makes the remembered row of `token` `by` older.
    fn age(known: &KnownWorkers, token: &str, by: Duration) {
        known.age(Some(&digest(token)), by);
    }

    #[test]
    fn serves_a_row_until_a_change_is_committed() {
        let known = KnownWorkers::default();
        let g = known.generation();
        known.remember(digest("h1"), &worker("w1", 1_000), Arc::default(), g, 0);
        assert_eq!(known.get(&digest("h1"), 1_500, 0).unwrap().0.id, "w1");
        assert!(
            known.get(&digest("h2"), 1_500, 0).is_none(),
            "another token"
        );
        known.forget_all();
        assert!(known.get(&digest("h1"), 1_500, 0).is_none());
    }

    #[test]
    fn a_row_read_before_a_change_committed_is_not_kept() {
        let known = KnownWorkers::default();
        // The read starts, the change commits, then the (old) row is remembered.
        let g = known.generation();
        known.forget_all();
        known.remember(digest("h1"), &worker("w1", 1_000), Arc::default(), g, 0);
        assert!(known.get(&digest("h1"), 1_500, 0).is_none());
    }

    #[test]
    fn rows_expire() {
        let known = KnownWorkers::default();
        let g = known.generation();
        known.remember(digest("h1"), &worker("w1", 1_000), Arc::default(), g, 0);
        age(&known, "h1", MAX_AGE);
        assert!(known.get(&digest("h1"), 1_500, 0).is_none());
    }

    /// The rows of many tokens read at once are read again over a quarter of
    /// [`WATCHED_MAX_AGE`], not all at its end.
    #[test]
    fn watched_rows_end_spread_over_a_quarter_of_their_life() {
        let lives: Vec<Duration> = (0..1000)
            .map(|i| digest(&format!("token-{i}")).watched_life())
            .collect();
        let (shortest, longest) = (lives.iter().min().unwrap(), lives.iter().max().unwrap());
        assert!(*shortest >= WATCHED_MAX_AGE * 3 / 4, "{shortest:?}");
        assert!(*longest <= WATCHED_MAX_AGE, "{longest:?}");
        assert!(
            *longest - *shortest > WATCHED_MAX_AGE / 5,
            "{shortest:?}..{longest:?}"
        );
        let early = lives
            .iter()
            .filter(|l| **l < WATCHED_MAX_AGE * 7 / 8)
            .count();
        assert!(
            (400..600).contains(&early),
            "{early} of 1000 in the first half"
        );
    }

    /// While other processes' changes are watched a row lives up to [`WATCHED_MAX_AGE`], and its
    /// counters count as current while the pool stays at the version it was read at; a watch
    /// that lapses or breaks shortens the life again, and a broken one drops every row.
    #[test]
    fn watched_rows_live_longer_and_their_counters_only_while_the_pool_stands_still() {
        let known = KnownWorkers::default();
        let g = known.generation();
        known.remember(digest("h1"), &worker("w1", 1_000), Arc::default(), g, 7);
        assert!(
            !known.get(&digest("h1"), 1_500, 7).unwrap().0.fresh,
            "not watched"
        );
        known.watched(2_000);
        assert!(known.get(&digest("h1"), 1_500, 7).unwrap().0.fresh);
        assert!(
            !known.get(&digest("h1"), 1_500, 8).unwrap().0.fresh,
            "the pool moved"
        );
        age(&known, "h1", MAX_AGE);
        assert!(
            known.get(&digest("h1"), 1_500, 7).is_some(),
            "watched: kept longer"
        );
        assert!(
            known.get(&digest("h1"), 2_000, 7).is_none(),
            "the watch lapsed"
        );
        known.watched(10_000);
        age(&known, "h1", WATCHED_MAX_AGE);
        assert!(
            known.get(&digest("h1"), 2_000, 7).is_none(),
            "too old even watched"
        );

        known.remember(
            digest("h1"),
            &worker("w1", 1_000),
            Arc::default(),
            known.generation(),
            7,
        );
        known.unwatched();
        assert!(
            known.get(&digest("h1"), 2_000, 7).is_none(),
            "a broken watch drops all"
        );
    }

    /// A watched row that served a request is due past three quarters of its life; one that
    /// served none, one younger, or any while unwatched is not; read again, it is not due until
    /// served again.
    #[test]
    fn rows_in_use_are_due_past_three_quarters_of_their_life() {
        let known = KnownWorkers::default();
        known.watched(10_000);
        for token in ["used", "unused", "young"] {
            known.remember(
                digest(token),
                &worker(token, 1_000),
                Arc::default(),
                known.generation(),
                0,
            );
        }
        age(&known, "used", WATCHED_MAX_AGE * 3 / 4);
        age(&known, "unused", WATCHED_MAX_AGE * 3 / 4);
        assert!(known.due(1_500, 10).is_empty(), "none served a request yet");
        for token in ["used", "young"] {
            assert!(known.get(&digest(token), 1_500, 0).is_some());
        }
        let due = known.due(1_500, 10);
        assert!(due == vec![digest("used")], "only the used, older row");
        assert!(known.due(1_500, 0).is_empty(), "bounded");
        assert!(known.due(20_000, 10).is_empty(), "unwatched: none");
        known.remember(
            digest("used"),
            &worker("used", 1_000),
            Arc::default(),
            known.generation(),
            0,
        );
        assert!(known.due(1_500, 10).is_empty(), "read again");
    }

    #[test]
    fn stays_bounded() {
        let known = KnownWorkers::default();
        let g = known.generation();
        for i in 0..MAX_ENTRIES + 10 {
            known.remember(
                digest(&format!("h{i}")),
                &worker(&format!("w{i}"), 1_000),
                Arc::default(),
                g,
                0,
            );
        }
        let rows: usize = known.rows.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(rows <= MAX_ENTRIES, "{rows}");
        let d = digest(&format!("h{}", MAX_ENTRIES + 9));
        assert!(known.rows[d.shard()].lock().unwrap().contains_key(&d));
    }
}
