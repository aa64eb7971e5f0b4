//! `GET /metrics` of a real `owp serve`: credentials, the Prometheus text format, and figures that
//! follow what the pool did (tasks by status, leases granted / expired / nacked, claim timings,
//! lead times, workers online, requeue ratio, HTTP requests).

use crate::support;

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use support::{Server, eventually, task_doc};

const REPO: &str = "acme/web";

/// Parses the exposition text into `series → value`, checking every line's shape on the way.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            assert!(
                rest.starts_with("HELP ") || rest.starts_with("TYPE "),
                "comment line: {line}"
            );
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("sample line without a value: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name: {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "labels: {line}");
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        assert!(
            out.insert(series.to_string(), value).is_none(),
            "series repeated: {series}"
        );
    }
    out
}

async fn scrape(server: &Server) -> (String, HashMap<String, f64>) {
    let r = server
        .req(Method::GET, "/metrics")
        .bearer(&server.admin_token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.describe());
    assert!(
        r.content_type.starts_with("text/plain"),
        "content type {}",
        r.content_type
    );
    let parsed = parse(&r.text);
    (r.text, parsed)
}

fn value(m: &HashMap<String, f64>, series: &str) -> f64 {
    *m.get(series)
        .unwrap_or_else(|| panic!("no series {series} in the scrape"))
}

#[tokio::test]
async fn metrics_need_credentials() {
    let server = Server::start().await;
    let r = server.req(Method::GET, "/metrics").send().await;
    assert_eq!(r.status, 401);
    assert!(r.content_type.starts_with("application/problem+json"));
    assert!(
        !r.text.contains("owp_"),
        "nothing leaks without credentials"
    );
    let r = server
        .req(Method::GET, "/metrics")
        .bearer("not-the-token")
        .send()
        .await;
    assert_eq!(r.status, 401);
    let r = server
        .req(Method::GET, "/metrics")
        .admin(&server)
        .send()
        .await;
    assert_eq!(r.status, 200, "X-Admin-Token works too");
}

#[tokio::test]
async fn the_metrics_token_scrapes_and_opens_nothing_else() {
    let metrics_token = format!("metrics-{}", uuid::Uuid::new_v4().simple());
    let server = Server::start_with_env(&[("OWP_METRICS_TOKEN", &metrics_token)]).await;
    let scrape = |token: Option<&str>| {
        let mut req = server.req(Method::GET, "/metrics");
        if let Some(t) = token {
            req = req.bearer(t);
        }
        req.send()
    };
    let r = scrape(None).await;
    assert_eq!(r.status, 401, "no token: {}", r.describe());
    assert!(!r.text.contains("owp_"));
    assert_eq!(scrape(Some("metrics-not-it")).await.status, 401);

    let r = scrape(Some(&metrics_token)).await;
    assert_eq!(r.status, 200, "the metrics token: {}", r.describe());
    assert!(r.text.contains("owp_workers_registered"));
    let r = scrape(Some(&server.admin_token)).await;
    assert_eq!(r.status, 200, "the admin token still scrapes");

    // It is a scrape-only token: the admin API does not take it.
    let r = server
        .req(Method::GET, "/v1/admin/state")
        .header("X-Admin-Token", &metrics_token)
        .send()
        .await;
    assert_eq!(r.status, 401, "{}", r.describe());
    // Nor does the process print it.
    assert!(
        !server.log().contains(&metrics_token),
        "the token is logged"
    );
}

