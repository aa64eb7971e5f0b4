//! Repos, task import, workers and the admin view (contract sections 3 and 4).

use crate::support;

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use support::*;

#[tokio::test]
async fn repo_upsert_creates_with_201_then_updates_with_200() {
    let s = Server::start().await;
    let r = s
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "acme/widgets", "max_open_prs": 3}),
        )
        .await;
    let created = r.expect(201);
    assert_eq!(created["repo"], "acme/widgets");
    assert_eq!(created["max_open_prs"], 3);
    assert_eq!(created["area_locks_enabled"], true, "area locks default on");
    assert_eq!(created["open_prs"], 0);
    assert_eq!(created["active_leases"], 0);
    assert_eq!(created["throttled"], false);

    let r = s
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "acme/widgets", "max_open_prs": 5, "area_locks_enabled": false}),
        )
        .await;
    let updated = r.expect(200);
    assert_eq!(updated["max_open_prs"], 5);
    assert_eq!(updated["area_locks_enabled"], false);

    let state = s.state().await;
    let repos: Vec<_> = state["repos"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["repo"] == "acme/widgets")
        .collect();
    assert_eq!(repos.len(), 1, "upsert must not duplicate: {state}");
    assert_eq!(repos[0]["max_open_prs"], 5);
}

#[tokio::test]
async fn repo_with_zero_budget_is_throttled() {
    let s = Server::start().await;
    let repo = s.upsert_repo("local-key", 0, true).await;
    assert_eq!(repo["repo"], "local-key", "any non-empty key is a repo");
    assert_eq!(repo["throttled"], true, "0 + 0 >= 0");
}

