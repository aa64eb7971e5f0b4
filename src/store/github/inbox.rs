//! The webhook inbox (`gh_deliveries`): deliveries stored as they arrive, claimed by one process
//! at a time, retried, and the redeliveries the App asked GitHub for (`gh_redeliveries`).

use crate::store::engine::sqlite_writer::ExecuteWrite;
use crate::store::{Store, StoreError, WriteTx};

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

impl WriteTx {
    /// Marks a claimed delivery done, in the transaction of its effects.
    pub async fn gh_finish_delivery(
        &mut self,
        seq: i64,
        outcome: DeliveryOutcome,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = self.now;
        sqlx::query(
            "UPDATE gh_deliveries SET state = $1, finished_at = $2, error = $3, \
             claimed_by = NULL, claimed_until = NULL WHERE seq = $4",
        )
        .bind(outcome.as_str())
        .bind(now)
        .bind(error)
        .bind(seq)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// Stores a verified webhook delivery; false when this delivery id, or the same signed body
    /// (`body_sha256`) under another id, was stored before.
    pub async fn gh_insert_delivery(
        &self,
        delivery_id: &str,
        event: &str,
        body: &str,
        body_sha256: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO gh_deliveries (delivery_id, event, body, body_sha256, received_at, \
             next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING",
        )
        .bind(delivery_id)
        .bind(event)
        .bind(body)
        .bind(body_sha256)
        .bind(now)
        .execute_write(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Whether a delivery id is in the inbox.
    pub async fn gh_delivery_known(&self, delivery_id: &str) -> Result<bool, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM gh_deliveries WHERE delivery_id = $1")
                .bind(delivery_id)
                .fetch_one(&self.read)
                .await?;
        Ok(n > 0)
    }

    /// How many deliveries the inbox holds (any state).
    pub async fn gh_delivery_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM gh_deliveries")
            .fetch_one(&self.read)
            .await?)
    }

    /// Claims the oldest delivery that is due, for `runner` until `until`. Deliveries are applied
    /// one at a time in the order they arrived: while the oldest due one is claimed by someone
    /// else, nothing is returned.
    pub async fn gh_claim_delivery(
        &self,
        runner: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<InboxDelivery>, StoreError> {
        let head: Option<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT seq, claimed_until FROM gh_deliveries WHERE state = 'pending' \
             AND next_attempt_at <= $1 ORDER BY seq LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&self.read)
        .await?;
        let Some((seq, claimed_until)) = head else {
            return Ok(None);
        };
        if claimed_until.is_some_and(|u| u > now) {
            return Ok(None);
        }
        if !self
            .gh_claim_row("gh_deliveries", "seq", seq, runner, now, until)
            .await?
        {
            return Ok(None);
        }
        let row: (i64, String, String, String, i64) = sqlx::query_as(
            "SELECT seq, delivery_id, event, body, attempts FROM gh_deliveries WHERE seq = $1",
        )
        .bind(seq)
        .fetch_one(&self.read)
        .await?;
        Ok(Some(InboxDelivery {
            seq: row.0,
            delivery_id: row.1,
            event: row.2,
            body: row.3,
            attempts: row.4,
        }))
    }

    /// Gives a claimed delivery back, to be tried again at `at` (or marks it failed).
    pub async fn gh_delivery_retry(
        &self,
        seq: i64,
        at: Option<i64>,
        error: &str,
    ) -> Result<(), StoreError> {
        // $1: when to try again, or when it failed.
        let (sql, instant) = match at {
            Some(at) => (
                "UPDATE gh_deliveries SET next_attempt_at = $1, error = $2, claimed_by = NULL, \
                 claimed_until = NULL WHERE seq = $3",
                at,
            ),
            None => (
                "UPDATE gh_deliveries SET state = 'failed', finished_at = $1, error = $2, \
                 claimed_by = NULL, claimed_until = NULL WHERE seq = $3",
                crate::store::now_ms(),
            ),
        };
        sqlx::query(sql)
            .bind(instant)
            .bind(error)
            .bind(seq)
            .execute_write(self)
            .await?;
        Ok(())
    }

    /// Whether the App already asked GitHub to redeliver `guid`.
    pub async fn gh_redelivery_requested(&self, guid: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM gh_redeliveries WHERE guid = $1")
            .bind(guid)
            .fetch_one(&self.read)
            .await?;
        Ok(n > 0)
    }

    /// Remembers that the App asked GitHub to redeliver `guid`.
    pub async fn gh_record_redelivery(
        &self,
        guid: &str,
        attempt_id: i64,
    ) -> Result<(), StoreError> {
        let now = crate::store::now_ms();
        sqlx::query(
            "INSERT INTO gh_redeliveries (guid, attempt_id, requested_at) VALUES ($1, $2, $3) \
             ON CONFLICT (guid) DO NOTHING",
        )
        .bind(guid)
        .bind(attempt_id)
        .bind(now)
        .execute_write(self)
        .await?;
        sqlx::query("DELETE FROM gh_redeliveries WHERE requested_at < $1")
            .bind(now - 4 * 24 * 3_600_000)
            .execute_write(self)
            .await?;
        Ok(())
    }
}
