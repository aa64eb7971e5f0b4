//! PostgreSQL: a worker's ack and status move on their plain paths, each as one statement.
//!
//! Acks that arrive together are taken by one statement, and so are status moves
//! ([`super::postgres_batches`]); the statement for one and for many is the same text. The ack
//! statement updates, for each lease, its task on the plain path (the caller's live lease,
//! leased), with the lease, the worker's presence and the audit event chained on it. The moves
//! read their tasks in one statement, each move is decided in Rust on its task as read
//! ([`super::worker_move`]), and one statement per shape of move writes them, each conditional
//! on its task being as it was read. Where a condition finds nothing, nothing was written for
//! that operation and the general code decides (an idempotent ack, an expired lease, an error).
//!
//! Lock order, as every lease move: the workers' rows in id order (those the statement marks
//! seen, and every mover's), the tasks, then the repositories in id order.

use std::future::Future;
use std::sync::Arc;

use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use crate::engine::pool::DbPool;
use crate::engine::tx_conn::{TxConnection, Typed};

use super::postgres_batches::{Batched, Batches};
use super::postgres_statement::{one_row_each, only, operations_query, returned_event};
use super::write_groups::TaskOp;
use super::{Move, MovePlan, ack_data, inconsistent, task_lease_points, worker_move};
use crate::composed::leases::{Holder, postgres as statements};
use crate::domain::{Event, TaskStatus};
use crate::presence::online_event;
use crate::rows::{TaskRow, WorkerRow};
use crate::{Backend, Store, StoreError, Timing};

impl Store {
    /// A worker's ack or status move on its plain path as one statement (PostgreSQL); `None`
    /// when the plain path does not apply and nothing was written: the caller then runs the
    /// general code. The statement commits on its own, or in a write transaction when a hook
    /// must join it or the worker comes online with this request (its `worker.online` event).
    pub(super) async fn task_op_single(
        &self,
        worker: &WorkerRow,
        op: &TaskOp,
    ) -> Option<Result<TaskRow, StoreError>> {
        if self.backend != Backend::Postgres {
            return None;
        }
        let now = crate::now_ms();
        let online = worker.online(now, self.timing.heartbeat_ttl_ms);
        let done = if self.autocommits() && online {
            let ran = match op {
                TaskOp::Ack(lease_id) => {
                    let ack = |at| AckJob::new(worker, lease_id, at);
                    together(self, &self.ack_batches, ack, now).await
                }
                TaskOp::Status(r) => {
                    let mv = |at| MoveJob::new(worker, r, at);
                    together(self, &self.move_batches, mv, now).await
                }
            };
            ran.map(|done| {
                done.map(|(task, event)| {
                    self.committed(&[event]);
                    task
                })
            })
        } else {
            self.write_batched(|mut tx| async move {
                let timing = tx.store().timing.clone();
                let now = tx.now;
                let ran = task_op_statement(tx.conn(), &timing, worker, op, now).await;
                let done = ran.map(|done| {
                    done.map(|(task, event)| {
                        if !online {
                            tx.event(online_event(&worker.id));
                        }
                        tx.appended(event);
                        task
                    })
                });
                (tx, done)
            })
            .await
        };
        match done {
            Ok(Some(task)) => Some(Ok(task)),
            Ok(None) => None,
            // A deadlock or serialization failure wrote nothing: the general code runs it again.
            Err(e) if e.is_conflict() => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// An ack on its plain path, as one row of the ack statement: the worker's lease, and whether
/// the statement marks the worker seen (it was not lately).
pub(crate) struct AckJob {
    worker: String,
    lease: String,
    touch: bool,
}

impl AckJob {
    fn new(worker: &WorkerRow, lease: &str, now: i64) -> AckJob {
        AckJob {
            worker: worker.id.clone(),
            lease: lease.to_string(),
            touch: !worker.seen_lately(now),
        }
    }
}

impl Batched for AckJob {
    /// Every ack statement has one text.
    type Shape = ();
    type Answer = Option<(TaskRow, Event)>;

    fn worker(&self) -> &str {
        &self.worker
    }

    fn shape(&self) {}

    fn run<'a>(
        store: &'a Store,
        jobs: &'a [Self],
        now: i64,
    ) -> impl Future<Output = Result<Vec<Self::Answer>, StoreError>> + Send + 'a {
        ack_statement(&store.write, &store.timing, jobs, now)
    }
}

/// The answer for the job `job(now)` of a statement that takes it with the operations of other
/// workers arriving meanwhile; if that statement failed (it wrote nothing for the job), of a
/// statement of its own.
async fn together<J: Batched<Answer = Option<(TaskRow, Event)>>>(
    store: &Store,
    batches: &Arc<Batches<J>>,
    job: impl Fn(i64) -> J,
    now: i64,
) -> Result<Option<(TaskRow, Event)>, StoreError> {
    match batches.take_with_others(store, job(now)).await {
        (Some(answer), _) => Ok(answer),
        (None, at) => J::run(store, &[job(at)], at).await.and_then(only),
    }
}

/// The ack statement for `acks` (one, or several arriving together; one per worker): each
/// lease, if it is the worker's, leased, not ended and not expired, is acknowledged with its
/// task and its audit event; a worker whose ack has `touch` is marked seen (its row locked
/// first, in id order: the lock order of every lease move). It answers for each ack in order;
/// `None` where the plain path does not apply (nothing was written for it).
async fn ack_statement<'c>(
    conn: impl Executor<'c, Database = Any>,
    timing: &Timing,
    acks: &[AckJob],
    now: i64,
) -> Result<Vec<Option<(TaskRow, Event)>>, StoreError> {
    let expires = now + timing.lease_ttl_ms;
    let sql = statements::ack();
    let operations = acks.iter().map(|a| {
        json!({
            "worker": a.worker,
            "lease": a.lease,
            "touch": i64::from(a.touch),
            "actor": actor(&a.worker),
            "data": ack_data(Some(&a.lease)).to_string(),
        })
    });
    let rows = operations_query(sql, now, operations)
        .bind(expires)
        .fetch_all(conn)
        .await?;
    one_row_each(rows, acks.len(), "ack")?
        .iter()
        .zip(acks)
        .map(|(row, a)| acked(row, a, now))
        .collect()
}

