//! Presence: who is online, kept in memory and written when it matters.
//!
//! Every authenticated request of a worker marks it online (contract section 0), and an online
//! volunteer heartbeats every few seconds. Writing its row for each of them made presence the
//! largest write load of an idle pool. So a request of a worker that is online already only notes
//! its contact here (`Store::note_contact_if_online`); [`Contacts::flush`], which
//! `owp serve` runs at least every [`FLUSH_EVERY`] just before it looks for silent workers,
//! writes the contacts that are due, many in one statement.
//!
//! A contact is due when the row may soon say its worker is silent: when this process has not
//! written the worker's row yet, or when what it last wrote there is within [`LEAD`] of the
//! heartbeat TTL. The row holds at least what this process wrote (a write never moves
//! `last_seen_at` back), so until then every replica reads the worker as online from the row
//! alone, and once the worker falls silent its last contact is written before the row would
//! expire: "online" is correct to within one second everywhere, while a worker that heartbeats
//! every 30 s has its row written about once a TTL instead of once a heartbeat. What lags is
//! `last_heartbeat` as *another* replica shows it (by up to the TTL less [`LEAD`]); this process
//! answers with the contacts it noted.
//!
//! What is not deferred: a worker that comes (back) online is written at once, with its
//! `worker.online` event, and every lease renewal is written before the request is answered.
//! A replica that stops writes every contact it holds; one that dies loses the contacts it had
//! not written, never a renewal (its workers then read as offline up to the TTL less [`LEAD`]
//! early, unless they reach another replica first).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};

use super::NewEvent;
use super::rows::WorkerRow;
use super::{Backend, Store, StoreError};

/// The longest a due contact waits before it is written (with the time the flush takes, under
/// the second that "online" may lag).
pub const FLUSH_EVERY: Duration = Duration::from_millis(800);

/// A worker's row is written again when what this process last wrote there would expire within
/// this long: room for a flush interval, a slow flush and clocks of replicas a little apart.
pub const LEAD: Duration = Duration::from_secs(10);

/// What this process knows of its workers' contacts, in shards by worker id ([`shard_of`]), each
/// behind its own lock: one cell a worker, which the worker's remembered row also holds
/// (`known_workers`), so that a request notes its contact without looking it up.
#[derive(Default)]
pub struct Presence {
    shards: [Mutex<HashMap<String, Arc<ContactCell>>>; SHARDS],
}

/// The maps of workers are split this many ways, each behind its own lock, so that requests of
/// different workers seldom wait for each other.
pub const SHARDS: usize = 16;

/// The shard of a worker id: FNV-1a of its bytes.
pub fn shard_of(worker_id: &str) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for b in worker_id.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h as usize % SHARDS
}

/// One worker's contacts, as this process knows them.
#[derive(Default)]
pub struct ContactCell {
    /// The latest contact this process noted or committed (ms).
    seen: AtomicI64,
    /// `seen` is not written yet.
    pending: AtomicBool,
    /// The latest contact this process wrote (ms); the row holds it or later (0: none).
    written: AtomicI64,
}

impl ContactCell {
    /// The latest contact this process noted or committed (ms; 0: none).
    pub fn seen(&self) -> i64 {
        self.seen.load(Ordering::Acquire)
    }

    /// `row` with the latest contact this process knows of its worker, when later than its own.
    pub fn overlay(&self, row: &mut WorkerRow) {
        let seen = self.seen();
        if seen > 0 {
            row.last_seen_at = row.last_seen_at.max(Some(seen));
        }
    }

    fn note(&self, at: i64) {
        self.seen.fetch_max(at, Ordering::AcqRel);
        self.pending.store(true, Ordering::Release);
    }

    /// A request at `now` of a worker whose row says it was last seen at `row_seen`: when the
    /// worker is online by the later of that and what this cell knows, the contact is noted and
    /// the worker's latest contact (`now` or later) returned; `None` when it is offline.
    pub fn note_if_online(
        &self,
        row_seen: Option<i64>,
        now: i64,
        heartbeat_ttl_ms: i64,
    ) -> Option<i64> {
        let latest = row_seen?.max(self.seen());
        if now - latest >= heartbeat_ttl_ms {
            return None;
        }
        self.note(now);
        Some(latest.max(now))
    }

    fn committed(&self, at: i64) {
        self.seen.fetch_max(at, Ordering::AcqRel);
        self.written.fetch_max(at, Ordering::AcqRel);
    }
}

