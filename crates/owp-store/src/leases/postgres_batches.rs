//! PostgreSQL: the operations of workers that arrive together are taken by one statement.
//!
//! Most of what a worker's statement costs the database is fixed per statement, not per
//! operation: the executor sets its plan up (every node and subplan of every rule, the task row
//! every answer carries), locks every table the plan names, fires and tears it down again, and
//! the commit flushes the log, whether the statement takes one row or many. So an operation on
//! its plain path that finds others of its kind already waiting joins them, and one statement
//! takes them all in the order they arrived: claims (the claim statement of
//! [`super::postgres_statement`], each worker picking from what the ones before it left) and
//! acks and status moves ([`super::postgres_task_ops`]). [`LEADERS`] statement of each kind runs
//! at a time in one process, taking up to [`MAX_BATCH`] operations; those that arrive while it
//! runs wait for the next. A lone operation runs at once, as a statement of one: the statement for
//! one and for many is the same text. (One statement of 64 beat two of 32 in `owp bench`: two
//! claim statements at once each walk past the tasks the other has locked, and each statement
//! has its fixed cost however many it takes.)
//!
//! What a statement did not settle — a task another transaction was changing, a repository with
//! a rule of its own settings on, a failed statement — the operation settles on its own
//! afterwards, with statements of its own, exactly as one that ran alone.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::write_groups::WorkerOps;
use crate::{Store, StoreError};

/// The most operations one statement takes.
pub(super) const MAX_BATCH: usize = 64;
/// The most statements of one kind that run at once in one process.
pub(super) const LEADERS: usize = 1;

/// An operation that statements take together.
pub(crate) trait Batched: Send + Sync + Sized + 'static {
    /// What the statement's text depends on: operations of one shape share a statement.
    type Shape: Copy + Eq + Send;
    /// What the statement answers each operation.
    type Answer: Send + 'static;

    /// The worker whose operation this is: a statement takes one operation per worker, so that
    /// each sees the worker as the one before it left it.
    fn worker(&self) -> &str;

    fn shape(&self) -> Self::Shape;

    /// One statement for `jobs` (one shape, one per worker) at `now`, answering each in order;
    /// an error writes nothing, and each operation then runs on its own.
    fn run<'a>(
        store: &'a Store,
        jobs: &'a [Self],
        now: i64,
    ) -> impl Future<Output = Result<Vec<Self::Answer>, StoreError>> + Send + 'a;
}

/// An operation's answer from its statement, with the instant the statement ran at; `None`
/// when the statement failed (nothing was written for it).
type Answer<J> = (Option<<J as Batched>::Answer>, i64);

type Waiting<J> = (J, oneshot::Sender<Answer<J>>);

/// The operations waiting for a statement, and the shape of the last statement taken.
struct Queue<J: Batched> {
    jobs: Vec<Waiting<J>>,
    last_shape: Option<J::Shape>,
}

/// The operations of one kind waiting to be taken together, and how many statements run.
pub(crate) struct Batches<J: Batched> {
    waiting: Mutex<Queue<J>>,
    leaders: AtomicUsize,
    /// Operations answered by statements of several so far.
    together: AtomicU64,
}

impl<J: Batched> Default for Batches<J> {
    fn default() -> Self {
        Batches {
            waiting: Mutex::new(Queue {
                jobs: Vec::new(),
                last_shape: None,
            }),
            leaders: AtomicUsize::new(0),
            together: AtomicU64::new(0),
        }
    }
}

impl<J: Batched> Batches<J> {
    /// The answer of the statement that takes `job` with the operations waiting beside it.
    pub(super) async fn take_with_others(self: &Arc<Self>, store: &Store, job: J) -> Answer<J> {
        let (reply, answer) = oneshot::channel();
        self.queue().jobs.push((job, reply));
        self.lead(store);
        // A statement whose task ended without answering (it cannot panic, but if it did) wrote
        // nothing for this operation: it runs on its own.
        answer.await.unwrap_or_else(|_| (None, crate::now_ms()))
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue<J>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a statement loop unless [`LEADERS`] run already (one of them takes the job).
    fn lead(self: &Arc<Self>, store: &Store) {
        if !self.enter() {
            return;
        }
        let (batches, store) = (self.clone(), store.clone());
        tokio::spawn(async move {
            loop {
                let batch = batches.take();
                if batch.is_empty() {
                    batches.leaders.fetch_sub(1, Ordering::SeqCst);
                    // A job queued between the take and the line above found every loop running
                    // and started none: take it unless another loop has started since.
                    if batches.queue().jobs.is_empty() || !batches.enter() {
                        return;
                    }
                    continue;
                }
                let n = batch.len() as u64;
                // A statement of its own task: a panic drops its replies (their operations run
                // on their own), not this loop.
                let answered = tokio::spawn(run(store.clone(), batch)).await;
                if n > 1 && matches!(answered, Ok(true)) {
                    batches.together.fetch_add(n, Ordering::Relaxed);
                }
            }
        });
    }

    /// Counts one more running statement loop, unless [`LEADERS`] run.
    fn enter(&self) -> bool {
        self.leaders
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < LEADERS).then_some(n + 1)
            })
            .is_ok()
    }

    /// The next batch: the operations waiting longest of one shape, one per worker (a second
    /// operation of a worker waits for the next batch), at most [`MAX_BATCH`]. The shape is that
    /// of the operation waiting longest, unless the last batch had it and one of another shape
    /// waits: then the longest-waiting of those. So shapes take turns, and a worker that sends a
    /// flood (each batch takes one of it) cannot hold the workers of other shapes back.
    fn take(&self) -> Vec<Waiting<J>> {
        let mut queue = self.queue();
        let Some(first) = queue.jobs.first().map(|(j, _)| j.shape()) else {
            return Vec::new();
        };
        let shape = if queue.last_shape == Some(first) {
            let mut shapes = queue.jobs.iter().map(|(j, _)| j.shape());
            shapes.find(|s| *s != first).unwrap_or(first)
        } else {
            first
        };
        queue.last_shape = Some(shape);
        let mut workers = HashSet::new();
        let (mut batch, mut rest) = (Vec::new(), Vec::new());
        for job in queue.jobs.drain(..) {
            if batch.len() < MAX_BATCH
                && job.0.shape() == shape
                && workers.insert(job.0.worker().to_string())
            {
                batch.push(job);
            } else {
                rest.push(job);
            }
        }
        queue.jobs = rest;
        batch
    }

    /// How many operations statements of several have answered so far.
    pub(crate) fn together(&self) -> u64 {
        self.together.load(Ordering::Relaxed)
    }
}

