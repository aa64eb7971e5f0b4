//! Prometheus metrics, served at `GET /metrics` (text exposition format).
//!
//! Two sources make up one scrape:
//! - **The pool as it is now**, read from the database at scrape time (one `GROUP BY` for tasks,
//!   one row per repository, one aggregate over workers and one over the last day's leases). These
//!   are exact whichever process (or replica) made the changes.
//! - **What this process did since it started**: counters and histograms recorded as changes
//!   commit ([`record_committed`], called by the store's one door), claim timings, HTTP requests,
//!   and the GitHub App's figures (what it reports to [`GithubMetrics`], and
//!   [`webhook_delivery`] for the deliveries refused at the door). With several replicas, sum
//!   them across instances.
//!
//! Both are recorded through the `metrics` facade into recorders of `metrics-exporter-prometheus`
//! owned by this module (the process-wide recorder of the `metrics` crate is left alone).
//!
//! This module renders the scrape ([`render`]); `http::metrics` serves it, to those with the
//! credentials it asks for.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use crate::domain::Event;
use crate::store::Store;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use lead_times::{from_of, lead_time_queue, status_of};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use names::BACKLOG_INSTALLATIONS;

mod lead_times;
mod names;
mod process;
mod scrape;

pub use lead_times::lead_time;
pub use names::*;
pub use scrape::render;

const CLAIM_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// One minute to four weeks.
const LEAD_TIME_BUCKETS: &[f64] = &[
    60.0,
    300.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    14_400.0,
    28_800.0,
    86_400.0,
    172_800.0,
    345_600.0,
    604_800.0,
    1_209_600.0,
    2_419_200.0,
];

/// The recorder of this process's counters and histograms.
static PROCESS: LazyLock<PrometheusRecorder> = LazyLock::new(|| {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(CLAIM_DURATION.into()), CLAIM_BUCKETS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), HTTP_BUCKETS))
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full(LEAD_TIME.into()), LEAD_TIME_BUCKETS))
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(WAL_RESTART_HOLD.into()), CLAIM_BUCKETS)
        })
        .expect("bucket lists are not empty")
        .build_recorder();
    metrics::with_local_recorder(&recorder, || {
        describe_process_metrics();
        zero_at_start();
    });
    recorder
});

/// Every counter and gauge of this process whose labels are known in advance, at zero: a series
/// is there from the first scrape (so `absent()` alerts and `rate()` work before the first
/// event). Those labelled by repository are set at zero for each repository at every scrape.
fn zero_at_start() {
    for name in [
        LEAD_TIME_DROPPED,
        WRITE_GROUPS,
        WRITE_GROUP_OPERATIONS,
        CLAIM_RACES,
        HTTP_CONNECTIONS_REFUSED,
        GITHUB_SECONDARY_LIMITS,
        GITHUB_RECONCILE_DEFERRED,
    ] {
        counter!(name).increment(0);
    }
    for source in ["remembered", "read"] {
        counter!(WORKER_AUTH, "source" => source).increment(0);
    }
    for outcome in ["done", "busy"] {
        counter!(WAL_RESTARTS, "outcome" => outcome).increment(0);
    }
    for counted in ["true", "false"] {
        counter!(GITHUB_RECONCILE_REQUESTS, "counted" => counted).increment(0);
    }
    for class in GITHUB_CLASSES {
        counter!(GITHUB_REQUESTS, "class" => class).increment(0);
    }
    gauge!(HTTP_CONNECTIONS).set(0.0);
    gauge!(OUTBOX_BACKLOG).set(0.0);
}

/// The counters labelled by repository, each at zero for `repo` until its first event.
fn repo_counters_at_zero(repo: &str) {
    for name in [
        LEASES_GRANTED,
        LEASES_EXPIRED,
        LEASES_NACKED,
        PRS_OPENED,
        TASKS_MERGED,
    ] {
        counter!(name, "repo" => repo.to_string()).increment(0);
    }
}

