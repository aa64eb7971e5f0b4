//! `owp mcp` driven by a real MCP client this project did not write: the official TypeScript SDK
//! (`tests/mcp_client`, installed with `npm ci --prefix tests/mcp_client`), against a real
//! `owp serve` and a worker profile registered with `owp worker register`.
//!
//! Skips, saying why, only when `node` or `tests/mcp_client/node_modules` is missing.

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::*;

const PROFILE: &str = "mcp-test";

pub(crate) fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_client")
}

macro_rules! require_client {
    () => {
        if let Some(why) = node_package_missing("tests/mcp_client", "@modelcontextprotocol/sdk") {
            crate::services::missing(
                "node",
                "this owp mcp test",
                &format!("the MCP client cannot run: {why}"),
            );
            return;
        }
    };
}
pub(crate) use require_client;

/// `owp worker register --profile PROFILE` into `config_dir`, as a person would.
pub(crate) fn register_profile(server: &Server, config_dir: &Path, skills: &str) -> Value {
    register_profile_with(
        server,
        config_dir,
        skills,
        &["agent=claude-code", "model=opus"],
    )
}

/// The same, with the given `--capability KEY=VALUE`s.
fn register_profile_with(
    server: &Server,
    config_dir: &Path,
    skills: &str,
    capabilities: &[&str],
) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_owp"))
        .args([
            "worker",
            "register",
            "--profile",
            PROFILE,
            "--name",
            "Ada's seat",
        ])
        .args(["--skills", skills, "--capacity", "5"])
        .args(capabilities.iter().flat_map(|c| ["--capability", c]))
        .args(["--server", &server.base])
        .arg("--config-dir")
        .arg(config_dir)
        .env_remove("OWP_SERVER")
        .env_remove("OWP_PROFILE")
        .env_remove("OWP_ADMIN_TOKEN")
        .output()
        .expect("run owp worker register");
    assert!(
        out.status.success(),
        "owp worker register failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let path = config_dir.join(format!("worker-{PROFILE}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("the saved profile"))
        .expect("a JSON profile")
}

/// Starts the MCP client on `scenario` (see [`run_client`]) in a task of its own, with `env`
/// added to its environment; the task answers the client's JSON summary.
pub(crate) fn spawn_client(
    scenario: &str,
    config_dir: &Path,
    pr_url: &str,
    env: &[(&str, &str)],
) -> tokio::task::JoinHandle<Value> {
    let (scenario, dir, pr_url) = (
        scenario.to_string(),
        config_dir.to_path_buf(),
        pr_url.to_string(),
    );
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || run_client(&scenario, &dir, &pr_url, &env))
}

/// Runs `node client.mjs SCENARIO` (`tasks:SCENARIO`: `node tasks.mjs SCENARIO`) and returns its
/// JSON summary.
fn run_client(scenario: &str, config_dir: &Path, pr_url: &str, env: &[(String, String)]) -> Value {
    let out = Command::new("node")
        .envs(env.iter().cloned())
        .args(match scenario.strip_prefix("tasks:") {
            Some(tasks) => [
                client_dir().join("tasks.mjs").into_os_string(),
                tasks.into(),
            ],
            None => [
                client_dir().join("client.mjs").into_os_string(),
                scenario.into(),
            ],
        })
        .current_dir(client_dir())
        .env("OWP_BIN", env!("CARGO_BIN_EXE_owp"))
        .env("OWP_MCP_PROFILE", PROFILE)
        .env("OWP_MCP_CONFIG_DIR", config_dir)
        .env("OWP_MCP_PR_URL", pr_url)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the MCP client failed ({scenario}):\n{stderr}\n{stdout}"
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("client summary is not JSON ({e}): {stdout}\n{stderr}"))
}

pub(crate) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

