//! The general code of a lease, for every case on both backends: reading and locking a held
//! lease, ack, nack, renew, a worker's or an admin's status move, and expiry. The plain paths of
//! a worker's own claim, ack and status move take shortcuts ([`super::sqlite_batch`],
//! [`super::postgres_statement`]) and come back here for anything else.

use serde_json::{Value, json};

use super::{
    LeaseEnd, Move, MovePlan, ack_data, concurrent_change, task_lease_points, worker_move,
};
use crate::claim_rules::Pick;
use crate::composed::leases::general as statements;
use crate::domain::rules;
use crate::domain::{Lease, TaskStatus};
use crate::engine::checked::checked_in_tx;
use crate::engine::tx_conn::Typed;
use crate::rows::{TaskRow, WorkerRow};
use crate::{Backend, NewEvent, StoreError, WriteTx};
use owp_sql_postgres::locks;

/// A task's lease inside a caller's write transaction: claimed, held, acknowledged, given back,
/// renewed, moved, expired ([`WriteTx::leases`]).
pub struct LeasesTx<'t> {
    tx: &'t mut WriteTx,
}

impl WriteTx {
    /// The view of this transaction named by [`LeasesTx`].
    pub fn leases(&mut self) -> LeasesTx<'_> {
        LeasesTx { tx: self }
    }
}

