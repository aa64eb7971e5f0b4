//! The webhook inbox consumer: applies stored deliveries side by side, each in the order it
//! arrived among the deliveries it depends on, through the store's one door.
//!
//! A delivery waits only for the earlier deliveries of its lane: those about the same
//! repository, and those spanning its installation (`installation`, `installation_repositories`,
//! which wait for every earlier delivery of their installation and hold every later one). The
//! store's claim says so in one conditional statement, so every replica applies deliveries at
//! once and none runs ahead of its lane. Each process applies up to [`Github::appliers`] at a
//! time (`OWP_GITHUB_APPLIERS`). A slow or failing repository holds only itself: its delivery
//! waiting for a retry keeps the later ones of that repository waiting, and no other.
//!
//! A claimed delivery is read from GitHub off the database's writer, then its one transaction —
//! which also marks it applied — runs on the writer ([`apply::apply`]). When something it needs
//! from GitHub or the database is unavailable it is given back with a growing delay; after
//! [`MAX_ATTEMPTS`] it is marked failed and its lane goes on. A process that stops half-way
//! leaves its claim to run out ([`CLAIM_MS`]); the delivery is then applied by whoever comes next,
//! so a restart loses nothing, and since its effects never committed, nothing happens twice.

use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use crate::apply;
use crate::events::{self, Event};
use crate::service::Github;
use crate::store::StoreError;
use crate::store::github::inbox::InboxDelivery;
use crate::sync::ApplyError;
use crate::waits;

/// How long a claimed delivery is reserved for the process applying it.
pub const CLAIM_MS: i64 = 120_000;

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i64 = 10;

/// Deliveries one process applies at once when `OWP_GITHUB_APPLIERS` says nothing: enough that
/// the first deliveries of many repositories, each waiting on GitHub for its installation's
/// token, its settings file, vouch lists and labels (four or five round trips), do not hold back
/// the rest (measured in `docs/performance.md`, "Many installations").
pub const DEFAULT_APPLIERS: usize = 64;

/// The longest pause between polls when nothing wakes the consumer.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Applies deliveries until the process stops: up to [`Github::appliers`] at once, each claimed
/// as soon as there is room for it and nothing before it in its lane is pending: one claim
/// statement per delivery, as many as there is room for.
pub async fn run(github: Arc<Github>) {
    let room = Arc::new(tokio::sync::Semaphore::new(github.appliers.max(1)));
    loop {
        let woken = github.inbox_wake.notified();
        let waited = Arc::clone(&room).acquire_owned();
        let Ok(first) = waits::timed(waits::APPLIER_ROOM, waited).await else {
            return;
        };
        let mut appliers = vec![first];
        while let Ok(more) = Arc::clone(&room).try_acquire_owned() {
            appliers.push(more);
        }
        match waits::timed(waits::INBOX_CLAIM, claim(&github, appliers.len())).await {
            Ok(claimed) if !claimed.is_empty() => {
                for delivery in claimed {
                    let Some(applier) = appliers.pop() else { break };
                    let github = Arc::clone(&github);
                    tokio::spawn(async move {
                        let _applier = applier;
                        let _busy = github.busy();
                        if let Err(e) = apply_claimed(&github, &delivery).await {
                            tracing::warn!(error = %e, delivery = %delivery.delivery_id, "webhook inbox: cannot record how a delivery went; its claim runs out");
                        }
                        // The next delivery of its lane may go now.
                        github.inbox_wake.notify_one();
                    });
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "webhook inbox: cannot read the next delivery"),
        }
        drop(appliers);
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
        }
    }
}

/// Claims the next deliveries this process may apply, at most `room`.
async fn claim(github: &Github, room: usize) -> Result<Vec<InboxDelivery>, StoreError> {
    if github.stopping.load(std::sync::atomic::Ordering::SeqCst) {
        return Ok(Vec::new());
    }
    let _busy = github.busy();
    github.yield_to_webhooks().await;
    let now = crate::store::now_ms();
    github
        .store
        .inbox()
        .claim_many(&github.runner, now, now + CLAIM_MS, room)
        .await
}

/// Applies a claimed delivery, in a span naming it.
async fn apply_claimed(github: &Arc<Github>, delivery: &InboxDelivery) -> Result<(), StoreError> {
    let span = tracing::info_span!(
        "delivery",
        delivery = %delivery.delivery_id,
        event = %delivery.event,
        repo = tracing::field::Empty,
        number = tracing::field::Empty,
        actor = tracing::field::Empty,
    );
    handle(github, delivery).instrument(span).await
}

async fn handle(github: &Arc<Github>, delivery: &InboxDelivery) -> Result<(), StoreError> {
    let event = match events::parse_event(&delivery.event, delivery.body.as_bytes()) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(error = %e, "a delivery could not be read; it is set aside");
            return github
                .store
                .inbox()
                .retry(delivery.seq, None, &e.to_string())
                .await;
        }
    };
    record_span_fields(&event);
    let ignored = matches!(event, Event::Ignored { .. });
    // GitHub is read here; only the delivery's transaction runs on the writer (SQLite's writer
    // thread, as the worker protocol's do: on a runtime busy with requests, each of its
    // statements would wait for a turn there while the claims queue behind its write turn).
    let applied = apply::apply(github, delivery.seq, event).await;
    match applied {
        Ok(()) => {
            tracing::debug!("applied");
            let outcome = if ignored { "ignored" } else { "applied" };
            crate::observe::report(|o| o.webhook_delivery(&delivery.event, outcome));
            Ok(())
        }
        Err(e) => {
            let transient = match &e {
                ApplyError::Retry(_) => true,
                ApplyError::Store(s) => s.is_retryable() || matches!(s, StoreError::Db(_)),
            };
            let retry_at = (transient && delivery.attempts < MAX_ATTEMPTS)
                .then(|| crate::store::now_ms() + backoff_ms(delivery.attempts));
            if retry_at.is_none() {
                crate::observe::report(|o| o.webhook_delivery(&delivery.event, "error"));
            }
            match retry_at {
                Some(_) => {
                    tracing::warn!(error = %e, attempts = delivery.attempts, "applying a delivery failed; it will be tried again")
                }
                None => {
                    tracing::error!(error = %e, attempts = delivery.attempts, "applying a delivery failed for good; it is set aside")
                }
            }
            github
                .store
                .inbox()
                .retry(delivery.seq, retry_at, &e.to_string())
                .await
        }
    }
}

fn record_span_fields(event: &Event) {
    let span = tracing::Span::current();
    if let Some(repo) = event.repo() {
        span.record("repo", repo);
    }
    if let Some(sender) = event.sender() {
        span.record("actor", sender.login.as_str());
    }
    let number = match event {
        Event::Issue(e) => Some(e.issue.number),
        Event::IssueComment(e) => Some(e.issue.number),
        Event::PullRequest(e) => Some(e.pull_request.number),
        _ => None,
    };
    if let Some(n) = number {
        span.record("number", n);
    }
}

/// Delay before attempt `attempts + 1`: 1 s, 2 s, 4 s, … up to 5 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    (1000i64.saturating_mul(1 << exp.min(9))).min(300_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stops_growing() {
        assert_eq!(backoff_ms(1), 1000);
        assert_eq!(backoff_ms(2), 2000);
        assert_eq!(backoff_ms(4), 8000);
        assert_eq!(backoff_ms(30), 300_000);
    }
}