/// How the ack statement ended for `ack`, from its row of the answer.
fn acked(row: &AnyRow, ack: &AckJob, now: i64) -> Result<Option<(TaskRow, Event)>, StoreError> {
    if row.try_get::<Option<i64>, _>("seq")?.is_none() {
        return Ok(None);
    }
    if row.try_get::<i64, _>("stamped_n")? != 1 {
        return Err(inconsistent("ack"));
    }
    let task = TaskRow::decode(row)?;
    let data = ack_data(Some(&ack.lease));
    let (kind, holder) = ("task.status", Some(ack.worker.as_str()));
    let event = returned_event(row, now, &task, kind, &actor(&ack.worker), holder, data)?;
    Ok(Some((task, event)))
}

/// `op` of `worker` as one statement on `conn` (a move reads its task first), marking the worker
/// seen unless it was lately; `None` when the plain path does not apply (nothing was written).
async fn task_op_statement(
    conn: &mut TxConnection,
    timing: &Timing,
    worker: &WorkerRow,
    op: &TaskOp,
    now: i64,
) -> Result<Option<(TaskRow, Event)>, StoreError> {
    match op {
        TaskOp::Ack(lease_id) => {
            let ack = AckJob::new(worker, lease_id, now);
            ack_statement(conn, timing, &[ack], now)
                .await
                .and_then(only)
        }
        TaskOp::Status(r) => {
            let job = MoveJob::new(worker, r, now);
            moves(conn, &[job], now).await.and_then(only)
        }
    }
}

/// A status move by a worker of a task it holds, as one row of the move statement.
pub(crate) struct MoveJob {
    worker: String,
    task_id: String,
    to: TaskStatus,
    artifact: Option<Value>,
    note: Option<String>,
    /// The statement marks the worker seen (it was not lately).
    touch: bool,
}

