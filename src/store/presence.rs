//! Presence: who is online, kept in memory and written in batches.
//!
//! Every authenticated request of a worker marks it online (contract section 0), and an online
//! volunteer heartbeats every few seconds. Writing its row for each of them made presence the
//! largest write load of an idle pool. So a request of a worker that is online already only notes
//! its contact here ([`Store::note_contact`]); [`Store::flush_presence`] writes every contact
//! noted since the last flush in one statement, and `owp serve` runs it at least every
//! [`FLUSH_EVERY`] (and once more when it stops), just before it looks for silent workers.
//! Another replica reads `last_seen_at` from the database, so what it says of a worker lags what
//! happened by at most that interval: "online" is correct to within one second everywhere. A
//! worker that asks many times within the interval is written once, so the interval is as long
//! as that second allows.
//!
//! What is not deferred: a worker that comes (back) online is written at once, with its
//! `worker.online` event, and every lease renewal is written before the request is answered.
//! A replica that dies loses at most the contacts of its last interval, never a renewal.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value};

use super::workers::online_event;
use super::{Backend, Store, StoreError};

/// The longest a noted contact waits before it is written (with the time the flush takes, under
/// the second that "online" may lag).
pub const FLUSH_EVERY: Duration = Duration::from_millis(800);

/// The contacts this process noted and has not written yet.
#[derive(Default)]
pub struct Presence {
    /// By worker id: the latest contact (ms).
    pending: Mutex<HashMap<String, i64>>,
}

impl Presence {
    fn note(&self, worker_id: &str, at: i64) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        match pending.get_mut(worker_id) {
            Some(t) => *t = (*t).max(at),
            None => {
                pending.insert(worker_id.to_string(), at);
            }
        }
    }

    fn take(&self) -> HashMap<String, i64> {
        self.pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }

    /// Puts back contacts a failed flush did not write.
    fn put_back(&self, contacts: HashMap<String, i64>) {
        for (id, at) in contacts {
            self.note(&id, at);
        }
    }

    /// How many contacts wait to be written.
    pub fn pending(&self) -> usize {
        self.pending.lock().map(|p| p.len()).unwrap_or(0)
    }
}

impl Store {
    /// A request of `worker_id` at `at` (ms), a worker already online: remembered at once by
    /// this process, written with the next flush.
    pub fn note_contact(&self, worker_id: &str, at: i64) {
        self.known_workers.seen(worker_id, at);
        self.presence.note(worker_id, at);
    }

    /// How many contacts wait for the next flush.
    pub fn contacts_pending(&self) -> usize {
        self.presence.pending()
    }

    /// Writes the contacts noted since the last flush: one statement for the workers that are
    /// online, and (rarely) one for those a sweep marked offline meanwhile, which come back
    /// with their `worker.online` event. A contact older than the one a row holds changes
    /// nothing. Returns how many contacts it wrote; on failure they wait for the next flush.
    pub async fn flush_presence(&self) -> Result<usize, StoreError> {
        let contacts = self.presence.take();
        if contacts.is_empty() {
            return Ok(0);
        }
        let n = contacts.len();
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
        let (back, online) = flush_statements(self.backend);
        let written = self
            .write(|mut tx| {
                let doc = &doc;
                async move {
                    let r = async {
                        let returned: Vec<(String,)> = sqlx::query_as(back)
                            .bind(doc.as_str())
                            .fetch_all(tx.conn())
                            .await?;
                        for (id,) in &returned {
                            tx.event(online_event(id));
                        }
                        sqlx::query(online)
                            .bind(doc.as_str())
                            .execute(tx.conn())
                            .await?;
                        Ok(())
                    }
                    .await;
                    (tx, r)
                }
            })
            .await;
        match written {
            Ok(()) => Ok(n),
            Err(e) => {
                self.presence.put_back(contacts);
                Err(e)
            }
        }
    }
}

/// The flush's two statements, each taking the contacts as one JSON object `{worker_id: ms}`
/// in `$1`, in the order of the workers' ids: the workers marked offline that come back
/// (returning their ids), then the rest. On PostgreSQL the flush never waits for a worker's
/// row: it locks the rows it writes with `SKIP LOCKED` and passes over a row another
/// transaction holds. It locks many rows in the order its plan reads them, so a flush that
/// waited could close a cycle with a statement that locks several workers in id order (claims
/// taken together) and waits for one the flush holds; that cost claims a deadlock's second. A
/// row passed over belongs to a worker that another transaction is writing at that moment (its
/// own request, which marks it seen, or another replica's flush of its contact), so what is
/// lost is at most the difference between two contacts of one worker that arrived together.
fn flush_statements(backend: Backend) -> (&'static str, &'static str) {
    match backend {
        Backend::Sqlite => (
            "UPDATE workers SET last_seen_at = c.value, presence = 'online' \
             FROM json_each($1) AS c \
             WHERE workers.id = c.key AND workers.presence = 'offline' \
               AND COALESCE(workers.last_seen_at, 0) < c.value \
             RETURNING workers.id",
            "UPDATE workers SET last_seen_at = c.value \
             FROM json_each($1) AS c \
             WHERE workers.id = c.key AND COALESCE(workers.last_seen_at, 0) < c.value",
        ),
        Backend::Postgres => (
            "UPDATE workers w SET last_seen_at = c.at, presence = 'online' \
             FROM (SELECT k.id, j.value::bigint AS at FROM json_each_text($1::json) AS j \
               JOIN workers k ON k.id = j.key \
               WHERE k.presence = 'offline' AND COALESCE(k.last_seen_at, 0) < j.value::bigint \
               FOR UPDATE OF k SKIP LOCKED) c \
             WHERE w.id = c.id \
             RETURNING w.id",
            "UPDATE workers w SET last_seen_at = c.at \
             FROM (SELECT k.id, j.value::bigint AS at FROM json_each_text($1::json) AS j \
               JOIN workers k ON k.id = j.key \
               WHERE COALESCE(k.last_seen_at, 0) < j.value::bigint \
               FOR UPDATE OF k SKIP LOCKED) c \
             WHERE w.id = c.id",
        ),
    }
}