/// The values of `class` of [`GITHUB_REQUESTS`].
const GITHUB_CLASSES: [&str; 5] = ["2xx", "3xx", "4xx", "5xx", "error"];

fn record<T>(f: impl FnOnce() -> T) -> T {
    metrics::with_local_recorder(&*PROCESS, f)
}

fn describe_process_metrics() {
    describe_gauge!(
        BUILD_INFO,
        "Always 1, labelled with this build's version (version): which replicas run which build."
    );
    gauge!(BUILD_INFO, "version" => crate::VERSION).set(1.0);
    describe_counter!(LEASES_GRANTED, "Leases granted.");
    describe_counter!(
        LEASES_EXPIRED,
        "Leases that expired; their tasks were requeued (or blocked)."
    );
    describe_counter!(LEASES_NACKED, "Leases given back by their worker.");
    describe_counter!(PRS_OPENED, "Tasks that reached pr_opened.");
    describe_counter!(TASKS_MERGED, "Tasks that reached merged.");
    describe_histogram!(
        CLAIM_DURATION,
        metrics::Unit::Seconds,
        "Time of one claim attempt (expiry check, eligibility query, commit)."
    );
    describe_histogram!(
        LEAD_TIME,
        metrics::Unit::Seconds,
        "Lead time: from a task's creation to its pull request (stage=ready_to_pr_opened), and from the pull request to the merge (stage=pr_opened_to_merged)."
    );
    describe_counter!(
        LEAD_TIME_DROPPED,
        "Lead-time samples left out because more pull requests and merges arrived than the history look-ups behind them follow (at most 20 a second, 1,024 waiting)."
    );
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered.");
    describe_gauge!(HTTP_CONNECTIONS, "HTTP connections open now.");
    describe_counter!(
        HTTP_CONNECTIONS_REFUSED,
        "HTTP connections closed at once because the connection bound was reached."
    );
    describe_counter!(
        WRITE_GROUPS,
        "SQLite write transactions that carried several workers' claims, acks or status moves."
    );
    describe_counter!(
        WRITE_GROUP_OPERATIONS,
        "Claims, acks and status moves committed inside such a group."
    );
    describe_gauge!(
        WAL_FRAMES,
        "SQLite: frames (pages) in the write-ahead log at the last checkpoint."
    );
    describe_counter!(
        WAL_RESTARTS,
        "SQLite: tries to start the write-ahead log over (outcome=done or busy: a reader or another process's checkpoint kept it)."
    );
    describe_histogram!(
        WAL_RESTART_HOLD,
        metrics::Unit::Seconds,
        "SQLite: how long a try to start the write-ahead log over held this process's writes."
    );
    describe_counter!(
        CLAIM_RACES,
        "PostgreSQL: claims whose single statement lost the repository's last review slot or the task's area to another transaction, and ran again."
    );
    describe_counter!(
        WORKER_AUTH,
        "Worker requests authenticated, by source (remembered: a row read for the same token less than a second ago; read: from the database)."
    );
    describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, up to its response headers."
    );
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "GitHub webhook deliveries, by event and outcome."
    );
    describe_gauge!(OUTBOX_BACKLOG, "GitHub writes waiting in the outbox.");
    describe_gauge!(
        GITHUB_RATE_LIMIT_REMAINING,
        "Requests left in the GitHub rate-limit window, as GitHub last reported it."
    );
    describe_counter!(
        GITHUB_SECONDARY_LIMITS,
        "Secondary rate limits GitHub named without Retry-After (the installation backs off)."
    );
    describe_counter!(
        GITHUB_TRUNCATED_LISTINGS,
        "GitHub listings longer than the App reads; nothing is removed on their account."
    );
    describe_counter!(
        GITHUB_RECONCILE_REQUESTS,
        "Requests reconciliations made to GitHub (counted: false for 304 Not Modified)."
    );
    describe_counter!(
        GITHUB_RECONCILE_DEFERRED,
        "Installation reconciliations stopped early to keep their share of the hour."
    );
    describe_counter!(
        GITHUB_REQUESTS,
        "Requests the App made to GitHub, by the class of the answer (error: none came)."
    );
    describe_counter!(
        GITHUB_WAITED,
        "Microseconds the webhook appliers and the comment sender spent on each step or limit."
    );
}

