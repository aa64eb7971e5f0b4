//! The webhook inbox (`gh_deliveries`): deliveries stored as they arrive, claimed by one process
//! at a time, retried, and the redeliveries the App asked GitHub for (`gh_redeliveries`).
//!
//! Each delivery is stored with its lane ([`DeliveryLane`]): the repository and the installation
//! it is about. Deliveries are claimed side by side, by any number of appliers in any number of
//! processes, but never ahead of an earlier pending delivery of the same lane: that rule is one
//! condition of the statement that claims (`composed::github::claim_delivery`), so it holds
//! however many race.

use crate::composed;
use crate::engine::checked::{checked_in_tx, checked_read, checked_write};
use crate::{Store, StoreError, WriteTx};

/// The inbox's view of the store: deliveries stored, claimed, retried; each change in a
/// transaction of its own ([`Store::inbox`]).
pub struct Inbox<'s> {
    store: &'s Store,
}

/// The inbox inside a caller's write transaction ([`WriteTx::inbox`]): a delivery marked done
/// with its effects.
pub struct InboxTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The webhook inbox's view of the store.
    pub fn inbox(&self) -> Inbox<'_> {
        Inbox { store: self }
    }
}

impl WriteTx {
    /// The webhook inbox's view of this transaction.
    pub fn inbox(&mut self) -> InboxTx<'_> {
        InboxTx { tx: self }
    }
}

/// What a delivery must wait for: the earlier pending deliveries of its repository and of its
/// installation. Taken from the payload by the App when it stores the delivery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryLane {
    /// The installation the delivery came through; `None`: it names none, and waits for every
    /// earlier delivery and holds every later one.
    pub installation: Option<i64>,
    /// GitHub's id of the repository the event is about; `None`: it spans its installation
    /// (it waits for every earlier delivery of the installation, and they all wait for it).
    pub repo: Option<i64>,
}

/// Claims the oldest due delivery that no earlier pending delivery holds back (`$1` runner,
/// `$2` claimed until, `$3` now), in the same form on both backends. An earlier delivery holds
/// a later one while it is pending — claimed, waiting for a retry, or not yet tried — when they
/// share a repository, when either spans their installation, or when either names no
/// installation (each of these is one probe of an index of pending deliveries; one without an
/// installation has no repository either). `{lock}`:
/// PostgreSQL passes over rows another process is claiming at this instant (`FOR UPDATE SKIP
/// LOCKED`) instead of waiting for them; SQLite writes one statement at a time.
/// A webhook delivery claimed from the inbox.
#[derive(Clone, Debug)]
pub struct InboxDelivery {
    pub seq: i64,
    pub delivery_id: String,
    pub event: String,
    pub body: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// How a delivery left the inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Applied,
    Ignored,
    Failed,
}

impl DeliveryOutcome {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Applied => "applied",
            DeliveryOutcome::Ignored => "ignored",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

impl InboxTx<'_> {
    /// Marks a claimed delivery done, in the transaction of its effects.
    pub async fn finish(
        &mut self,
        seq: i64,
        outcome: DeliveryOutcome,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = self.tx.now;
        let state = outcome.as_str();
        checked_in_tx!(self.tx.conn(), inbox::finish(seq, state, now, error))?;
        Ok(())
    }
}

impl Inbox<'_> {
    /// Stores a verified webhook delivery; false when this delivery id, or the same signed body
    /// (`body_sha256`) under another id, was stored before.
    pub async fn store_delivery(
        &self,
        delivery_id: &str,
        event: &str,
        body: &str,
        body_sha256: Option<&str>,
        lane: DeliveryLane,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (installation, repo) = (lane.installation, lane.installation.and(lane.repo));
        // On connections of their own (PostgreSQL): a delivery GitHub sends is taken in while the
        // appliers and the comment sender hold every other connection.
        let n = checked_write!(
            ingest: self.store,
            inbox::store_delivery(
                delivery_id,
                event,
                body,
                body_sha256,
                now,
                installation,
                repo
            )
        )?;
        Ok(n == 1)
    }

    /// Whether a delivery id is in the inbox.
    pub async fn known(&self, delivery_id: &str) -> Result<bool, StoreError> {
        let n = checked_read!(self.store, github::delivery_known(delivery_id))?;
        Ok(n > 0)
    }

    /// How many deliveries the inbox holds (any state).
    pub async fn count(&self) -> Result<i64, StoreError> {
        Ok(checked_read!(self.store, github::delivery_count())?)
    }

    /// Claims the oldest due delivery that no earlier pending delivery of its lane holds back
    /// (`composed::github::claim_delivery`), for `runner` until `until`; `None` when there is
    /// none (or another process claimed it first).
    pub async fn claim(
        &self,
        runner: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<InboxDelivery>, StoreError> {
        Ok(self
            .claim_many(runner, now, until, 1)
            .await?
            .into_iter()
            .next())
    }

    /// Claims up to `limit` deliveries as [`Inbox::claim`] does, oldest first: one
    /// claim statement each, the same on both backends, each its own short transaction
    /// (PostgreSQL's `FOR UPDATE SKIP LOCKED` passes over rows another process is claiming).
    pub async fn claim_many(
        &self,
        runner: &str,
        now: i64,
        until: i64,
        limit: usize,
    ) -> Result<Vec<InboxDelivery>, StoreError> {
        let claim = composed::github::claim_delivery(self.store.backend);
        let mut out = Vec::new();
        while out.len() < limit.max(1) {
            let mut tx = self.store.begin().await?;
            let row: Option<(i64, String, String, String, i64)> = claim
                .clone()
                .query_as()
                .bind(runner)
                .bind(until)
                .bind(now)
                .fetch_optional(tx.conn())
                .await?;
            // A claim that found nothing wrote nothing: it is rolled back (dropped), not
            // committed, so an idle applier's poll costs the database no commit.
            let Some((seq, delivery_id, event, body, attempts)) = row else {
                break;
            };
            tx.commit().await?;
            out.push(InboxDelivery {
                seq,
                delivery_id,
                event,
                body,
                attempts,
            });
        }
        Ok(out)
    }

    /// Gives a claimed delivery back, to be tried again at `at` (or marks it failed).
    pub async fn retry(&self, seq: i64, at: Option<i64>, error: &str) -> Result<(), StoreError> {
        match at {
            Some(at) => checked_write!(self.store, inbox::retry(seq, at, error))?,
            None => {
                let failed = DeliveryOutcome::Failed.as_str();
                let now = crate::now_ms();
                checked_write!(self.store, inbox::finish(seq, failed, now, Some(error)))?
            }
        };
        Ok(())
    }

    /// Whether the App already asked GitHub to redeliver `guid`.
    pub async fn redelivery_requested(&self, guid: &str) -> Result<bool, StoreError> {
        let n = checked_read!(self.store, github::redelivery_requested(guid))?;
        Ok(n > 0)
    }

    /// Remembers that the App asked GitHub to redeliver `guid`.
    pub async fn record_redelivery(&self, guid: &str, attempt_id: i64) -> Result<(), StoreError> {
        let now = crate::now_ms();
        checked_write!(self.store, inbox::redelivery_asked(guid, attempt_id, now))?;
        let before = now - 4 * 24 * 3_600_000;
        checked_write!(self.store, inbox::sweep_redeliveries(before))?;
        Ok(())
    }
}