#[tokio::test]
async fn an_ai_tool_takes_a_task_to_pr_opened_over_mcp() {
    require_client!();
    let mut server = Server::start().await;
    server.upsert_repo("mcp-demo", 3, false).await;
    let ids = server
        .import_ids(
            "mcp-demo",
            json!([
                {"key": "MCP-1", "title": "Document the MCP setup",
                 "description": "Add the one-line setup for each AI tool.", "priority": "high",
                 "estimate_points": 2, "required_skills": ["docs"], "area": "readme"},
                {"key": "MCP-2", "title": "Draw the MCP flow", "priority": "low",
                 "estimate_points": 1, "required_skills": ["docs"], "area": "diagrams"}
            ]),
        )
        .await;
    let (task_id, second_id) = (ids[0].clone(), ids[1].clone());
    let config = tempfile::tempdir().unwrap();
    let profile = register_profile(&server, config.path(), "docs");
    let pr_url = "https://git.example.test/mcp-demo/pull/7";

    let summary = spawn_client("work", config.path(), pr_url, &[])
        .await
        .unwrap();

    // The handshake and the tool list.
    assert_eq!(s(&summary["server"]), "owp");
    assert!(s(&summary["instructions"]).contains("owp_claim"));
    let tools: Vec<&str> = summary["tools"].as_array().unwrap().iter().map(s).collect();
    for want in [
        "owp_ack",
        "owp_brief",
        "owp_claim",
        "owp_current",
        "owp_nack",
        "owp_renew",
        "owp_report",
        "owp_why",
    ] {
        assert!(tools.contains(&want), "{want} missing: {tools:?}");
    }
    // docs/mcp.md lists every tool the server offers.
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/mcp.md")).unwrap();
    for tool in &tools {
        assert!(
            docs.contains(&format!("| `{tool}` |")),
            "docs/mcp.md has no row for {tool}"
        );
    }
    assert_eq!(summary["wait_maximum"], json!(30));

    // Bad input is a tool error naming the field; nothing was claimed by it.
    assert!(
        s(&summary["bad_wait"]).contains("wait_seconds must be between 0 and 30"),
        "{summary}"
    );
    assert!(
        s(&summary["wrong_type"])
            .starts_with("owp_claim failed: invalid input: wait_seconds: invalid type"),
        "{summary}"
    );

    // The lease, its brief, and what the server says about it.
    assert_eq!(s(&summary["task_id"]), task_id);
    for brief in ["claim_brief", "current_brief", "brief", "resource_text"] {
        let text = s(&summary[brief]);
        assert!(
            text.contains("```issue-text (untrusted)\nDocument the MCP setup\n```")
                && text.contains("Key: `MCP-1`"),
            "{brief}: {text}"
        );
        assert!(text.contains("Add the one-line setup"), "{brief}: {text}");
        assert!(text.contains("- Skills: docs"), "{brief}: {text}");
        // Words for a tool that opens the pull request itself, not for `owp worker run`.
        assert!(
            !text.contains("do not push") && !text.contains("the pool runs"),
            "{brief}: {text}"
        );
        assert!(
            text.contains("pushed, and you open a pull request for review")
                && text.contains(&format!(
                    "- Then owp_report {{task_id: \"{task_id}\", status: \"pr_opened\", pr_url}} hands it in."
                )),
            "{brief}: {text}"
        );
    }
    assert_eq!(s(&summary["after_ack"]), "in_progress");
    assert!(!s(&summary["renewed_expires_at"]).is_empty());
    assert_eq!(summary["current_leases"], json!([summary["lease_id"]]));
    assert_eq!(s(&summary["worker_name"]), "Ada's seat");
    assert_eq!(
        summary["resources"],
        json!([format!("owp://tasks/{task_id}/brief")])
    );

    // Refusals carry the server's problem code.
    assert!(
        s(&summary["unknown_lease"]).contains("lease_not_found"),
        "{summary}"
    );
    assert!(
        s(&summary["merged_refused"]).contains("a maintainer or GitHub decides"),
        "{summary}"
    );
    assert!(s(&summary["missing_url"]).contains("needs pr_url"));

    // The report, as the server saw it.
    assert_eq!(s(&summary["reported_status"]), "pr_opened");
    assert_eq!(summary["leases_after_report"], json!(0));
    assert!(
        s(&summary["late_ack"]).contains("lease_not_held"),
        "{summary}"
    );
    let task = server.task(&task_id).await;
    assert_eq!(task["status"], "pr_opened", "{task}");
    assert_eq!(task["artifact"]["pr_url"], pr_url, "{task}");
    // The report said which tool made the pull request: the worker's `agent` and `model`.
    assert_eq!(
        task["artifact"]["disclosure"],
        json!({"tool": "claude-code", "model": "opus"}),
        "{task}"
    );
    assert_eq!(task["assigned_worker_id"], profile["worker_id"], "{task}");

    // The next task went back with its reason, and nothing else fits this worker.
    assert_eq!(s(&summary["second_task_id"]), second_id);
    assert_eq!(s(&summary["after_nack"]), "ready");
    assert!(summary["nothing_left"].is_null(), "{summary}");
    assert!(s(&summary["nothing_message"]).contains("No task fits"));
    assert!(
        s(&summary["nothing_message"]).contains("plans first")
            && s(&summary["nothing_message"]).contains("owp_why")
            && s(&summary["nothing_message"]).contains("owp_propose"),
        "{summary}"
    );
    assert_eq!(server.task(&second_id).await["status"], "ready");
    let state = server.state().await;
    let nacked = state["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "lease.nacked")
        .expect("a lease.nacked event");
    assert!(
        nacked
            .to_string()
            .contains("needs access to the design files"),
        "{nacked}"
    );

    // The session sent heartbeats for the worker (the first as it started).
    assert!(
        s(&summary["server_log"]).contains("heartbeat answered"),
        "{}",
        s(&summary["server_log"])
    );

    // A token the server does not know: every call is a clear tool error.
    let path = config.path().join(format!("worker-{PROFILE}.json"));
    let mut wrong = profile.clone();
    wrong["token"] = json!("owpw_not_a_real_token");
    std::fs::write(&path, serde_json::to_string(&wrong).unwrap()).unwrap();
    let refused = spawn_client("refused", config.path(), pr_url, &[])
        .await
        .unwrap();
    assert!(
        s(&refused["claim_error"]).contains("refused this worker's token (401)"),
        "{refused}"
    );
    assert!(
        s(&refused["current_error"]).contains(&format!("owp worker register --profile {PROFILE}")),
        "{refused}"
    );
    assert_eq!(refused["tools_after_errors"], json!(tools.len()));

    // The server is gone: the tools say so, the session stays up.
    std::fs::write(&path, serde_json::to_string(&profile).unwrap()).unwrap();
    server.stop();
    let down = spawn_client("refused", config.path(), pr_url, &[])
        .await
        .unwrap();
    for field in ["claim_error", "current_error", "report_error"] {
        assert!(
            s(&down[field]).contains("cannot reach the OWP server"),
            "{field}: {down}"
        );
    }
    assert_eq!(down["tools_after_errors"], json!(tools.len()));
}

/// With a lease term of 3 s, a session that calls nothing for 8 s still holds its lease: `owp mcp`
/// heartbeats while it is open. Once it closes, the lease runs out.
#[tokio::test]
async fn an_open_session_keeps_its_lease_alive() {
    require_client!();
    let server = Server::start_with_env(&[
        ("OWP_ACCEPT_TTL_SECONDS", "2"),
        ("OWP_LEASE_TTL_SECONDS", "3"),
        ("OWP_HEARTBEAT_TTL_SECONDS", "3"),
    ])
    .await;
    server.upsert_repo("mcp-hold", 3, false).await;
    let task_id = server
        .import_ids("mcp-hold", json!([{"key": "HOLD-1", "title": "Long work"}]))
        .await
        .remove(0);
    let config = tempfile::tempdir().unwrap();
    register_profile(&server, config.path(), "docs");

    let summary = spawn_client(
        "hold",
        config.path(),
        "https://unused.test/",
        &[("OWP_MCP_HOLD_SECONDS", "8")],
    )
    .await
    .unwrap();
    assert_eq!(s(&summary["task_id"]), task_id);
    assert_eq!(
        summary["held_leases"],
        json!([summary["lease_id"]]),
        "{summary}"
    );
    assert!(summary["heartbeat"]["last_error"].is_null(), "{summary}");
    assert!(!s(&summary["heartbeat"]["last_ok"]).is_empty(), "{summary}");
    let task = server.task(&task_id).await;
    assert_eq!(task["status"], "in_progress", "{task}");
    assert_eq!(task["lease_id"], summary["lease_id"], "{task}");

    // The session is closed: no more heartbeats, and the lease expires within its term.
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    loop {
        let task = server.task(&task_id).await;
        if task["status"] == "ready" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the lease outlived the session: {task}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Everything `owp mcp` writes to stdout is the protocol: one JSON-RPC message a line, even when
/// the profile is missing and every tool fails; with `--log-file` its logs go to that file.
#[test]
fn stdout_carries_only_the_protocol() {
    let config = tempfile::tempdir().unwrap();
    let log_path = config.path().join("mcp.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_owp"))
        .args(["mcp", "--profile", "nobody", "--config-dir"])
        .arg(config.path())
        .arg("--log-file")
        .arg(&log_path)
        .env("OWP_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn owp mcp");
    let mut stdin = child.stdin.take().unwrap();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": "owp_claim", "arguments": {"wait_seconds": 1}}}),
    ];
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut answers = Vec::new();
    for message in &messages {
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
        if message.get("id").is_some() {
            let line = lines.next().expect("an answer").expect("read stdout");
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON-RPC ({e}): {line:?}"));
            assert_eq!(value["jsonrpc"], "2.0", "{line}");
            answers.push(value);
        }
    }
    drop(stdin);
    // Closing stdin ends the session cleanly, with nothing more on stdout.
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = wait_with_timeout(&mut child, Duration::from_secs(20));
    assert!(status.success(), "owp mcp exited with {status}");
    assert!(rest.iter().all(|l| l.trim().is_empty()), "{rest:?}");

    assert_eq!(answers[0]["result"]["serverInfo"]["name"], "owp");
    assert_eq!(answers[0]["result"]["protocolVersion"], "2025-06-18");
    assert!(answers[1]["result"]["tools"].as_array().unwrap().len() >= 7);
    let call = &answers[2]["result"];
    assert_eq!(call["isError"], true, "{call}");
    let text = s(&call["content"][0]["text"]);
    assert!(
        text.contains("no worker registered under profile nobody"),
        "{text}"
    );
    assert!(
        text.contains("owp worker register --profile nobody"),
        "{text}"
    );
    // With --log-file the logs go there, not to stderr.
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.trim().is_empty(), "{stderr}");
    let log = std::fs::read_to_string(&log_path).expect("the log file");
    assert!(log.contains("without a usable profile"), "{log}");
    assert!(log.contains("session closed"), "{log}");
}