// ---- recording -------------------------------------------------------------------------------

/// Counts what a committed change did, from its audit events. Called by the store after every
/// successful commit; lead times are looked up in the background, off the request path.
/// The store's observer: what the store reports becomes these metrics (installed by the server
/// with [`Store::observe`]).
pub struct MetricsObserver;

impl crate::store::StoreObserver for MetricsObserver {
    fn committed(&self, store: &Store, events: &[Event]) {
        record_committed(store, events);
    }
    fn claim_race(&self) {
        claim_race();
    }
    fn worker_auth(&self, remembered: bool) {
        worker_auth(remembered);
    }
    fn write_group(&self, operations: usize) {
        write_group(operations);
    }
    fn wal_frames(&self, frames: i64) {
        wal_frames(frames);
    }
    fn wal_restart(&self, done: bool, held: Duration) {
        wal_restart(done, held);
    }
}

pub fn record_committed(store: &Store, events: &[Event]) {
    let mut lead_times: Vec<Event> = Vec::new();
    record(|| {
        for e in events {
            let name = match e.kind.as_str() {
                "task.leased" => LEASES_GRANTED,
                "lease.expired" => LEASES_EXPIRED,
                "lease.nacked" => LEASES_NACKED,
                _ => match status_of(e) {
                    Some("pr_opened") if from_of(e) != Some("pr_opened") => {
                        lead_times.push(e.clone());
                        PRS_OPENED
                    }
                    Some("merged") if from_of(e) != Some("merged") => {
                        lead_times.push(e.clone());
                        TASKS_MERGED
                    }
                    _ => continue,
                },
            };
            let repo = e.repo.clone().unwrap_or_default();
            counter!(name, "repo" => repo).increment(1);
        }
    });
    if lead_times.is_empty() {
        return;
    }
    let Some(queue) = lead_time_queue(store) else {
        return;
    };
    for e in lead_times {
        if queue.try_send((store.clone(), e)).is_err() {
            record(|| counter!(LEAD_TIME_DROPPED).increment(1));
        }
    }
}

/// Records one claim attempt that started at `started`; `leased` tells whether it found work.
pub fn claim_finished(started: Instant, leased: bool) {
    let seconds = started.elapsed().as_secs_f64();
    let outcome = if leased { "leased" } else { "none" };
    record(|| histogram!(CLAIM_DURATION, "outcome" => outcome).record(seconds));
}

/// Counts one write group that committed `operations` operations together.
pub fn write_group(operations: usize) {
    record(|| {
        counter!(WRITE_GROUPS).increment(1);
        counter!(WRITE_GROUP_OPERATIONS).increment(operations as u64);
    });
}

/// SQLite: the write-ahead log held `frames` frames at the last checkpoint.
pub fn wal_frames(frames: i64) {
    record(|| gauge!(WAL_FRAMES).set(frames as f64));
}

/// SQLite: one try to start the write-ahead log over, which held the writes for `held`.
pub fn wal_restart(done: bool, held: Duration) {
    let outcome = if done { "done" } else { "busy" };
    record(|| {
        counter!(WAL_RESTARTS, "outcome" => outcome).increment(1);
        histogram!(WAL_RESTART_HOLD).record(held.as_secs_f64());
    });
}

/// One worker request authenticated, with a remembered row or a fresh read.
pub fn worker_auth(remembered: bool) {
    let source = if remembered { "remembered" } else { "read" };
    record(|| counter!(WORKER_AUTH, "source" => source).increment(1));
}

/// Counts one single-statement claim that lost a race (see `store::leases::postgres_statement`).
pub fn claim_race() {
    record(|| counter!(CLAIM_RACES).increment(1));
}

/// Sets how many HTTP connections are open.
pub fn http_connections(open: usize) {
    record(|| gauge!(HTTP_CONNECTIONS).set(open as f64));
}

