//! Expiry: a lease whose deadline has passed ends, before a request reads or claims and in the
//! background sweep.

use crate::composed::leases::general::still_due;
use crate::engine::checked::checked_read;
use crate::{Store, StoreError};

/// The leases whose time is up ([`Store::expiry`]).
pub struct Expiry<'s> {
    store: &'s Store,
}

impl Store {
    /// The view of the store named by [`Expiry`].
    pub fn expiry(&self) -> Expiry<'_> {
        Expiry { store: self }
    }
}

impl Expiry<'_> {
    /// Expires every lease whose deadline has passed, before a request reads or claims: it
    /// waits for a due lease that another transaction holds (a sweep of this or another process
    /// that is still committing its expiry), so that what the request then reads already shows
    /// the lease ended. Cheap when none is due: one indexed read.
    pub async fn due(&self) -> Result<usize, StoreError> {
        self.expire_due_leases(true).await
    }

    /// The background sweep's [`Expiry::due`]: a due lease another transaction holds is
    /// skipped (that transaction settles it, and the next sweep looks again), so sweeps of
    /// several processes never wait for each other.
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        self.expire_due_leases(false).await
    }

    async fn expire_due_leases(&self, wait_for_held: bool) -> Result<usize, StoreError> {
        use std::sync::atomic::Ordering::Relaxed;
        let now = crate::now_ms();
        if now < self.store.expiry_quiet_until.load(Relaxed) {
            return Ok(0);
        }
        let next = self.next_deadline().await?;
        if next.is_none_or(|d| d > now) {
            // Nothing is due. No lease can fall due before the earliest deadline seen, nor before
            // a lease granted from now on could end (at least the shorter TTL later; 5 s are kept
            // for transactions that began before this read and commit after it). Until then this
            // check costs nothing.
            let ttl = self
                .store
                .timing
                .accept_ttl_ms
                .min(self.store.timing.lease_ttl_ms);
            if ttl >= 10_000 {
                let until = next.unwrap_or(i64::MAX).min(now + ttl - 5_000);
                self.store.expiry_quiet_until.store(until, Relaxed);
            }
            return Ok(0);
        }
        let due = checked_read!(self.store, leases::due(now))?;
        if due.is_empty() {
            return Ok(0);
        }
        // One transaction per lease: a transaction that holds a repository row must not go on to
        // wait for another worker (see the lock order in `apply_move`). Each begins by locking
        // its task, holding nothing else, so waiting there cannot close a cycle. A request waits
        // for a row another transaction holds (whose commit may be what expires it: the lock
        // then finds the row no longer due); the sweep skips it.
        let sql = still_due(self.store.backend, wait_for_held);
        let mut n = 0;
        for id in &due {
            let expired = self
                .store
                .write(|mut tx| {
                    let sql = sql.clone();
                    async move {
                        let r = async {
                            let due: Option<(String,)> = sql
                                .query_as()
                                .bind(id)
                                .bind(tx.now)
                                .fetch_optional(tx.conn())
                                .await?;
                            if due.is_none() {
                                return Ok(false);
                            }
                            let task = tx.tasks().get(id).await?;
                            if !task.status.is_active() || task.deadline.is_none_or(|d| d > tx.now)
                            {
                                return Ok(false);
                            }
                            tx.leases().expire(&task).await?;
                            Ok(true)
                        }
                        .await;
                        (tx, r)
                    }
                })
                .await?;
            n += usize::from(expired);
        }
        Ok(n)
    }

    /// The earliest lease deadline, if any lease is alive.
    pub async fn next_deadline(&self) -> Result<Option<i64>, StoreError> {
        Ok(checked_read!(self.store, leases::next_deadline())?)
    }
}