impl Presence {
    fn shard(
        &self,
        worker_id: &str,
    ) -> Option<std::sync::MutexGuard<'_, HashMap<String, Arc<ContactCell>>>> {
        self.shards[shard_of(worker_id)].lock().ok()
    }

    /// The cell of `worker_id`, made when there is none.
    pub fn cell(&self, worker_id: &str) -> Arc<ContactCell> {
        let Some(mut shard) = self.shard(worker_id) else {
            // A poisoned lock: a cell noted nowhere (the worker's row is written when it comes
            // back online).
            return Arc::default();
        };
        if let Some(c) = shard.get(worker_id) {
            return Arc::clone(c);
        }
        let c = Arc::<ContactCell>::default();
        shard.insert(worker_id.to_string(), Arc::clone(&c));
        c
    }

    /// A contact of `worker_id` at `at`, to be written.
    fn note(&self, worker_id: &str, at: i64) {
        self.cell(worker_id).note(at);
    }

    /// This process committed `last_seen_at = at` for `worker_id`.
    fn committed(&self, worker_id: &str, at: i64) {
        self.cell(worker_id).committed(at);
    }

    /// The cell of `worker_id`, if this process keeps one.
    fn find(&self, worker_id: &str) -> Option<Arc<ContactCell>> {
        self.shard(worker_id)?.get(worker_id).cloned()
    }

    /// The latest contact of `worker_id` this process noted or committed, if it keeps it.
    #[cfg(test)]
    fn latest(&self, worker_id: &str) -> Option<i64> {
        let seen = self.find(worker_id)?.seen();
        (seen > 0).then_some(seen)
    }

    /// Takes the contacts due at `now` (see the module docs), or every one (`all`).
    fn take_due(&self, now: i64, heartbeat_ttl_ms: i64, all: bool) -> HashMap<String, i64> {
        // A row written at or before this expires within `LEAD`.
        let horizon = now - heartbeat_ttl_ms + LEAD.as_millis() as i64;
        let mut due = HashMap::new();
        for shard in &self.shards {
            let Ok(shard) = shard.lock() else {
                continue;
            };
            for (id, c) in shard.iter() {
                let written = c.written.load(Ordering::Acquire);
                // `written` 0: this process never wrote the row.
                let is_due = all || written == 0 || written <= horizon;
                if is_due && c.pending.swap(false, Ordering::AcqRel) {
                    due.insert(id.clone(), c.seen());
                }
            }
        }
        due
    }

    /// The flush wrote these contacts (or found later ones in their rows). A worker with nothing
    /// to write whose latest contact is older than `expired_before` is forgotten (its row has
    /// expired, or holds a later contact of another replica's), unless a remembered row holds
    /// its cell.
    fn wrote(&self, contacts: impl Iterator<Item = (String, i64)>, expired_before: i64) {
        for (id, at) in contacts {
            self.committed(&id, at);
        }
        for shard in &self.shards {
            if let Ok(mut shard) = shard.lock() {
                shard.retain(|_, c| {
                    c.pending.load(Ordering::Acquire)
                        || c.seen() > expired_before
                        || Arc::strong_count(c) > 1
                });
            }
        }
    }

    /// Puts back contacts a flush did not write (it failed, or passed over their rows); those
    /// older than `stale_before` (whose rows expired meanwhile) are dropped.
    fn put_back(&self, contacts: HashMap<String, i64>, stale_before: i64) {
        for (id, at) in contacts {
            if at > stale_before {
                self.note(&id, at);
            }
        }
    }

    /// How many contacts wait to be written.
    pub fn pending(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .map(|s| {
                        s.values()
                            .filter(|c| c.pending.load(Ordering::Acquire))
                            .count()
                    })
                    .unwrap_or(0)
            })
            .sum()
    }
}

impl Store {
    /// A request of `worker` at `now` (ms): when it is online (by its row and the contacts this
    /// process knows), its contact is noted and `worker` carries it; false when it is offline
    /// (the caller writes its coming back, see [`Workers::contact`]).
    ///
    /// [`Workers::contact`]: crate::workers::Workers::contact
    pub(super) fn note_contact_if_online(&self, worker: &mut WorkerRow, now: i64) -> bool {
        let cell = self.presence.cell(&worker.id);
        noted(&cell, worker, now, self.timing.heartbeat_ttl_ms)
    }

    /// The contacts cell of `worker_id` (see [`Presence`]).
    pub(super) fn contact_cell(&self, worker_id: &str) -> Arc<ContactCell> {
        self.presence.cell(worker_id)
    }

    /// This process committed `last_seen_at = at` for `worker_id` (a claim, a task operation,
    /// coming back online).
    pub(super) fn contact_committed(&self, worker_id: &str, at: i64) {
        self.presence.committed(worker_id, at);
    }

    /// The contacts cell of `worker_id`, if this process keeps one (nothing is made).
    pub(super) fn known_contact(&self, worker_id: &str) -> Option<Arc<ContactCell>> {
        self.presence.find(worker_id)
    }
}

