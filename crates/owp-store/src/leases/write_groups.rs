//! SQLite: the hot write paths of workers (claim, ack, status move) run in groups.
//!
//! SQLite has one writer, and every statement is a round trip to the thread of its connection;
//! under load the hand-offs between threads, not the statements, are most of a transaction's
//! time. So requests that arrive while a transaction runs wait in a queue, and the next
//! transaction takes them all (up to [`MAX_GROUP`]): their statements travel in a few batches
//! ([`super::sqlite_batch`]), in the order status moves, acks, claims, and commit once. Within the
//! group the operations apply one after the other exactly as if each had its own transaction:
//! every statement sees the rows as the earlier ones left them, so the scheduling rules hold the
//! same way (a claim later in the group sees the budget the earlier ones used).
//!
//! An operation that is not on its plain path (an unknown task, an expired lease, a worker not
//! seen for a while, any error) writes nothing in the group and runs on its own right after the
//! group commits, through the general code. If anything fails half-way, the whole group rolls
//! back and every operation runs on its own. A lone request runs on its own at once.
//!
//! PostgreSQL has no single writer: there every operation runs on its own, on its plain path as
//! one statement ([`super::postgres_statement`]), except claims that arrive together, which one
//! statement takes ([`super::postgres_batches`]).

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::MovePlan;
use super::sqlite_batch::{Claimed, Part, read_part, seen_part};
use super::worker_move;
use crate::claim_rules::Pick;
use crate::columns::Outcome;
use crate::domain::{Lease, TaskStatus};
use crate::engine::sqlite_writer::WriterThread;
use crate::presence::online_event;
use crate::rows::{TaskRow, WorkerRow};
use crate::{Store, StoreError, WriteTx};

/// The most operations one group takes.
pub(super) const MAX_GROUP: usize = 64;
/// The most operations of one kind in one batch (each batch's text is a cached statement).
const CHUNK: usize = 8;

/// A worker's status update.
pub struct StatusRequest {
    pub task_id: String,
    pub to: TaskStatus,
    pub artifact: Option<Value>,
    pub note: Option<String>,
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// An operation waiting for its group.
pub(super) enum Job {
    Claim(WorkerRow, Reply<(Option<Lease>, i64)>),
    /// An operation of the worker on a task it holds.
    Task(WorkerRow, TaskOp, Reply<TaskRow>),
}

pub(super) enum TaskOp {
    /// `ack` of this lease.
    Ack(String),
    Status(StatusRequest),
}

/// SQLite: the queue of the write groups, whose loop runs on the writer thread, and what they
/// have done so far.
pub(crate) struct WriteGroups {
    jobs: mpsc::UnboundedSender<(Store, Job)>,
    /// Operations committed in groups of several so far.
    grouped: std::sync::atomic::AtomicU64,
    /// Groups committed on the direct connection so far.
    direct_groups: std::sync::atomic::AtomicU64,
}

impl WriteGroups {
    /// Starts the loop that takes the queued operations in groups, on `writer`'s thread.
    pub(crate) fn start(writer: &WriterThread) -> Arc<WriteGroups> {
        let (jobs, queue) = mpsc::unbounded_channel();
        writer.spawn(group_loop(queue));
        Arc::new(WriteGroups {
            jobs,
            grouped: Default::default(),
            direct_groups: Default::default(),
        })
    }
}

/// Takes the queued operations in groups until the store is gone. Runs on the writer thread.
async fn group_loop(mut queue: mpsc::UnboundedReceiver<(Store, Job)>) {
    while let Some((store, first)) = queue.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok((_, job)) => jobs.push(job),
                Err(_) => break,
            }
        }
        // A group of its own task: a panic drops its replies (their callers get an error) but
        // not this loop.
        let _ = tokio::spawn(run_group(store, jobs)).await;
    }
}

/// A worker's own claims, acknowledgements and status moves: SQLite's write groups on the
/// writer thread, PostgreSQL's statements taken together with other workers'
/// ([`Store::worker_ops`]). It is `Copy`, and its operations take it by value, so that a future
/// holds the store rather than the view: many can be gathered and awaited together.
#[derive(Clone, Copy)]
pub struct WorkerOps<'s> {
    pub(crate) store: &'s Store,
}

impl Store {
    /// The view of the store named by [`WorkerOps`].
    pub fn worker_ops(&self) -> WorkerOps<'_> {
        WorkerOps { store: self }
    }
}

