//! PostgreSQL: claims that arrive together are taken in one transaction.
//!
//! Every claim statement ([`super::postgres_statement`]) that runs beside others walks past the
//! queue rows they hold locked and waits on its repository's row behind them, and every claim
//! that commits on its own flushes the log once. So claims that arrive while a group runs wait in
//! a queue, and the next group takes them all (up to [`MAX_GROUP`]): one transaction locks their
//! workers' rows in one statement (in id order, so that two groups, or a group and a worker's
//! own status move, never wait on each other in a cycle), runs the one claim statement for each
//! worker in turn, and commits once. Within the group each claim sees the rows as the earlier
//! ones left them (PostgreSQL's read committed reads a transaction's own writes), so every rule
//! holds exactly as for claims that commit one by one: a later claim sees the budget, areas and
//! paths the earlier ones took. A lone claim runs on its own at once, as the same statement.
//!
//! At most [`CONCURRENT_GROUPS`] groups run at once in a process (the others' claims queue): each
//! is one connection, and more would only queue on the same repository rows inside the database.
//! A group that fails (a race with another process that failed a statement, a deadlock) runs
//! again whole, as any transaction does; if it keeps failing, or fails otherwise, each of its
//! claims runs on its own and reports its own outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::claim_rules::Pick;
use crate::domain::Lease;
use crate::store::rows::WorkerRow;
use crate::store::{Store, StoreError};

/// The most claims one group takes.
const MAX_GROUP: usize = 32;
/// The most groups of one process that run at once.
const CONCURRENT_GROUPS: usize = 2;

type Claimed = Result<(Option<Lease>, i64), StoreError>;
type Job = (WorkerRow, oneshot::Sender<Claimed>);

/// The queue of PostgreSQL's claim groups and what they have done so far.
pub(crate) struct ClaimGroups {
    jobs: mpsc::UnboundedSender<(Store, Job)>,
    /// Claims committed in groups of several so far.
    grouped: AtomicU64,
}

impl ClaimGroups {
    /// Starts the loop that takes queued claims in groups.
    pub(crate) fn start() -> Arc<ClaimGroups> {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(group_loop(queue));
        Arc::new(ClaimGroups {
            jobs,
            grouped: AtomicU64::new(0),
        })
    }

    pub(crate) fn grouped(&self) -> u64 {
        self.grouped.load(Ordering::Relaxed)
    }
}

impl Store {
    /// A claim for `worker` in the next claim group (PostgreSQL), with the instant the worker was
    /// marked seen.
    pub(super) async fn claim_in_group(&self, worker: &WorkerRow) -> Claimed {
        let Some(groups) = self.claim_groups.as_ref() else {
            return self.claim_alone(worker).await;
        };
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError((_, (worker, _)))) =
            groups.jobs.send((self.clone(), (worker.clone(), reply)))
        {
            return self.claim_alone(&worker).await;
        }
        answer
            .await
            .map_err(|_| StoreError::Config("the claim group ended unexpectedly".into()))?
    }
}

/// Takes the queued claims in groups until the store is gone, at most [`CONCURRENT_GROUPS`] at
/// once: a group forms when one can run, from every claim waiting then.
async fn group_loop(mut queue: mpsc::UnboundedReceiver<(Store, Job)>) {
    let room = Arc::new(Semaphore::new(CONCURRENT_GROUPS));
    loop {
        let Ok(permit) = room.clone().acquire_owned().await else {
            return;
        };
        let Some((store, first)) = queue.recv().await else {
            return;
        };
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok((_, job)) => jobs.push(job),
                Err(_) => break,
            }
        }
        // A group of its own task: a panic drops its replies (their callers get an error) but
        // not this loop.
        tokio::spawn(async move {
            run_group(&store, jobs).await;
            drop(permit);
        });
    }
}

async fn run_group(store: &Store, jobs: Vec<Job>) {
    if jobs.len() == 1 {
        for (worker, reply) in jobs {
            let _ = reply.send(store.claim_alone(&worker).await);
        }
        return;
    }
    let workers: Vec<WorkerRow> = jobs.iter().map(|(w, _)| w.clone()).collect();
    let together = store
        .write_batched(|mut tx| {
            let workers = &workers;
            async move {
                let claimed = tx.claim_group(workers).await;
                let now = tx.now;
                (tx, claimed.map(|c| (c, now)))
            }
        })
        .await;
    match together {
        Ok((claimed, now)) => {
            if let Some(groups) = &store.claim_groups {
                groups
                    .grouped
                    .fetch_add(jobs.len() as u64, Ordering::Relaxed);
            }
            for ((_, reply), claimed) in jobs.into_iter().zip(claimed) {
                let _ = reply.send(claimed.map(|lease| (lease, now)));
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, claims = jobs.len(), "claim group failed; claims run alone");
            for (worker, reply) in jobs {
                let _ = reply.send(store.claim_alone(&worker).await);
            }
        }
    }
}

impl crate::store::WriteTx {
    /// The claims of `workers` in this transaction, one after the other, after locking their
    /// rows in id order. A refusal that wrote nothing (an unknown worker) is that claim's answer;
    /// any other failure ends the group (the transaction is over).
    async fn claim_group(
        &mut self,
        workers: &[WorkerRow],
    ) -> Result<Vec<Result<Option<Lease>, StoreError>>, StoreError> {
        let mut ids: Vec<&str> = workers.iter().map(|w| w.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "SELECT id FROM workers WHERE id IN \
               (SELECT jsonb_array_elements_text(CAST($1 AS jsonb))) ORDER BY id FOR UPDATE",
        )
        .bind(ids)
        .fetch_all(self.conn())
        .await?;
        let mut claimed = Vec::with_capacity(workers.len());
        for worker in workers {
            match self.claim_single(worker, Pick::First).await {
                Err(e @ StoreError::NotFound { .. }) => claimed.push(Err(e)),
                Err(e) => return Err(e),
                Ok(lease) => claimed.push(Ok(lease)),
            }
        }
        Ok(claimed)
    }
}