/// The workers' contacts this process noted and has yet to write (see the module docs)
/// ([`Store::contacts`]).
pub struct Contacts<'s> {
    store: &'s Store,
}

impl Store {
    /// The view of the store named by [`Contacts`].
    pub fn contacts(&self) -> Contacts<'_> {
        Contacts { store: self }
    }
}

impl Contacts<'_> {
    /// How many contacts wait to be written.
    pub fn pending(&self) -> usize {
        self.store.presence.pending()
    }

    /// Writes the contacts that are due (see the module docs). Returns how many it wrote; on
    /// failure they wait for the next flush.
    pub async fn flush(&self) -> Result<usize, StoreError> {
        self.flush_contacts(false).await
    }

    /// Writes every contact noted and not written yet, due or not (as the process stops).
    pub async fn flush_all(&self) -> Result<usize, StoreError> {
        self.flush_contacts(true).await
    }

    /// One statement for every contact taken (two on SQLite): the workers a sweep marked offline
    /// meanwhile come back with their `worker.online` event, the others' `last_seen_at` moves. A
    /// contact older than the one a row holds changes nothing.
    async fn flush_contacts(&self, all: bool) -> Result<usize, StoreError> {
        let ttl = self.store.timing.heartbeat_ttl_ms;
        let now = super::now_ms();
        let mut contacts = self.store.presence.take_due(now, ttl, all);
        if contacts.is_empty() {
            return Ok(0);
        }
        // In the order of the workers' ids (see `flush_statements`).
        let mut sorted: Vec<(&String, &i64)> = contacts.iter().collect();
        sorted.sort_unstable();
        let doc = Value::Object(
            sorted
                .into_iter()
                .map(|(id, at)| (id.clone(), Value::from(*at)))
                .collect::<Map<String, Value>>(),
        )
        .to_string();
        let backend = self.store.backend;
        let written = self
            .store
            .write(|mut tx| {
                let doc = &doc;
                async move {
                    let r = async {
                        let rows: Vec<(String, i64)> = match flush_statements(backend) {
                            Flush::OneStatement(sql) => {
                                sqlx::query_as(sql)
                                    .bind(doc.as_str())
                                    .fetch_all(tx.conn())
                                    .await?
                            }
                            Flush::BackThenOnline(back, online) => {
                                let rows: Vec<(String, i64)> = sqlx::query_as(back)
                                    .bind(doc.as_str())
                                    .fetch_all(tx.conn())
                                    .await?;
                                sqlx::query(online)
                                    .bind(doc.as_str())
                                    .execute(tx.conn())
                                    .await?;
                                rows
                            }
                        };
                        for (id, _) in rows.iter().filter(|(_, back)| *back == 1) {
                            tx.event(online_event(id));
                        }
                        Ok(rows)
                    }
                    .await;
                    (tx, r)
                }
            })
            .await;
        match written {
            Ok(rows) => {
                // What the statement locked it wrote (or found later in the row); a row it
                // passed over waits for the next flush. SQLite's writer locks every row.
                let done: HashMap<String, i64> = if backend == Backend::Sqlite {
                    std::mem::take(&mut contacts)
                } else {
                    rows.into_iter()
                        .filter_map(|(id, _)| contacts.remove_entry(&id))
                        .collect()
                };
                let n = done.len();
                self.store.presence.wrote(done.into_iter(), now - ttl);
                self.store.presence.put_back(contacts, now - ttl);
                Ok(n)
            }
            Err(e) => {
                self.store.presence.put_back(contacts, now - ttl);
                Err(e)
            }
        }
    }
}

/// The audit event of a worker coming (back) online.
pub(crate) fn online_event(worker_id: &str) -> NewEvent {
    NewEvent::new("worker.online", format!("worker:{worker_id}")).worker(Some(worker_id))
}

/// Notes a request of `worker` at `now` in its `cell` when the worker is online (see
/// [`ContactCell::note_if_online`]); `worker` then carries the contact.
pub(super) fn noted(cell: &ContactCell, worker: &mut WorkerRow, now: i64, ttl: i64) -> bool {
    match cell.note_if_online(worker.last_seen_at, now, ttl) {
        Some(seen) => {
            worker.last_seen_at = Some(seen);
            true
        }
        None => false,
    }
}