impl WorkerOps<'_> {
    /// Claims a task for `worker` (see [`LeasesTx::claim`]); also returns the instant the worker
    /// was marked seen.
    /// A claim that found nothing is remembered until the pool changes
    /// ([`super::empty_claims`]): the next claim of the worker's person with the same shape (of
    /// any worker of theirs) meanwhile finds nothing at once.
    /// A lease an approval gave the worker and that it has not acknowledged is returned first
    /// ([`Proposals::approved_lease`]), before any other task is taken.
    ///
    /// [`LeasesTx::claim`]: crate::leases::transitions::LeasesTx::claim
    /// [`Proposals::approved_lease`]: crate::proposals::Proposals::approved_lease
    pub async fn claim(self, worker: &WorkerRow) -> Result<(Option<Lease>, i64), StoreError> {
        let start = crate::now_ms();
        if self.store.empty_claims.nothing_for(worker, start) {
            return Ok((None, start));
        }
        // A lease an approval gave the worker comes first (rule 11): the approval committed an
        // event, so no remembered empty claim hides it.
        if let Some(lease) = self.store.proposals().approved_lease(&worker.id).await? {
            self.store.empty_claims.forget(worker);
            return Ok((Some(lease), start));
        }
        let version = self.store.empty_claims.version();
        let id = worker.id.clone();
        let claimed = self
            .queued(|reply| Job::Claim(worker.clone(), reply))
            .await?;
        self.store.contact_committed(&id, claimed.1);
        match &claimed.0 {
            None => {
                self.store.empty_claims.remember(worker, version, claimed.1);
                if !self.store.empty_claims.pool_empty_at(version, claimed.1)
                    && !self.any_claimable_task().await?
                {
                    self.store.empty_claims.pool_was_empty(version, claimed.1);
                }
            }
            Some(_) => self.store.empty_claims.forget(worker),
        }
        Ok(claimed)
    }

    /// Whether any task is claimable by anyone: one probe of the claim statement's candidates
    /// ([`crate::claim_rules::candidates`]).
    async fn any_claimable_task(self) -> Result<bool, StoreError> {
        let (n,): (i64,) = crate::composed::leases::general::any_claimable(self.store.backend)
            .query_as()
            .fetch_one(&self.store.read)
            .await?;
        Ok(n > 0)
    }

    /// How many claims found nothing from memory, without the database (see
    /// [`super::empty_claims`]).
    pub fn answered_from_memory(&self) -> u64 {
        self.store.empty_claims.answered()
    }

    /// `ack` of `worker`'s lease (see [`LeasesTx::ack`]).
    ///
    /// [`LeasesTx::ack`]: crate::leases::transitions::LeasesTx::ack
    pub async fn ack(self, worker: &WorkerRow, lease_id: &str) -> Result<TaskRow, StoreError> {
        let op = TaskOp::Ack(lease_id.to_string());
        self.task_op_for(worker, op).await
    }

    /// A status update by the worker holding the task (see [`LeasesTx::worker_status`]).
    ///
    /// [`LeasesTx::worker_status`]: crate::leases::transitions::LeasesTx::worker_status
    pub async fn status(
        self,
        worker: &WorkerRow,
        request: StatusRequest,
    ) -> Result<TaskRow, StoreError> {
        self.task_op_for(worker, TaskOp::Status(request)).await
    }

    /// A worker's operation on a task it holds. It marks the worker seen unless it was lately,
    /// which the workers remembered by token learn once it committed.
    async fn task_op_for(self, worker: &WorkerRow, op: TaskOp) -> Result<TaskRow, StoreError> {
        let start = crate::now_ms();
        let marks_seen = !worker.seen_lately(start) && worker.last_seen_at <= Some(start);
        let id = worker.id.clone();
        let task = self
            .queued(|reply| Job::Task(worker.clone(), op, reply))
            .await?;
        if marks_seen {
            // The operation's own instant is this one or later.
            self.store.contact_committed(&id, start);
        }
        Ok(task)
    }

    /// How many claims, acks and status moves this store has committed in groups of several
    /// (SQLite; always 0 on PostgreSQL).
    pub fn grouped(&self) -> u64 {
        self.store
            .groups
            .as_ref()
            .map_or(0, |g| g.grouped.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// How many write groups this store has committed on the direct connection (SQLite
    /// without commit steps or change hooks; see [`crate::engine::sqlite_direct`]).
    pub fn direct_groups(&self) -> u64 {
        self.store.groups.as_ref().map_or(0, |g| {
            g.direct_groups.load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    async fn queued<T>(self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = job(reply);
        match self.store.groups.as_ref().map(|g| g.jobs.clone()) {
            Some(queue) => {
                if let Err(mpsc::error::SendError((_, job))) = queue.send((self.store.clone(), job))
                {
                    alone(self.store, job).await;
                }
            }
            None => alone(self.store, job).await,
        }
        answer
            .await
            .map_err(|_| StoreError::Config("the write transaction ended unexpectedly".into()))?
    }
}

async fn run_group(store: Store, jobs: Vec<Job>) {
    let later = if jobs.len() > 1 {
        together(&store, jobs).await
    } else {
        jobs
    };
    for job in later {
        alone(&store, job).await;
    }
}

/// One operation in a transaction of its own, through the general code; a transient failure
/// (SQLite busy, a PostgreSQL deadlock or serialization failure) runs it again.
async fn alone(store: &Store, job: Job) {
    match job {
        Job::Claim(worker, reply) => {
            let _ = reply.send(store.claim_alone(&worker).await);
        }
        Job::Task(worker, op, reply) => {
            if let Some(result) = store.task_op_single(&worker, &op).await {
                let _ = reply.send(result);
                return;
            }
            let result = store
                .write_batched(|mut tx| {
                    let (worker, op) = (&worker, &op);
                    async move {
                        let result = async {
                            tx.workers().mark_seen(worker).await?;
                            match op {
                                TaskOp::Ack(lease_id) => {
                                    tx.leases().ack(&worker.id, lease_id).await
                                }
                                TaskOp::Status(r) => {
                                    let (artifact, note) = (r.artifact.clone(), r.note.clone());
                                    tx.leases()
                                        .worker_status(&worker.id, &r.task_id, r.to, artifact, note)
                                        .await
                                }
                            }
                        }
                        .await;
                        (tx, result)
                    }
                })
                .await;
            let _ = reply.send(result);
        }
    }
}

/// What one operation of a group came to.
enum Done {
    Claim(Option<Lease>),
    Task(TaskRow),
    /// Not on its plain path: it wrote nothing and runs on its own after the group.
    Alone,
}

/// Runs `jobs` in one transaction and answers those that completed; returns the ones that must
/// run on their own (all of them if the group failed and rolled back).
async fn together(store: &Store, jobs: Vec<Job>) -> Vec<Job> {
    // A failed group is rare (a database error, not a refused request: those leave the group as
    // `Done::Alone`); each operation then runs alone and reports its own error, and the group's
    // is logged here.
    let failed = |stage: &str, e: StoreError, n: usize| {
        tracing::warn!(error = %e, operations = n, "write group failed at {stage}: each operation runs alone");
    };
    // On the direct connection where there is one (no thread hand-off per statement), else
    // through sqlx.
    let begun = match store.begin_direct().await {
        Ok(Some(tx)) => Ok(tx),
        Ok(None) => store.begin_batched().await,
        Err(e) => Err(e),
    };
    let mut tx = match begun {
        Ok(tx) => tx,
        Err(e) => {
            failed("begin", e, jobs.len());
            return jobs;
        }
    };
    let done = match steps(&mut tx, &jobs).await {
        Ok(done) => done,
        Err(e) => {
            failed("its statements", e, jobs.len());
            return jobs;
        }
    };
    let seen_at = tx.now;
    let direct = tx.is_direct();
    if let Err(e) = tx.commit().await {
        failed("commit", e, jobs.len());
        return jobs;
    }
    let together = done.iter().filter(|d| !matches!(d, Done::Alone)).count();
    if let Some(o) = store.observer() {
        o.write_group(together);
    }
    if let Some(groups) = &store.groups {
        groups
            .grouped
            .fetch_add(together as u64, std::sync::atomic::Ordering::Relaxed);
        if direct {
            groups
                .direct_groups
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let mut later = Vec::new();
    for (job, done) in jobs.into_iter().zip(done) {
        match (job, done) {
            (Job::Claim(_, reply), Done::Claim(lease)) => {
                let _ = reply.send(Ok((lease, seen_at)));
            }
            (Job::Task(_, _, reply), Done::Task(task)) => {
                let _ = reply.send(Ok(task));
            }
            (job, _) => later.push(job),
        }
    }
    later
}

/// The statements of a group, in batches; an `Err` rolls the whole group back.
async fn steps(tx: &mut WriteTx, jobs: &[Job]) -> Result<Vec<Done>, StoreError> {
    let mut done: Vec<Done> = jobs.iter().map(|_| Done::Alone).collect();
    let now = tx.now;
    let ttl = tx.store().timing.heartbeat_ttl_ms;

    // Workers not marked seen lately, and the tasks of the status moves, in one batch.
    let mut parts = Vec::new();
    for job in jobs {
        if let Job::Task(w, ..) = job
            && !w.seen_lately(now)
        {
            parts.push(seen_part(&w.id, now));
            if !w.online(now, ttl) {
                tx.event(online_event(&w.id));
            }
        }
    }
    let seen = parts.len();
    let reads: Vec<usize> = (0..jobs.len())
        .filter(|&i| matches!(jobs[i], Job::Task(_, TaskOp::Status(_), _)))
        .collect();
    for &i in &reads {
        if let Job::Task(_, TaskOp::Status(r), _) = &jobs[i] {
            parts.push(read_part(&r.task_id));
        }
    }
    let read_outs = run(tx, parts).await?.split_off(seen);

    // Status moves.
    let mut applies = Vec::new();
    for (&i, out) in reads.iter().zip(read_outs) {
        let Job::Task(worker, TaskOp::Status(r), _) = &jobs[i] else {
            continue;
        };
        let Ok((task, alive)) = tx.read_done(&worker.id, &r.task_id, out) else {
            continue;
        };
        if task.worker_id.as_deref() != Some(worker.id.as_str())
            || (task.status.is_active() && !alive)
        {
            continue;
        }
        let Ok(mv) = worker_move(&task, r.to, r.artifact.clone(), r.note.clone()) else {
            continue;
        };
        if mv.to == TaskStatus::InProgress {
            continue;
        }
        let plan = MovePlan::new(&task, &mv);
        applies.push((i, task, mv, plan, format!("worker:{}", worker.id)));
    }
    let parts = applies
        .iter()
        .map(|(_, task, mv, plan, actor)| tx.apply_part(task, mv, plan, actor))
        .collect();
    let outs = run(tx, parts).await?;
    for ((i, task, _, plan, actor), out) in applies.iter().zip(outs) {
        done[*i] = Done::Task(tx.apply_done(task, plan, actor, out)?);
    }

    // Acks.
    let acks: Vec<usize> = (0..jobs.len())
        .filter(|&i| matches!(jobs[i], Job::Task(_, TaskOp::Ack(_), _)))
        .collect();
    let mut parts = Vec::new();
    let mut ctxs = Vec::new();
    for &i in &acks {
        if let Job::Task(worker, TaskOp::Ack(lease_id), _) = &jobs[i] {
            let (part, ctx) = tx.ack_part(&worker.id, lease_id);
            parts.push(part);
            ctxs.push(ctx);
        }
    }
    let outs = run(tx, parts).await?;
    for ((&i, ctx), out) in acks.iter().zip(ctxs).zip(outs) {
        if let Some(task) = tx.ack_done(ctx, out)? {
            done[i] = Done::Task(task);
        }
    }

    // Claims, last: they see what the moves above released.
    let claims: Vec<usize> = (0..jobs.len())
        .filter(|&i| matches!(jobs[i], Job::Claim(..)))
        .collect();
    let mut parts = Vec::new();
    let mut ctxs = Vec::new();
    for &i in &claims {
        if let Job::Claim(worker, _) = &jobs[i] {
            let (part, ctx) = tx.claim_part(worker, Pick::First);
            parts.push(part);
            ctxs.push(ctx);
        }
    }
    let outs = run(tx, parts).await?;
    for ((&i, ctx), out) in claims.iter().zip(ctxs).zip(outs) {
        if let Claimed::Done(lease) = tx.claim_done(ctx, out)? {
            done[i] = Done::Claim(lease.map(|l| *l));
        }
    }
    Ok(done)
}

/// Runs `parts` in batches of 16, 8, 4, 2 or 1 parts (so that few distinct batch texts exist
/// to be prepared and cached), without committing.
async fn run(tx: &mut WriteTx, parts: Vec<Part>) -> Result<Vec<Vec<Outcome>>, StoreError> {
    let mut out = Vec::with_capacity(parts.len());
    let mut left = parts.len();
    let mut parts = parts.into_iter();
    while left > 0 {
        let n = chunk_len(left);
        out.extend(
            tx.run_parts(parts.by_ref().take(n).collect(), false)
                .await?,
        );
        left -= n;
    }
    Ok(out)
}

/// The largest power of two not above `left`, at most [`CHUNK`].
fn chunk_len(left: usize) -> usize {
    let pow = 1 << (usize::BITS - 1 - left.leading_zeros());
    pow.min(CHUNK)
}

#[cfg(test)]
mod tests {
    #[test]
    fn batches_come_in_powers_of_two() {
        use super::{CHUNK, chunk_len};
        assert_eq!(chunk_len(1), 1);
        assert_eq!(chunk_len(3), 2);
        assert_eq!(chunk_len(7), 4);
        for left in 1..200 {
            let n = chunk_len(left);
            assert!(
                n.is_power_of_two() && n <= left && n <= CHUNK,
                "{left} → {n}"
            );
            assert!(
                2 * n > left.min(CHUNK),
                "{left} → {n}: the largest such batch"
            );
        }
    }
}
