//! Path locks (rule 10, contract section 11) over HTTP: `paths` on import, their bounds, the claim
//! that skips a task whose paths another task in flight holds, `waiting_on_paths`, the preview's
//! reason, and the lock's end when the holder lets go — on SQLite and, where it runs, PostgreSQL.

use crate::support;

use serde_json::{Value, json};

use support::{Server, str_field};

/// The `(rule, code)` reasons the preview of `token` gives for `task_id` (empty: eligible).
async fn preview_reasons(s: &Server, token: &str, task_id: &str) -> Vec<(i64, String)> {
    let p = s.worker_get(token, "/v1/work/preview").await.expect(200);
    if p["eligible"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == task_id)
    {
        return Vec::new();
    }
    let refused = p["refused"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["task_id"] == task_id)
        .unwrap_or_else(|| panic!("{task_id} is neither eligible nor refused: {p}"));
    refused["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule"].as_i64().unwrap(), str_field(r, "code")))
        .collect()
}

/// The story of rule 10 on one server: nested, equal and disjoint patterns.
async fn paths_hold_and_free(s: &Server) {
    // Public: the preview names a task's reasons only where the worker may see it.
    s.admin_post(
        "/v1/admin/repos",
        json!({"repo": "paths/app", "max_open_prs": 10, "area_locks_enabled": false,
               "visibility": "public"}),
    )
    .await
    .expect(201);
    s.upsert_repo("paths/other", 10, false).await;
    let (_, a) = s.register_worker("a", &["rust"], 10, 5).await;
    let (_, b) = s.register_worker("b", &["rust"], 10, 5).await;
    let auth = s
        .import(
            "paths/app",
            json!([{"key": "AUTH", "title": "auth", "priority": "critical",
                    "paths": ["./src/auth//", "src/auth/**"]}]),
        )
        .await;
    assert_eq!(
        auth[0]["paths"],
        json!(["src/auth", "src/auth/**"]),
        "patterns are stored normalised"
    );
    let auth = str_field(&auth[0], "task_id");
    let ids = s
        .import_ids(
            "paths/app",
            json!([
                {"key": "LOGIN", "title": "login", "priority": "high",
                 "paths": ["src/auth/login.rs"]},
                {"key": "AUTHZ", "title": "authz", "priority": "normal",
                 "paths": ["src/authz/**"]},
                {"key": "NONE", "title": "no paths", "priority": "low"},
            ]),
        )
        .await;
    let (login, authz, none) = (&ids[0], &ids[1], &ids[2]);
    let same_path_elsewhere = s
        .import_ids(
            "paths/other",
            json!([{"title": "same path, other repo", "priority": "low",
                    "paths": ["src/auth/**"]}]),
        )
        .await;

    let (lease, task, _) = s.claim_ok(&a).await;
    assert_eq!(task, auth);
    // `login` is inside what `auth` holds: skipped; `authz` is beside it.
    let waiting = s.task(login).await;
    assert_eq!(waiting["status"], "ready");
    assert_eq!(waiting["waiting_on_paths"], json!(["AUTH"]), "{waiting}");
    assert_eq!(s.task(authz).await["waiting_on_paths"], json!([]));
    assert_eq!(
        preview_reasons(s, &b, login).await,
        vec![(10, "paths_locked".to_string())]
    );
    assert_eq!(preview_reasons(s, &b, authz).await, vec![]);
    let (_, next, _) = s.claim_ok(&b).await;
    assert_eq!(
        &next, authz,
        "the overlapping task of higher priority is skipped"
    );
    let (_, next, _) = s.claim_ok(&b).await;
    assert_eq!(&next, none);
    let (_, next, _) = s.claim_ok(&b).await;
    assert_eq!(next, same_path_elsewhere[0], "locks are per repository");
    s.claim_none(&b).await;

    // A pull request opened keeps the paths held; a merge frees them.
    s.open_pr(&a, &auth).await;
    s.claim_none(&b).await;
    assert_eq!(s.task(login).await["waiting_on_paths"], json!(["AUTH"]));
    let _ = lease;
    s.admin_set_status(&auth, "merged").await.expect(200);
    assert_eq!(s.task(login).await["waiting_on_paths"], json!([]));
    let (_, next, _) = s.claim_ok(&b).await;
    assert_eq!(&next, login);
}

/// On PostgreSQL when `OWP_TEST_DATABASE_URL` names a server (as in CI), otherwise SQLite.
#[tokio::test]
async fn overlapping_paths_are_held_one_task_at_a_time() {
    let s = Server::start_preferring_postgres(&[]).await;
    paths_hold_and_free(&s).await;
}