/// How a backend writes the contacts, each statement taking them as one JSON object
/// `{worker_id: ms}` in `$1`, in the order of the workers' ids, and returning `(id, back)`,
/// `back` 1 for a worker marked offline that comes back online.
enum Flush {
    /// Returns every row it locked.
    OneStatement(&'static str),
    /// SQLite (one writer: every row is its own): the workers marked offline that come back
    /// (returned), then the rest.
    BackThenOnline(&'static str, &'static str),
}

/// The flush's statements. On PostgreSQL the flush never waits for a worker's row: it locks the
/// rows it writes with `SKIP LOCKED` and passes over a row another transaction holds (its
/// contact waits for the next flush). It locks many rows in the order its plan reads them, so a
/// flush that waited could close a cycle with a statement that locks several workers in id
/// order (claims taken together) and waits for one the flush holds; that cost claims a
/// deadlock's second.
fn flush_statements(backend: Backend) -> Flush {
    match backend {
        Backend::Sqlite => Flush::BackThenOnline(
            "UPDATE workers SET last_seen_at = c.value, presence = 'online' \
             FROM json_each($1) AS c \
             WHERE workers.id = c.key AND workers.presence = 'offline' \
               AND COALESCE(workers.last_seen_at, 0) < c.value \
             RETURNING workers.id, 1",
            "UPDATE workers SET last_seen_at = c.value \
             FROM json_each($1) AS c \
             WHERE workers.id = c.key AND COALESCE(workers.last_seen_at, 0) < c.value",
        ),
        Backend::Postgres => Flush::OneStatement(
            "WITH c AS ( \
               SELECT k.id, j.value::bigint AS at, k.presence = 'offline' AS was_offline, \
                 COALESCE(k.last_seen_at, 0) AS seen \
               FROM json_each_text($1::json) AS j JOIN workers k ON k.id = j.key \
               FOR UPDATE OF k SKIP LOCKED), \
             u AS ( \
               UPDATE workers w SET last_seen_at = c.at, presence = 'online' FROM c \
               WHERE w.id = c.id AND c.seen < c.at) \
             SELECT c.id, CAST(CASE WHEN c.was_offline AND c.seen < c.at THEN 1 ELSE 0 END \
               AS BIGINT) FROM c",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: i64 = 90_000;
    const LEAD_MS: i64 = LEAD.as_millis() as i64;

    #[test]
    fn a_request_is_noted_only_for_a_worker_online_by_the_latest_contact_known() {
        let p = Presence::default();
        let cell = p.cell("w1");
        assert_eq!(cell.note_if_online(None, 1_000, TTL), None, "never seen");
        assert_eq!(cell.note_if_online(Some(1_000), 1_000 + TTL, TTL), None);
        assert_eq!(p.pending(), 0, "an offline worker's request notes nothing");
        assert_eq!(p.latest("w1"), None);
        // Its row is old, but this process committed a later contact.
        p.committed("w1", 50_000);
        assert_eq!(
            cell.note_if_online(Some(1_000), 50_000 + TTL - 1, TTL),
            Some(50_000 + TTL - 1)
        );
        assert_eq!(p.latest("w1"), Some(50_000 + TTL - 1));
        assert_eq!(p.pending(), 1);
    }

    #[test]
    fn contacts_are_due_when_never_written_here_or_near_expiry() {
        let p = Presence::default();
        p.note("new", 1_500);
        p.committed("steady", 1_000);
        p.note("steady", 2_000);
        let due = p.take_due(2_000, TTL, false);
        assert_eq!(due.keys().collect::<Vec<_>>(), ["new"]);
        p.wrote(due.into_iter(), 2_000 - TTL);
        assert_eq!(p.pending(), 1, "steady's contact waits");

        // Within `LEAD` of the expiry of what was written for it.
        let near = 1_000 + TTL - LEAD_MS;
        p.note("new", near);
        let due = p.take_due(near, TTL, false);
        assert_eq!(due.get("steady"), Some(&2_000));
        assert!(
            !due.contains_key("new"),
            "written at 1,000 for it, not near expiry"
        );
        assert_eq!(
            p.take_due(near, TTL, true).get("new"),
            Some(&near),
            "all of them"
        );
        assert_eq!(p.pending(), 0);
    }

    #[test]
    fn workers_with_nothing_to_write_are_forgotten_once_their_rows_expired() {
        let p = Presence::default();
        p.note("gone", 1_000);
        p.note("here", 1_000);
        let due = p.take_due(1_000, TTL, false);
        p.wrote(due.into_iter(), 0);
        p.note("here", 2_000 + TTL);
        let held = p.cell("held");
        held.committed(1_000);
        p.wrote(std::iter::empty(), 2_000);
        assert_eq!(p.latest("gone"), None);
        assert_eq!(p.latest("here"), Some(2_000 + TTL));
        assert_eq!(
            p.latest("held"),
            Some(1_000),
            "a remembered row holds its cell"
        );
        // A flush that did not write puts its contacts back, unless they are stale.
        p.put_back(
            HashMap::from([("back".to_string(), 5_000), ("stale".to_string(), 10)]),
            100,
        );
        assert_eq!(p.latest("back"), Some(5_000));
        assert_eq!(p.latest("stale"), None);
    }
}
