//! Limits counted where every replica sees them: registrations and wrong credentials per client
//! address, previews per worker and per address, the GitHub reads a volunteer's action causes
//! (per task, per person, per installation: `github::reads`) (contract section 14: N replicas
//! allow what one allows). Each counted name has one row of `rate_counts` (migration 0047)
//! holding the uses of its current window (a minute, or as long as the limit says: migration
//! 0058); a use is one conditional upsert, which counts it only while the window has room, so
//! two replicas asking at once cannot both take the last use. A use may also be counted inside
//! a write transaction ([`SharedLimitsTx::take_in`]: the App's replies to a person, counted with
//! the reply they allow). And the one long poll a worker holds, wherever it runs: `held_polls`
//! names the poll each worker began last.

use std::time::Duration;

use super::composed;
use super::engine::checked::{checked_in_tx, checked_read, checked_write};
use super::{Store, StoreError, WriteTx, now_ms};

/// The window a limit counts in unless it names another.
const WINDOW_MS: i64 = 60_000;

// The statements every count runs: `sql/limits/take.sql` (one use of a name in a window on the
// clock, counted only while the window has room) and `take_from_first_use.sql` (in a window
// begun at the name's first use: uses close together always share one window, wherever the
// minute turns).

/// The start of the window of `window_ms` (aligned to the epoch) that holds `now`.
fn window_of(now: i64, window_ms: i64) -> i64 {
    now - now.rem_euclid(window_ms)
}

/// The limits every replica counts together, and the long poll each worker holds
/// ([`Store::shared_limits`]).
pub struct SharedLimits<'s> {
    store: &'s Store,
}

/// The shared limits counted inside a caller's write transaction ([`WriteTx::shared_limits`]).
pub struct SharedLimitsTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The view of the store named by [`SharedLimits`].
    pub fn shared_limits(&self) -> SharedLimits<'_> {
        SharedLimits { store: self }
    }
}

impl WriteTx {
    /// The view of this transaction named by [`SharedLimitsTx`].
    pub fn shared_limits(&mut self) -> SharedLimitsTx<'_> {
        SharedLimitsTx { tx: self }
    }
}

impl SharedLimits<'_> {
    /// Counts one use of `name` in its current minute, if `per_minute` allows another: `None`
    /// when it was counted, else how long until the next minute begins. A `per_minute` of 0
    /// turns the limit off.
    pub async fn take(&self, name: &str, per_minute: u32) -> Result<Option<Duration>, StoreError> {
        self.take_in(name, per_minute, WINDOW_MS).await
    }

    /// [`SharedLimits::take`] in windows of `window_ms` (aligned to the epoch): `limit`
    /// uses in each.
    pub async fn take_in(
        &self,
        name: &str,
        limit: u32,
        window_ms: i64,
    ) -> Result<Option<Duration>, StoreError> {
        if limit == 0 {
            return Ok(None);
        }
        let window_ms = window_ms.max(1);
        let now = now_ms();
        let window = window_of(now, window_ms);
        let limit = i64::from(limit);
        let taken = checked_write!(self.store, limits::take(name, window, limit, window_ms))?;
        Ok((taken == 0).then(|| {
            Duration::from_millis(u64::try_from(window + window_ms - now).unwrap_or(0).max(1))
        }))
    }

    /// Whether any of `limits` (a name and its limit, counted by [`SharedLimitsTx::take_in`])
    /// has no use left in its window now: one statement.
    pub async fn spent(&self, limits: &[(&str, u32)]) -> Result<bool, StoreError> {
        if limits.is_empty() {
            return Ok(false);
        }
        let mut query = composed::limits::spent(limits.len())
            .query_scalar::<i64>()
            .bind(now_ms());
        for (name, limit) in limits {
            query = query.bind(*name).bind(i64::from(*limit));
        }
        Ok(query.fetch_one(&self.store.read).await? > 0)
    }

    /// Forgets the counts of windows that have ended (run every minute or so).
    pub async fn forget(&self) -> Result<(), StoreError> {
        checked_write!(self.store, limits::forget(now_ms()))?;
        Ok(())
    }
}