#[tokio::test]
async fn import_json_returns_tasks_with_defaults() {
    let s = Server::start().await;
    s.upsert_repo("acme/json", 3, true).await;
    let tasks = s
        .import(
            "acme/json",
            json!([
                {"title": "minimal"},
                {"key": "K-2", "title": "full", "description": "d", "estimate_points": 3,
                 "priority": "high", "required_skills": ["rust", "sql"], "area": "db", "tier": 2}
            ]),
        )
        .await;
    assert_eq!(tasks.len(), 2);
    let t = &tasks[0];
    assert!(t["task_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(t["repo"], "acme/json");
    assert!(t["key"].is_null());
    assert_eq!(t["title"], "minimal");
    assert_eq!(t["estimate_points"], 1);
    assert_eq!(t["priority"], "normal");
    assert_eq!(t["required_skills"], json!([]));
    assert!(t["area"].is_null());
    assert_eq!(t["tier"], 0);
    assert_eq!(t["status"], "ready");
    assert!(t["assigned_worker_id"].is_null());
    assert!(t["lease_id"].is_null());
    assert!(t["lease_expires_at"].is_null());
    assert!(t["artifact"].is_null());
    assert_eq!(t["attempts"], 0);
    ts(t, "created_at");
    ts(t, "updated_at");

    let f = &tasks[1];
    assert_eq!(f["key"], "K-2");
    assert_eq!(f["description"], "d");
    assert_eq!(f["estimate_points"], 3);
    assert_eq!(f["priority"], "high");
    assert_eq!(
        skill_set(&f["required_skills"]),
        skill_set(&json!(["rust", "sql"]))
    );
    assert_eq!(f["area"], "db");
    assert_eq!(f["tier"], 2);

    // The admin can read each one.
    let got = s.task(&str_field(f, "task_id")).await;
    assert_eq!(got["title"], "full");
    assert_eq!(got["task_id"], f["task_id"]);
}

#[tokio::test]
async fn import_yaml_document() {
    let s = Server::start().await;
    s.upsert_repo("acme/yaml", 3, true).await;
    let yaml = "\
repo: acme/yaml
tasks:
  - key: Y-1
    title: From YAML
    estimate_points: 2
    priority: critical
    required_skills: [rust]
    area: core
  - title: Second
    tier: 1
";
    let r = s
        .req(Method::POST, "/v1/admin/tasks")
        .admin(&s)
        .body(yaml, "application/yaml")
        .send()
        .await;
    let body = r.expect(201);
    let tasks = body["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0]["key"], "Y-1");
    assert_eq!(tasks[0]["title"], "From YAML");
    assert_eq!(tasks[0]["estimate_points"], 2);
    assert_eq!(tasks[0]["priority"], "critical");
    assert_eq!(tasks[0]["area"], "core");
    assert_eq!(tasks[1]["title"], "Second");
    assert_eq!(tasks[1]["tier"], 1);
    assert_eq!(s.state().await["tasks"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn reimport_with_same_key_updates_instead_of_duplicating() {
    let s = Server::start().await;
    s.upsert_repo("acme/a", 3, true).await;
    s.upsert_repo("acme/b", 3, true).await;
    let first = s
        .import(
            "acme/a",
            json!([{"key": "K1", "title": "old", "estimate_points": 1}, {"title": "no key"}]),
        )
        .await;
    let second = s
        .import(
            "acme/a",
            json!([{"key": "K1", "title": "new", "estimate_points": 2, "priority": "high"}]),
        )
        .await;
    assert_eq!(second.len(), 1);
    assert_eq!(
        second[0]["task_id"], first[0]["task_id"],
        "same key, same task"
    );
    assert_eq!(second[0]["title"], "new");
    assert_eq!(second[0]["estimate_points"], 2);
    assert_eq!(second[0]["priority"], "high");
    // The same key in another repo is another task.
    let other = s
        .import("acme/b", json!([{"key": "K1", "title": "b"}]))
        .await;
    assert_ne!(other[0]["task_id"], first[0]["task_id"]);

    let state = s.state().await;
    let tasks = state["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3, "{state}");
    let k1_in_a: Vec<_> = tasks
        .iter()
        .filter(|t| t["repo"] == "acme/a" && t["key"] == "K1")
        .collect();
    assert_eq!(k1_in_a.len(), 1);
    assert_eq!(k1_in_a[0]["title"], "new");
}

#[tokio::test]
async fn extension_fields_round_trip_on_tasks_workers_and_repos() {
    let s = Server::start().await;
    let repo = s
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "acme/x", "max_open_prs": 2, "x_team": "core", "x_meta": {"a": [1, 2]}}),
        )
        .await
        .expect_ok();
    assert_eq!(repo["x_team"], "core");
    assert_eq!(repo["x_meta"], json!({"a": [1, 2]}));

    let tasks = s
        .import(
            "acme/x",
            json!([{"title": "t", "x_source": {"tracker": "jira", "id": 7}, "x_flag": true}]),
        )
        .await;
    assert_eq!(tasks[0]["x_source"], json!({"tracker": "jira", "id": 7}));
    assert_eq!(tasks[0]["x_flag"], true);
    let task_id = str_field(&tasks[0], "task_id");

    let reg = s
        .register(json!({
            "name": "ext", "skills": [], "capacity_points": 3, "max_concurrent_tasks": 1,
            "x_tool": "aider", "x_cfg": {"model": "m", "n": 2.5}
        }))
        .await
        .expect(201);
    let worker_id = str_field(&reg, "worker_id");

    let state = s.state().await;
    let r = find(&state["repos"], "repo", "acme/x").unwrap();
    assert_eq!(r["x_team"], "core");
    assert_eq!(r["x_meta"], json!({"a": [1, 2]}));
    let t = find(&state["tasks"], "task_id", &task_id).unwrap();
    assert_eq!(t["x_source"], json!({"tracker": "jira", "id": 7}));
    assert_eq!(t["x_flag"], true);
    let w = find(&state["workers"], "worker_id", &worker_id).unwrap();
    assert_eq!(w["x_tool"], "aider");
    assert_eq!(w["x_cfg"], json!({"model": "m", "n": 2.5}));
    // Also on the single-task read and on the lease's task.
    assert_eq!(s.task(&task_id).await["x_source"]["tracker"], "jira");
    let token = str_field(&reg, "token");
    let (_, _, lease) = s.claim_ok(&token).await;
    assert_eq!(lease["task"]["x_flag"], true);
}

#[tokio::test]
async fn unknown_request_fields_are_ignored() {
    let s = Server::start().await;
    let repo = s
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "acme/u", "max_open_prs": 2, "colour": "blue"}),
        )
        .await
        .expect_ok();
    assert!(repo.get("colour").is_none(), "{repo}");
    let tasks = s
        .import(
            "acme/u",
            json!([{"title": "t", "flavour": "mint", "status": "merged"}]),
        )
        .await;
    assert!(tasks[0].get("flavour").is_none(), "{}", tasks[0]);
    // `status` is not an import field: a new task starts ready.
    assert_eq!(tasks[0]["status"], "ready");
    let reg = s
        .register(json!({"name": "w", "skills": [], "capacity_points": 1,
                         "max_concurrent_tasks": 1, "shoe_size": 44}))
        .await
        .expect(201);
    let w = s.worker(&str_field(&reg, "worker_id")).await;
    assert!(w.get("shoe_size").is_none(), "{w}");
}

#[tokio::test]
async fn registration_answers_with_credentials_and_ttls() {
    let s = Server::start_with_env(&[
        ("OWP_HEARTBEAT_TTL_SECONDS", "77"),
        ("OWP_LEASE_TTL_SECONDS", "1234"),
        ("OWP_ACCEPT_TTL_SECONDS", "55"),
    ])
    .await;
    let r = s
        .register(json!({
            "name": "alice-bot", "skills": ["Rust", "docs"], "capacity_points": 5,
            "max_concurrent_tasks": 2, "github_login": "alice", "capabilities": {"gpu": false}
        }))
        .await;
    let body = r.expect(201);
    let worker_id = str_field(&body, "worker_id");
    let token = str_field(&body, "token");
    assert!(!worker_id.is_empty());
    assert!(
        token.len() >= 16,
        "token too short to be a secret: {token:?}"
    );
    assert_eq!(body["protocol"], "owp/1");
    assert_eq!(body["heartbeat_ttl_seconds"], 77);
    assert_eq!(body["lease_ttl_seconds"], 1234);
    assert_eq!(body["accept_ttl_seconds"], 55);

    let w = s.worker(&worker_id).await;
    assert_eq!(w["name"], "alice-bot");
    assert_eq!(skill_set(&w["skills"]), skill_set(&json!(["rust", "docs"])));
    assert_eq!(w["capacity_points"], 5);
    assert_eq!(w["max_concurrent_tasks"], 2);
    assert_eq!(w["github_login"], "alice");
    assert_eq!(w["capabilities"], json!({"gpu": false}));
    assert_eq!(w["trust_level"], 0);
    assert_eq!(w["online"], true, "registration marks the worker online");
    assert_eq!(w["active_points"], 0);
    assert_eq!(w["active_tasks"], 0);
    assert!(matches!(w["status"].as_str(), Some("idle")), "{w}");
    // The token is never shown again.
    let state_text = s.admin_get("/v1/admin/state").await.text;
    assert!(
        !state_text.contains(&token),
        "the admin state leaks a worker token"
    );
}

#[tokio::test]
async fn heartbeat_marks_online_and_renews_leases() {
    let s = Server::start().await;
    s.upsert_repo("acme/hb", 3, true).await;
    s.import("acme/hb", json!([{"title": "a"}])).await;
    let (wid, token) = s.register_worker("w", &[], 5, 2).await;
    let (lease_id, task_id, _) = s.claim_ok(&token).await;
    let acked = s.ack(&token, &lease_id).await;
    assert_eq!(acked.status, 200, "{}", acked.describe());
    let before = ts(&s.task(&task_id).await, "lease_expires_at");
    let hb_before = s.worker(&wid).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = s.heartbeat(&token, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let task = s.task(&task_id).await;
    let after = ts(&task, "lease_expires_at");
    assert!(
        after > before,
        "heartbeat must push lease_expires_at forward: {before} → {after}"
    );
    assert_eq!(task["status"], "in_progress");
    let w = s.worker(&wid).await;
    assert_eq!(w["online"], true);
    if !hb_before["last_heartbeat"].is_null() {
        assert!(ts(&w, "last_heartbeat") > ts(&hb_before, "last_heartbeat"));
    } else {
        ts(&w, "last_heartbeat");
    }
}

#[tokio::test]
async fn heartbeat_without_body_is_accepted() {
    let s = Server::start().await;
    let (_, token) = s.register_worker("w", &[], 5, 2).await;
    let r = s
        .req(Method::POST, "/v1/workers/heartbeat")
        .bearer(&token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.describe());
}

#[tokio::test]
async fn admin_state_lists_everything() {
    let s = Server::start().await;
    s.upsert_repo("acme/one", 3, true).await;
    s.upsert_repo("acme/two", 1, false).await;
    let a = s
        .import_ids(
            "acme/one",
            json!([{"title": "a1"}, {"title": "a2"}, {"title": "a3"}]),
        )
        .await;
    let b = s
        .import_ids("acme/two", json!([{"title": "b1"}, {"title": "b2"}]))
        .await;
    let mut workers = Vec::new();
    for i in 0..3 {
        workers.push(s.register_worker(&format!("w{i}"), &[], 3, 1).await.0);
    }
    let state = s.state().await;
    for repo in ["acme/one", "acme/two"] {
        assert!(
            find(&state["repos"], "repo", repo).is_some(),
            "{repo} missing"
        );
    }
    for id in a.iter().chain(b.iter()) {
        assert!(
            find(&state["tasks"], "task_id", id).is_some(),
            "{id} missing"
        );
    }
    for id in &workers {
        assert!(
            find(&state["workers"], "worker_id", id).is_some(),
            "{id} missing"
        );
    }
    assert_eq!(state["tasks"].as_array().unwrap().len(), 5);
    assert_eq!(state["workers"].as_array().unwrap().len(), 3);
    assert_eq!(state["repos"].as_array().unwrap().len(), 2);
    assert!(state["events"].is_array(), "events must be a list: {state}");
    assert!(
        !state["events"].as_array().unwrap().is_empty(),
        "imports and registrations are state changes and should appear as events"
    );
}

#[tokio::test]
async fn admin_forces_task_status() {
    let s = Server::start().await;
    s.upsert_repo("acme/f", 3, true).await;
    let ids = s
        .import_ids("acme/f", json!([{"title": "a"}, {"title": "b"}]))
        .await;
    let (wid, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, task_id, _) = s.claim_ok(&token).await;
    assert_eq!(task_id, ids[0]);

    // Force the leased task back to ready: the lease ends and the worker is free again.
    let r = s.admin_set_status(&task_id, "ready").await;
    let changed = r.expect(200);
    assert_eq!(changed["status"], "ready", "{changed}");
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "ready");
    assert!(
        t["lease_id"].is_null() && t["assigned_worker_id"].is_null(),
        "{t}"
    );
    s.ack(&token, &lease_id).await.expect_problem(409);
    let w = s.worker(&wid).await;
    assert_eq!(w["active_tasks"], 0);

    // Force blocked and merged.
    s.admin_set_status(&ids[1], "blocked").await.expect(200);
    assert_eq!(s.task(&ids[1]).await["status"], "blocked");
    s.admin_set_status(&task_id, "merged").await.expect(200);
    assert_eq!(s.task(&task_id).await["status"], "merged");
    // Neither is offered any more.
    s.claim_none(&token).await;
    // Back to ready makes it claimable again.
    s.admin_set_status(&ids[1], "ready").await.expect(200);
    let (_, got, _) = s.claim_ok(&token).await;
    assert_eq!(got, ids[1]);
}

#[tokio::test]
async fn admin_updates_worker_trust_and_status() {
    let s = Server::start().await;
    let (wid, _) = s.register_worker("w", &[], 5, 1).await;
    let r = s.admin_update_worker(&wid, json!({"trust_level": 3})).await;
    let w = r.expect(200);
    assert_eq!(w["trust_level"], 3, "{w}");
    let r = s
        .admin_update_worker(&wid, json!({"status": "paused"}))
        .await;
    let w = r.expect(200);
    assert_eq!(w["status"], "paused");
    assert_eq!(w["trust_level"], 3, "an absent field is unchanged");
    let w = s.worker(&wid).await;
    assert_eq!(w["status"], "paused");
    assert_eq!(w["trust_level"], 3);
}

#[tokio::test]
async fn worker_reads_its_own_task_but_not_anothers() {
    let s = Server::start().await;
    s.upsert_repo("acme/r", 3, true).await;
    s.import("acme/r", json!([{"title": "a"}])).await;
    let (w1, t1) = s.register_worker("one", &[], 5, 1).await;
    let (_, t2) = s.register_worker("two", &[], 5, 1).await;
    let (lease_id, task_id, _) = s.claim_ok(&t1).await;
    let mine = s
        .worker_get(&t1, &format!("/v1/tasks/{task_id}"))
        .await
        .expect(200);
    assert_eq!(mine["task_id"], task_id.as_str());
    assert_eq!(mine["assigned_worker_id"], w1.as_str());
    assert_eq!(mine["lease_id"], lease_id.as_str());
    s.worker_get(&t2, &format!("/v1/tasks/{task_id}"))
        .await
        .expect_problem_in(&[403, 404]);
}

/// Titles, names, keys and skills are one line of text: a control character — a terminal
/// escape, a bell, DEL, a C1 control, a NUL — is refused with `422 invalid_characters` naming the
/// field, on SQLite and PostgreSQL alike, and nothing is stored. A description keeps its line
/// breaks and tabs, but not escapes.
#[tokio::test]
async fn control_characters_in_titles_and_names_are_refused() {
    let s = Server::start().await;
    s.upsert_repo("acme/ctl", 3, true).await;
    let refused = |r: &Resp, field: &str| {
        let code = r.expect_problem(422);
        assert_eq!(code, "invalid_characters", "{}", r.describe());
        assert!(
            r.json["detail"].as_str().unwrap().contains(field),
            "{}",
            r.describe()
        );
    };
    for (task, field) in [
        (
            json!({"title": "Fix \u{1b}[2Jthe parser"}),
            "tasks[0].title",
        ),
        (json!({"title": "Ring\u{7}"}), "tasks[0].title"),
        (json!({"title": "Del\u{7f}"}), "tasks[0].title"),
        (json!({"title": "C1 \u{9b}31m"}), "tasks[0].title"),
        (json!({"title": "Two\nlines"}), "tasks[0].title"),
        (json!({"title": "ok", "key": "K\u{1b}1"}), "tasks[0].key"),
        (json!({"title": "ok", "area": "a\u{8}"}), "tasks[0].area"),
        (
            json!({"title": "ok", "required_skills": ["rust\u{1b}"]}),
            "tasks[0].required_skills[0]",
        ),
        (
            json!({"title": "ok", "description": "a\u{1b}]8;;https://x\u{7}link"}),
            "tasks[0].description",
        ),
    ] {
        let r = s
            .admin_post(
                "/v1/admin/tasks",
                json!({"repo": "acme/ctl", "tasks": [task]}),
            )
            .await;
        refused(&r, field);
    }
    // NUL, in JSON and in YAML: the same answer on both backends.
    let r = s
        .admin_post(
            "/v1/admin/tasks",
            json!({"repo": "acme/ctl", "tasks": [{"title": "a\u{0}b"}]}),
        )
        .await;
    assert_eq!(r.expect_problem(422), "invalid_characters");
    let r = s
        .req(Method::POST, "/v1/admin/tasks")
        .admin(&s)
        .body(
            "repo: acme/ctl\ntasks:\n  - title: \"Fix \\e[31mred\"\n",
            "application/yaml",
        )
        .send()
        .await;
    refused(&r, "tasks[0].title");
    assert!(
        s.state().await["tasks"].as_array().unwrap().is_empty(),
        "nothing imported"
    );

    // A description keeps line breaks and tabs.
    let tasks = s
        .import(
            "acme/ctl",
            json!([{"title": "Fine — ünïcode ✓", "description": "one\n\ttwo\r\n"}]),
        )
        .await;
    assert_eq!(tasks[0]["description"], "one\n\ttwo\r\n");

    // Worker names, logins and skills; repository names.
    for (body, field) in [
        (
            json!({"name": "bot\u{1b}[8m", "skills": [], "capacity_points": 1, "max_concurrent_tasks": 1}),
            "name",
        ),
        (
            json!({"name": "bot", "skills": ["a\u{85}"], "capacity_points": 1, "max_concurrent_tasks": 1}),
            "skills[0]",
        ),
        (
            json!({"name": "bot", "skills": [], "capacity_points": 1, "max_concurrent_tasks": 1, "github_login": "x\u{7}"}),
            "github_login",
        ),
    ] {
        refused(&s.register(body).await, field);
    }
    let r = s
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "acme/\u{1b}[1m", "max_open_prs": 1}),
        )
        .await;
    refused(&r, "repo");
}

