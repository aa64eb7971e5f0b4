//! PostgreSQL: claims that arrive together are taken by one statement.
//!
//! Most of what a claim statement costs the database is fixed per statement, not per claim: the
//! executor sets its plan up (every node and subplan of every rule), locks every table the plan
//! names, and tears it down again, whether the scan then walks one candidate or many. So a claim
//! on the plain rules (`RuleSet::Plain`, the rules every pool has) that finds claims already
//! waiting joins them, and one statement ([`super::postgres_statement`]'s claim statement) takes
//! a task for each of them in the order they arrived, each from what the ones before it left.
//! Up to [`LEADERS`] statements run at once, each taking up to [`MAX_BATCH`] claims; a claim
//! that arrives while they run waits for the next one. A lone claim runs at once, as a
//! statement of one.
//!
//! What one statement of the batch did not settle — a task another transaction was changing,
//! a repository with a rule of its own settings on, a failed statement — the claim settles on its
//! own afterwards, with statements of its own (`Settling`), exactly as a claim that ran alone.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::claim_rules::{Pick, RuleSet, skill_shape};
use super::postgres_statement::{SingleClaim, claim_statement};
use crate::store::rows::WorkerRow;
use crate::store::{Store, StoreError};

/// The most claims one statement takes.
pub(super) const MAX_BATCH: usize = 32;
/// The most claim statements of batches that run at once in one process.
pub(super) const LEADERS: usize = 2;

/// A claim's answer from its batch, with the instant its statement ran at.
type Answer = (Result<SingleClaim, StoreError>, i64);

type Waiting = (WorkerRow, oneshot::Sender<Answer>);

/// The claims waiting for a statement, and the skill-rule shape of the last batch taken.
#[derive(Default)]
struct Queue {
    claims: Vec<Waiting>,
    last_shape: Option<(bool, bool)>,
}

/// The claims waiting for a statement, and how many statements run.
#[derive(Default)]
pub(crate) struct ClaimBatches {
    waiting: Mutex<Queue>,
    leaders: AtomicUsize,
    /// Claims answered by statements of several claims so far.
    together: AtomicU64,
}

impl ClaimBatches {
    /// The first answer of the claim statement for `worker`, taken with the claims waiting
    /// beside it.
    pub(super) async fn claim(self: &Arc<Self>, store: &Store, worker: &WorkerRow) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.queue().claims.push((worker.clone(), reply));
        self.lead(store);
        // A statement whose task ended without answering (it cannot panic, but if it did) wrote
        // nothing for this claim: it runs on its own.
        answer
            .await
            .unwrap_or_else(|_| (Ok(SingleClaim::Unbatched), crate::store::now_ms()))
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a statement loop unless [`LEADERS`] run already (one of them takes the claim).
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
                    // A claim queued between the take and the line above found every loop
                    // running and started none: take it unless another loop has started since.
                    if batches.queue().claims.is_empty() || !batches.enter() {
                        return;
                    }
                    continue;
                }
                let n = batch.len() as u64;
                // A statement of its own task: a panic drops its replies (their claims run on
                // their own), not this loop.
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

    /// The next batch: the claims waiting longest whose workers have one skill rule's shape, one
    /// claim per worker (a second claim of a worker waits for the next batch, so that each claim
    /// sees the worker's load as the one before left it), at most [`MAX_BATCH`]. The shape is
    /// that of the claim waiting longest, unless the last batch had it and a claim of another
    /// shape waits: then the longest-waiting of those. So shapes take turns, and a worker that
    /// sends a flood of claims (each batch takes one) cannot hold the workers of other shapes
    /// back.
    fn take(&self) -> Vec<Waiting> {
        let mut queue = self.queue();
        let Some(first) = queue.claims.first().map(|(w, _)| skill_shape(w)) else {
            return Vec::new();
        };
        let shape = if queue.last_shape == Some(first) {
            let mut shapes = queue.claims.iter().map(|(w, _)| skill_shape(w));
            shapes.find(|s| *s != first).unwrap_or(first)
        } else {
            first
        };
        queue.last_shape = Some(shape);
        let mut workers = HashSet::new();
        let (mut batch, mut rest) = (Vec::new(), Vec::new());
        for claim in queue.claims.drain(..) {
            if batch.len() < MAX_BATCH
                && skill_shape(&claim.0) == shape
                && workers.insert(claim.0.id.clone())
            {
                batch.push(claim);
            } else {
                rest.push(claim);
            }
        }
        queue.claims = rest;
        batch
    }
}

/// One statement for the claims of `batch`, answering each; whether the statement answered
/// them (rather than failing, which sends each claim to run alone).
async fn run(store: Store, batch: Vec<Waiting>) -> bool {
    let now = crate::store::now_ms();
    let workers: Vec<&WorkerRow> = batch.iter().map(|(w, _)| w).collect();
    let statement = claim_statement(
        &store.write,
        &store.timing,
        &workers,
        now,
        Pick::First,
        RuleSet::Plain,
        &[],
    );
    match statement.await {
        Ok(answers) => {
            for ((_, reply), answer) in batch.into_iter().zip(answers) {
                let _ = reply.send((Ok(answer), now));
            }
            true
        }
        Err(e) => {
            // Nothing was written: each claim runs a statement of its own, which meets the same
            // failure if it lasts and answers it.
            tracing::debug!(error = %e, claims = workers.len(), "a batch of claims runs alone");
            for (_, reply) in batch {
                let _ = reply.send((Ok(SingleClaim::Unbatched), now));
            }
            false
        }
    }
}

impl Store {
    /// How many claims statements of several claims have answered so far (PostgreSQL).
    pub fn claims_taken_together(&self) -> u64 {
        self.claim_batches.together.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(batches: &ClaimBatches, id: &str, specialist: bool) {
        let mut worker = WorkerRow::idle_for_tests(id, 0);
        worker.specialist = specialist;
        batches.queue().claims.push((worker, oneshot::channel().0));
    }

    fn ids(batch: &[Waiting]) -> Vec<&str> {
        batch.iter().map(|(w, _)| w.id.as_str()).collect()
    }

    #[test]
    fn a_flood_of_claims_from_one_worker_holds_no_one_back() {
        let batches = ClaimBatches::default();
        // A specialist sends five claims at once; three ordinary workers claim after it.
        for _ in 0..5 {
            waiting(&batches, "flood", true);
        }
        for id in ["a", "b", "c"] {
            waiting(&batches, id, false);
        }
        waiting(&batches, "d", true);
        // One claim per worker per batch, and shapes take turns.
        assert_eq!(ids(&batches.take()), ["flood", "d"]);
        assert_eq!(ids(&batches.take()), ["a", "b", "c"]);
        for _ in 0..4 {
            assert_eq!(ids(&batches.take()), ["flood"]);
        }
        assert!(batches.take().is_empty());
        // A lone shape runs batch after batch.
        waiting(&batches, "e", false);
        waiting(&batches, "e", false);
        assert_eq!(ids(&batches.take()), ["e"]);
        assert_eq!(ids(&batches.take()), ["e"]);
    }
}
