//! Disclosure (contract section 11): `artifact.disclosure: {tool, model?}` on a `pr_opened`
//! report, its bounds, a repository contract that requires it, and the leaderboard rows that
//! show it.

use serde_json::{Value, json};

use crate::support::Server;

fn pr(n: u32, disclosure: Value) -> Value {
    json!({"status": "pr_opened", "artifact": {
        "pr_url": format!("https://git.example.test/acme/pull/{n}"),
        "disclosure": disclosure,
    }})
}

/// Bad disclosures are refused with stable codes naming the field, and nothing changes; a
/// repository whose contract requires one refuses a pull request without it.
#[tokio::test]
async fn a_required_disclosure_is_checked_and_bounded() {
    let s = Server::start().await;
    let r = s
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "acme/honest", "max_open_prs": 5,
                   "contract": {"test": "make test", "disclosure": "required"}}),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.describe());
    assert_eq!(r.json["contract"]["disclosure"], "required");
    let bad_policy = s
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "acme/honest", "max_open_prs": 5,
                   "contract": {"disclosure": "sometimes"}}),
        )
        .await;
    assert_eq!(bad_policy.status, 422, "{}", bad_policy.describe());
    let ids = s.import_ids("acme/honest", json!([{"title": "one"}])).await;
    let (_, token) = s.register_worker("w", &[], 10, 2).await;
    let (_, task, lease) = s.claim_ok(&token).await;
    assert_eq!(task, ids[0]);
    assert_eq!(lease["task"]["contract"]["disclosure"], "required");

    let long = "x".repeat(101);
    let cases = [
        (json!(null), "disclosure_required"),
        (json!("claude"), "invalid_disclosure"),
        (json!({"model": "opus"}), "invalid_disclosure"),
        (json!({"tool": ""}), "invalid_disclosure"),
        (json!({"tool": "claude", "model": 4}), "invalid_disclosure"),
        (json!({"tool": long}), "field_too_long"),
        (json!({"tool": "claude", "model": long}), "field_too_long"),
        (json!({"tool": "claude\u{1b}]8;;"}), "invalid_characters"),
        (
            json!({"tool": "claude", "model": "a\nb"}),
            "invalid_characters",
        ),
    ];
    for (disclosure, code) in cases {
        let r = s.set_status(&token, &task, pr(1, disclosure.clone())).await;
        assert_eq!(r.expect_problem(422), code, "{disclosure}");
    }
    let bare = json!({"status": "pr_opened", "artifact": {"pr_url": "https://git.example.test/acme/pull/1"}});
    let r = s.set_status(&token, &task, bare).await;
    assert_eq!(r.expect_problem(422), "disclosure_required");
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .contains("artifact.disclosure"),
        "{}",
        r.json
    );
    assert_eq!(s.task(&task).await["status"], "leased");

    let exactly = "m".repeat(100);
    let body = s
        .set_status(
            &token,
            &task,
            pr(1, json!({"tool": "claude", "model": exactly})),
        )
        .await
        .expect(200);
    assert_eq!(body["status"], "pr_opened");
    assert_eq!(body["artifact"]["disclosure"]["tool"], "claude");
    assert_eq!(body["artifact"]["disclosure"]["model"], exactly);
}

/// `disclosure: required` is not met by a tool (or model) name that shows nothing: zero-width,
/// blank and format characters name no tool. Each is refused naming its field; nothing changes.
#[tokio::test]
async fn an_invisible_tool_name_does_not_meet_a_required_disclosure() {
    let s = Server::start().await;
    s.admin_post(
        "/v1/admin/repos",
        json!({"repo": "acme/honest", "max_open_prs": 5,
               "contract": {"disclosure": "required"}}),
    )
    .await
    .expect(201);
    s.import_ids("acme/honest", json!([{"title": "one"}])).await;
    let (_, token) = s.register_worker("w", &[], 10, 2).await;
    let (_, task, _) = s.claim_ok(&token).await;
    let cases = [
        (json!({"tool": "\u{200b}"}), "artifact.disclosure.tool"),
        (
            json!({"tool": "\u{200b}\u{200c}\u{200d}\u{2060}\u{feff}"}),
            "artifact.disclosure.tool",
        ),
        (
            json!({"tool": " \u{3164}\u{2800}\u{00a0}"}),
            "artifact.disclosure.tool",
        ),
        (
            json!({"tool": "\u{202e}\u{2066}\u{e0041}"}),
            "artifact.disclosure.tool",
        ),
        (
            json!({"tool": "claude", "model": "\u{200b}\u{fe0f}"}),
            "artifact.disclosure.model",
        ),
    ];
    for (disclosure, field) in cases {
        let r = s.set_status(&token, &task, pr(1, disclosure.clone())).await;
        assert_eq!(r.expect_problem(422), "invalid_disclosure", "{disclosure}");
        assert!(
            r.json["detail"].as_str().unwrap_or("").contains(field),
            "{disclosure}: {}",
            r.json
        );
    }
    assert_eq!(s.task(&task).await["status"], "leased");
    // A name with something to see, even beside a zero-width joiner, is a name.
    let body = s
        .set_status(&token, &task, pr(1, json!({"tool": "\u{200b}aider"})))
        .await
        .expect(200);
    assert_eq!(body["status"], "pr_opened");
}