/// A person's task file is not a wire message: the import's answer names the fields it ignored
/// (with what was probably meant), and `?strict=true` refuses them — nothing is imported.
#[tokio::test]
async fn an_import_names_the_fields_it_ignored_and_strict_refuses_them() {
    let s = Server::start().await;
    s.upsert_repo("acme/typo", 3, true).await;
    let body = json!({"repo": "acme/typo", "tasks": [
        {"key": "T-1", "title": "Write the docs", "estimate": 3, "skills": ["docs"], "x_team": "a"},
        {"key": "T-2", "title": "Fine", "estimate_points": 2},
    ]});
    let answer = s
        .admin_post("/v1/admin/tasks", body.clone())
        .await
        .expect(201);
    assert_eq!(answer["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(
        answer["tasks"][0]["estimate_points"], 1,
        "the typo was not read"
    );
    assert_eq!(
        answer["ignored"],
        json!([{"index": 0, "key": "T-1", "fields": [
            {"name": "estimate", "did_you_mean": "estimate_points"},
            {"name": "skills", "did_you_mean": "required_skills"},
        ]}]),
        "{answer}"
    );

    let r = s
        .req(Method::POST, "/v1/admin/tasks?strict=true")
        .admin(&s)
        .json(&json!({"repo": "acme/typo", "tasks": [{"key": "T-3", "title": "New", "prioritty": "high"}]}))
        .send()
        .await;
    assert_eq!(r.expect_problem(422), "unknown_fields");
    let detail = r.json["detail"].as_str().unwrap();
    assert!(
        detail.contains("tasks[0].prioritty") && detail.contains("`priority`"),
        "{detail}"
    );
    let keys: Vec<String> = s.state().await["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !keys.contains(&"T-3".to_string()),
        "nothing imported: {keys:?}"
    );
    // Strict and clean: imported as usual.
    let ok = s
        .req(Method::POST, "/v1/admin/tasks?strict=true")
        .admin(&s)
        .json(&json!({"repo": "acme/typo", "tasks": [{"key": "T-3", "title": "New", "priority": "high"}]}))
        .send()
        .await
        .expect(201);
    assert_eq!(ok["ignored"], json!([]));
}

/// `owp admin import-tasks` prints the ignored fields with a "did you mean", and `--strict`
/// refuses the file.
#[tokio::test]
async fn the_import_command_points_out_typos() {
    let s = Server::start().await;
    s.upsert_repo("acme/cli-typo", 3, true).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tasks.yaml"),
        "repo: acme/cli-typo\ntasks:\n  - key: D-1\n    title: Write the docs\n    estimate: 3\n    skills: [docs]\n",
    )
    .unwrap();
    let (ok, out) = s
        .run_owp_admin(
            dir.path(),
            &["admin", "import-tasks", "tasks.yaml", "--strict"],
        )
        .await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("estimate") && out.contains("did you mean `estimate_points`?"),
        "{out}"
    );
    assert!(
        s.state().await["tasks"].as_array().unwrap().is_empty(),
        "{out}"
    );

    let (ok, out) = s
        .run_owp_admin(dir.path(), &["admin", "import-tasks", "tasks.yaml"])
        .await;
    assert!(ok, "{out}");
    assert!(out.contains("imported 1 task"), "{out}");
    assert!(
        out.contains("D-1: ignored `estimate` (did you mean `estimate_points`?)"),
        "{out}"
    );
    assert!(
        out.contains("ignored `skills` (did you mean `required_skills`?)"),
        "{out}"
    );
}

