//! Leases as MCP tasks (`io.modelcontextprotocol/tasks`): `owp mcp` driven by the official MCP
//! TypeScript SDK client (`tests/mcp_client/tasks.mjs`) against a real `owp serve`, the pool
//! changing the work under it as maintainers would.
//!
//! Skips, saying why, only when `node` or `tests/mcp_client/node_modules` is missing.

use crate::support;
use crate::worker_mcp::{
    json_blocks_of_the_docs, register_profile, require_client, s, spawn_client,
};

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use support::*;

const PR_URL: &str = "https://git.example.test/acme/parser/pull/12";

/// Waits until the client wrote `DIR/NAME.json` (it then waits for `DIR/NAME.go`) and answers
/// what it wrote. A client that ended meanwhile fails the test with its own words.
async fn at_step(dir: &Path, name: &str, client: &mut tokio::task::JoinHandle<Value>) -> Value {
    let file = dir.join(format!("{name}.json"));
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !file.exists() {
        if client.is_finished() {
            let summary = client.await;
            panic!("the client ended before step {name}: {summary:?}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the client never got to step {name}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Written in one call; read again if caught half-written.
    loop {
        if let Ok(v) = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn go(dir: &Path, name: &str) {
    std::fs::write(dir.join(format!("{name}.go")), "").unwrap();
}

/// The statuses notified for `task_id`, in order.
fn notified(summary: &Value, task_id: &str) -> Vec<String> {
    summary["notes"]
        .as_array()
        .unwrap_or_else(|| panic!("no notes: {summary}"))
        .iter()
        .filter(|n| n["method"] == "notifications/tasks" && n["params"]["taskId"] == task_id)
        .map(|n| s(&n["params"]["status"]).to_string())
        .collect()
}

/// Asserts that the statuses notified for `task_id` end with `last`, after `working` only (a
/// held lease is told again when a renewal moves its end).
fn notified_end(summary: &Value, task_id: &str, last: &str) {
    let notes = notified(summary, task_id);
    let (end, before) = notes
        .split_last()
        .unwrap_or_else(|| panic!("none for {task_id}"));
    assert_eq!(end, last, "{notes:?}");
    assert!(before.iter().all(|n| n == "working"), "{notes:?}");
}

/// The messages a client exchanged, one line each, long strings cut, for the test's output.
fn abbreviated(wire: &Value) -> String {
    fn cut(v: &Value) -> Value {
        match v {
            Value::String(t) if t.chars().count() > 90 => {
                Value::String(format!("{}…", t.chars().take(90).collect::<String>()))
            }
            Value::Array(a) => Value::Array(a.iter().take(6).map(cut).collect()),
            Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), cut(v))).collect()),
            other => other.clone(),
        }
    }
    wire.as_array()
        .map(|messages| {
            messages
                .iter()
                .map(|m| {
                    let arrow = if m["to"] == "server" { "→" } else { "←" };
                    let mut m = m.clone();
                    m.as_object_mut().map(|o| o.remove("to"));
                    format!("{arrow} {}", cut(&m))
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

async fn plan_repo(server: &Server, repo: &str) {
    let policy = server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": repo, "max_open_prs": 3, "approval": "plan", "visibility": "public"}),
        )
        .await;
    assert!(
        policy.status == 200 || policy.status == 201,
        "{}",
        policy.describe()
    );
}

/// Every state of a lease as an MCP task, with the pool changing the work as maintainers would:
/// a client without the extension gets plain answers; with it, a plan is `input_required` until
/// approved (then `working`), its lease `working` through its pull request and `completed` once
/// merged; a declined plan, a revoked lease and a held task its maintainers cancelled are
/// `failed` saying why; `tasks/cancel` gives the lease back (`cancelled`). Each change is
/// notified, in order.
#[tokio::test]
async fn leases_are_mcp_tasks_for_a_client_that_declares_them() {
    require_client!();
    let server = Server::start().await;
    server.upsert_repo("mcp-tasks", 3, false).await;
    plan_repo(&server, "mcp-tasks-plan").await;
    let plain = server
        .import_ids(
            "mcp-tasks",
            json!([{"title": "First", "required_skills": ["docs"], "priority": "critical"},
                   {"title": "Second", "required_skills": ["docs"], "priority": "high"},
                   {"title": "Third", "required_skills": ["docs"], "priority": "normal"},
                   {"title": "Fourth", "required_skills": ["docs"], "priority": "low"}]),
        )
        .await;
    let planned = server
        .import_ids(
            "mcp-tasks-plan",
            json!([{"title": "Plan A", "required_skills": ["docs"]},
                   {"title": "Plan B", "required_skills": ["docs"]}]),
        )
        .await;
    let config = tempfile::tempdir().unwrap();
    register_profile(&server, config.path(), "docs");
    let steps: PathBuf = config.path().join("steps");
    std::fs::create_dir(&steps).unwrap();
    let mut client = spawn_client(
        "tasks:states",
        config.path(),
        PR_URL,
        &[
            ("OWP_MCP_STEP_DIR", steps.to_str().unwrap()),
            ("OWP_MCP_PLAN_TASK_ID", &planned[0]),
            ("OWP_MCP_DECLINE_TASK_ID", &planned[1]),
        ],
    );

    // 1. The plan awaits a maintainer, who approves it; its lease's pull request is merged.
    let step = at_step(&steps, "proposed", &mut client).await;
    let plan_handle = s(&step["taskId"]).to_string();
    server
        .admin_post(
            &format!("/v1/admin/proposals/{}/approve", s(&step["proposal_id"])),
            json!({}),
        )
        .await
        .expect(200);
    go(&steps, "proposed");
    let step = at_step(&steps, "pr_opened", &mut client).await;
    assert_eq!(s(&step["task_id"]), planned[0]);
    assert_eq!(server.task(&planned[0]).await["status"], "pr_opened");
    server
        .admin_post(
            &format!("/v1/admin/tasks/{}/status", planned[0]),
            json!({"status": "merged"}),
        )
        .await
        .expect(200);
    go(&steps, "pr_opened");

    // 2. The second plan is declined.
    let step = at_step(&steps, "proposed_again", &mut client).await;
    let declined_handle = s(&step["taskId"]).to_string();
    server
        .admin_post(
            &format!("/v1/admin/proposals/{}/decline", s(&step["proposal_id"])),
            json!({"reason": "too broad for one pull request"}),
        )
        .await
        .expect(200);
    go(&steps, "proposed_again");

    // 3. The pool takes a lease back.
    let step = at_step(&steps, "held", &mut client).await;
    let revoked_handle = s(&step["taskId"]).to_string();
    let revoked_task = s(&step["task_id"]).to_string();
    server
        .admin_post(
            &format!("/v1/admin/tasks/{revoked_task}/status"),
            json!({"status": "ready", "reason": "revoked by a maintainer"}),
        )
        .await
        .expect(200);
    go(&steps, "held");

    // 4. The maintainers cancel the task of the next lease.
    let step = at_step(&steps, "held_again", &mut client).await;
    let cancelled_handle = s(&step["taskId"]).to_string();
    server
        .admin_post(
            &format!("/v1/admin/tasks/{}/status", s(&step["task_id"])),
            json!({"status": "cancelled", "reason": "no longer wanted"}),
        )
        .await
        .expect(200);
    go(&steps, "held_again");

    let summary = client.await.unwrap();
    eprintln!(
        "MCP tasks, the messages of the client that declared them:\n{}",
        abbreviated(&summary["wire"])
    );

    // 0. Without the extension: the same tools, no tasks capability needed, plain answers.
    assert_eq!(summary["same_tools"], json!(true), "{summary}");
    let plain_claim = &summary["plain_claim"];
    assert!(plain_claim.get("resultType").is_none(), "{plain_claim}");
    assert!(
        plain_claim["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("\"lease_id\""))
    );
    assert_eq!(summary["plain_nack"]["isError"], json!(false), "{summary}");

    // 1. input_required, then working (approved), working (pull request), completed.
    let proposed = &summary["proposed"];
    assert_eq!(s(&proposed["resultType"]), "task", "{proposed}");
    assert_eq!(s(&proposed["status"]), "input_required", "{proposed}");
    assert_eq!(s(&summary["proposed_get"]["status"]), "input_required");
    assert!(
        s(&summary["proposed_get"]["statusMessage"]).contains("awaits a maintainer"),
        "{summary}"
    );
    assert_eq!(s(&summary["approved_claim"]["taskId"]), plan_handle);
    assert_eq!(s(&summary["approved_claim"]["status"]), "working");
    assert_eq!(s(&summary["pr_get"]["status"]), "working");
    assert!(
        s(&summary["pr_get"]["statusMessage"]).contains(PR_URL),
        "{summary}"
    );
    let merged = &summary["merged_get"];
    assert_eq!(s(&merged["status"]), "completed", "{merged}");
    assert_eq!(merged["result"]["isError"], json!(false), "{merged}");
    assert!(s(&merged["statusMessage"]).contains(PR_URL), "{merged}");
    let plan_notes = notified(&summary, &plan_handle);
    assert_eq!(plan_notes.first().map(String::as_str), Some("working"));
    assert_eq!(
        plan_notes.last().map(String::as_str),
        Some("completed"),
        "{plan_notes:?}"
    );
    assert!(
        !plan_notes.contains(&"input_required".to_string()),
        "no going back: {plan_notes:?}"
    );

    // 2. failed: declined.
    let declined = &summary["declined_note"];
    assert_eq!(s(&declined["error"]["data"]["outcome"]), "declined");
    assert!(
        s(&declined["statusMessage"]).contains("declined by a maintainer"),
        "{declined}"
    );
    notified_end(&summary, &declined_handle, "failed");

    // 3. failed: the lease ended by the pool, saying so.
    assert_eq!(s(&summary["held_get"]["status"]), "working", "{summary}");
    let note = &summary["revoked_note"];
    assert_eq!(s(&note["error"]["data"]["outcome"]), "ended", "{note}");
    assert_eq!(s(&note["error"]["data"]["task_id"]), revoked_task, "{note}");
    assert!(
        s(&note["statusMessage"]).contains("ended by the pool"),
        "{note}"
    );
    assert_eq!(s(&summary["revoked_get"]["status"]), "failed", "{summary}");
    notified_end(&summary, &revoked_handle, "failed");

    // 4. A held task cancelled by its maintainers: the lease ended by the pool (the task is no
    // longer the worker's to read, nor is their reason).
    let note = &summary["cancelled_by_maintainers_note"];
    assert_eq!(s(&note["error"]["data"]["outcome"]), "ended", "{note}");
    notified_end(&summary, &cancelled_handle, "failed");

    // 5. tasks/cancel gave the lease back: cancelled, and a second cancel is refused.
    assert_eq!(s(&summary["cancelled_get"]["status"]), "cancelled");
    assert!(
        s(&summary["cancelled_get"]["statusMessage"]).contains("given back"),
        "{summary}"
    );
    assert_eq!(summary["cancel_again"]["error"]["code"], json!(-32602));
    assert_eq!(summary["leases_after"], json!(0), "{summary}");
    let given_back = s(&summary["given_back_task"]).to_string();
    assert!(plain.contains(&given_back));
    assert_eq!(server.task(&given_back).await["status"], "ready");
}

/// `docs/mcp.md`'s requests run as written: a client declaring the extension claims, reads the
/// task, gives it back with `tasks/cancel`, and reads it cancelled.
#[tokio::test]
async fn the_mcp_tasks_example_of_the_docs_runs_as_written() {
    require_client!();
    // The JSON-RPC requests of the section, in order.
    let requests = json_blocks_of_the_docs("Leases as MCP tasks");
    let methods: Vec<&str> = requests.iter().map(|r| s(&r["method"])).collect();
    assert_eq!(
        methods,
        [
            "initialize",
            "tools/call",
            "tasks/get",
            "tasks/cancel",
            "tasks/get"
        ]
    );
    let server = Server::start().await;
    server.upsert_repo("acme/parser", 3, false).await;
    let task = server
        .import_ids(
            "acme/parser",
            json!([{"title": "Dates off by one", "required_skills": ["docs"]}]),
        )
        .await
        .remove(0);
    let config = tempfile::tempdir().unwrap();
    register_profile(&server, config.path(), "docs");
    let file = config.path().join("requests.json");
    std::fs::write(&file, serde_json::to_string(&requests).unwrap()).unwrap();
    let summary = spawn_client(
        "tasks:docs",
        config.path(),
        PR_URL,
        &[("OWP_MCP_DOCS", file.to_str().unwrap())],
    )
    .await
    .unwrap();
    let answers: Vec<&Value> = summary["answers"]
        .as_array()
        .unwrap_or_else(|| panic!("{summary}"))
        .iter()
        .map(|a| &a["answer"])
        .collect();
    assert_eq!(answers.len(), 4, "{summary}");
    assert_eq!(s(&answers[0]["resultType"]), "task", "{summary}");
    assert_eq!(s(&answers[0]["status"]), "working", "{summary}");
    let handle = s(&answers[0]["taskId"]);
    assert_eq!(s(&answers[1]["taskId"]), handle);
    assert_eq!(s(&answers[1]["status"]), "working");
    assert_eq!(answers[2], &json!({"resultType": "complete"}), "{summary}");
    assert_eq!(s(&answers[3]["status"]), "cancelled", "{summary}");
    notified_end(&summary, handle, "cancelled");
    assert_eq!(server.task(&task).await["status"], "ready");
}

/// How the README's "Your AI tool as a worker" sets `owp mcp` up in each AI tool: `(tool,
/// command, args)`, from the JSON of a row, the words after `--` of a command line, or TOML's
/// `command = …` `args = […]`.
fn setups_of_the_readme() -> Vec<(String, String, Vec<String>)> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme
        .find("\n## Your AI tool as a worker")
        .expect("the README's section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut setups = Vec::new();
    for row in section
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains('`'))
    {
        let tool = row[2..].split(" |").next().unwrap().trim().to_string();
        let codes: Vec<&str> = row.split('`').skip(1).step_by(2).collect();
        let found = codes.iter().find_map(|code| {
            if let Some(json) = code.find('{').map(|i| &code[i..])
                && let Ok(v) = serde_json::from_str::<Value>(json)
            {
                let servers = v.get("mcpServers").or_else(|| v.get("servers"))?;
                let owp = &servers["owp"];
                let args = owp["args"].as_array()?.iter().map(|a| s(a).to_string());
                return Some((s(&owp["command"]).to_string(), args.collect()));
            }
            let words = shlex::split(code)?;
            let after = words.iter().position(|w| w == "--")?;
            Some((words[after + 1].clone(), words[after + 2..].to_vec()))
        });
        let toml = || {
            let command = codes.iter().find_map(|c| c.strip_prefix("command = "))?;
            let args = codes.iter().find_map(|c| c.strip_prefix("args = "))?;
            let args: Vec<String> = serde_json::from_str(args).ok()?;
            Some((serde_json::from_str(command).ok()?, args))
        };
        if let Some((command, args)) = found.or_else(toml) {
            setups.push((tool, command, args));
        }
    }
    setups
}

/// Each AI tool's setup in the README starts `owp mcp` as written, and the tool's client, if it
/// declares MCP tasks, gets a lease as a task and gives it back with `tasks/cancel`.
#[tokio::test]
async fn the_readme_setups_of_ai_tools_run_as_written() {
    require_client!();
    let setups = setups_of_the_readme();
    let tools: Vec<&str> = setups.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(tools, ["Claude Code", "Codex CLI", "Cursor", "VS Code"]);
    let server = Server::start().await;
    server.upsert_repo("acme/parser", 3, false).await;
    let task = server
        .import_ids(
            "acme/parser",
            json!([{"title": "Dates off by one", "required_skills": ["docs"]}]),
        )
        .await
        .remove(0);
    let home = tempfile::tempdir().unwrap();
    let profile = setups[0].2.last().unwrap().clone();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .args([
            "worker",
            "register",
            "--profile",
            &profile,
            "--name",
            "Ada's seat",
        ])
        .args(["--skills", "docs", "--server", &server.base])
        .env("XDG_CONFIG_HOME", home.path())
        .env("HOME", home.path())
        .env_remove("OWP_SERVER")
        .env_remove("OWP_PROFILE")
        .env_remove("OWP_CONFIG_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut ran = std::collections::BTreeSet::new();
    for (tool, command, args) in &setups {
        assert_eq!(command, "owp", "{tool}");
        assert_eq!(args, &setups[0].2, "{tool}: the same server everywhere");
        if !ran.insert(args.clone()) {
            continue;
        }
        let written = json!({"command": command, "args": args}).to_string();
        let summary = spawn_client(
            "tasks:config",
            home.path(),
            PR_URL,
            &[
                ("OWP_MCP_SERVER", &written),
                ("OWP_MCP_XDG", home.path().to_str().unwrap()),
            ],
        )
        .await
        .unwrap();
        assert_eq!(s(&summary["claimed"]["status"]), "working", "{summary}");
        assert_eq!(s(&summary["cancelled_get"]["status"]), "cancelled");
    }
    assert_eq!(server.task(&task).await["status"], "ready");
}
