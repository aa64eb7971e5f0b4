//! `owp conformance` end to end: the runner passes against a real `owp serve` on SQLite and on
//! PostgreSQL, and each kind of fault a tampering proxy (tests/tampering_proxy) puts in front of
//! the server makes the named case fail — a conformance suite that cannot fail proves nothing.

use crate::support;
use crate::tampering_proxy;

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use support::Server;
use tampering_proxy::{Fault, Proxy};

/// Short TTLs, so that the expiry cases run instead of being skipped for `--max-wait`.
const SHORT_TTLS: [(&str, &str); 3] = [
    ("OWP_ACCEPT_TTL_SECONDS", "3"),
    ("OWP_LEASE_TTL_SECONDS", "3"),
    ("OWP_HEARTBEAT_TTL_SECONDS", "3"),
];

/// Runs `owp conformance` against `url` and returns its output and JSON report.
async fn run_conformance(url: &str, token: &str, dir: &Path, extra: &[&str]) -> (Output, Value) {
    let json = dir.join(format!("report-{}.json", uuid::Uuid::new_v4().simple()));
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .arg("conformance")
        .arg(url)
        .args(["--admin-token", token])
        .arg("--json")
        .arg(&json)
        .args(extra)
        .env_remove("OWP_ADMIN_TOKEN")
        .output()
        .await
        .expect("run owp conformance");
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (output, report)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn case<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .and_then(|cases| cases.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no case {name} in {report}"))
}

/// The whole suite against one server: nothing fails, nothing is skipped (the server lists every
/// optional feature but `github`, and its TTLs are short), and the report agrees with the output.
async fn whole_suite_passes(server: &Server) {
    let (output, report) =
        run_conformance(&server.base, &server.admin_token, server.dir(), &[]).await;
    let out = stdout(&output);
    assert!(
        output.status.success(),
        "the runner failed against owp serve:\n{out}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log_tail(40)
    );
    let cases = report["cases"].as_array().expect("cases");
    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .args(["conformance", "--list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).lines().count();
    assert_eq!(cases.len(), listed, "every listed case ran");
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    assert_eq!(report["failed"], 0, "{out}");
    assert_eq!(report["skipped"], 0, "{out}");
    assert_eq!(report["passed"].as_u64(), Some(cases.len() as u64));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("PASS ")).count(),
        cases.len()
    );
    assert_eq!(
        out.lines().last().unwrap_or(""),
        format!("conformance: {} passed, 0 failed, 0 skipped", cases.len())
    );
    // Clean-up: every task the run created ended cancelled or merged, and its workers are paused.
    let state = server.state().await;
    for task in state["tasks"].as_array().unwrap() {
        let status = task["status"].as_str().unwrap();
        assert!(
            status == "cancelled" || status == "merged",
            "a task left {status}: {task}"
        );
    }
    for worker in state["workers"].as_array().unwrap() {
        assert_eq!(worker["status"], "paused", "a worker left active: {worker}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_passes_against_owp_serve_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_on_sqlite_with_env(&dir.path().join("owp.db"), &SHORT_TTLS).await;
    whole_suite_passes(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_passes_against_owp_serve_on_postgres() {
    if std::env::var(support::TEST_DATABASE_URL_VAR).is_err() {
        eprintln!("skipped: {} is not set", support::TEST_DATABASE_URL_VAR);
        return;
    }
    let server = Server::start_with_env(&SHORT_TTLS).await;
    assert!(matches!(
        server.database,
        support::TestDatabase::Postgres { .. }
    ));
    whole_suite_passes(&server).await;
}

/// Runs one case through the proxy, first forwarding faithfully (it passes: the proxy itself
/// breaks nothing), then with `fault` (it fails, and says why).
async fn fault_fails_case(fault: Fault, name: &str) {
    let server = Server::start_with_env(&SHORT_TTLS).await;
    let proxy = Proxy::start(&server.base, &server.admin_token).await;
    let only = ["--only", name];
    let (output, report) =
        run_conformance(&proxy.base, &server.admin_token, server.dir(), &only).await;
    assert!(
        output.status.success(),
        "{name} failed through a faithful proxy:\n{}",
        stdout(&output)
    );
    assert_eq!(case(&report, name)["status"], "passed");

    proxy.set(fault);
    let (output, report) =
        run_conformance(&proxy.base, &server.admin_token, server.dir(), &only).await;
    let out = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{fault:?} went unnoticed:\n{out}"
    );
    let verdict = case(&report, name);
    assert_eq!(verdict["status"], "failed", "{fault:?}: {verdict}");
    assert!(
        !verdict["detail"].as_str().unwrap_or("").is_empty(),
        "a failure says what came back: {verdict}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("FAIL  {name} — "))),
        "{out}"
    );
    eprintln!(
        "{fault:?}: {}",
        out.lines().find(|l| l.contains(name)).unwrap_or("")
    );
}

#[tokio::test]
async fn errors_that_are_not_problem_json_fail_wire_problem_json() {
    fault_fails_case(Fault::PlainJsonErrors, "wire.problem_json").await;
}

#[tokio::test]
async fn a_lost_idempotency_key_fails_idempotency_replay() {
    fault_fails_case(Fault::DropIdempotencyKey, "idempotency.replay").await;
}

#[tokio::test]
async fn one_task_given_to_two_workers_fails_racing_claims() {
    fault_fails_case(Fault::SharedClaims, "concurrency.racing_claims_distinct").await;
}

#[tokio::test]
async fn a_long_poll_that_answers_at_once_fails_long_poll_wakes() {
    fault_fails_case(Fault::IgnoreWait, "realtime.long_poll_wakes").await;
}

#[tokio::test]
async fn a_silent_event_stream_fails_sse_event() {
    fault_fails_case(Fault::SilentEvents, "realtime.sse_event").await;
}

#[tokio::test]
async fn admin_routes_open_to_anyone_fail_admin_token_required() {
    fault_fails_case(Fault::OpenAdmin, "auth.admin_token_required").await;
}

#[tokio::test]
async fn ignored_skills_fail_rules_skills() {
    fault_fails_case(Fault::DropRequiredSkills, "rules.skills").await;
}

#[tokio::test]
async fn ignored_priorities_fail_priority_order() {
    fault_fails_case(Fault::DropPriority, "rules.priority_order").await;
}

#[tokio::test]
async fn a_worker_deciding_merged_fails_worker_cannot_report_merged() {
    fault_fails_case(Fault::WorkersMerge, "abuse.worker_cannot_report_merged").await;
}

#[tokio::test]
async fn a_budget_one_too_large_fails_review_budget() {
    fault_fails_case(Fault::LooseBudget, "rules.review_budget").await;
}

#[tokio::test]
async fn a_meta_without_version_1_2_fails_discovery() {
    fault_fails_case(Fault::MetaWithoutV12, "discovery.meta").await;
}

/// `--expected-failures`: a listed failure lets the run pass (shown as XFAIL); a listed case
/// that passes fails the run (the list is stale); a name that is no case is an error.
#[tokio::test]
async fn expected_failures_pass_when_they_fail_and_fail_when_they_pass() {
    let server = Server::start_with_env(&SHORT_TTLS).await;
    let proxy = Proxy::start(&server.base, &server.admin_token).await;
    let list = server.dir().join("expected.txt");
    std::fs::write(&list, "# known\ndiscovery.meta\n").unwrap();
    let args = [
        "--only",
        "discovery.meta",
        "--expected-failures",
        list.to_str().unwrap(),
    ];

    proxy.set(Fault::MetaWithoutV12);
    let (output, report) =
        run_conformance(&proxy.base, &server.admin_token, server.dir(), &args).await;
    let out = stdout(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("XFAIL discovery.meta — "), "{out}");
    assert_eq!(report["failed"], 1);
    assert_eq!(case(&report, "discovery.meta")["expected"], true);

    proxy.set(Fault::None);
    let (output, _) = run_conformance(&proxy.base, &server.admin_token, server.dir(), &args).await;
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("STALE discovery.meta"), "{out}");

    std::fs::write(&list, "no.such_case\n").unwrap();
    let (output, _) = run_conformance(&proxy.base, &server.admin_token, server.dir(), &args).await;
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no.such_case"), "{err}");
}

/// Optional features the server does not list are skipped with the reason, never failed.
#[tokio::test]
async fn unlisted_features_are_skipped_not_failed() {
    let server = Server::start_with_env(&SHORT_TTLS).await;
    // A server that lists no optional feature: the proxy rewrites /v1/meta.
    let proxy = Proxy::start(&server.base, &server.admin_token).await;
    proxy.set(Fault::MetaWithoutFeatures);
    let (output, report) = run_conformance(
        &proxy.base,
        &server.admin_token,
        server.dir(),
        &["--only", "deps."],
    )
    .await;
    let out = stdout(&output);
    assert!(output.status.success(), "{out}");
    let cases = report["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        assert_eq!(c["status"], "skipped", "{c}");
        assert!(
            c["detail"].as_str().unwrap().contains("dependencies"),
            "{c}"
        );
    }
}

/// Cases that would wait out a TTL longer than `--max-wait` are skipped, with the reason.
#[tokio::test]
async fn long_ttls_are_skipped_with_the_reason() {
    let server = Server::start().await;
    let (output, report) = run_conformance(
        &server.base,
        &server.admin_token,
        server.dir(),
        &["--only", "expiry.accept_ttl"],
    )
    .await;
    assert!(output.status.success(), "{}", stdout(&output));
    let verdict = case(&report, "expiry.accept_ttl");
    assert_eq!(verdict["status"], "skipped");
    assert!(
        verdict["detail"].as_str().unwrap().contains("--max-wait"),
        "{verdict}"
    );
}