#[tokio::test]
async fn overlapping_paths_are_held_one_task_at_a_time_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Server::start_on_sqlite(&dir.path().join("owp.db")).await;
    paths_hold_and_free(&s).await;
}

#[tokio::test]
async fn a_nacked_or_blocked_holder_frees_or_keeps_its_paths() {
    let s = Server::start().await;
    s.upsert_repo("paths/give", 10, false).await;
    let (_, a) = s.register_worker("a", &[], 10, 5).await;
    let (_, b) = s.register_worker("b", &[], 10, 5).await;
    let ids = s
        .import_ids(
            "paths/give",
            json!([
                {"title": "first", "priority": "high", "paths": ["docs/*.md"]},
                {"title": "second", "paths": ["docs/guide/intro.md"]},
            ]),
        )
        .await;
    let (lease, task, _) = s.claim_ok(&a).await;
    assert_eq!(task, ids[0]);
    s.claim_none(&b).await;
    // Given back: free at once (and `b` may take it; `a` gave it back).
    s.nack(&a, &lease).await.expect(200);
    let (lease, task, _) = s.claim_ok(&b).await;
    assert_eq!(task, ids[0]);
    // Its holder reports it blocked: it waits for a maintainer and keeps its paths.
    s.set_status(
        &b,
        &task,
        json!({"status": "blocked", "reason": "needs a decision"}),
    )
    .await
    .expect(200);
    let _ = lease;
    assert_eq!(
        s.task(&ids[1]).await["waiting_on_paths"],
        json!([ids[0]]),
        "a task without a key is named by its id"
    );
    s.claim_none(&a).await;
    // A maintainer moves it on: the paths are free.
    s.admin_set_status(&ids[0], "ready").await.expect(200);
    assert_eq!(s.task(&ids[1]).await["waiting_on_paths"], json!([]));
    let (_, task, _) = s.claim_ok(&a).await;
    assert_eq!(task, ids[1]);
}

#[tokio::test]
async fn paths_are_bounded_and_checked() {
    let s = Server::start().await;
    s.upsert_repo("paths/bounds", 10, false).await;
    let import = |tasks: Value| {
        let s = &s;
        async move {
            s.admin_post(
                "/v1/admin/tasks",
                json!({"repo": "paths/bounds", "tasks": tasks}),
            )
            .await
        }
    };
    let many: Vec<String> = (0..21).map(|i| format!("src/f{i}.rs")).collect();
    let r = import(json!([{"title": "t", "paths": many}])).await;
    assert_eq!(r.expect_problem(422), "too_many_items");
    assert!(r.text.contains("tasks[0].paths"), "{}", r.text);
    let r = import(json!([{"title": "t", "paths": ["a".repeat(201)]}])).await;
    assert_eq!(r.expect_problem(422), "field_too_long");
    assert!(r.text.contains("tasks[0].paths[0]"), "{}", r.text);
    let r = import(json!([{"title": "t", "paths": ["ok.rs", "src/../etc/passwd"]}])).await;
    assert_eq!(r.expect_problem(422), "invalid_paths");
    assert!(r.text.contains("tasks[0].paths[1]"), "{}", r.text);
    let r = import(json!([{"title": "t", "paths": ["  "]}])).await;
    assert_eq!(r.expect_problem(422), "invalid_paths");
    let r = import(json!([{"title": "t", "paths": ["x\u{1b}[2J"]}])).await;
    assert_eq!(r.expect_problem(422), "invalid_characters");
    let r = import(json!([{"title": "t", "paths": "src/**"}])).await;
    r.expect_problem(422);
    // Twenty patterns of 200 characters are taken; nothing of the refused imports was stored.
    let twenty: Vec<String> = (0..20).map(|i| format!("{i:0>200}")).collect();
    let ok = import(json!([{"key": "K", "title": "t", "paths": twenty}])).await;
    assert_eq!(
        ok.expect(201)["tasks"][0]["paths"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    let state = s.state().await;
    assert_eq!(state["tasks"].as_array().unwrap().len(), 1, "{state}");
    // A re-import without `paths` clears them; `files` is named as the field probably meant.
    let again = import(json!([{"key": "K", "title": "t", "files": ["a"]}])).await;
    let again = again.expect(201);
    assert_eq!(again["tasks"][0]["paths"], json!([]));
    assert!(again["ignored"].to_string().contains("paths"), "{again}");
}