impl SharedLimitsTx<'_> {
    /// Counts one use of `name` within this transaction, if its window of `window_ms` (begun
    /// at its first use) holds fewer than `limit`: whether it was
    /// counted. The count commits with what it allowed, or not at all; on PostgreSQL a second
    /// replica's count of the same name waits for this transaction.
    pub async fn take_in(
        &mut self,
        name: &str,
        limit: u32,
        window_ms: i64,
    ) -> Result<bool, StoreError> {
        if limit == 0 {
            return Ok(true);
        }
        let window_ms = window_ms.max(1);
        let (now, limit) = (self.tx.now, i64::from(limit));
        let taken = checked_in_tx!(
            self.tx.conn(),
            limits::take_from_first_use(name, now, limit, window_ms)
        )?;
        Ok(taken > 0)
    }
}

impl SharedLimits<'_> {
    /// Notes `holder` as the long poll `worker_id` began last, in place of any other.
    pub async fn hold_poll(&self, worker_id: &str, holder: &str) -> Result<(), StoreError> {
        checked_write!(self.store, limits::hold_poll(worker_id, holder))?;
        Ok(())
    }

    /// Whether `holder` is still the long poll `worker_id` began last.
    pub async fn still_holds_poll(
        &self,
        worker_id: &str,
        holder: &str,
    ) -> Result<bool, StoreError> {
        let last = checked_read!(self.store, limits::poll_holder(worker_id))?;
        Ok(last.as_deref() == Some(holder))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timing;
    use crate::engine::sqlite_writer::ExecuteWrite;

    /// Two stores on one database (two replicas) share each name's minute: together they take
    /// what one allows, and a name's count is its own.
    #[tokio::test]
    async fn two_stores_share_one_count() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
        let a = Store::open(&url, Timing::default()).await.unwrap();
        let b = Store::open(&url, Timing::default()).await.unwrap();
        let mut taken = 0;
        for store in [&a, &b].repeat(5) {
            if store
                .shared_limits()
                .take("r:1.2.3.4", 6)
                .await
                .unwrap()
                .is_none()
            {
                taken += 1;
            }
        }
        assert_eq!(taken, 6);
        let wait = b
            .shared_limits()
            .take("r:1.2.3.4", 6)
            .await
            .unwrap()
            .unwrap();
        assert!(wait <= Duration::from_secs(60), "{wait:?}");
        assert_eq!(a.shared_limits().take("r:5.6.7.8", 6).await.unwrap(), None);
        assert_eq!(a.shared_limits().take("r:1.2.3.4", 0).await.unwrap(), None);
        a.shared_limits().forget().await.unwrap();
    }

    /// A count in hour windows outlives the minute: forgetting ended windows keeps it, and its
    /// wait runs to the end of its hour.
    #[tokio::test]
    async fn an_hours_count_is_kept_past_the_minute() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
        let store = Store::open(&url, Timing::default()).await.unwrap();
        let hour = 3_600_000;
        assert_eq!(
            store.shared_limits().take_in("h", 1, hour).await.unwrap(),
            None
        );
        // The window began two minutes ago (set from now, not moved back from the hour's start:
        // in an hour's last two minutes that would have ended it).
        sqlx::query("UPDATE rate_counts SET window_start = $1")
            .bind(now_ms() - 120_000)
            .execute_write(&store)
            .await
            .unwrap();
        store.shared_limits().forget().await.unwrap();
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rate_counts")
            .fetch_one(&store.read)
            .await
            .unwrap();
        assert_eq!(count, 1, "the hour's count is kept");
        sqlx::query("UPDATE rate_counts SET window_start = window_start - 7200000")
            .execute_write(&store)
            .await
            .unwrap();
        store.shared_limits().forget().await.unwrap();
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rate_counts")
            .fetch_one(&store.read)
            .await
            .unwrap();
        assert_eq!(count, 0, "an ended hour is forgotten");
        assert_eq!(
            store.shared_limits().take_in("h", 1, hour).await.unwrap(),
            None
        );
        let wait = store
            .shared_limits()
            .take_in("h", 1, hour)
            .await
            .unwrap()
            .unwrap();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(3_600_000));
    }
}