impl MoveJob {
    fn new(worker: &WorkerRow, r: &super::write_groups::StatusRequest, now: i64) -> MoveJob {
        MoveJob {
            worker: worker.id.clone(),
            task_id: r.task_id.clone(),
            to: r.to,
            artifact: r.artifact.clone(),
            note: r.note.clone(),
            touch: !worker.seen_lately(now),
        }
    }
}

impl Batched for MoveJob {
    /// One read and one statement per shape of move ([`MoveShape`]) take every move.
    type Shape = ();
    type Answer = Option<(TaskRow, Event)>;

    fn worker(&self) -> &str {
        &self.worker
    }

    fn shape(&self) {}

    async fn run(store: &Store, jobs: &[Self], now: i64) -> Result<Vec<Self::Answer>, StoreError> {
        let DbPool::Postgres(pool) = &store.write else {
            return Err(StoreError::Config(
                "moves in batches are PostgreSQL's".into(),
            ));
        };
        let mut conn = pool.acquire().await?;
        moves(TxConnection::of(Typed::Postgres(&mut conn)), jobs, now).await
    }
}

/// A move on its plain path, planned on its task as read.
struct Planned<'a> {
    job: &'a MoveJob,
    task: TaskRow,
    mv: Move,
    plan: MovePlan,
}

/// What the text of a move statement depends on: whether the move ends the task's lease (the
/// task was leased or in progress: its lease must be alive, and it ends), and what the move
/// does to the task's holder.
#[derive(Clone, Copy, PartialEq, Eq)]
struct MoveShape {
    leaving: bool,
    holder: Holder,
}

impl Planned<'_> {
    fn shape(&self) -> MoveShape {
        MoveShape {
            leaving: self.plan.leaving_lease,
            holder: self.plan.holder,
        }
    }
}

/// `jobs` (one per worker) on `conn`: their tasks read in one statement, each move decided on
/// its task as read ([`plain_move`]), then one statement for the moves of each shape. It answers
/// for each job in order; `None` where the plain path does not apply or a later statement failed
/// (nothing was written for it). An error means nothing was written at all.
async fn moves(
    conn: &mut TxConnection,
    jobs: &[MoveJob],
    now: i64,
) -> Result<Vec<Option<(TaskRow, Event)>>, StoreError> {
    let ids: Vec<&str> = jobs.iter().map(|j| j.task_id.as_str()).collect();
    let tasks = read_tasks(&mut *conn, &ids).await?;
    let mut answers: Vec<Option<(TaskRow, Event)>> = jobs.iter().map(|_| None).collect();
    let mut planned: Vec<(usize, Planned<'_>)> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let Some(task) = tasks.get(&job.task_id).cloned() else {
            continue;
        };
        let (to, artifact, note) = (job.to, &job.artifact, &job.note);
        if let Some((mv, plan)) = plain_move(&task, &job.worker, to, artifact, note, now) {
            planned.push((
                i,
                Planned {
                    job,
                    task,
                    mv,
                    plan,
                },
            ));
        }
    }
    let mut wrote = false;
    while let Some(shape) = planned.first().map(|(_, p)| p.shape()) {
        let (these, rest): (Vec<_>, Vec<_>) =
            planned.into_iter().partition(|(_, p)| p.shape() == shape);
        planned = rest;
        match move_statement(&mut *conn, shape, &these, now).await {
            Ok(moved) => {
                wrote = true;
                for ((i, _), answer) in these.iter().zip(moved) {
                    answers[*i] = answer;
                }
            }
            // Moves of another shape have committed: those not written yet go to the general
            // code (their answers stay `None`), so that none is answered twice.
            Err(e) if wrote => {
                tracing::debug!(error = %e, "a statement of moves failed: they run on their own");
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(answers)
}

/// The tasks of `ids` as they are now, unlocked (a status move re-checks each in its
/// statement), by id.
async fn read_tasks<'c>(
    conn: impl Executor<'c, Database = Any>,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, TaskRow>, StoreError> {
    let rows = statements::tasks_by_id()
        .query()
        .bind(json!(ids).to_string())
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| TaskRow::decode(row).map(|t| (t.id.clone(), t)))
        .collect()
}