/// `owp admin` takes a task's key wherever it takes its id; a key two repositories share needs
/// `--repo`, and without it the command says so in one line, naming them.
#[tokio::test]
async fn admin_commands_take_task_keys() {
    let s = Server::start().await;
    s.upsert_repo("acme/one", 3, true).await;
    s.upsert_repo("acme/two", 3, true).await;
    let one = s
        .import_ids(
            "acme/one",
            json!([{"key": "DEMO-1", "title": "First"}, {"key": "ONLY-1", "title": "Only"}]),
        )
        .await;
    let two = s
        .import_ids("acme/two", json!([{"key": "DEMO-1", "title": "Second"}]))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = s
        .run_owp_admin(dir.path(), &["admin", "set-status", "ONLY-1", "merged"])
        .await;
    assert!(ok, "{out}");
    assert_eq!(s.task(&one[1]).await["status"], "merged", "{out}");

    let (ok, out) = s
        .run_owp_admin(dir.path(), &["admin", "set-status", "DEMO-1", "blocked"])
        .await;
    assert!(!ok, "{out}");
    assert_eq!(out.trim().lines().count(), 1, "one line: {out}");
    assert!(
        out.contains("acme/one") && out.contains("acme/two") && out.contains("--repo"),
        "{out}"
    );
    assert_eq!(s.task(&one[0]).await["status"], "ready");

    let (ok, out) = s
        .run_owp_admin(
            dir.path(),
            &[
                "admin",
                "set-status",
                "DEMO-1",
                "blocked",
                "--repo",
                "acme/two",
            ],
        )
        .await;
    assert!(ok, "{out}");
    assert_eq!(s.task(&two[0]).await["status"], "blocked");
    assert_eq!(s.task(&one[0]).await["status"], "ready");

    let (ok, out) = s
        .run_owp_admin(
            dir.path(),
            &["admin", "task", "DEMO-1", "--repo", "acme/one"],
        )
        .await;
    assert!(ok, "{out}");
    assert!(out.contains("First") && out.contains(&one[0]), "{out}");
    // Ids still work.
    let (ok, out) = s
        .run_owp_admin(dir.path(), &["admin", "task", &two[0]])
        .await;
    assert!(ok && out.contains("Second"), "{out}");
    let (ok, out) = s
        .run_owp_admin(dir.path(), &["admin", "task", "NOPE-9"])
        .await;
    assert!(!ok && out.contains("NOPE-9"), "{out}");
}

/// A value of the wrong kind is refused naming its field, so a maintainer who typed
/// `approval: "maybe"` learns which field to fix.
#[tokio::test]
async fn a_wrong_value_names_its_field() {
    let s = Server::start().await;
    let r = s
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "acme/widgets", "max_open_prs": 3, "approval": "maybe"}),
        )
        .await;
    assert_eq!(r.expect_problem(422), "validation_failed");
    let detail = r.json["detail"].as_str().unwrap();
    assert!(detail.contains("`approval`"), "{detail}");
    assert!(detail.contains("maybe"), "{detail}");
}
