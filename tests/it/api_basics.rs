//! Health, authentication, wire format and error shapes (contract sections 0–2 and 4).

use crate::support;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn healthz_answers_200() {
    let s = Server::start().await;
    let r = s.req(Method::GET, "/healthz").send().await;
    assert_eq!(r.status, 200, "{}", r.describe());
}

#[tokio::test]
async fn admin_endpoints_require_the_admin_token() {
    let s = Server::start().await;
    s.upsert_repo("acme/auth", 3, true).await;
    let admin_calls: Vec<(Method, &str, Value)> = vec![
        (Method::GET, "/v1/admin/state", Value::Null),
        (
            Method::POST,
            "/v1/admin/repos",
            json!({"repo": "acme/x", "max_open_prs": 1}),
        ),
        (
            Method::POST,
            "/v1/admin/tasks",
            json!({"repo": "acme/auth", "tasks": [{"title": "t"}]}),
        ),
        (
            Method::POST,
            "/v1/admin/tasks/unknown/status",
            json!({"status": "ready"}),
        ),
        (
            Method::POST,
            "/v1/admin/workers/unknown",
            json!({"trust_level": 1}),
        ),
    ];
    for (method, path, body) in admin_calls {
        for token in [None, Some("wrong-token"), Some("")] {
            let mut req = s.req(method.clone(), path);
            if let Some(t) = token {
                req = req.header("X-Admin-Token", t);
            }
            if !body.is_null() {
                req = req.json(&body);
            }
            let r = req.send().await;
            r.expect_problem(401);
        }
    }
    // Nothing was changed by the refused calls.
    let state = s.state().await;
    assert!(find(&state["repos"], "repo", "acme/x").is_none());
    assert_eq!(state["tasks"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn admin_token_is_not_a_worker_token_and_vice_versa() {
    let s = Server::start().await;
    let (_, token) = s.register_worker("w", &["rust"], 5, 1).await;
    // A worker token does not open admin endpoints.
    let r = s
        .req(Method::GET, "/v1/admin/state")
        .bearer(&token)
        .send()
        .await;
    r.expect_problem(401);
    let r = s
        .req(Method::GET, "/v1/admin/state")
        .header("X-Admin-Token", &token)
        .send()
        .await;
    r.expect_problem(401);
    // The admin token is not a bearer token of a worker.
    let r = s
        .req(Method::POST, "/v1/work")
        .bearer(&s.admin_token)
        .send()
        .await;
    r.expect_problem(401);
}

#[tokio::test]
async fn worker_endpoints_require_a_valid_bearer_token() {
    let s = Server::start().await;
    let (_, token) = s.register_worker("w", &["rust"], 5, 1).await;
    let paths = [
        "/v1/work",
        "/v1/workers/heartbeat",
        "/v1/leases/some-lease/ack",
        "/v1/leases/some-lease/nack",
        "/v1/leases/some-lease/renew",
        "/v1/tasks/some-task/status",
    ];
    let bad_headers = [
        None,
        Some("Bearer not-a-token".to_string()),
        Some(format!("Bearer {token}x")),
        Some(format!("Basic {token}")),
        Some("Bearer".to_string()),
    ];
    for path in paths {
        for header in &bad_headers {
            let mut req = s
                .req(Method::POST, path)
                .json(&json!({"status": "in_progress"}));
            if let Some(h) = header {
                req = req.header("Authorization", h);
            }
            req.send().await.expect_problem(401);
        }
    }
    // Reading a task also needs credentials.
    s.req(Method::GET, "/v1/tasks/some-task")
        .send()
        .await
        .expect_problem(401);
    // The real token works.
    let r = s.heartbeat(&token, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.describe());
}

#[tokio::test]
async fn malformed_json_is_400() {
    let s = Server::start().await;
    s.upsert_repo("acme/bad", 3, true).await;
    let (worker_id, token) = s.register_worker("w", &["rust"], 5, 1).await;
    let broken = "{\"repo\": \"acme/bad\", \"tasks\": [";
    let cases = [
        (
            s.req(Method::POST, "/v1/admin/repos")
                .admin(&s)
                .body(broken, "application/json"),
            "repos",
        ),
        (
            s.req(Method::POST, "/v1/admin/tasks")
                .admin(&s)
                .body(broken, "application/json"),
            "tasks",
        ),
        (
            s.req(Method::POST, "/v1/workers/register")
                .body("{\"name\": ", "application/json"),
            "register",
        ),
        (
            s.req(Method::POST, "/v1/workers/heartbeat")
                .bearer(&token)
                .body("{nope}", "application/json"),
            "heartbeat",
        ),
        (
            s.req(Method::POST, &format!("/v1/admin/workers/{worker_id}"))
                .admin(&s)
                .body("[1,", "application/json"),
            "admin worker",
        ),
    ];
    for (req, what) in cases {
        let r = req.send().await;
        assert_eq!(r.status, 400, "{what}: {}", r.describe());
        r.assert_problem_shape();
    }
}

#[tokio::test]
async fn malformed_yaml_import_is_400() {
    let s = Server::start().await;
    s.upsert_repo("acme/yaml", 3, true).await;
    let r = s
        .req(Method::POST, "/v1/admin/tasks")
        .admin(&s)
        .body(
            "repo: acme/yaml\ntasks: [ {title: \"x\"\n",
            "application/yaml",
        )
        .send()
        .await;
    r.expect_problem(400);
}

#[tokio::test]
async fn body_over_one_mebibyte_is_413() {
    let s = Server::start().await;
    s.upsert_repo("acme/big", 3, true).await;
    let description = "x".repeat(1024 * 1024 + 16);
    let body = json!({"repo": "acme/big", "tasks": [{"title": "big", "description": description}]});
    let r = s
        .req(Method::POST, "/v1/admin/tasks")
        .admin(&s)
        .json(&body)
        .send()
        .await;
    r.expect_problem(413);
    // The same on a worker endpoint.
    let big = json!({"name": "w", "skills": ["rust"], "capacity_points": 1, "max_concurrent_tasks": 1, "x_pad": "y".repeat(1024 * 1024 + 16)});
    s.register(big).await.expect_problem(413);
    // Nothing was imported.
    assert_eq!(s.state().await["tasks"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn body_just_under_the_limit_is_accepted() {
    let s = Server::start().await;
    s.upsert_repo("acme/big", 3, true).await;
    // Well under 1 MiB including the envelope: a limit below 1 MiB would be allowed, so stay
    // comfortably below a plausible limit. (Each description stays within its own limit.)
    let description = "x".repeat(50 * 1024);
    let tasks = s
        .import(
            "acme/big",
            json!((0..4)
                .map(|i| json!({"title": format!("large but fine {i}"), "description": description}))
                .collect::<Vec<_>>()),
        )
        .await;
    assert_eq!(tasks.len(), 4);
    assert_eq!(
        tasks[3]["description"].as_str().map(str::len),
        Some(50 * 1024)
    );
}

#[tokio::test]
async fn invalid_registration_values_are_422() {
    let s = Server::start().await;
    let base =
        json!({"name": "w", "skills": ["rust"], "capacity_points": 3, "max_concurrent_tasks": 1});
    let cases = [
        ("capacity_points", json!(-1)),
        ("capacity_points", json!(0)),
        ("max_concurrent_tasks", json!(0)),
        ("max_concurrent_tasks", json!(-3)),
    ];
    for (field, value) in cases {
        let mut body = base.clone();
        body[field] = value.clone();
        let r = s.register(body).await;
        assert_eq!(r.status, 422, "{field} = {value}: {}", r.describe());
        r.assert_problem_shape();
    }
    // None of them created a worker.
    assert_eq!(s.state().await["workers"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn invalid_task_values_are_422() {
    let s = Server::start().await;
    s.upsert_repo("acme/v", 3, true).await;
    let cases = [
        json!({"title": "p", "priority": "urgent"}),
        json!({"title": "t", "tier": -1}),
        json!({"title": "e", "estimate_points": 0}),
        json!({"title": "e", "estimate_points": -2}),
    ];
    for task in cases {
        let r = s
            .admin_post(
                "/v1/admin/tasks",
                json!({"repo": "acme/v", "tasks": [task.clone()]}),
            )
            .await;
        assert_eq!(r.status, 422, "{task}: {}", r.describe());
        r.assert_problem_shape();
    }
    assert_eq!(s.state().await["tasks"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn invalid_repo_policy_values_are_422() {
    let s = Server::start().await;
    for body in [
        json!({"repo": "acme/r", "max_open_prs": -1}),
        json!({"repo": "", "max_open_prs": 2}),
    ] {
        let r = s.admin_post("/v1/admin/repos", body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.describe());
        r.assert_problem_shape();
    }
}

#[tokio::test]
async fn unknown_status_values_are_422() {
    let s = Server::start().await;
    s.upsert_repo("acme/s", 3, true).await;
    let ids = s.import_ids("acme/s", json!([{"title": "a"}])).await;
    let (wid, token) = s.register_worker("w", &[], 5, 2).await;
    let (_, task_id, _) = s.claim_ok(&token).await;
    assert_eq!(task_id, ids[0]);
    s.set_status(&token, &task_id, json!({"status": "done"}))
        .await
        .expect_problem(422);
    s.admin_set_status(&task_id, "finished")
        .await
        .expect_problem(422);
    s.admin_update_worker(&wid, json!({"status": "sleeping"}))
        .await
        .expect_problem(422);
    s.admin_update_worker(&wid, json!({"trust_level": -1}))
        .await
        .expect_problem(422);
    s.heartbeat(&token, json!({"status": "busy"}))
        .await
        .expect_problem(422);
    // The task is untouched.
    assert_eq!(s.task(&task_id).await["status"], "leased");
}

#[tokio::test]
async fn pr_opened_without_pr_url_is_422() {
    let s = Server::start().await;
    s.upsert_repo("acme/pr", 3, true).await;
    s.import("acme/pr", json!([{"title": "a"}])).await;
    let (_, token) = s.register_worker("w", &[], 5, 2).await;
    let (lease_id, task_id, _) = s.claim_ok(&token).await;
    s.set_status(&token, &task_id, json!({"status": "pr_opened"}))
        .await
        .expect_problem(422);
    s.ack(&token, &lease_id).await.expect(200);
    s.set_status(
        &token,
        &task_id,
        json!({"status": "pr_opened", "artifact": {"commit_sha": "abc"}}),
    )
    .await
    .expect_problem(422);
    s.set_status(
        &token,
        &task_id,
        json!({"status": "pr_opened", "artifact": {"pr_url": ""}}),
    )
    .await
    .expect_problem(422);
    assert_eq!(s.task(&task_id).await["status"], "in_progress");
}

#[tokio::test]
async fn unknown_objects_are_404() {
    let s = Server::start().await;
    let (_, token) = s.register_worker("w", &[], 5, 2).await;
    s.admin_get("/v1/tasks/no-such-task")
        .await
        .expect_problem(404);
    s.admin_set_status("no-such-task", "blocked")
        .await
        .expect_problem(404);
    s.admin_update_worker("no-such-worker", json!({"trust_level": 1}))
        .await
        .expect_problem(404);
    for action in ["ack", "nack", "renew"] {
        s.worker_post(
            &token,
            &format!("/v1/leases/no-such-lease/{action}"),
            json!({}),
        )
        .await
        .expect_problem(404);
    }
    s.set_status(&token, "no-such-task", json!({"status": "in_progress"}))
        .await
        .expect_problem_in(&[403, 404]);
}

#[tokio::test]
async fn import_into_unknown_repo_is_404() {
    let s = Server::start().await;
    let r = s
        .admin_post(
            "/v1/admin/tasks",
            json!({"repo": "nobody/nothing", "tasks": [{"title": "a"}]}),
        )
        .await;
    r.expect_problem(404);
    assert_eq!(s.state().await["tasks"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn unknown_route_is_a_problem() {
    let s = Server::start().await;
    let r = s.admin_get("/v1/no-such-endpoint").await;
    r.expect_problem(404);
}

#[tokio::test]
async fn openapi_document_lists_every_contract_path() {
    let s = Server::start().await;
    let r = s.req(Method::GET, "/v1/openapi.json").send().await;
    let doc = r.expect(200);
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "openapi version {version:?}");
    let paths = doc["paths"].as_object().expect("paths object");
    // Path parameters may be named freely; compare with `{}` placeholders.
    let normalize = |p: &str| {
        let mut out = String::new();
        let mut in_param = false;
        for c in p.chars() {
            match c {
                '{' => {
                    in_param = true;
                    out.push_str("{}");
                }
                '}' => in_param = false,
                _ if in_param => {}
                _ => out.push(c),
            }
        }
        out
    };
    let documented: std::collections::HashMap<String, &Value> =
        paths.iter().map(|(k, v)| (normalize(k), v)).collect();
    let expected = [
        ("get", "/healthz"),
        ("post", "/v1/admin/repos"),
        ("post", "/v1/admin/tasks"),
        ("get", "/v1/admin/state"),
        ("get", "/v1/tasks/{}"),
        ("post", "/v1/admin/tasks/{}/status"),
        ("post", "/v1/admin/workers/{}"),
        ("post", "/v1/workers/register"),
        ("post", "/v1/workers/heartbeat"),
        ("post", "/v1/work"),
        ("post", "/v1/leases/{}/ack"),
        ("post", "/v1/leases/{}/nack"),
        ("post", "/v1/leases/{}/renew"),
        ("post", "/v1/tasks/{}/status"),
        ("get", "/v1/events"),
        ("get", "/v1/meta"),
    ];
    let mut missing = Vec::new();
    for (method, path) in expected {
        match documented.get(path) {
            Some(item) if item.get(method).is_some() => {}
            _ => missing.push(format!("{} {path}", method.to_uppercase())),
        }
    }
    assert!(
        missing.is_empty(),
        "missing from openapi.json: {missing:?}; documented: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
}

/// Odd but possible client input: wrong types, huge numbers, odd ids and query values. Every
/// answer is a success or a 4xx problem; never a 5xx.
#[tokio::test]
async fn odd_input_never_causes_a_server_error() {
    // Records an answer that is a 5xx, or an error that is not a problem document.
    fn judge(r: &Resp, body: &Value, wrong: &mut Vec<String>) {
        let is_problem = r.content_type.starts_with("application/problem+json")
            && r.json["status"].as_u64() == Some(r.status as u64)
            && r.json["code"].as_str().is_some_and(is_snake_case);
        if r.status >= 500 || (r.status >= 400 && !is_problem) {
            wrong.push(format!("{body} → {}", r.describe()));
        }
    }
    let s = Server::start().await;
    s.upsert_repo("acme/odd", 3, true).await;
    let (wid, token) = s.register_worker("w", &["rust"], 5, 2).await;
    let admin_bodies = [
        (
            "/v1/admin/repos",
            json!({"repo": 5, "max_open_prs": "three"}),
        ),
        (
            "/v1/admin/repos",
            json!({"repo": "acme/odd", "max_open_prs": 1e30}),
        ),
        (
            "/v1/admin/repos",
            json!({"repo": "acme/odd", "max_open_prs": 2, "area_locks_enabled": "yes"}),
        ),
        ("/v1/admin/repos", json!([])),
        ("/v1/admin/tasks", json!({"repo": "acme/odd", "tasks": {}})),
        (
            "/v1/admin/tasks",
            json!({"repo": "acme/odd", "tasks": [{"title": 7}]}),
        ),
        (
            "/v1/admin/tasks",
            json!({"repo": "acme/odd", "tasks": [{"title": "x", "estimate_points": 1.5}]}),
        ),
        (
            "/v1/admin/tasks",
            json!({"repo": "acme/odd", "tasks": [{"title": "x", "estimate_points": 99999999999999999u64}]}),
        ),
        (
            "/v1/admin/tasks",
            json!({"repo": "acme/odd", "tasks": [{"title": "x", "required_skills": "rust"}]}),
        ),
        (
            "/v1/admin/tasks",
            json!({"repo": "acme/odd", "tasks": [{"title": "x", "area": ["a"]}]}),
        ),
        (
            "/v1/admin/tasks",
            json!({"repo": "acme/odd", "tasks": [{"title": "ünïcødé ✓ \u{0}", "area": "€"}]}),
        ),
        ("/v1/admin/tasks", json!({"tasks": [{"title": "no repo"}]})),
        ("/v1/admin/tasks", json!(null)),
        ("/v1/admin/tasks/%00%ff/status", json!({"status": "ready"})),
        ("/v1/admin/tasks/x/status", json!({"status": 3})),
        ("/v1/admin/workers/%2e%2e", json!({"trust_level": 1})),
    ];
    let mut wrong = Vec::new();
    for (path, body) in admin_bodies {
        let r = s.admin_post(path, body.clone()).await;
        judge(&r, &body, &mut wrong);
    }
    let worker_calls = [
        ("/v1/work?wait=abc", json!({})),
        ("/v1/work?wait=-1", json!({})),
        ("/v1/work?wait=99999999999999999999", json!({})),
        ("/v1/workers/heartbeat", json!({"status": 1})),
        ("/v1/workers/heartbeat", json!("idle")),
        ("/v1/leases/%00/ack", json!({})),
        (
            "/v1/tasks/x/status",
            json!({"status": "pr_opened", "artifact": "url"}),
        ),
        ("/v1/tasks/x/status", json!({"artifact": {"pr_url": "u"}})),
    ];
    for (path, body) in worker_calls {
        let r = s
            .req(Method::POST, path)
            .bearer(&token)
            .json(&body)
            .timeout(std::time::Duration::from_secs(40))
            .send()
            .await;
        judge(&r, &body, &mut wrong);
    }
    let registrations = [
        json!({"name": "w", "skills": "rust", "capacity_points": 1, "max_concurrent_tasks": 1}),
        json!({"name": "w", "skills": [], "capacity_points": 1e40, "max_concurrent_tasks": 1}),
        json!({"name": "", "skills": [], "capacity_points": 1, "max_concurrent_tasks": 1}),
        json!({"skills": [], "capacity_points": 1, "max_concurrent_tasks": 1}),
        json!({"name": "w", "skills": [], "capacity_points": 1, "max_concurrent_tasks": 1, "capabilities": 5}),
    ];
    for body in registrations {
        let r = s.register(body.clone()).await;
        judge(&r, &body, &mut wrong);
    }
    assert!(
        wrong.is_empty(),
        "{} bad answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // The server is still healthy and consistent.
    s.req(Method::GET, "/healthz").send().await.expect(200);
    let w = s.worker(&wid).await;
    assert_eq!(w["active_tasks"], 0);
}

/// `POST /v1/admin/workers/{id}/archive`: refused while the worker holds a lease (409
/// `worker_busy`); then its token stops working and it leaves the admin state, unless
/// `?archived=true` asks for it. Admin only.
#[tokio::test]
async fn an_archived_worker_leaves_the_state_and_its_token_stops_working() {
    let s = Server::start().await;
    s.upsert_repo("acme/archive-w", 5, true).await;
    s.import("acme/archive-w", json!([{"title": "t"}])).await;
    let (id, token) = s.register_worker("gone", &[], 5, 2).await;
    let path = format!("/v1/admin/workers/{id}/archive");
    let anonymous = s.req(Method::POST, &path).json(&json!({})).send().await;
    anonymous.expect_problem(401);

    let (lease_id, _, _) = s.claim_ok(&token).await;
    let busy = s.admin_post(&path, json!({})).await;
    assert!(
        busy.expect_problem(409).contains("worker_busy"),
        "{}",
        busy.describe()
    );
    s.nack(&token, &lease_id).await.expect(200);

    let archived = s.admin_post(&path, json!({})).await.expect(200);
    assert_eq!(archived["worker_id"], id.as_str());
    assert_eq!(archived["status"], "paused");
    s.heartbeat(&token, json!({})).await.expect_problem(401);
    let state = s.state().await;
    assert!(
        state["workers"].as_array().unwrap().is_empty(),
        "{}",
        state["workers"]
    );
    let all = s
        .admin_get("/v1/admin/state?archived=true")
        .await
        .expect(200);
    assert_eq!(all["workers"][0]["worker_id"], id.as_str());
    // Again: nothing changes; an unknown worker is 404.
    s.admin_post(&path, json!({})).await.expect(200);
    s.admin_post("/v1/admin/workers/w_none/archive", json!({}))
        .await
        .expect_problem(404);
}

/// `POST /v1/admin/repos/archive`: refused while a task is leased (409 `repo_busy`: archiving
/// must not end someone's lease behind their back); then its ready tasks are cancelled, it and
/// its tasks leave the admin state and the public board, an import into it is 404, and adding it
/// again brings it back.
#[tokio::test]
async fn an_archived_repo_leaves_the_state_and_takes_no_import() {
    let s = Server::start_with_env(&[("OWP_PUBLIC_BOARDS", "1")]).await;
    let repo = "acme/archive-r";
    s.admin_post(
        "/v1/admin/repos",
        json!({"repo": repo, "max_open_prs": 5, "visibility": "public"}),
    )
    .await
    .expect_ok();
    let ids = s
        .import_ids(repo, json!([{"title": "held"}, {"title": "waiting"}]))
        .await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, held, _) = s.claim_ok(&token).await;
    let body = json!({"repo": repo});
    let anonymous = s
        .req(Method::POST, "/v1/admin/repos/archive")
        .json(&body)
        .send()
        .await;
    anonymous.expect_problem(401);
    let busy = s.admin_post("/v1/admin/repos/archive", body.clone()).await;
    assert!(
        busy.expect_problem(409).contains("repo_busy"),
        "{}",
        busy.describe()
    );
    assert_eq!(
        s.task(&held).await["status"],
        "leased",
        "the lease is untouched"
    );

    s.nack(&token, &lease_id).await.expect(200);
    s.admin_post("/v1/admin/repos/archive", body.clone())
        .await
        .expect(200);
    for id in &ids {
        assert_eq!(s.task(id).await["status"], "cancelled");
    }
    s.claim_none(&token).await;
    let state = s.state().await;
    assert!(
        state["repos"].as_array().unwrap().is_empty(),
        "{}",
        state["repos"]
    );
    assert!(
        state["tasks"].as_array().unwrap().is_empty(),
        "{}",
        state["tasks"]
    );
    let board = s.req(Method::GET, "/board/state").send().await.expect(200);
    assert!(board["repos"].as_array().unwrap().is_empty(), "{board}");
    assert!(board["tasks"].as_array().unwrap().is_empty(), "{board}");
    let import = s
        .admin_post(
            "/v1/admin/tasks",
            json!({"repo": repo, "tasks": [{"title": "late"}]}),
        )
        .await;
    import.expect_problem(404);
    s.admin_post("/v1/admin/repos/archive", json!({"repo": "acme/none"}))
        .await
        .expect_problem(404);

    // Adding it again brings it back.
    s.upsert_repo(repo, 5, true).await;
    assert_eq!(s.state().await["repos"][0]["repo"], repo);
    s.import(repo, json!([{"title": "again"}])).await;
}