/// Without a requirement a disclosure is optional, still bounded; merged tasks list their tools
/// on the leaderboard's rows.
#[tokio::test]
async fn the_leaderboard_names_the_tools_of_merged_work() {
    let s = Server::start().await;
    s.upsert_repo("acme/free", 5, false).await;
    let ids = s
        .import_ids(
            "acme/free",
            json!([{"title": "a"}, {"title": "b"}, {"title": "c"}]),
        )
        .await;
    let reg = s
        .register(json!({"name": "owl", "skills": [], "capacity_points": 10,
                         "max_concurrent_tasks": 3, "leaderboard_opt_in": true}))
        .await
        .expect(201);
    let token = reg["token"].as_str().unwrap().to_string();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(s.claim_ok(&token).await.1);
    }
    let r = s
        .set_status(&token, &held[0], pr(1, json!({"tool": "t".repeat(101)})))
        .await;
    assert_eq!(r.expect_problem(422), "field_too_long");
    s.set_status(&token, &held[0], pr(1, json!({"tool": "aider"})))
        .await
        .expect(200);
    s.set_status(
        &token,
        &held[1],
        pr(2, json!({"tool": "claude", "model": "opus"})),
    )
    .await
    .expect(200);
    let plain = json!({"status": "pr_opened", "artifact": {"pr_url": "https://git.example.test/acme/pull/3"}});
    s.set_status(&token, &held[2], plain).await.expect(200);
    for id in &ids {
        s.admin_set_status(id, "merged").await.expect(200);
    }
    let board = s.admin_get("/v1/leaderboard").await.expect(200);
    let row = &board["workers"][0];
    assert_eq!(row["name"], "owl");
    assert_eq!(row["merged"], 3);
    assert_eq!(row["tools"], json!(["aider", "claude"]), "{board}");
}

/// A `pr_opened` report on a task whose pull request is open already (in GitHub mode the App's
/// webhook may come first) is no move: naming the same pull request, it adds its disclosure to
/// the artifact once, however often it is sent; naming another, it is refused.
#[tokio::test]
async fn a_later_pr_opened_report_adds_its_disclosure_once() {
    let s = Server::start().await;
    s.upsert_repo("acme/later", 5, false).await;
    let ids = s.import_ids("acme/later", json!([{"title": "a"}])).await;
    let (_, token) = s.register_worker("w", &[], 10, 2).await;
    let (_, task, _) = s.claim_ok(&token).await;
    assert_eq!(task, ids[0]);
    let plain = json!({"status": "pr_opened", "artifact": {
        "pr_url": "https://git.example.test/acme/pull/1", "commit_sha": "abc"}});
    s.set_status(&token, &task, plain).await.expect(200);
    for _ in 0..2 {
        let body = s
            .set_status(&token, &task, pr(1, json!({"tool": "aider"})))
            .await
            .expect(200);
        assert_eq!(body["status"], "pr_opened");
        assert_eq!(body["artifact"]["disclosure"]["tool"], "aider");
        assert_eq!(body["artifact"]["commit_sha"], "abc");
    }
    let r = s
        .set_status(&token, &task, pr(2, json!({"tool": "codex"})))
        .await;
    assert_eq!(r.expect_problem(409), "invalid_transition");
    let r = s
        .set_status(&token, &task, pr(1, json!({"tool": "t".repeat(101)})))
        .await;
    assert_eq!(r.expect_problem(422), "field_too_long");
    let t = s.task(&task).await;
    assert_eq!(
        t["artifact"]["pr_url"],
        "https://git.example.test/acme/pull/1"
    );
    assert_eq!(t["artifact"]["disclosure"], json!({"tool": "aider"}));
    let state = s.state().await;
    let recorded: Vec<&Value> = state["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "task.artifact")
        .collect();
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(
        recorded[0]["data"]["artifact"],
        json!({"disclosure": {"tool": "aider"}})
    );
}

/// What GitHub decides of a pull request (its checks, its commits' signatures, a merge and its
/// credit) is never a worker's to report (contract section 14): a report naming any of it is
/// refused naming the key, on the first report and on every later one, and nothing changes.
#[tokio::test]
async fn a_worker_cannot_report_what_github_decides() {
    let s = Server::start().await;
    s.admin_post(
        "/v1/admin/repos",
        json!({"repo": "acme/facts", "max_open_prs": 5}),
    )
    .await
    .expect(201);
    s.import_ids("acme/facts", json!([{"title": "one"}])).await;
    let (_, token) = s.register_worker("w", &[], 10, 2).await;
    let (_, task, _) = s.claim_ok(&token).await;
    let url = "https://git.example.test/acme/pull/1";
    let claims = [
        ("checks", json!("success")),
        ("commits", json!({"verified": true, "unverified": []})),
        ("credit", json!({"github_login": "alice"})),
        ("merged", json!(true)),
    ];
    for (key, value) in &claims {
        let body = json!({"status": "pr_opened", "artifact": {"pr_url": url, *key: value}});
        let r = s.set_status(&token, &task, body).await;
        assert_eq!(r.expect_problem(422), "not_reported_by_workers", "{key}");
        let detail = r.json["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("`artifact.{key}`")), "{detail}");
    }
    assert_eq!(s.task(&task).await["status"], "leased");

    let plain = json!({"status": "pr_opened", "artifact": {"pr_url": url}});
    s.set_status(&token, &task, plain).await.expect(200);
    for (key, value) in &claims {
        let body = json!({"status": "pr_opened", "artifact": {"pr_url": url, *key: value}});
        let r = s.set_status(&token, &task, body).await;
        assert_eq!(r.expect_problem(422), "not_reported_by_workers", "{key}");
    }
    let t = s.task(&task).await;
    assert_eq!(t["artifact"], json!({"pr_url": url}), "{t}");
    let state = s.state().await;
    let recorded = state["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "task.artifact")
        .count();
    assert_eq!(recorded, 0);
}