fn wait_with_timeout(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("owp mcp did not exit after stdin closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Plan first over MCP: the AI tool proposes a plan with `owp_propose` (refused, each in one line
/// naming why: a plan too long or missing, a second plan, a repository that takes no plans), sees
/// its own proposals with `owp_proposals`, and once a maintainer approved the plan its next
/// `owp_claim` returns the approved lease, before a more urgent task it could take.
/// Once the client wrote `FILE.asked`, approves the one plan proposed for `task` as a maintainer
/// would, and writes `file` for the client to go on: the proposal's id and the approval's answer.
async fn approve_when_asked(
    server: &Server,
    task: &str,
    file: &Path,
    client: &tokio::task::JoinHandle<Value>,
) -> (String, Value) {
    let asked = file.with_extension("asked");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !asked.exists() {
        assert!(
            std::time::Instant::now() < deadline && !client.is_finished(),
            "the client never got to the approval"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let list = server
        .admin_get(&format!("/v1/tasks/{task}/proposals"))
        .await
        .expect(200);
    let proposals = list["proposals"].as_array().unwrap();
    assert_eq!(proposals.len(), 1, "{list}");
    let proposal = str_field(&proposals[0], "proposal_id");
    let approved = server
        .admin_post(
            &format!("/v1/admin/proposals/{proposal}/approve"),
            json!({}),
        )
        .await
        .expect(200);
    std::fs::write(file, "approved").unwrap();
    (proposal, approved)
}

#[tokio::test]
async fn an_ai_tool_proposes_a_plan_over_mcp() {
    require_client!();
    let server = Server::start().await;
    let policy = server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "mcp-plan", "max_open_prs": 3, "approval": "plan",
                   "visibility": "public"}),
        )
        .await;
    assert!(
        policy.status == 200 || policy.status == 201,
        "{}",
        policy.describe()
    );
    server.upsert_repo("mcp-plain", 3, false).await;
    let task = server
        .import_ids(
            "mcp-plan",
            json!([{"title": "Plan the docs", "description": "Say how to set up each AI tool.",
                    "required_skills": ["docs"], "priority": "low"}]),
        )
        .await
        .remove(0);
    let plain = server
        .import_ids(
            "mcp-plain",
            json!([{"title": "Urgent docs", "required_skills": ["docs"], "priority": "critical"}]),
        )
        .await
        .remove(0);
    let config = tempfile::tempdir().unwrap();
    register_profile(&server, config.path(), "docs");
    let approve_file = config.path().join("approved");

    let client = spawn_client(
        "propose",
        config.path(),
        "",
        &[
            ("OWP_MCP_TASK_ID", task.as_str()),
            ("OWP_MCP_PLAIN_TASK_ID", plain.as_str()),
            ("OWP_MCP_APPROVE_FILE", approve_file.to_str().unwrap()),
        ],
    );
    // A maintainer approves the plan once the tool has asked everything it asks before.
    let (proposal, approved) = approve_when_asked(&server, &task, &approve_file, &client).await;
    let summary = client.await.unwrap();

    // Before proposing, the tool found the task to plan and read it.
    assert_eq!(s(&summary["why_title"]), "Plan the docs", "{summary}");
    assert!(
        s(&summary["why_next"]).contains(&format!("owp_propose {{task_id: \"{task}\", plan}}")),
        "{summary}"
    );
    assert_eq!(s(&summary["plan_title"]), "Plan the docs");
    assert_eq!(
        s(&summary["plan_description"]),
        "Say how to set up each AI tool."
    );
    assert!(
        s(&summary["plan_next"]).contains("owp_propose"),
        "{summary}"
    );
    assert!(
        s(&summary["plan_brief"]).contains("Say how to set up each AI tool."),
        "{summary}"
    );
    let tools: Vec<&str> = summary["tools"].as_array().unwrap().iter().map(s).collect();
    for want in ["owp_propose", "owp_proposals"] {
        assert!(tools.contains(&want), "{want} missing: {tools:?}");
    }
    assert!(
        s(&summary["instructions"]).contains("owp_propose"),
        "{summary}"
    );
    assert!(
        s(&summary["too_long"]).starts_with("owp_propose failed: invalid input: plan: ")
            || s(&summary["too_long"]).contains("plan is longer than 4000 characters"),
        "{summary}"
    );
    assert!(s(&summary["no_plan"]).contains("plan"), "{summary}");
    let p = &summary["proposal"];
    assert_eq!(s(&p["proposal_id"]), proposal);
    assert_eq!(s(&p["task_id"]), task);
    assert_eq!(s(&p["state"]), "open");
    assert_eq!(s(&p["plan"]), "Add a test, then fix it.");
    assert!(
        s(&summary["again"]).contains("already_proposed"),
        "{summary}"
    );
    assert!(
        s(&summary["plain"]).contains("approval_not_required")
            && s(&summary["plain"]).contains("call owp_claim"),
        "{summary}"
    );
    assert_eq!(summary["listed"], json!([format!("{proposal} open")]));
    assert!(
        s(&summary["unknown_task"]).contains("task_not_found"),
        "{summary}"
    );
    // The approved lease comes first, then the proposal shows `approved`.
    assert_eq!(summary["approved_lease"], approved["lease"]["lease_id"]);
    assert_eq!(summary["after"], json!(["approved"]));
    // owp_task: the task with its repository's policy, the approved plan and the rules as the
    // brief words them (the same text as the Markdown block that follows).
    assert_eq!(summary["task_policy"]["approval"], "plan", "{summary}");
    assert_eq!(summary["task_policy"]["proposal_days"], 7, "{summary}");
    assert_eq!(s(&summary["task_plan"]), "Add a test, then fix it.");
    let rules = s(&summary["task_rules"]);
    for part in [
        "## Rules of the pool for this work",
        "- Approval: this repository takes plans first, and a maintainer approved this worker's plan",
        "- Disclosure is welcome",
        "- Commits: verified (signed) commits are not required here.",
        "- Commands: this repository names no setup, test or lint command",
        "- If this repository has an `AGENTS.md` at its root, read it and follow it.",
    ] {
        assert!(rules.contains(part), "missing {part:?} in\n{rules}");
    }
    assert_eq!(summary["task_rules_block"], summary["task_rules"]);
    assert!(
        s(&summary["task_unknown"]).starts_with("owp_task failed:")
            && s(&summary["task_unknown"]).contains("task_not_found"),
        "{summary}"
    );
    assert!(
        s(&summary["task_bad"]).contains("invalid input"),
        "{summary}"
    );
    assert!(tools.contains(&"owp_task"), "{tools:?}");
    assert_eq!(server.task(&plain).await["status"], "ready");
}

/// The person behind the AI tool proves their GitHub account through `owp_link`: the first call
/// answers GitHub's device page and a code to show them, later calls poll, and once they entered
/// the code on GitHub the worker speaks for their account.
#[tokio::test]
async fn owp_link_shows_the_person_a_code_and_links_the_worker_to_their_account() {
    require_client!();
    let fake = crate::github_support::FakeGithub::start().await;
    let server = crate::worker_link_cli::pool_with_github(&fake).await;
    let config = tempfile::tempdir().unwrap();
    let profile = register_profile(&server, config.path(), "docs");
    let approve_file = config.path().join("approved");
    let client = spawn_client(
        "link",
        config.path(),
        "",
        &[
            ("OWP_MCP_APPROVE_FILE", &approve_file.display().to_string()),
            ("GITHUB_WEB_URL", fake.web_url()),
        ],
    );
    // The file is created before the code is written into it: wait for the code itself.
    let asked = config.path().join("approved.asked");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let code = loop {
        let code = std::fs::read_to_string(&asked).unwrap_or_default();
        if !code.trim().is_empty() {
            break code;
        }
        assert!(
            std::time::Instant::now() < deadline && !client.is_finished(),
            "the client never showed a code"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    fake.approve_device(code.trim(), "ada").unwrap();
    std::fs::write(&approve_file, "approved").unwrap();
    let summary = client.await.unwrap();

    let tools: Vec<&str> = summary["tools"].as_array().unwrap().iter().map(s).collect();
    assert!(tools.contains(&"owp_link"), "{tools:?}");
    assert!(s(&summary["instructions"]).contains("owp_link"));
    let started = &summary["started"];
    assert_eq!(s(&started["status"]), "waiting", "{summary}");
    let page = format!("{}/login/device", fake.web_url());
    assert_eq!(s(&started["verification_uri"]), page);
    assert_eq!(
        s(&started["show"]),
        format!("Open {page} and enter {}", code.trim())
    );
    let linked = &summary["linked"];
    assert_eq!(s(&linked["status"]), "linked", "{summary}");
    assert_eq!(s(&linked["github_login"]), "ada");
    assert_eq!(linked["github_account_id"], json!(fake.user_id("ada")));
    let worker = server.worker(&str_field(&profile, "worker_id")).await;
    assert_eq!(worker["github_login"], "ada", "{worker}");
}

/// A repository that requires disclosure: a tool whose worker declares no `agent` capability is
/// refused once, told how, and hands in the pull request with a `disclosure` argument; a worker
/// registered with `--capability agent=… --capability model=…` has it filled in.
#[tokio::test]
async fn an_ai_tool_discloses_itself_where_a_repository_requires_it() {
    require_client!();
    let server = Server::start().await;
    let repo = server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "mcp-honest", "max_open_prs": 5,
                   "contract": {"disclosure": "required"}}),
        )
        .await;
    assert!(
        repo.status == 200 || repo.status == 201,
        "{}",
        repo.describe()
    );
    let ids = server
        .import_ids(
            "mcp-honest",
            json!([{"title": "One", "required_skills": ["docs"]},
                   {"title": "Two", "required_skills": ["docs"]}]),
        )
        .await;
    let bare = tempfile::tempdir().unwrap();
    register_profile_with(&server, bare.path(), "docs", &[]);
    let summary = spawn_client(
        "disclose",
        bare.path(),
        "https://git.example.test/mcp-honest/pull/1",
        &[("OWP_MCP_TOOL", "aider")],
    )
    .await
    .unwrap();
    let first = s(&summary["first"]);
    assert!(
        first.starts_with("owp_report failed:")
            && first.contains("disclosure_required")
            && first.contains("call owp_report again with disclosure: {tool, model?}"),
        "{summary}"
    );
    assert_eq!(summary["reported_status"], "pr_opened", "{summary}");
    let one = s(&summary["task_id"]).to_string();
    assert!(ids.contains(&one));
    let task = server.task(&one).await;
    assert_eq!(
        task["artifact"]["disclosure"],
        json!({"tool": "aider"}),
        "{task}"
    );

    let declared = tempfile::tempdir().unwrap();
    register_profile(&server, declared.path(), "docs");
    let summary = spawn_client(
        "disclose",
        declared.path(),
        "https://git.example.test/mcp-honest/pull/2",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(summary["first"], "ok", "{summary}");
    let two = s(&summary["task_id"]).to_string();
    assert_ne!(two, one);
    let task = server.task(&two).await;
    assert_eq!(
        task["artifact"]["disclosure"],
        json!({"tool": "claude-code", "model": "opus"}),
        "{task}"
    );
}

/// The JSON blocks of the section of `docs/mcp.md` titled `title`, in order.
pub(crate) fn json_blocks_of_the_docs(title: &str) -> Vec<Value> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/mcp.md"))
        .expect("docs/mcp.md");
    let start = doc
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("the section {title} in docs/mcp.md"));
    let section = &doc[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut blocks = Vec::new();
    let mut block: Option<String> = None;
    for line in section.lines() {
        match (line.trim(), &mut block) {
            ("```json", None) => block = Some(String::new()),
            ("```", Some(text)) => {
                blocks
                    .push(serde_json::from_str(text).unwrap_or_else(|e| {
                        panic!("a block of {title} is not JSON ({e}): {text}")
                    }));
                block = None;
            }
            (content, Some(text)) => text.push_str(content),
            _ => {}
        }
    }
    blocks
}