/// Counts one connection closed at once at the connection bound.
pub fn http_connection_refused() {
    record(|| counter!(HTTP_CONNECTIONS_REFUSED).increment(1));
}

/// Counts one GitHub webhook delivery. `event` is GitHub's event name (`issues`,
/// `pull_request`, …); `outcome` one of a few fixed words, e.g. `applied`, `ignored`,
/// `duplicate`, `bad_signature`, `error`. Both become label values: pass only bounded sets.
pub fn webhook_delivery(event: &str, outcome: &str) {
    let event = bounded_label(event);
    let outcome = bounded_label(outcome);
    record(|| counter!(WEBHOOK_DELIVERIES, "event" => event, "outcome" => outcome).increment(1));
}

/// The GitHub App's figures, counted in this process's series: `owp serve` installs it
/// (`crate::github::observe::install`) before the App starts.
pub struct GithubMetrics;

impl crate::github::observe::GithubObserver for GithubMetrics {
    fn webhook_delivery(&self, event: &str, outcome: &str) {
        webhook_delivery(event, outcome);
    }

    fn outbox_backlog(&self, rows: u64) {
        record(|| gauge!(OUTBOX_BACKLOG).set(rows as f64));
    }

    /// The process-wide gauge, and the installation's figure for [`record_rate_left`].
    fn rate_limit_remaining(&self, installation: Option<i64>, left: u64) {
        record(|| gauge!(GITHUB_RATE_LIMIT_REMAINING).set(left as f64));
        if let Some(id) = installation {
            let mut figures = RATE_LEFT.lock().unwrap_or_else(|e| e.into_inner());
            if figures.len() >= MAX_RATE_INSTALLATIONS && !figures.contains_key(&id) {
                // The oldest figure goes.
                if let Some(oldest) = figures
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| *k)
                {
                    figures.remove(&oldest);
                }
            }
            figures.insert(id, (left, Instant::now()));
        }
    }

    fn request(&self, status: Option<u16>) {
        let class = match status {
            Some(200..=299) => GITHUB_CLASSES[0],
            Some(300..=399) => GITHUB_CLASSES[1],
            Some(400..=499) => GITHUB_CLASSES[2],
            Some(500..=599) => GITHUB_CLASSES[3],
            _ => GITHUB_CLASSES[4],
        };
        record(|| counter!(GITHUB_REQUESTS, "class" => class).increment(1));
    }

    fn waited(&self, on: &'static str, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        record(|| counter!(GITHUB_WAITED, "on" => on).increment(micros));
    }

    fn secondary_limit(&self) {
        record(|| counter!(GITHUB_SECONDARY_LIMITS).increment(1));
    }

    fn reconcile_cost(&self, counted: u64, not_modified: u64) {
        record(|| {
            counter!(GITHUB_RECONCILE_REQUESTS, "counted" => "true").increment(counted);
            counter!(GITHUB_RECONCILE_REQUESTS, "counted" => "false").increment(not_modified);
        });
    }

    fn reconcile_deferred(&self) {
        record(|| counter!(GITHUB_RECONCILE_DEFERRED).increment(1));
    }

    fn truncated_listing(&self, listing: &'static str) {
        record(|| counter!(GITHUB_TRUNCATED_LISTINGS, "listing" => listing).increment(1));
    }
}

/// Each installation's rate limit left as GitHub last reported it, and when.
static RATE_LEFT: LazyLock<std::sync::Mutex<HashMap<i64, (u64, Instant)>>> =
    LazyLock::new(Default::default);
/// How many installations' figures are kept.
const MAX_RATE_INSTALLATIONS: usize = 10_000;
/// A figure older than GitHub's rate-limit window says nothing of now.
const RATE_FIGURE_LASTS: Duration = Duration::from_secs(3600);