/// The move `worker_id` asks for on `task`, if it is on the plain path: the worker holds the
/// task, under a live lease while it is leased or in progress, and the move is one a worker may
/// make (other than an ack). `None` otherwise: the general code then answers, with its errors.
fn plain_move(
    task: &TaskRow,
    worker_id: &str,
    to: TaskStatus,
    artifact: &Option<Value>,
    note: &Option<String>,
    now: i64,
) -> Option<(Move, MovePlan)> {
    if task.worker_id.as_deref() != Some(worker_id) {
        return None;
    }
    if task.status.is_active() && task.deadline.is_none_or(|d| d <= now) {
        return None;
    }
    let mv = worker_move(task, to, artifact.clone(), note.clone()).ok()?;
    if mv.to == TaskStatus::InProgress {
        return None;
    }
    let plan = MovePlan::new(task, &mv);
    Some((mv, plan))
}

/// [`LeasesTx::apply_move`] for the moves of `planned` (one shape, one per worker) as one
/// statement: each on condition that its task is as it was read (status, holder, lease and last
/// update) and, while it is leased or in progress, that its lease is alive; a worker whose move
/// has `touch` is marked seen. It answers for each move in order; `None` where the condition
/// does not hold (nothing was written for it). Lock order: the workers' rows in id order, the
/// tasks, then the repositories in id order (the counters read `moved`, so they run after it).
///
/// [`LeasesTx::apply_move`]: crate::leases::transitions::LeasesTx::apply_move
async fn move_statement<'c>(
    conn: impl Executor<'c, Database = Any>,
    shape: MoveShape,
    planned: &[(usize, Planned<'_>)],
    now: i64,
) -> Result<Vec<Option<(TaskRow, Event)>>, StoreError> {
    let sql = statements::moves(shape.leaving, shape.holder);
    let operations = planned.iter().map(|(_, p)| {
        let (task, mv, plan) = (&p.task, &p.mv, &p.plan);
        json!({
            "seq": task.seq,
            "status": task.status.as_str(),
            "worker": p.job.worker,
            "lease": task.lease_id,
            "updated_at": task.updated_at,
            "touch": i64::from(p.job.touch),
            "dest": mv.to.as_str(),
            "reason": plan.status_reason,
            "artifact": plan.artifact.as_ref().map(Value::to_string),
            "bump": i64::from(mv.bump_attempts),
            "holds_area": i64::from(mv.to.holds_area()),
            "awaits": i64::from(plan.awaits_maintainer),
            "points": task_lease_points(task),
            "lease_end": mv.lease_end.as_str(),
            "active_delta": plan.active_delta,
            "pr_delta": plan.pr_delta,
            "repo_id": task.repo_id,
            "kind": plan.kind,
            "repo": task.repo,
            "task_id": task.id,
            "actor": actor(&p.job.worker),
            "data": plan.data.to_string(),
        })
    });
    let rows = operations_query(sql, now, operations)
        .fetch_all(conn)
        .await?;
    one_row_each(rows, planned.len(), "move")?
        .iter()
        .zip(planned)
        .map(|(row, (_, p))| {
            if row.try_get::<Option<i64>, _>("seq")?.is_none() {
                return Ok(None);
            }
            let moved = TaskRow::decode(row)?;
            let (kind, data) = (p.plan.kind, p.plan.data.clone());
            let holder = Some(p.job.worker.as_str());
            let event =
                returned_event(row, now, &p.task, kind, &actor(&p.job.worker), holder, data)?;
            Ok(Some((moved, event)))
        })
        .collect()
}

/// The audit event's actor of a worker's own move.
fn actor(worker: &str) -> String {
    format!("worker:{worker}")
}