/// `docs/mcp.md`'s plans-first story runs as written: an AI tool finds the task that wants a
/// plan, reads it, proposes, waits, is approved by a maintainer, claims, works, and hands in its
/// pull request saying which tool made it.
#[tokio::test]
async fn the_plans_first_story_of_the_docs_runs_as_written() {
    require_client!();
    // The tool calls of the story, in order.
    let calls = json_blocks_of_the_docs("A plans-first task, end to end");
    let tools: Vec<&str> = calls.iter().map(|c| s(&c["tool"])).collect();
    assert_eq!(
        tools,
        [
            "owp_claim",
            "owp_why",
            "owp_task",
            "owp_brief",
            "owp_propose",
            "owp_proposals",
            "owp_claim",
            "owp_ack",
            "owp_report",
            "owp_report"
        ]
    );
    let server = Server::start().await;
    let repo = server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "acme/parser", "max_open_prs": 3, "approval": "plan",
                   "visibility": "public", "contract": {"disclosure": "required"}}),
        )
        .await;
    assert!(
        repo.status == 200 || repo.status == 201,
        "{}",
        repo.describe()
    );
    let task = server
        .import_ids(
            "acme/parser",
            json!([{"title": "Dates off by one", "required_skills": ["docs"],
                    "description": "parse_day returns the day before for the last day of a month."}]),
        )
        .await
        .remove(0);
    let config = tempfile::tempdir().unwrap();
    register_profile(&server, config.path(), "docs");
    let story_file = config.path().join("story.json");
    std::fs::write(&story_file, serde_json::to_string(&calls).unwrap()).unwrap();
    let approve_file = config.path().join("approved");
    let client = spawn_client(
        "story",
        config.path(),
        "",
        &[
            ("OWP_MCP_STORY", story_file.to_str().unwrap()),
            ("OWP_MCP_TASK_ID", task.as_str()),
            ("OWP_MCP_APPROVE_FILE", approve_file.to_str().unwrap()),
        ],
    );
    // The maintainer approves the plan while the tool waits.
    let (proposal, _) = approve_when_asked(&server, &task, &approve_file, &client).await;
    let summary = client.await.unwrap();
    let answers: Vec<&Value> = summary["answers"]
        .as_array()
        .unwrap_or_else(|| panic!("{summary}"))
        .iter()
        .map(|a| &a["answer"])
        .collect();
    assert_eq!(answers.len(), calls.len(), "{summary}");
    // 1. No lease: the task wants a plan first.
    assert_eq!(answers[0]["lease"], Value::Null, "{summary}");
    // 2. owp_why names it, with the calls to make.
    let refused = answers[1]["refused"].as_array().unwrap();
    let entry = refused
        .iter()
        .find(|r| r["task_id"] == task.as_str())
        .unwrap_or_else(|| panic!("{summary}"));
    assert_eq!(entry["title"], "Dates off by one");
    assert!(
        entry["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "approval_required"),
        "{entry}"
    );
    assert!(s(&entry["next"]).contains("owp_propose"), "{entry}");
    // 3. It reads the task and its brief.
    assert_eq!(answers[2]["task"]["task_id"], task.as_str());
    assert_eq!(answers[2]["task"]["policy"]["approval"], "plan");
    assert_eq!(answers[2]["task"]["policy"]["disclosure"], "required");
    assert!(
        s(answers[3]).contains("parse_day returns the day before"),
        "{summary}"
    );
    // 4. The plan is in; 5. approved.
    assert_eq!(answers[4]["proposal"]["state"], "open");
    assert_eq!(answers[4]["proposal"]["proposal_id"], proposal.as_str());
    assert_eq!(answers[5]["proposals"][0]["state"], "approved");
    // 6. The approved lease, accepted.
    assert_eq!(answers[6]["lease"]["task"]["task_id"], task.as_str());
    assert_eq!(answers[7]["task"]["status"], "in_progress");
    // 7., 8. Worked and handed in, saying which tool made it.
    assert_eq!(answers[8]["task"]["status"], "in_progress");
    assert_eq!(answers[9]["task"]["status"], "pr_opened");
    let done = server.task(&task).await;
    assert_eq!(done["status"], "pr_opened", "{done}");
    assert_eq!(
        done["artifact"]["disclosure"],
        json!({"tool": "claude-code", "model": "opus"}),
        "{done}"
    );
    assert_eq!(
        done["artifact"]["pr_url"],
        "https://git.example.test/acme/parser/pull/12"
    );
}
