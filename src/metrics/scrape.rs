//! The pool at scrape time: its figures read from the database and set as gauges of one scrape,
//! followed by this process's own series ([`render`]).

use std::collections::HashMap;

use metrics::{counter, describe_gauge, gauge};
use metrics_exporter_prometheus::PrometheusBuilder;

use super::names::*;
use super::{PROCESS, process, record, record_rate_left, repo_counters_at_zero};
use crate::domain::outcomes::{OUTCOME_DAYS, RepoOutcomes};
use crate::store::gauges::PoolFigures;
use crate::store::{Store, StoreError};

/// Every task status, so a repository shows all of them (zeros included).
const STATUSES: [&str; 7] = [
    "ready",
    "leased",
    "in_progress",
    "pr_opened",
    "merged",
    "blocked",
    "cancelled",
];

/// Turns the pool's figures into gauges of a scrape.
struct PoolSnapshot(PoolFigures);

impl std::ops::Deref for PoolSnapshot {
    type Target = PoolFigures;
    fn deref(&self) -> &PoolFigures {
        &self.0
    }
}

impl PoolSnapshot {
    /// Sets the gauges in the current (scrape-local) recorder.
    fn record(&self) {
        describe_gauge!(TASKS, "Tasks by repository and status.");
        describe_gauge!(
            REPO_REVIEW_BUDGET,
            "Review budget (max_open_prs) of a repository."
        );
        describe_gauge!(
            REPO_OPEN_PRS,
            "Open pull requests counted against a repository's budget."
        );
        describe_gauge!(
            REPO_ACTIVE_LEASES,
            "Active leases counted against a repository's budget."
        );
        describe_gauge!(
            REPO_THROTTLED,
            "1 while a repository's review budget is full."
        );
        describe_gauge!(WORKERS_REGISTERED, "Registered workers.");
        describe_gauge!(
            WORKERS_ONLINE,
            "Workers online (last contact within the heartbeat TTL)."
        );
        describe_gauge!(
            CAPACITY_POINTS_ONLINE,
            "Capacity points of the online workers."
        );
        describe_gauge!(ACTIVE_POINTS, "Points held by active leases.");
        describe_gauge!(
            REQUEUE_RATIO_24H,
            "Share of the leases granted in the last 24 hours that expired or were given back."
        );
        for r in &self.repos {
            let repo = r.name.clone();
            gauge!(REPO_REVIEW_BUDGET, "repo" => repo.clone()).set(r.max_open_prs as f64);
            gauge!(REPO_OPEN_PRS, "repo" => repo.clone()).set(r.open_prs as f64);
            gauge!(REPO_ACTIVE_LEASES, "repo" => repo.clone()).set(r.active_leases as f64);
            gauge!(REPO_THROTTLED, "repo" => repo.clone()).set(if r.throttled { 1.0 } else { 0.0 });
            for status in STATUSES {
                let n = self
                    .tasks
                    .iter()
                    .find(|(name, st, _)| *name == r.name && st == status)
                    .map_or(0, |t| t.2);
                gauge!(TASKS, "repo" => repo.clone(), "status" => status).set(n as f64);
            }
        }
        gauge!(WORKERS_REGISTERED).set(self.workers as f64);
        gauge!(WORKERS_ONLINE).set(self.online as f64);
        gauge!(CAPACITY_POINTS_ONLINE).set(self.capacity_online as f64);
        gauge!(ACTIVE_POINTS).set(self.active_points as f64);
        let ratio = if self.leases_24h > 0 {
            self.requeued_24h as f64 / self.leases_24h as f64
        } else {
            0.0
        };
        gauge!(REQUEUE_RATIO_24H).set(ratio);
    }
}

/// Sets each repository's outcome gauges in the current (scrape-local) recorder; a figure that
/// is null (nothing decided, nothing merged) is left out rather than shown as 0.
fn record_outcomes(outcomes: &HashMap<String, RepoOutcomes>) {
    describe_gauge!(
        REPO_ACCEPTANCE_RATIO,
        "Merged / (merged + closed unmerged) pull requests of a repository over the last 30 days."
    );
    describe_gauge!(
        REPO_LEAD_TIME,
        "Median time from first claim to merge of a repository's tasks merged in the last 30 days."
    );
    for (repo, o) in outcomes {
        if let Some(rate) = o.acceptance_rate {
            gauge!(REPO_ACCEPTANCE_RATIO, "repo" => repo.clone()).set(rate);
        }
        if let Some(seconds) = o.lead_time_seconds {
            gauge!(REPO_LEAD_TIME, "repo" => repo.clone()).set(seconds);
        }
    }
}

/// Sets the outbox backlog of the installations with the most, and of the others together.
fn record_backlog((top, others): &(Vec<(i64, i64)>, i64)) {
    describe_gauge!(
        OUTBOX_BACKLOG_BY_INSTALLATION,
        "GitHub writes waiting, for the installations with the most (the rest as other)."
    );
    for (installation, n) in top {
        gauge!(OUTBOX_BACKLOG_BY_INSTALLATION, "installation" => installation.to_string())
            .set(*n as f64);
    }
    gauge!(OUTBOX_BACKLOG_BY_INSTALLATION, "installation" => "other").set(*others as f64);
}

/// The whole scrape: the pool read now, then this process's counters and histograms.
pub async fn render(store: &Store) -> Result<String, StoreError> {
    let snapshot = PoolSnapshot(store.gauges().pool().await?);
    let since = crate::store::now_ms() - OUTCOME_DAYS * 86_400_000;
    let outcomes = store.outcomes().of_repo(since, false).await?;
    let backlog = store
        .gauges()
        .outbox_backlog_by_installation(BACKLOG_INSTALLATIONS)
        .await?;
    let scrape = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&scrape, || {
        snapshot.record();
        record_outcomes(&outcomes);
        record_backlog(&backlog);
        record_rate_left();
        counter!(STORE_COMMITS).absolute(store.commits());
    });
    let mut text = scrape.handle().render();
    record(|| {
        for r in &snapshot.repos {
            repo_counters_at_zero(&r.name);
        }
    });
    let process = PROCESS.handle();
    process.run_upkeep();
    text.push_str(&process.render());
    text.push_str(&process::render());
    Ok(text)
}
