//! What a task change writes to the GitHub outbox, in its own transaction: the status comment
//! of every task it names, the end of a comment claim (with a comment when it expired), and one
//! reply telling proposers how their proposals ended. It is the one writer of status-comment
//! requests: each task a transaction names (by its events, by [`WriteTx::show_again`], or as a
//! ready task that starts or stops waiting on the paths of one that moved) gets one request,
//! whichever path made the change (a worker, a comment, the lease sweep, GitHub).
//!
//! The store decides what is written; the GitHub App gives only the wording of the comments
//! ([`OutboxTexts`]), and turns it on with [`Store::write_github_outbox`]. It runs as a step of
//! the commit ([`CommitStep`]) after the transaction's events are appended.
//!
//! [`WriteTx::show_again`]: crate::WriteTx::show_again

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::engine::tx_conn::TxConnection;
use futures_util::future::BoxFuture;

use crate::domain::Event;
use crate::engine::write_tx::CommitStep;
use crate::github::claims::{claim_of_task, delete_claim};
use crate::github::issues::task_targets;
use crate::github::outbox::{OutboxTarget, enqueue_comment, enqueue_status};
use crate::now_ms;
use crate::paths::{holds_paths, ready_tasks_sharing_paths};
use crate::proposals::{EndedProposal, ended_proposals};
use crate::{Store, StoreError};

/// The wording of the comments a change writes, which the GitHub App owns.
#[derive(Clone, Copy)]
pub struct OutboxTexts {
    /// A comment claim of `login` expired after its TTL of so many days.
    pub claim_expired: fn(login: &str, ttl_days: u32) -> String,
    /// Proposals of one issue ended; `None` when there is nothing to say.
    pub proposals_ended: fn(ends: &[EndedProposal]) -> Option<String>,
}

/// The outbox's commit step: how long a status change waits, and the texts.
struct OutboxOnCommit {
    /// How long a status change waits before it is written (the changes within it make one
    /// edit; a pending request keeps its time when a later change joins it).
    status_window_ms: i64,
    texts: OutboxTexts,
}

impl Store {
    /// Every task change of this store writes its GitHub outbox rows in its own transaction from
    /// now on (see the module's text); a status change waits `status_window_ms` before it is
    /// written. The GitHub App calls this once, when it starts on this store.
    pub fn write_github_outbox(&self, status_window_ms: i64, texts: OutboxTexts) {
        self.add_commit_step(Arc::new(OutboxOnCommit {
            status_window_ms,
            texts,
        }));
    }
}

/// Where an outbox row of the issue `number` of `repo` goes.
fn target(installation_id: i64, repo: &str, issue_number: i64) -> OutboxTarget<'_> {
    OutboxTarget {
        installation_id,
        repo,
        issue_number,
    }
}

impl CommitStep for OutboxOnCommit {
    fn before_commit<'a>(
        &'a self,
        conn: &'a mut TxConnection,
        events: &'a [Event],
        shown: &'a [String],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let now = now_ms();
            let task_events: Vec<(&Event, &str)> = events
                .iter()
                .filter(|e| !e.kind.starts_with("worker."))
                .filter_map(|e| e.task_id.as_deref().map(|task_id| (e, task_id)))
                .collect();
            let ids: Vec<&str> = task_events.iter().map(|&(_, id)| id).collect();
            let targets = task_targets(conn, &ids).await?;
            for (event, task_id) in &task_events {
                let Some((repo, number, installation)) = targets.get(*task_id) else {
                    continue;
                };
                if let Some(claim) = claim_of_task(conn, task_id).await?
                    && ends_lease(event, &claim.lease_id)
                {
                    if event.kind == "lease.expired" {
                        let to = target(*installation, repo, *number);
                        let days = ttl_days(claim.ttl_ms);
                        let body = (self.texts.claim_expired)(&claim.login, days);
                        enqueue_comment(conn, now, &to, Some(task_id), &body).await?;
                    }
                    delete_claim(conn, task_id).await?;
                }
            }
            self.tell_proposal_ends(conn, now, &task_events, &targets)
                .await?;
            // Ready tasks that start or stop waiting on the paths of a task that moved: their
            // status comments say so, whoever moved it.
            let waiters = path_waiters(conn, &task_events).await?;
            let mut to_show: Vec<&str> = Vec::new();
            let named = ids.into_iter().chain(shown.iter().map(String::as_str));
            for id in named.chain(waiters.iter().map(String::as_str)) {
                if !to_show.contains(&id) {
                    to_show.push(id);
                }
            }
            let shown_targets = task_targets(conn, &to_show).await?;
            for id in to_show {
                if let Some((repo, number, installation)) = shown_targets.get(id) {
                    let to = target(*installation, repo, *number);
                    enqueue_status(conn, now, &to, id, self.status_window_ms).await?;
                }
            }
            Ok(())
        })
    }
}