impl LeasesTx<'_> {
    /// Locks a task row and its live lease's row until commit (PostgreSQL) and reads them.
    ///
    /// Lock order, to keep PostgreSQL free of deadlocks: a worker row before the rows of the
    /// tasks it holds, a task before its lease, and all before the repository row (claims,
    /// heartbeats, status moves and expiry all take them in this order). So the holder's row is
    /// locked first here.
    pub async fn lock_task(&mut self, task_id: &str) -> Result<TaskRow, StoreError> {
        if let Typed::Postgres(conn) = self.tx.conn().typed() {
            for _ in 0..3 {
                let holder = locks::task_holder(&mut *conn, task_id).await?;
                let Some(holder) = holder else { break };
                if let Some(w) = &holder {
                    locks::worker(&mut *conn, w).await?;
                }
                let (locked, lease) = locks::task(&mut *conn, task_id).await?;
                if locked == holder {
                    // Then its lease, whose clock a renewal moves without the task: what is read
                    // next of the lease's deadline stays true until this transaction ends.
                    if let Some(lease) = lease {
                        locks::lease(&mut *conn, &lease).await?;
                    }
                    break;
                }
            }
        }
        self.tx.tasks().get(task_id).await
    }

    /// The claim: offers the best eligible task to `worker` (see the module docs and
    /// `domain::rules`). `None` when nothing is eligible now. One statement (batch) per backend:
    /// SQLite's in [`super::sqlite_batch`], PostgreSQL's in [`super::postgres_statement`].
    pub async fn claim(&mut self, seen: &WorkerRow) -> Result<Option<Lease>, StoreError> {
        match self.tx.store().backend {
            Backend::Sqlite => self.tx.claim_batched(seen, Pick::First).await,
            Backend::Postgres => self.tx.claim_single(seen, Pick::First).await,
        }
    }

    /// Finds the task of a lease that `worker_id` holds right now. An ended lease is a 409, another
    /// worker's lease a 403, an unknown one a 404. A lease past its deadline is expired here, so a
    /// late request never sees it as alive.
    pub async fn held(&mut self, worker_id: &str, lease_id: &str) -> Result<TaskRow, StoreError> {
        let holder = checked_in_tx!(self.tx.conn(), leases::holder(lease_id))?;
        let Some((id, holder, ended)) = holder else {
            return Err(StoreError::not_found(
                "lease_not_found",
                format!("unknown lease `{lease_id}`"),
            ));
        };
        if holder != worker_id {
            return Err(StoreError::forbidden(
                "not_lease_holder",
                "this lease belongs to another worker",
            ));
        }
        if ended.is_some() {
            return Err(lease_ended());
        }
        let task = self.lock_task(&id).await?;
        if task.lease_id.as_deref() != Some(lease_id) || !task.status.is_active() {
            return Err(lease_ended());
        }
        if task.deadline.is_some_and(|d| d <= self.tx.now) {
            self.expire(&task).await?;
            return Err(StoreError::conflict(
                "lease_expired",
                "the lease expired before this request; the task went back to the queue",
            ));
        }
        Ok(task)
    }

    /// `ack`: the worker accepts its lease; the task is `in_progress` and the lease lives a full
    /// TTL from now. Acknowledging an acknowledged lease changes nothing.
    pub async fn ack(&mut self, worker_id: &str, lease_id: &str) -> Result<TaskRow, StoreError> {
        if self.tx.store().backend == Backend::Sqlite {
            return self.tx.ack_batched(worker_id, lease_id).await;
        }
        self.ack_general(worker_id, lease_id).await
    }

    /// `ack` on any backend, for every case (see [`LeasesTx::ack`]).
    pub(super) async fn ack_general(
        &mut self,
        worker_id: &str,
        lease_id: &str,
    ) -> Result<TaskRow, StoreError> {
        let task = self.held(worker_id, lease_id).await?;
        self.start_work(&task, worker_id).await
    }

    async fn start_work(&mut self, task: &TaskRow, worker_id: &str) -> Result<TaskRow, StoreError> {
        if task.status == TaskStatus::InProgress {
            return Ok(task.clone());
        }
        let expires = self.tx.now + self.tx.store().timing.lease_ttl_ms;
        statements::ack_task_by_seq()
            .query()
            .bind(self.tx.now)
            .bind(task.seq)
            .execute(self.tx.conn())
            .await?;
        statements::ack_lease_by_id()
            .query()
            .bind(self.tx.now)
            .bind(expires)
            .bind(task.lease_id.clone())
            .execute(self.tx.conn())
            .await?;
        self.tx.event(
            NewEvent::new("task.status", format!("worker:{worker_id}"))
                .repo(&task.repo)
                .task(&task.id)
                .worker(Some(worker_id))
                .data(ack_data(task.lease_id.as_deref())),
        );
        self.tx.tasks().get(&task.id).await
    }

    /// `nack`: the worker gives the task back; it is not offered to this worker for an hour.
    pub async fn nack(
        &mut self,
        worker_id: &str,
        lease_id: &str,
        reason: Option<String>,
    ) -> Result<TaskRow, StoreError> {
        let task = self.held(worker_id, lease_id).await?;
        // The give-back is the person's (rule 1 reads it by person, `claim_rules::by_person`).
        statements::nack()
            .query()
            .bind(task.seq)
            .bind(worker_id)
            .bind(self.tx.now)
            .execute(self.tx.conn())
            .await?;
        let mv = Move {
            note: reason,
            ..Move::to(TaskStatus::Ready, LeaseEnd::Nacked)
        };
        self.apply_move(&task, &mv, &format!("worker:{worker_id}"))
            .await
    }

    /// `renew`: extends the lease by its TTL.
    pub async fn renew(&mut self, worker_id: &str, lease_id: &str) -> Result<TaskRow, StoreError> {
        self.renew_saying(worker_id, lease_id, None).await
    }

    /// `renew`, recording what the lease's agent does (`progress`) on the lease.
    pub async fn renew_saying(
        &mut self,
        worker_id: &str,
        lease_id: &str,
        progress: Option<&str>,
    ) -> Result<TaskRow, StoreError> {
        let task = self.held(worker_id, lease_id).await?;
        self.tx
            .workers()
            .renew_leases(worker_id, Some(lease_id))
            .await?;
        let mut data = json!({"lease_id": lease_id});
        if let Some(line) = progress {
            let now = self.tx.now;
            checked_in_tx!(self.tx.conn(), leases::progress(line, now, lease_id))?;
            // The line itself stays on the lease: the event says only that it changed.
            data["progress"] = json!(true);
        }
        self.tx.event(
            NewEvent::new("lease.renewed", format!("worker:{worker_id}"))
                .repo(&task.repo)
                .task(&task.id)
                .worker(Some(worker_id))
                .data(data),
        );
        self.tx.tasks().get(&task.id).await
    }

    /// A status move requested by the worker holding the task. A `pr_opened` report on a task in
    /// `pr_opened` already is recorded by [`WriteTx::record_pr_report`].
    pub async fn worker_status(
        &mut self,
        worker_id: &str,
        task_id: &str,
        to: TaskStatus,
        artifact: Option<Value>,
        note: Option<String>,
    ) -> Result<TaskRow, StoreError> {
        let (task, alive) = if self.tx.store().backend == Backend::Sqlite {
            self.tx.read_for_move(worker_id, task_id).await?
        } else {
            (self.lock_task(task_id).await?, false)
        };
        if task.worker_id.as_deref() != Some(worker_id) {
            return Err(self.not_holding(worker_id, &task).await?);
        }
        if task.status.is_active() && !alive {
            // Confirms the lease is alive (and expires it if its deadline passed).
            let lease_id = task.lease_id.clone().unwrap_or_default();
            self.held(worker_id, &lease_id).await?;
        }
        if task.status == TaskStatus::PrOpened && to == TaskStatus::PrOpened {
            // GitHub's webhook moved the task first: the report adds what it says.
            return self
                .tx
                .record_pr_report(&task, worker_id, artifact.as_ref(), note)
                .await;
        }
        let mv = worker_move(&task, to, artifact, note)?;
        if mv.to == TaskStatus::InProgress {
            return self.start_work(&task, worker_id).await;
        }
        let actor = format!("worker:{worker_id}");
        if self.tx.store().backend == Backend::Sqlite {
            // The task was read in this transaction, which holds SQLite's write lock: the move
            // cannot find it changed, so it may commit in the same round trip.
            let plan = MovePlan::new(&task, &mv);
            return self
                .tx
                .apply_move_batched(&task, &mv, &plan, &actor, true)
                .await;
        }
        self.apply_move(&task, &mv, &actor).await
    }

    /// Why a worker that does not hold `task` may not report on it: the task is another
    /// worker's now (`403 not_lease_holder`); or nobody's, and the caller's own lease of it ended
    /// (given back, expired, the task moved on) — `409 lease_not_held`, as `ack`, `nack` and
    /// `renew` answer for that lease; or it never held one (`403 not_lease_holder`).
    async fn not_holding(
        &mut self,
        worker_id: &str,
        task: &TaskRow,
    ) -> Result<StoreError, StoreError> {
        let another = || StoreError::forbidden("not_lease_holder", "this task is not held by you");
        if task.worker_id.is_some() {
            return Ok(another());
        }
        let held = checked_in_tx!(self.tx.conn(), leases::held_before(task.seq, worker_id))?;
        Ok(if held { lease_ended() } else { another() })
    }

    /// An admin forces a status (`ready`, `blocked`, `merged`, …). Leases are never forced.
    pub async fn admin_status(
        &mut self,
        task_id: &str,
        to: TaskStatus,
        reason: Option<String>,
        actor: &str,
    ) -> Result<TaskRow, StoreError> {
        if !rules::admin_may_force(to) {
            return Err(StoreError::invalid(
                "invalid_status",
                format!("`{to}` cannot be forced: leases are only granted by claims"),
            ));
        }
        let task = self.lock_task(task_id).await?;
        if task.status == to {
            return Ok(task);
        }
        let mv = Move {
            reason,
            ..Move::to(to, LeaseEnd::Admin)
        };
        self.apply_move(&task, &mv, actor).await
    }

    /// Moves a task, keeping every counter (repo budget, worker load, area lock, lease record) in
    /// step, and logs it. The only place a task leaves `leased`/`in_progress`/`pr_opened`.
    pub async fn apply_move(
        &mut self,
        task: &TaskRow,
        mv: &Move,
        actor: &str,
    ) -> Result<TaskRow, StoreError> {
        debug_assert!(!mv.to.is_active(), "leases are only granted by claims");
        let plan = MovePlan::new(task, mv);
        if self.tx.store().backend == Backend::Sqlite {
            return self
                .tx
                .apply_move_batched(task, mv, &plan, actor, false)
                .await;
        }
        let from = task.status;
        let to = mv.to;
        let leaving_lease = plan.leaving_lease;
        let artifact = plan.artifact.clone();
        // Lock order (PostgreSQL): the task row (callers lock it), the worker, the task's area lock
        // entry, and the repository last. A claim takes the worker, its task and area, and the
        // repository last too, so no two transactions wait on each other in a cycle: whoever
        // holds a repository row only appends its events and commits. Taking the repository last
        // also keeps its row (the one every claim and PR of the repository writes) locked for
        // the shortest time. If the task changed under us, the error rolls everything back.
        if leaving_lease && let Some(holder) = &task.worker_id {
            statements::unload_worker()
                .query()
                .bind(task_lease_points(task))
                .bind(holder)
                .execute(self.tx.conn())
                .await?;
            statements::end_lease_by_id()
                .query()
                .bind(self.tx.now)
                .bind(mv.lease_end.as_str())
                .bind(task.lease_id.clone())
                .execute(self.tx.conn())
                .await?;
        }
        let changed = statements::move_task_by_seq(plan.holder)
            .query()
            .bind(to.as_str())
            .bind(plan.status_reason.clone())
            .bind(artifact.as_ref().map(Value::to_string))
            .bind(i64::from(mv.bump_attempts))
            .bind(i64::from(to.holds_area()))
            .bind(self.tx.now)
            .bind(task.seq)
            .bind(from.as_str())
            .bind(i64::from(plan.awaits_maintainer))
            .bind(plan.recorded_worker.clone())
            .execute(self.tx.conn())
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(concurrent_change());
        }
        self.tx.event(
            NewEvent::new(plan.kind, actor)
                .repo(&task.repo)
                .task(&task.id)
                .worker(plan.recorded_worker.as_deref())
                .data(plan.data.clone()),
        );
        let moved = self.tx.tasks().get(&task.id).await?;
        let (active_delta, pr_delta) = (plan.active_delta, plan.pr_delta);
        if active_delta != 0 || pr_delta != 0 {
            statements::count_budget()
                .query()
                .bind(active_delta)
                .bind(pr_delta)
                .bind(task.repo_id)
                .execute(self.tx.conn())
                .await?;
        }
        Ok(moved)
    }

    /// Ends an expired lease: the task is requeued with `attempts + 1`, or blocked once it has
    /// failed `max_attempts` times.
    pub async fn expire(&mut self, task: &TaskRow) -> Result<TaskRow, StoreError> {
        let attempts = task.attempts + 1;
        let to = rules::after_expiry(attempts, self.tx.store().timing.max_attempts);
        let mv = Move {
            bump_attempts: true,
            reason: (to == TaskStatus::Blocked).then(|| {
                format!(
                    "leases expired {attempts} times without progress; a maintainer must unblock it"
                )
            }),
            ..Move::to(to, LeaseEnd::Expired)
        };
        self.apply_move(task, &mv, "system").await
    }
}

fn lease_ended() -> StoreError {
    StoreError::conflict(
        "lease_not_held",
        "this lease has ended and is no longer held",
    )
}