/// One statement for the operations of `batch`, answering each; whether the statement answered
/// them (rather than failing, which sends each operation to run alone).
async fn run<J: Batched>(store: Store, batch: Vec<Waiting<J>>) -> bool {
    let now = crate::now_ms();
    let (jobs, replies): (Vec<J>, Vec<_>) = batch.into_iter().unzip();
    match J::run(&store, &jobs, now).await {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send((Some(answer), now));
            }
            true
        }
        Err(e) => {
            // Nothing was written: each operation runs a statement of its own, which meets the
            // same failure if it lasts and answers it.
            tracing::debug!(error = %e, operations = jobs.len(), "a batch runs alone");
            for reply in replies {
                let _ = reply.send((None, now));
            }
            false
        }
    }
}

impl WorkerOps<'_> {
    /// How many claims statements of several claims have answered so far (PostgreSQL).
    pub fn claims_together(&self) -> u64 {
        self.store.claim_batches.together()
    }

    /// How many acks statements of several acks have answered so far (PostgreSQL).
    pub fn acks_together(&self) -> u64 {
        self.store.ack_batches.together()
    }

    /// How many status moves statements of several moves have answered so far (PostgreSQL).
    pub fn moves_together(&self) -> u64 {
        self.store.move_batches.together()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operation of a worker with a shape, which no statement runs.
    struct Job(String, u8);

    impl Batched for Job {
        type Shape = u8;
        type Answer = ();

        fn worker(&self) -> &str {
            &self.0
        }

        fn shape(&self) -> u8 {
            self.1
        }

        async fn run(_: &Store, _: &[Self], _: i64) -> Result<Vec<()>, StoreError> {
            Ok(Vec::new())
        }
    }

    fn waiting(batches: &Batches<Job>, id: &str, shape: u8) {
        let job = Job(id.to_string(), shape);
        batches.queue().jobs.push((job, oneshot::channel().0));
    }

    fn ids(batch: &[Waiting<Job>]) -> Vec<&str> {
        batch.iter().map(|(j, _)| j.worker()).collect()
    }

    #[test]
    fn a_flood_from_one_worker_holds_no_one_back() {
        let batches = Batches::<Job>::default();
        // A worker of one shape sends five operations at once; three of another shape follow.
        for _ in 0..5 {
            waiting(&batches, "flood", 1);
        }
        for id in ["a", "b", "c"] {
            waiting(&batches, id, 0);
        }
        waiting(&batches, "d", 1);
        // One operation per worker per batch, and shapes take turns.
        assert_eq!(ids(&batches.take()), ["flood", "d"]);
        assert_eq!(ids(&batches.take()), ["a", "b", "c"]);
        for _ in 0..4 {
            assert_eq!(ids(&batches.take()), ["flood"]);
        }
        assert!(batches.take().is_empty());
        // A lone shape runs batch after batch.
        waiting(&batches, "e", 0);
        waiting(&batches, "e", 0);
        assert_eq!(ids(&batches.take()), ["e"]);
        assert_eq!(ids(&batches.take()), ["e"]);
    }

    #[test]
    fn a_batch_takes_at_most_its_bound_in_arrival_order() {
        let batches = Batches::<Job>::default();
        let names: Vec<String> = (0..MAX_BATCH + 3).map(|i| format!("w{i}")).collect();
        for name in &names {
            waiting(&batches, name, 0);
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(ids(&batches.take()), names[..MAX_BATCH]);
        assert_eq!(ids(&batches.take()), names[MAX_BATCH..]);
    }
}
