//! `owp conformance` end to end: the runner passes against a real `owp serve` on SQLite and on
//! PostgreSQL, and each kind of fault a tampering proxy (tests/tampering_proxy) puts in front of
//! the server makes the named case fail — a conformance suite that cannot fail proves nothing.

use crate::support;
use crate::tampering_proxy;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Server;
use tampering_proxy::{Fault, Proxy};

/// Short TTLs, so that the expiry cases run instead of being skipped for `--max-wait`.
/// The accept window is the longest, so that a lease never acknowledged is seen to outlive its
/// lease TTL until `accept_by` (`moves.unacked_ends_at_accept_by`).
pub(crate) const SHORT_TTLS: [(&str, &str); 3] = [
    ("OWP_ACCEPT_TTL_SECONDS", "6"),
    ("OWP_LEASE_TTL_SECONDS", "3"),
    ("OWP_HEARTBEAT_TTL_SECONDS", "3"),
];

/// The TTLs of a server the whole suite runs against, eight cases at a time: still within
/// `--max-wait` (10 s), so that every expiry case runs, with the accept window at least 3 s
/// longer than the lease TTL (`moves.unacked_ends_at_accept_by` needs it), and twice the
/// [`SHORT_TTLS`] lease, so that a case which holds a lease while seven others load a busy
/// machine still holds it when it reports (with a 3-s lease one such case lost its lease on a
/// 2-core machine loaded twelve times over).
pub(crate) const SUITE_TTLS: [(&str, &str); 3] = [
    ("OWP_ACCEPT_TTL_SECONDS", "10"),
    ("OWP_LEASE_TTL_SECONDS", "6"),
    ("OWP_HEARTBEAT_TTL_SECONDS", "6"),
];

/// The optional parts the reference server lists only while its GitHub App is configured, and
/// how many cases need one of them (they run in GitHub mode below).
const GITHUB_ONLY: [&str; 2] = ["vouch", "reviewers"];
const GITHUB_ONLY_CASES: usize = 2;

