//! A worker's proof of its person with GitHub's device flow (`worker_link_flows`, schema in
//! `migrations/*/0048_worker_device_links.sql`): each flow under way is bound to the worker that
//! started it, polled no more often than GitHub asks, and used once. The link itself is
//! [`PersonLinksTx::link_worker`]'s, in the transaction that ends the flow.
//!
//! These rows live apart from a maintainer's sign-in (`signin_flows`): nothing here reads that
//! table and nothing of sign-in reads this one, so a device code of one kind is unknown to the
//! other. GitHub's device code arrives here as a digest only (the caller hashes it).
//!
//! [`PersonLinksTx::link_worker`]: super::worker_links::PersonLinksTx::link_worker

use crate::engine::checked::{checked_in_tx, checked_write};
use crate::signin::DevicePoll;
use crate::{Store, StoreError, WriteTx, now_ms};

/// Ended flows are kept this long before they are swept (a replayed code is then unknown).
const KEEP_ENDED_MS: i64 = 24 * 3_600_000;

/// The device flows of `owp worker link`, from their start to their end ([`Store::device_links`]).
pub struct DeviceLinks<'s> {
    store: &'s Store,
}

impl Store {
    /// The view of the store named by [`DeviceLinks`].
    pub fn device_links(&self) -> DeviceLinks<'_> {
        DeviceLinks { store: self }
    }
}

impl DeviceLinks<'_> {
    /// Records a device flow that `worker_id` started, valid for `ttl_ms`: the worker's earlier
    /// flows that were not used end (one flow per worker at a time); flows long over are swept.
    pub async fn start(
        &self,
        worker_id: &str,
        digest: &str,
        interval_ms: i64,
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        let now = tx.now;
        let before = now - KEEP_ENDED_MS;
        checked_in_tx!(tx.conn(), device_links::clear_flows(before, worker_id))?;
        let expires_at = now + ttl_ms;
        checked_in_tx!(
            tx.conn(),
            device_links::start_flow(digest, worker_id, interval_ms, now, expires_at)
        )?;
        tx.commit().await?;
        Ok(())
    }

    /// A poll of `worker_id`'s flow `digest`: allowed when the flow is that worker's, live and
    /// unused, and its interval has passed since the last poll (which this one now is).
    pub async fn poll(&self, worker_id: &str, digest: &str) -> Result<DevicePoll, StoreError> {
        let mut tx = self.store.begin().await?;
        let now = tx.now;
        let went = checked_in_tx!(tx.conn(), device_links::poll_flow(digest, worker_id, now))?;
        let out = if went {
            DevicePoll::Go
        } else {
            let row = checked_in_tx!(tx.conn(), device_links::flow_wait(digest, worker_id, now))?;
            DevicePoll::of(row, now)
        };
        tx.commit().await?;
        Ok(out)
    }

    /// GitHub asked to poll `worker_id`'s flow more slowly: its interval becomes `interval_ms`.
    pub async fn interval(
        &self,
        worker_id: &str,
        digest: &str,
        interval_ms: i64,
    ) -> Result<(), StoreError> {
        checked_write!(
            self.store,
            device_links::slow_flow(digest, worker_id, interval_ms)
        )?;
        Ok(())
    }

    /// Ends `worker_id`'s flow without a link (GitHub said it expired or was declined).
    pub async fn end(&self, worker_id: &str, digest: &str) -> Result<(), StoreError> {
        checked_write!(
            self.store,
            device_links::end_flow(digest, worker_id, now_ms())
        )?;
        Ok(())
    }
}

/// A device flow finished inside a caller's write transaction ([`WriteTx::device_links`]).
pub struct DeviceLinksTx<'t> {
    tx: &'t mut WriteTx,
}

impl WriteTx {
    /// The view of this transaction named by [`DeviceLinksTx`].
    pub fn device_links(&mut self) -> DeviceLinksTx<'_> {
        DeviceLinksTx { tx: self }
    }
}

impl DeviceLinksTx<'_> {
    /// Ends `worker_id`'s flow `digest` in this transaction: true for the one caller that ends
    /// it, which then links the worker (a flow links at most once).
    pub async fn finish(&mut self, worker_id: &str, digest: &str) -> Result<bool, StoreError> {
        let now = self.tx.now;
        let done = checked_in_tx!(
            self.tx.conn(),
            device_links::end_flow(digest, worker_id, now)
        )?;
        Ok(done == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timing;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
        (dir, Store::open(&url, Timing::default()).await.unwrap())
    }

    #[tokio::test]
    async fn a_flow_is_its_workers_polled_at_its_interval_and_finished_once() {
        let (_dir, s) = store().await;
        s.device_links()
            .start("w_1", "d1", 60_000, 600_000)
            .await
            .unwrap();
        assert_eq!(
            s.device_links().poll("w_2", "d1").await.unwrap(),
            DevicePoll::Unknown,
            "another worker's flow"
        );
        assert_eq!(
            s.device_links().poll("w_1", "d1").await.unwrap(),
            DevicePoll::Go
        );
        assert!(matches!(
            s.device_links().poll("w_1", "d1").await.unwrap(),
            DevicePoll::TooSoon(ms) if ms > 50_000
        ));
        let mut tx = s.begin().await.unwrap();
        assert!(!tx.device_links().finish("w_2", "d1").await.unwrap());
        assert!(tx.device_links().finish("w_1", "d1").await.unwrap());
        assert!(
            !tx.device_links().finish("w_1", "d1").await.unwrap(),
            "once"
        );
        tx.commit().await.unwrap();
        assert_eq!(
            s.device_links().poll("w_1", "d1").await.unwrap(),
            DevicePoll::Unknown
        );
    }

    #[tokio::test]
    async fn a_new_flow_ends_the_workers_earlier_one_and_expiry_ends_any() {
        let (_dir, s) = store().await;
        s.device_links()
            .start("w_1", "old", 1000, 600_000)
            .await
            .unwrap();
        s.device_links()
            .start("w_2", "theirs", 1000, 600_000)
            .await
            .unwrap();
        s.device_links()
            .start("w_1", "new", 1000, 600_000)
            .await
            .unwrap();
        assert_eq!(
            s.device_links().poll("w_1", "old").await.unwrap(),
            DevicePoll::Unknown
        );
        assert_eq!(
            s.device_links().poll("w_1", "new").await.unwrap(),
            DevicePoll::Go
        );
        assert_eq!(
            s.device_links().poll("w_2", "theirs").await.unwrap(),
            DevicePoll::Go,
            "another worker's flow stays"
        );
        s.device_links()
            .start("w_3", "gone", 1000, -1)
            .await
            .unwrap();
        assert_eq!(
            s.device_links().poll("w_3", "gone").await.unwrap(),
            DevicePoll::Unknown,
            "expired"
        );
        s.device_links().end("w_2", "theirs").await.unwrap();
        assert_eq!(
            s.device_links().poll("w_2", "theirs").await.unwrap(),
            DevicePoll::Unknown,
            "declined"
        );
    }
}