impl OutboxOnCommit {
    /// Tells proposers how their proposals ended (approved, not chosen, declined, expired),
    /// once: one reply per issue naming everyone whose proposal the transaction ended, whichever
    /// path ended it (a comment, the API, the sweep). A withdrawal is the proposer's own doing.
    async fn tell_proposal_ends(
        &self,
        conn: &mut TxConnection,
        now: i64,
        events: &[(&Event, &str)],
        targets: &HashMap<String, (String, i64, i64)>,
    ) -> Result<(), StoreError> {
        let mut by_task: Vec<(&str, Vec<&str>)> = Vec::new();
        for &(event, task_id) in events {
            let ends = matches!(
                event.kind.as_str(),
                "proposal.approved"
                    | "proposal.not_chosen"
                    | "proposal.declined"
                    | "proposal.expired"
            );
            let Some(id) = event.data.get("proposal_id").and_then(|v| v.as_str()) else {
                continue;
            };
            if !ends {
                continue;
            }
            match by_task.iter_mut().find(|(t, _)| *t == task_id) {
                Some((_, ids)) => ids.push(id),
                None => by_task.push((task_id, vec![id])),
            }
        }
        for (task_id, ids) in by_task {
            let Some((repo, number, installation)) = targets.get(task_id) else {
                continue;
            };
            let ended = ended_proposals(conn, &ids).await?;
            if let Some(body) = (self.texts.proposals_ended)(&ended) {
                let to = target(*installation, repo, *number);
                enqueue_comment(conn, now, &to, Some(task_id), &body).await?;
            }
        }
        Ok(())
    }
}

/// The ready tasks whose paths overlap those of a task that `events` move into or out of flight.
async fn path_waiters(
    conn: &mut TxConnection,
    events: &[(&Event, &str)],
) -> Result<Vec<String>, StoreError> {
    let status = |e: &Event, key: &str| e.data.get(key).and_then(|v| v.as_str()).map(holds_paths);
    let mut out: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for &(event, task_id) in events {
        let Some(to) = status(event, "status") else {
            continue;
        };
        // A claim's event names no `from`: the task was ready.
        let from = status(event, "from").unwrap_or(false);
        if from != to && seen.insert(task_id) {
            for id in ready_tasks_sharing_paths(conn, task_id).await? {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
    }
    Ok(out)
}

/// Whether `event` ends lease `lease_id` (the task left `leased`/`in_progress`).
fn ends_lease(event: &Event, lease_id: &str) -> bool {
    let same_lease = event.data.get("lease_id").and_then(|v| v.as_str()) == Some(lease_id);
    let from_active = matches!(
        event.data.get("from").and_then(|v| v.as_str()),
        Some("leased" | "in_progress")
    );
    let to_active = matches!(
        event.data.get("status").and_then(|v| v.as_str()),
        Some("leased" | "in_progress")
    );
    same_lease && from_active && !to_active
}

/// A TTL in whole days for the texts (at least one).
pub fn ttl_days(ttl_ms: i64) -> u32 {
    let day = 86_400_000;
    u32::try_from(((ttl_ms + day - 1) / day).max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_days_round_up() {
        assert_eq!(ttl_days(7 * 86_400_000), 7);
        assert_eq!(ttl_days(1), 1);
        assert_eq!(ttl_days(86_400_001), 2);
    }

    #[test]
    fn lease_ends_are_recognised() {
        let event = |kind: &str, data: serde_json::Value| Event {
            id: 1,
            kind: kind.into(),
            at: String::new(),
            repo: None,
            task_id: Some("t".into()),
            worker_id: None,
            actor: "system".into(),
            data,
        };
        let expired = event(
            "lease.expired",
            serde_json::json!({"from": "in_progress", "status": "ready", "lease_id": "l1"}),
        );
        assert!(ends_lease(&expired, "l1"));
        assert!(!ends_lease(&expired, "l2"));
        let acked = event(
            "task.status",
            serde_json::json!({"from": "leased", "status": "in_progress", "lease_id": "l1"}),
        );
        assert!(!ends_lease(&acked, "l1"));
    }
}