/// Runs `owp conformance` against `url` and returns its output and JSON report.
pub(crate) async fn run_conformance(
    url: &str,
    token: &str,
    dir: &Path,
    extra: &[&str],
) -> (Output, Value) {
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

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn case<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["cases"]
        .as_array()
        .and_then(|cases| cases.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no case {name} in {report}"))
}

/// The whole suite against one server in use: nothing fails, nothing is skipped but the cases of
/// GitHub mode's parts (the server lists every other optional feature, and its TTLs are short),
/// and the report agrees with the output. A maintainer's own task, open to anyone (no required skills), on a repository with a
/// budget of 2, is never leased by the run, and afterwards nothing of the run shows in the admin
/// state: its repositories and workers are archived.
async fn whole_suite_passes(server: &Server) {
    let maintainer = "acme/site";
    server.upsert_repo(maintainer, 2, true).await;
    let own = server
        .import_ids(maintainer, json!([{"title": "Fix the footer"}]))
        .await
        .remove(0);

    // Eight cases at a time, as an operator in a hurry runs it: the lines and the report keep
    // the listed order.
    let (output, report) = run_conformance(
        &server.base,
        &server.admin_token,
        server.dir(),
        &["--jobs", "8"],
    )
    .await;
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
    let listed: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    let ran: Vec<&str> = cases.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(ran, listed, "every listed case ran, in the listed order");
    let printed: Vec<&str> = out
        .lines()
        .filter_map(|l| {
            ["PASS ", "SKIP ", "FAIL ", "XFAIL"]
                .iter()
                .find_map(|t| l.strip_prefix(t))
        })
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(printed, listed, "a line a case, in the listed order");
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    assert_eq!(report["failed"], 0, "{out}");
    // Only the cases of the parts the server lists in GitHub mode alone are skipped, saying so.
    let skipped: Vec<&Value> = cases.iter().filter(|c| c["status"] == "skipped").collect();
    for c in &skipped {
        assert!(
            GITHUB_ONLY
                .iter()
                .any(|f| c["detail"]
                    == format!("the server does not list `{f}` in /v1/meta's features")),
            "{c}"
        );
    }
    assert_eq!(skipped.len(), GITHUB_ONLY_CASES, "{out}");
    let passed = cases.len() - skipped.len();
    assert_eq!(report["passed"].as_u64(), Some(passed as u64));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("PASS ")).count(),
        passed
    );
    // The runner says what it could not check, and why, every time: owp serve claims every
    // revision, so every line.
    for n in owp::conformance::NOT_CHECKED {
        assert!(out.lines().any(|l| l == n.line()), "{out}");
    }
    assert_eq!(
        report["not_checked"].as_array().map(Vec::len),
        Some(owp::conformance::NOT_CHECKED.len())
    );
    assert_eq!(
        out.lines().last().unwrap_or(""),
        format!(
            "conformance: {passed} passed, 0 failed, {} skipped",
            skipped.len()
        )
    );

    // The maintainer's task was never leased, and is as it was.
    let all = server
        .admin_get("/v1/admin/state?archived=true&events=10000")
        .await
        .expect(200);
    let touched: Vec<&Value> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["task_id"] == own.as_str() && e["worker_id"].is_string())
        .collect();
    assert!(
        touched.is_empty(),
        "the run touched the maintainer's task: {touched:?}"
    );
    let task = server.task(&own).await;
    assert_eq!(task["status"], "ready", "{task}");
    assert_eq!(task["attempts"], 0, "{task}");
    assert_eq!(server.repo(maintainer).await["active_leases"], 0);

    // Clean-up: every task the run created ended cancelled or merged; its repositories and
    // workers are archived, so the admin state (and the dashboard, which shows it) lists only
    // the maintainer's own.
    let ours = |name: &Value| name.as_str().is_some_and(|n| n.starts_with("owpc-"));
    let archived_repos = all["repos"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| ours(&r["repo"]))
        .count();
    assert!(
        archived_repos >= 20,
        "the run's repositories: {archived_repos}"
    );
    assert!(!all["workers"].as_array().unwrap().is_empty());
    for task in all["tasks"].as_array().unwrap() {
        let status = task["status"].as_str().unwrap();
        assert!(
            task["task_id"] == own.as_str() || status == "cancelled" || status == "merged",
            "a task left {status}: {task}"
        );
    }
    let state = server.state().await;
    let repos: Vec<&Value> = state["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["repo"])
        .collect();
    assert_eq!(repos, vec![maintainer], "repositories left on the board");
    let workers = state["workers"].as_array().unwrap();
    assert!(workers.is_empty(), "workers left on the board: {workers:?}");
    let tasks: Vec<&Value> = state["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["task_id"])
        .collect();
    assert_eq!(tasks, vec![own.as_str()], "tasks left on the board");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_passes_against_owp_serve_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_on_sqlite_with_env(&dir.path().join("owp.db"), &SUITE_TTLS).await;
    whole_suite_passes(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_passes_against_owp_serve_on_postgres() {
    if !crate::services::postgres_enabled("the_runner_passes_against_owp_serve_on_postgres") {
        return;
    }
    let server = Server::start_preferring_postgres(&SUITE_TTLS).await;
    assert!(matches!(
        server.database,
        support::TestDatabase::Postgres { .. }
    ));
    whole_suite_passes(&server).await;
}

/// Runs one case through the proxy, first forwarding faithfully (it passes: the proxy itself
/// breaks nothing), then with `fault` (it fails, and says why); returns what the failure says.
pub(crate) async fn fault_fails_case(fault: Fault, name: &str) -> String {
    let server = Server::start_with_env(&SHORT_TTLS).await;
    fault_fails_case_at(&server.base, &server.admin_token, server.dir(), fault, name).await
}

/// [`fault_fails_case`], and the failure names `section` of the specification.
pub(crate) async fn fault_fails_naming(fault: Fault, name: &str, section: &str) {
    let detail = fault_fails_case(fault, name).await;
    assert!(
        detail.contains(section),
        "{fault:?}: the failure of {name} does not name {section}: {detail}"
    );
}

/// [`fault_fails_case`] against the server at `base`.
async fn fault_fails_case_at(
    base: &str,
    token: &str,
    dir: &Path,
    fault: Fault,
    name: &str,
) -> String {
    let proxy = Proxy::start(base, token).await;
    let only = ["--only", name];
    let (output, report) = run_conformance(&proxy.base, token, dir, &only).await;
    assert!(
        output.status.success(),
        "{name} failed through a faithful proxy:\n{}",
        stdout(&output)
    );
    assert_eq!(case(&report, name)["status"], "passed");

    proxy.set(fault);
    let (output, report) = run_conformance(&proxy.base, token, dir, &only).await;
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
    verdict["detail"].as_str().unwrap_or("").to_string()
}

#[tokio::test]
async fn a_preview_naming_one_rule_only_fails_its_case() {
    fault_fails_case(
        Fault::PreviewFirstReasonOnly,
        "preview.every_rule_and_the_claim_agrees",
    )
    .await;
}

#[tokio::test]
async fn overlapping_paths_handed_out_fail_paths_overlap_waits_for_the_holder() {
    fault_fails_case(Fault::IgnorePaths, "paths.overlap_waits_for_the_holder").await;
}

#[tokio::test]
async fn hidden_path_waits_fail_paths_overlap_waits_for_the_holder() {
    fault_fails_case(Fault::HidePathWaits, "paths.overlap_waits_for_the_holder").await;
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
async fn a_lost_disclosure_fails_disclosure_required_and_bounded() {
    fault_fails_case(Fault::DropDisclosure, "disclosure.required_and_bounded").await;
}

#[tokio::test]
async fn a_lost_evidence_fails_evidence_checked_and_kept() {
    fault_fails_case(Fault::DropEvidence, "evidence.checked_and_kept").await;
}

#[tokio::test]
async fn plans_cut_short_fail_proposals_shape_limits_and_withdraw() {
    fault_fails_case(Fault::TruncatePlans, "proposals.shape_limits_and_withdraw").await;
}

#[tokio::test]
async fn approvals_that_decline_fail_proposals_approve_decline_not_chosen() {
    fault_fails_case(
        Fault::ApprovalsDecline,
        "proposals.approve_decline_not_chosen",
    )
    .await;
}

#[tokio::test]
async fn a_lost_plan_first_policy_fails_rules_plan_first() {
    fault_fails_case(Fault::DropApproval, "rules.plan_first").await;
}

/// The vouch lists are GitHub mode's (feature `vouch`): the case runs against a server with its
/// GitHub App configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vouch_list_read_without_its_repo_fails_rules_vouch_list_read() {
    use crate::github_support::story::{ADMIN, Story};
    let story = Story::start().await;
    fault_fails_case_at(
        &story.url(),
        ADMIN,
        story.dir.path(),
        Fault::VouchedWithoutRepo,
        "rules.vouch_list_read",
    )
    .await;
}

/// Reviewers are GitHub mode's (feature `reviewers`): the case runs against a server with its
/// GitHub App configured, whose repository names two reviewers in its `.github/owp.yml`, so that
/// the case reads real entries as well as its own repository without any.
async fn reviewers_shown_as_settings_fail(postgres: bool) {
    use crate::github_support::story::{ADMIN, REPO, Story};
    let settings = "max_open_prs: 4\nreview:\n  reviewers:\n    alice: 2\n    bob: 3\n";
    let story = Story::among(postgres, &["alice", "bob"], Some(settings), |_| {}).await;
    let (status, state) = story
        .admin(reqwest::Method::GET, "/v1/admin/state", None)
        .await;
    assert_eq!(status, 200, "{state}");
    let repo = state["repos"]
        .as_array()
        .and_then(|l| l.iter().find(|r| r["repo"] == REPO))
        .unwrap_or_else(|| panic!("no {REPO} in {state}"));
    let shown: Vec<(&str, i64)> = repo["reviewers"]
        .as_array()
        .unwrap_or_else(|| panic!("{repo}"))
        .iter()
        .map(|r| {
            (
                r["login"].as_str().unwrap(),
                r["capacity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(shown, [("alice", 2), ("bob", 3)], "{repo}");
    fault_fails_case_at(
        &story.url(),
        ADMIN,
        story.dir.path(),
        Fault::ReviewersAsSettings,
        "rules.reviewers_shown",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_shown_as_settings_fail_rules_reviewers_shown_sqlite() {
    reviewers_shown_as_settings_fail(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_shown_as_settings_fail_rules_reviewers_shown_postgres() {
    reviewers_shown_as_settings_fail(true).await;
}

#[tokio::test]
async fn a_cool_down_after_a_nack_fails_rules_no_cooldown_by_default() {
    fault_fails_case(Fault::CoolDownAfterNack, "rules.no_cooldown_by_default").await;
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

#[tokio::test]
async fn a_meta_whose_revisions_skip_one_fails_profile_revisions() {
    fault_fails_naming(Fault::MetaWithoutV12, "profile.revisions", "§2").await;
}

#[tokio::test]
async fn a_server_that_reads_text_as_json_fails_edges_media_type_415() {
    fault_fails_naming(Fault::TextAsJson, "edges.media_type_415", "§3").await;
}

#[tokio::test]
async fn a_report_after_the_lease_answered_403_fails_edges_report_after_lease_ended() {
    fault_fails_naming(
        Fault::EndedAsForbidden,
        "edges.report_after_lease_ended",
        "§9.15",
    )
    .await;
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

/// Runs `owp conformance` with these arguments in `dir`, without `OWP_ADMIN_TOKEN` in its
/// environment, and with a time limit: a runner that does not stop fails the test.
async fn conformance_in(dir: &Path, args: &[&str], limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .arg("conformance")
        .args(args)
        .current_dir(dir)
        .env_remove("OWP_ADMIN_TOKEN")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(limit, child)
        .await
        .unwrap_or_else(|_| panic!("owp conformance {args:?} still ran after {limit:?}"))
        .expect("run owp conformance");
    (output, started.elapsed())
}

/// A wrong or empty admin token, or a server that is not an OWP server, stops the runner before
/// any case: one line on standard error, exit status 1, nothing on standard output.
#[tokio::test]
async fn bad_credentials_stop_the_run_with_one_line() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = ["--admin-token", "not-the-token"];
    let empty = ["--admin-token", ""];
    for (args, says) in [
        (
            &[server.base.as_str(), wrong[0], wrong[1]][..],
            "refused the admin token",
        ),
        (&[server.base.as_str(), empty[0], empty[1]][..], "env.local"),
        (&[server.base.as_str()][..], "env.local"),
    ] {
        let (output, _) = conformance_in(dir.path(), args, Duration::from_secs(30)).await;
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(stdout(&output), "", "{args:?}: no case runs");
    }
    // Nothing was created: the runner stopped before its first case.
    let state = server.state().await;
    assert!(state["workers"].as_array().unwrap().is_empty(), "{state}");
    assert!(state["repos"].as_array().unwrap().is_empty(), "{state}");

    // A server that answers 200 to everything is not taken for an OWP server.
    let anything = hostile(axum::Router::new().fallback(|| async { "ok" })).await;
    let (output, _) = conformance_in(
        dir.path(),
        &[&anything.base, "--admin-token", "t"],
        Duration::from_secs(30),
    )
    .await;
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("does not answer as an OWP server"), "{err}");
}

/// Run where `owp serve` ran, the runner takes the admin token from `env.local`, as `owp serve`
/// saves a generated one there: the README's command works as written.
#[tokio::test]
async fn the_runner_reads_the_admin_token_from_env_local() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("env.local"),
        format!("OWP_ADMIN_TOKEN={}\n", server.admin_token),
    )
    .unwrap();
    let (output, _) = conformance_in(
        dir.path(),
        &[&server.base, "--only", "discovery.meta"],
        Duration::from_secs(60),
    )
    .await;
    let out = stdout(&output);
    assert!(
        output.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.contains("PASS  discovery.meta"), "{out}");
}

/// A small hostile server on 127.0.0.1 for the runner's own safety.
struct Hostile {
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn hostile(app: axum::Router) -> Hostile {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Hostile { base, task }
}

/// A `404 not_found` problem, as an OWP server answers for an unknown task.
fn not_found_problem() -> impl axum::response::IntoResponse {
    (
        axum::http::StatusCode::NOT_FOUND,
        [("content-type", "application/problem+json")],
        r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"no","code":"not_found"}"#,
    )
}

/// What an OWP server answers before the first case: `/healthz`, and a 404 problem for an
/// unknown task asked by the admin.
fn owp_like() -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route("/v1/tasks/{id}", get(|| async { not_found_problem() }))
}

/// An answer that never ends is read up to the runner's cap (4 MiB), and the case fails saying
/// so; the run goes on and ends.
#[tokio::test]
async fn an_endless_answer_fails_its_case_and_the_run_ends() {
    use axum::body::Body;
    let endless = || async {
        let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
        let stream =
            futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        (
            [("content-type", "application/json")],
            Body::from_stream(stream),
        )
    };
    let server = hostile(owp_like().route("/v1/meta", axum::routing::get(endless))).await;
    let dir = tempfile::tempdir().unwrap();
    let (output, took) = conformance_in(
        dir.path(),
        &[
            &server.base,
            "--admin-token",
            "t",
            "--only",
            "discovery.meta",
        ],
        Duration::from_secs(60),
    )
    .await;
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("FAIL  discovery.meta") && l.contains("larger than 4 MiB")),
        "{out}"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

/// An import answer listing 20,000 task ids, each of which the server then answers slowly: the
/// clean-up reads at most 500 of them and stops after 20 s, instead of running for hours.
#[tokio::test]
async fn clean_up_is_bounded_by_count_and_time() {
    use axum::routing::{get, post};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let reads = Arc::new(AtomicUsize::new(0));
    let counted = reads.clone();
    let tasks: Vec<Value> = (0..20_000)
        .map(|n| json!({"task_id": format!("t_{n}"), "repo": "x", "status": "ready"}))
        .collect();
    let listing = json!({"tasks": tasks});
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/v1/tasks/{id}",
            get(
                move |axum::extract::Path(id): axum::extract::Path<String>| {
                    let counted = counted.clone();
                    async move {
                        if id != "owpc-credential-check" {
                            counted.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_secs(5)).await;
                        }
                        not_found_problem()
                    }
                },
            ),
        )
        .route(
            "/v1/admin/repos",
            post(|axum::Json(body): axum::Json<Value>| async move {
                (axum::http::StatusCode::CREATED, axum::Json(body))
            }),
        )
        .route(
            "/v1/admin/tasks",
            post(move || {
                let listing = listing.clone();
                async move { (axum::http::StatusCode::CREATED, axum::Json(listing)) }
            }),
        );
    let server = hostile(app).await;
    let dir = tempfile::tempdir().unwrap();
    let (output, took) = conformance_in(
        dir.path(),
        &[&server.base, "--admin-token", "t", "--only", "rules.skills"],
        Duration::from_secs(120),
    )
    .await;
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let read = reads.load(Ordering::SeqCst);
    assert!(read <= 500, "the clean-up read {read} tasks");
    assert!(read > 0, "the clean-up read no task: {out}");
    assert!(took < Duration::from_secs(60), "took {took:?}:\n{out}");
}

/// A server that redirects the runner's requests to another host never gets the admin token
/// sent there: redirects are followed only to the same origin.
#[tokio::test]
async fn the_admin_token_never_follows_a_redirect_to_another_host() {
    use std::sync::Mutex;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let thief = hostile(axum::Router::new().fallback(
        move |headers: axum::http::HeaderMap, uri: axum::http::Uri| {
            let log = log.clone();
            async move {
                let token = headers
                    .get("x-admin-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                log.lock().unwrap().push(format!("{uri} {token}"));
                "ok"
            }
        },
    ))
    .await;
    let target = thief.base.clone();
    let redirecting = hostile(
        axum::Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .fallback(move |uri: axum::http::Uri| {
                let to = format!("{target}{uri}");
                async move { axum::response::Redirect::temporary(&to) }
            }),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (output, _) = conformance_in(
        dir.path(),
        &[
            &redirecting.base,
            "--admin-token",
            "secret-admin-token",
            "--only",
            "rules.skills",
        ],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().all(|l| !l.contains("secret-admin-token")),
        "the admin token went to another host: {seen:?}"
    );
    assert!(
        seen.is_empty(),
        "the runner followed a redirect to another host: {seen:?}"
    );
}
