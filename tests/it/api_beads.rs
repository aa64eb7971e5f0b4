//! Beads import (contract section 8): `owp admin import-tasks .beads/issues.jsonl --repo R` and
//! `POST /v1/admin/tasks/beads`, with a backlog written in Beads' own format
//! (tests/fixtures/beads/issues.jsonl: tasks, a bug, a feature, a chore, an epic, a message, closed,
//! tombstoned and in-progress beads, and every dependency type).

use crate::support;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

const BACKLOG: &str = include_str!("../fixtures/beads/issues.jsonl");

async fn post_beads(s: &Server, repo: &str, text: &str) -> Resp {
    s.req(Method::POST, &format!("/v1/admin/tasks/beads?repo={repo}"))
        .admin(s)
        .body(text.to_string(), "application/x-ndjson")
        .send()
        .await
}

fn by_key<'a>(tasks: &'a Value, key: &str) -> &'a Value {
    find(tasks, "key", key).unwrap_or_else(|| panic!("no task {key} in {tasks}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

async fn repo_tasks(s: &Server, repo: &str) -> Vec<Value> {
    s.admin_get(&format!("/v1/admin/state?repo={repo}"))
        .await
        .expect(200)["tasks"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_beads_backlog_becomes_tasks_in_dependency_order() {
    let s = Server::start().await;
    s.upsert_repo("acme/beads", 5, true).await;
    let body = post_beads(&s, "acme/beads", BACKLOG).await.expect(201);
    let tasks = &body["tasks"];
    let keys: Vec<String> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| str_field(t, "key"))
        .collect();
    assert_eq!(keys, ["wid-a1f", "wid-b7c", "wid-c2d", "wid-d44"]);

    let a = by_key(tasks, "wid-a1f");
    assert_eq!(a["priority"], "high");
    assert_eq!(a["estimate_points"], 2);
    assert_eq!(strings(&a["required_skills"]), ["rust", "sql"]);
    assert_eq!(a["area"], "storage");
    assert!(
        a["description"]
            .as_str()
            .unwrap()
            .contains("Acceptance criteria")
    );
    // parent-child on an epic holds nothing
    assert_eq!(strings(&a["blocked_by"]), Vec::<String>::new());

    let b = by_key(tasks, "wid-b7c");
    assert_eq!(b["priority"], "critical");
    assert_eq!(b["tier"], 1);
    // blocks kept; parent-child and related ignored
    assert_eq!(strings(&b["blocked_by"]), ["wid-a1f"]);
    assert_eq!(strings(&b["waiting_on"]), ["wid-a1f"]);

    let c = by_key(tasks, "wid-c2d");
    assert_eq!(c["priority"], "low");
    // its other blocker, wid-9zz, is closed: it holds nothing
    assert_eq!(strings(&c["blocked_by"]), ["wid-b7c"]);

    let d = by_key(tasks, "wid-d44");
    assert_eq!(d["priority"], "normal");
    // discovered-from is provenance, not order
    assert_eq!(strings(&d["blocked_by"]), Vec::<String>::new());

    assert_eq!(body["ended"], json!([]));
    assert_eq!(body["skipped"]["total"], 5);
    assert_eq!(
        body["skipped"]["statuses"],
        json!({"closed": 1, "tombstone": 1, "in_progress": 1})
    );
    assert_eq!(body["skipped"]["types"], json!({"epic": 1, "message": 1}));

    // Only the frontier is offered: the critical feature waits for the task it builds on.
    let (worker_id, token) = s
        .register_worker("w", &["rust", "sql", "docs"], 10, 5)
        .await;
    s.admin_update_worker(&worker_id, json!({"trust_level": 1}))
        .await
        .expect(200);
    let (_, first, _) = s.claim_ok(&token).await;
    assert_eq!(first, str_field(a, "task_id"));
    let (_, second, _) = s.claim_ok(&token).await;
    assert_eq!(second, str_field(d, "task_id"));
    s.claim_none(&token).await;
}

#[tokio::test]
async fn re_import_is_idempotent_and_a_closed_bead_ends_its_task() {
    let s = Server::start().await;
    s.upsert_repo("acme/again", 5, true).await;
    let first = post_beads(&s, "acme/again", BACKLOG).await.expect(201);
    let again = post_beads(&s, "acme/again", BACKLOG).await.expect(201);
    let ids = |v: &Value| -> Vec<String> {
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| str_field(t, "task_id"))
            .collect()
    };
    assert_eq!(ids(&first), ids(&again));
    assert_eq!(repo_tasks(&s, "acme/again").await.len(), 4);

    // wid-a1f is closed in Beads now: its task ends, and what it blocked is free.
    let closed = BACKLOG.replacen(
        "\"id\":\"wid-a1f\",\"title\":\"Store retry attempts in the deliveries table\",\"description\":\"Add `attempts` and `next_attempt_at` to `deliveries`.\",\"design\":\"One migration; backfill zero.\",\"acceptance_criteria\":\"Migration runs on SQLite and PostgreSQL.\",\"status\":\"open\"",
        "\"id\":\"wid-a1f\",\"title\":\"Store retry attempts in the deliveries table\",\"description\":\"Add `attempts` and `next_attempt_at` to `deliveries`.\",\"design\":\"One migration; backfill zero.\",\"acceptance_criteria\":\"Migration runs on SQLite and PostgreSQL.\",\"status\":\"closed\"",
        1,
    );
    assert_ne!(closed, BACKLOG);
    let third = post_beads(&s, "acme/again", &closed).await.expect(201);
    let ended = third["ended"].as_array().unwrap();
    assert_eq!(ended.len(), 1, "{third}");
    assert_eq!(ended[0]["key"], "wid-a1f");
    assert_eq!(ended[0]["status"], "cancelled");
    let b = by_key(&third["tasks"], "wid-b7c");
    assert_eq!(strings(&b["blocked_by"]), Vec::<String>::new());
    // Once ended, a later import does not end it again.
    let fourth = post_beads(&s, "acme/again", &closed).await.expect(201);
    assert_eq!(fourth["ended"], json!([]));
}

#[tokio::test]
async fn a_malformed_line_is_named_and_nothing_is_imported() {
    let s = Server::start().await;
    s.upsert_repo("acme/broken", 5, true).await;
    let mut lines: Vec<&str> = BACKLOG.lines().collect();
    lines[2] = "{\"id\":\"wid-c2d\",\"title\":\"Document the retry policy\",";
    let broken = lines.join("\n");
    let r = post_beads(&s, "acme/broken", &broken).await;
    assert_eq!(r.expect_problem(422), "invalid_beads");
    let detail = r.json["detail"].as_str().unwrap();
    assert!(detail.starts_with("line 3:"), "{detail}");
    assert!(repo_tasks(&s, "acme/broken").await.is_empty());
    // Not JSON at all, and a priority out of Beads' range.
    let r = post_beads(&s, "acme/broken", "id: wid-1\n").await;
    assert_eq!(r.expect_problem(422), "invalid_beads");
    let r = post_beads(
        &s,
        "acme/broken",
        "{\"id\":\"wid-1\",\"title\":\"t\"}\n{\"id\":\"wid-2\",\"title\":\"t\",\"priority\":9}\n",
    )
    .await;
    assert!(r.json["detail"].as_str().unwrap().starts_with("line 2:"));
    assert!(repo_tasks(&s, "acme/broken").await.is_empty());
    // An unknown repository.
    post_beads(&s, "acme/nowhere", BACKLOG)
        .await
        .expect_problem(404);
}

/// The admin command reads `.beads/issues.jsonl` and says what it did in one line; a malformed
/// file fails with its line named.
#[tokio::test]
async fn the_admin_command_imports_a_beads_file() {
    let s = Server::start().await;
    s.upsert_repo("acme/cli", 5, true).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".beads")).unwrap();
    std::fs::write(dir.path().join(".beads/issues.jsonl"), BACKLOG).unwrap();
    let server = s.url("");
    let env = [
        ("OWP_SERVER", server.trim_end_matches('/')),
        ("OWP_ADMIN_TOKEN", s.admin_token.as_str()),
    ];
    let (ok, out) = run_owp(
        dir.path(),
        &[
            "admin",
            "import-tasks",
            ".beads/issues.jsonl",
            "--repo",
            "acme/cli",
        ],
        &env,
    )
    .await;
    assert!(ok, "{out}");
    assert!(
        out.contains("imported 4 tasks into acme/cli from Beads: 4 new, 0 updated"),
        "{out}"
    );
    assert!(out.contains("5 skipped"), "{out}");
    assert!(out.contains("2 waiting on blockers"), "{out}");
    assert_eq!(repo_tasks(&s, "acme/cli").await.len(), 4);
    // `owp admin state` says what each waiting task waits on.
    let (ok, out) = run_owp(dir.path(), &["admin", "state", "--repo", "acme/cli"], &env).await;
    assert!(ok, "{out}");
    assert!(out.contains("waits on wid-a1f"), "{out}");
    assert!(out.contains("waits on wid-b7c"), "{out}");

    std::fs::write(
        dir.path().join("bad.jsonl"),
        "{\"id\":\"x\",\"title\":\"ok\"}\nnot json\n",
    )
    .unwrap();
    let (ok, out) = run_owp(
        dir.path(),
        &["admin", "import-tasks", "bad.jsonl", "--repo", "acme/cli"],
        &env,
    )
    .await;
    assert!(!ok, "{out}");
    assert!(out.contains("line 2"), "{out}");
    assert!(!out.contains("panicked"), "{out}");
}
