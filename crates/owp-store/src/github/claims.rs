//! Comment claims (`gh_claims`): a `/owp claim` by a person or a worker, its own deadline and
//! reminder, and when a worker last gave a task back (what a refusal of rule 1 says).

use crate::engine::tx_conn::TxConnection;
use owp_sql_sqlite::github_rows::ClaimFields;

use crate::composed;
use crate::engine::checked::{checked_in_tx, checked_read};
use crate::{Store, StoreError, WriteTx};

/// A claim made by commenting `/owp claim`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GhClaim {
    pub task_id: String,
    pub lease_id: String,
    pub login: String,
    pub worker_id: String,
    /// The login's implicit worker (true) or a worker linked to the login (false).
    pub person: bool,
    pub ttl_ms: i64,
    pub reminder: bool,
    pub claimed_at: i64,
    pub last_activity_at: i64,
    pub reminded_at: Option<i64>,
}

/// A comment claim as the statements of `sql/github_rows/` read it.
fn decode_claim(fields: ClaimFields) -> GhClaim {
    let (task_id, lease_id, login, worker_id, person, ttl_ms, reminder, claimed_at, last, reminded) =
        fields;
    GhClaim {
        task_id,
        lease_id,
        login,
        worker_id,
        person: person != 0,
        ttl_ms,
        reminder: reminder != 0,
        claimed_at,
        last_activity_at: last,
        reminded_at: reminded,
    }
}

impl GhClaim {
    /// When the claim ends unless the claimer shows activity.
    pub fn expires_at(&self) -> i64 {
        self.last_activity_at + self.ttl_ms
    }
}

/// The comment claim of a task, if it has one.
pub async fn claim_of_task(
    conn: &mut TxConnection,
    task_id: &str,
) -> Result<Option<GhClaim>, StoreError> {
    let row = checked_in_tx!(conn, github_rows::claim(task_id))?;
    Ok(row.map(decode_claim))
}

/// Forgets the comment claim of a task.
pub async fn delete_claim(conn: &mut TxConnection, task_id: &str) -> Result<(), StoreError> {
    checked_in_tx!(conn, claims::forget(task_id))?;
    Ok(())
}

/// Comment claims (`/owp claim`), read ([`Store::comment_claims`]).
pub struct CommentClaims<'s> {
    store: &'s Store,
}

/// Comment claims inside a caller's write transaction: made, kept, reminded
/// ([`WriteTx::comment_claims`]).
pub struct CommentClaimsTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The view of the store named by [`CommentClaims`].
    pub fn comment_claims(&self) -> CommentClaims<'_> {
        CommentClaims { store: self }
    }
}

impl WriteTx {
    /// The view of this transaction named by [`CommentClaimsTx`].
    pub fn comment_claims(&mut self) -> CommentClaimsTx<'_> {
        CommentClaimsTx { tx: self }
    }
}

impl CommentClaimsTx<'_> {
    /// Records a comment claim.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert(
        &mut self,
        task_id: &str,
        lease_id: &str,
        login: &str,
        worker_id: &str,
        person: bool,
        ttl_ms: i64,
        reminder: bool,
    ) -> Result<(), StoreError> {
        let now = self.tx.now;
        let (person, reminder) = (i64::from(person), i64::from(reminder));
        checked_in_tx!(
            self.tx.conn(),
            claims::record(
                task_id, lease_id, login, worker_id, person, ttl_ms, reminder, now
            )
        )?;
        Ok(())
    }

    /// The comment claim of a task.
    pub async fn get(&mut self, task_id: &str) -> Result<Option<GhClaim>, StoreError> {
        claim_of_task(self.tx.conn(), task_id).await
    }

    /// The claimer showed activity: the claim runs `ttl_ms` from now, and the task's lease with it.
    /// False when the claim's lease is no longer running.
    pub async fn touch(&mut self, claim: &GhClaim) -> Result<bool, StoreError> {
        let now = self.tx.now;
        let until = now + claim.ttl_ms;
        let moved = self
            .move_claim_deadline(&claim.task_id, &claim.lease_id, until)
            .await?;
        if moved == 0 {
            return Ok(false);
        }
        checked_in_tx!(self.tx.conn(), claims::touch(&claim.task_id, now))?;
        Ok(true)
    }

    /// Sets when a comment claim's lease ends (a comment claim lives by its TTL, not the API's
    /// lease TTL).
    pub async fn set_deadline(
        &mut self,
        task_id: &str,
        lease_id: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        self.move_claim_deadline(task_id, lease_id, until).await?;
        Ok(())
    }

    /// Sets when lease `lease_id` of a claimed (`in_progress`) task ends; how many leases changed
    /// (0 when that lease is no longer running).
    async fn move_claim_deadline(
        &mut self,
        task_id: &str,
        lease_id: &str,
        until: i64,
    ) -> Result<u64, StoreError> {
        self.tx.store().note_deadline(until);
        // The lease's clock, in the lease's row (acknowledged: the task is in progress).
        Ok(checked_in_tx!(
            self.tx.conn(),
            claims::move_deadline(lease_id, task_id, until)
        )?)
    }

    /// Marks a claim reminded; false when someone else did it first (or the claimer was active).
    pub async fn mark_reminded(
        &mut self,
        task_id: &str,
        activity_at: i64,
    ) -> Result<bool, StoreError> {
        let now = self.tx.now;
        let n = checked_in_tx!(self.tx.conn(), claims::reminded(task_id, now, activity_at))?;
        Ok(n == 1)
    }

    /// When `worker_id`, or the person it speaks for on any worker, last gave task `task_seq`
    /// back, if they did (rule 1 reads the person, `claim_rules::by_person`).
    pub async fn nacked_at(
        &mut self,
        task_seq: i64,
        worker_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row: Option<i64> = composed::persons::nacked_at()
            .query_scalar()
            .bind(task_seq)
            .bind(worker_id)
            .fetch_one(self.tx.conn())
            .await?;
        Ok(row)
    }
}

impl CommentClaims<'_> {
    /// The comment claim of a task.
    pub async fn get(&self, task_id: &str) -> Result<Option<GhClaim>, StoreError> {
        let row = checked_read!(self.store, github_rows::claim(task_id))?;
        Ok(row.map(decode_claim))
    }

    /// Comment claims whose half-time reminder is due.
    pub async fn due_reminders(&self, now: i64) -> Result<Vec<GhClaim>, StoreError> {
        let rows = checked_read!(self.store, github_rows::due_reminders(now))?;
        Ok(rows.into_iter().map(decode_claim).collect())
    }

    /// When a lease was granted.
    pub async fn lease_created_at(&self, lease_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(checked_read!(self.store, leases::created_at(lease_id))?)
    }
}