/// Sets the rate limit left of the installations with the least (the rest as `other`: the
/// least among them), from figures of the last hour.
fn record_rate_left() {
    describe_gauge!(
        GITHUB_RATE_LIMIT_BY_INSTALLATION,
        "GitHub rate limit left, for the installations with the least (the rest as other: their least)."
    );
    let mut left: Vec<(i64, u64)> = {
        let mut figures = RATE_LEFT.lock().unwrap_or_else(|e| e.into_inner());
        figures.retain(|_, (_, at)| at.elapsed() < RATE_FIGURE_LASTS);
        figures.iter().map(|(id, (n, _))| (*id, *n)).collect()
    };
    left.sort_by_key(|(id, n)| (*n, *id));
    let shown = usize::try_from(BACKLOG_INSTALLATIONS).unwrap_or(10);
    for (id, n) in left.iter().take(shown) {
        gauge!(GITHUB_RATE_LIMIT_BY_INSTALLATION, "installation" => id.to_string()).set(*n as f64);
    }
    if let Some((_, n)) = left.get(shown) {
        gauge!(GITHUB_RATE_LIMIT_BY_INSTALLATION, "installation" => "other").set(*n as f64);
    }
}

/// A label value of at most 64 characters from `[A-Za-z0-9_.-]`; anything else becomes `_`.
fn bounded_label(value: &str) -> String {
    let v: String = value
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if v.is_empty() { "unknown".into() } else { v }
}

/// Middleware counting every HTTP request by method, route template and status.
pub async fn track_http(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    };
    let started = Instant::now();
    let response = next.run(req).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    record(|| {
        counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status)
            .increment(1);
        histogram!(HTTP_DURATION, "method" => method, "route" => route).record(seconds);
    });
    response
}

/// Keeps the histograms of this process compact; runs for the life of the service.
pub async fn upkeep_loop() {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        PROCESS.handle().run_upkeep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::observe::GithubObserver;

    #[test]
    fn label_values_stay_bounded() {
        assert_eq!(bounded_label("pull_request"), "pull_request");
        assert_eq!(bounded_label("a b\"c"), "a_b_c");
        assert_eq!(bounded_label(""), "unknown");
        assert_eq!(bounded_label(&"x".repeat(100)).len(), 64);
    }

    #[test]
    fn log_restarts_render() {
        use crate::store::StoreObserver;
        MetricsObserver.wal_restart(true, Duration::from_millis(3));
        let text = PROCESS.handle().render();
        assert!(
            text.contains(r#"owp_sqlite_wal_restarts_total{outcome="done"}"#),
            "{text}"
        );
        assert!(
            text.contains("owp_sqlite_wal_restart_hold_seconds"),
            "{text}"
        );
    }

    #[test]
    fn the_installations_with_the_least_rate_left_are_named() {
        for id in 9000..9013_i64 {
            GithubMetrics.rate_limit_remaining(Some(id), 10 + (id - 9000) as u64);
        }
        let scrape = PrometheusBuilder::new().build_recorder();
        metrics::with_local_recorder(&scrape, record_rate_left);
        let text = scrape.handle().render();
        let series = |label: &str| {
            format!(r#"{GITHUB_RATE_LIMIT_BY_INSTALLATION}{{installation="{label}"}}"#)
        };
        assert!(text.contains(&format!("{} 10", series("9000"))), "{text}");
        assert!(text.contains(&format!("{} 19", series("9009"))), "{text}");
        assert!(!text.contains(&series("9010")), "{text}");
        assert!(text.contains(&format!("{} 20", series("other"))), "{text}");
    }

    #[test]
    fn webhook_figures_render() {
        webhook_delivery("issues", "applied");
        webhook_delivery("issues", "applied");
        GithubMetrics.outbox_backlog(7);
        GithubMetrics.rate_limit_remaining(Some(77), 4321);
        let text = PROCESS.handle().render();
        assert!(
            text.contains(
                r#"owp_github_webhook_deliveries_total{event="issues",outcome="applied"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains("owp_github_outbox_backlog 7"), "{text}");
        assert!(
            text.contains("owp_github_rate_limit_remaining 4321"),
            "{text}"
        );
        assert!(text.contains("# TYPE owp_github_webhook_deliveries_total counter"));
    }
}