#[tokio::test]
async fn metrics_follow_the_pool() {
    let server = Server::start_with_env(&[("OWP_ACCEPT_TTL_SECONDS", "1")]).await;
    server.upsert_repo(REPO, 3, true).await;
    server
        .import(
            REPO,
            json!([
                task_doc("one", json!({"key": "M-1", "area": "a"})),
                task_doc("two", json!({"key": "M-2", "area": "b"})),
                task_doc("three", json!({"key": "M-3", "area": "c"})),
            ]),
        )
        .await;
    let (_, before) = scrape(&server).await;
    assert_eq!(
        value(&before, r#"owp_tasks{repo="acme/web",status="ready"}"#),
        3.0
    );
    assert_eq!(
        value(&before, r#"owp_tasks{repo="acme/web",status="merged"}"#),
        0.0
    );
    assert_eq!(
        value(&before, r#"owp_repo_review_budget{repo="acme/web"}"#),
        3.0
    );
    assert_eq!(value(&before, "owp_workers_registered"), 0.0);
    assert_eq!(value(&before, "owp_requeue_ratio_24h"), 0.0);

    let (_, token) = server.register_worker("w", &[], 5, 3).await;
    // 1: accepted, pull request, merged.
    let (lease, task, _) = server.claim_ok(&token).await;
    server.ack(&token, &lease).await.expect(200);
    server.open_pr(&token, &task).await;
    server.merge(&token, &task).await;
    // 2: given back.
    let (lease, _, _) = server.claim_ok(&token).await;
    server.nack(&token, &lease).await.expect(200);
    // 3: never accepted; expires after the 1 s accept TTL.
    let (_, expiring, _) = server.claim_ok(&token).await;
    let expired = eventually(Duration::from_secs(10), || async {
        let t = server.task(&expiring).await;
        (t["status"] == "ready").then_some(())
    })
    .await;
    assert!(expired.is_some(), "the unaccepted lease expired");

    // Lead times are recorded just after the commit: wait for them.
    let m = eventually(Duration::from_secs(10), || async {
        let (_, m) = scrape(&server).await;
        let done = m
            .get(r#"owp_lead_time_seconds_count{stage="pr_opened_to_merged"}"#)
            .is_some_and(|v| *v == 1.0);
        done.then_some(m)
    })
    .await
    .expect("lead times recorded");
    assert_eq!(
        value(
            &m,
            r#"owp_lead_time_seconds_count{stage="ready_to_pr_opened"}"#
        ),
        1.0
    );

    assert_eq!(
        value(&m, r#"owp_tasks{repo="acme/web",status="merged"}"#),
        1.0
    );
    assert_eq!(
        value(&m, r#"owp_tasks{repo="acme/web",status="ready"}"#),
        2.0
    );
    assert_eq!(
        value(&m, r#"owp_tasks{repo="acme/web",status="leased"}"#),
        0.0
    );
    assert_eq!(
        value(&m, r#"owp_leases_granted_total{repo="acme/web"}"#),
        3.0
    );
    assert_eq!(
        value(&m, r#"owp_leases_nacked_total{repo="acme/web"}"#),
        1.0
    );
    assert_eq!(
        value(&m, r#"owp_leases_expired_total{repo="acme/web"}"#),
        1.0
    );
    assert_eq!(value(&m, r#"owp_prs_opened_total{repo="acme/web"}"#), 1.0);
    assert_eq!(value(&m, r#"owp_tasks_merged_total{repo="acme/web"}"#), 1.0);
    let ratio = value(&m, "owp_requeue_ratio_24h");
    assert!((ratio - 2.0 / 3.0).abs() < 1e-9, "requeue ratio {ratio}");
    assert_eq!(value(&m, "owp_workers_registered"), 1.0);
    assert_eq!(value(&m, "owp_workers_online"), 1.0);
    assert_eq!(value(&m, "owp_capacity_points_online"), 5.0);
    assert_eq!(value(&m, r#"owp_repo_open_prs{repo="acme/web"}"#), 0.0);
    assert_eq!(value(&m, r#"owp_repo_throttled{repo="acme/web"}"#), 0.0);
    assert_eq!(
        value(&m, r#"owp_claim_duration_seconds_count{outcome="leased"}"#),
        3.0
    );
    assert_eq!(
        value(
            &m,
            r#"owp_claim_duration_seconds_bucket{outcome="leased",le="+Inf"}"#
        ),
        3.0
    );
    assert_eq!(
        value(
            &m,
            r#"owp_http_requests_total{method="POST",route="/v1/work",status="200"}"#
        ),
        3.0
    );
    assert!(
        value(
            &m,
            r#"owp_http_requests_total{method="POST",route="/v1/leases/{lease_id}/nack",status="200"}"#
        ) >= 1.0
    );
}

/// Outcomes per repository in the admin state and the scrape: one pull request merged, one
/// closed unmerged — an acceptance of 0.5; a repository with neither shows nulls and no series.
#[tokio::test]
async fn outcomes_per_repository_in_the_state_and_the_scrape() {
    let server = Server::start().await;
    server.upsert_repo(REPO, 5, false).await;
    server.upsert_repo("acme/quiet", 5, false).await;
    server
        .import(
            REPO,
            json!([task_doc("one", json!({})), task_doc("two", json!({}))]),
        )
        .await;
    let (_, token) = server.register_worker("w", &[], 5, 3).await;
    let (_, merged, _) = server.claim_ok(&token).await;
    let (_, closed, _) = server.claim_ok(&token).await;
    server.open_pr(&token, &merged).await;
    server.open_pr(&token, &closed).await;
    server.merge(&token, &merged).await;
    server.admin_set_status(&closed, "ready").await.expect(200);

    let state = server.state().await;
    let outcomes = |name: &str| {
        state["repos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["repo"] == name)
            .unwrap()["outcomes"]
            .clone()
    };
    let web = outcomes(REPO);
    assert_eq!(
        (
            &web["days"],
            &web["merged"],
            &web["closed_unmerged"],
            &web["acceptance_rate"]
        ),
        (&json!(30), &json!(1), &json!(1), &json!(0.5)),
        "{web}"
    );
    let lead = web["lead_time_seconds"].as_f64().expect("a lead time");
    assert!((0.0..60.0).contains(&lead), "{web}");
    assert_eq!(
        outcomes("acme/quiet"),
        json!({"days": 30, "merged": 0, "closed_unmerged": 0, "acceptance_rate": null,
               "lead_time_seconds": null})
    );

    let (_, m) = scrape(&server).await;
    assert_eq!(
        value(&m, r#"owp_repo_acceptance_ratio{repo="acme/web"}"#),
        0.5
    );
    let seconds = value(&m, r#"owp_repo_lead_time_seconds{repo="acme/web"}"#);
    assert!((seconds - lead).abs() < 1e-6, "{seconds} vs {lead}");
    assert!(
        !m.keys()
            .any(|k| k.contains("acme/quiet") && k.starts_with("owp_repo_acceptance"))
    );
}

/// The metric names of README's metrics table (its first column).
fn documented() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let table = readme
        .split("| metric | type | labels | what |")
        .nth(1)
        .expect("README has the metrics table");
    let mut names = Vec::new();
    for row in table.lines().skip(2).take_while(|l| l.starts_with('|')) {
        let first = row.split('|').nth(1).unwrap_or_default();
        for part in first.split('`').skip(1).step_by(2) {
            names.push(part.to_string());
        }
    }
    names
}

#[tokio::test]
async fn every_series_is_there_from_the_start_and_documented() {
    let server = Server::start().await;
    server.upsert_repo(REPO, 2, false).await;
    // Nothing has happened yet: no lease, no GitHub request, no worker.
    let (text, m) = scrape(&server).await;
    let at_zero = [
        format!(r#"owp_leases_granted_total{{repo="{REPO}"}}"#),
        format!(r#"owp_leases_expired_total{{repo="{REPO}"}}"#),
        format!(r#"owp_leases_nacked_total{{repo="{REPO}"}}"#),
        format!(r#"owp_prs_opened_total{{repo="{REPO}"}}"#),
        format!(r#"owp_tasks_merged_total{{repo="{REPO}"}}"#),
        r#"owp_github_requests_total{class="2xx"}"#.into(),
        r#"owp_github_requests_total{class="5xx"}"#.into(),
        r#"owp_github_requests_total{class="error"}"#.into(),
        r#"owp_worker_authentications_total{source="read"}"#.into(),
        r#"owp_sqlite_wal_restarts_total{outcome="busy"}"#.into(),
        r#"owp_github_reconcile_requests_total{counted="true"}"#.into(),
        "owp_github_secondary_limits_total".into(),
        "owp_github_reconcile_deferred_total".into(),
        "owp_github_outbox_backlog".into(),
        r#"owp_github_outbox_backlog_by_installation{installation="other"}"#.into(),
        "owp_claim_races_total".into(),
        "owp_lead_time_samples_dropped_total".into(),
        "owp_http_connections_refused_total".into(),
        "owp_write_groups_total".into(),
    ];
    // The migrations and the start-up's own writes committed: the count says so.
    assert!(value(&m, "owp_store_commits_total") > 0.0, "{text}");
    for series in &at_zero {
        assert_eq!(value(&m, series), 0.0, "{series}\n{text}");
    }
    if cfg!(target_os = "linux") {
        for series in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ] {
            assert!(value(&m, series) > 0.0, "{series}\n{text}");
        }
        let started = value(&m, "process_start_time_seconds");
        let now = chrono::Utc::now().timestamp() as f64;
        assert!(
            (now - 600.0..=now + 1.0).contains(&started),
            "started {started}, now {now}"
        );
    }
    // Every series of the scrape is in README's table, and every one there is in the scrape,
    // but for those that wait for their first sample (the table says so).
    let documented = documented();
    let mut undocumented = Vec::new();
    let mut exposed = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap_or_default().to_string();
            if !documented.contains(&name) {
                undocumented.push(name.clone());
            }
            exposed.push(name);
        }
    }
    assert!(undocumented.is_empty(), "not in README: {undocumented:?}");
    let first_sample = [
        "owp_repo_acceptance_ratio",
        "owp_repo_lead_time_seconds",
        "owp_claim_duration_seconds",
        "owp_lead_time_seconds",
        "owp_sqlite_wal_frames",
        "owp_sqlite_wal_restart_hold_seconds",
        "owp_github_webhook_deliveries_total",
        "owp_github_truncated_listings_total",
        "owp_github_rate_limit_remaining",
        "owp_github_rate_limit_remaining_by_installation",
    ];
    let missing: Vec<_> = documented
        .iter()
        .filter(|n| !exposed.contains(n) && !first_sample.contains(&n.as_str()))
        .collect();
    if cfg!(target_os = "linux") {
        assert!(missing.is_empty(), "documented, not scraped: {missing:?}");
    }
}

/// GitHub's rate limit is shown per installation: the figure an answer to an installation's
/// request reports is that installation's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_is_shown_per_installation() {
    use crate::github_support::story::{ADMIN, INSTALLATION, Story};
    let story = Story::start().await;
    story.fake.set_rate_remaining(3217);
    let series = format!(
        r#"owp_github_rate_limit_remaining_by_installation{{installation="{INSTALLATION}"}}"#
    );
    let url = format!("http://{}/metrics", story.running().addr);
    let mut last = String::new();
    // Stories of other tests in this process share the installation id: the figure is read
    // right after this story's own requests, and again if another came between.
    for _ in 0..3 {
        story.running().github.reconcile_now().await.unwrap();
        last = story
            .http
            .get(&url)
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if parse(&last).get(&series) == Some(&3217.0) {
            return;
        }
    }
    panic!("{series} is not 3217:\n{last}");
}
