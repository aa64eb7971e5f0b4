//! Dependencies (contract section 8): `blocked_by` on import, `blocked_by` and `waiting_on` on
//! every task, the two 422 codes, and rule 8 of section 5 — a task that waits on a blocker is
//! never offered and stays `ready` until every blocker is `merged` or `cancelled`. On SQLite; the
//! racing claims and the long poll woken by another request's commit on PostgreSQL when
//! `OWP_TEST_DATABASE_URL` is set.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

fn keys(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|k| k.as_str().expect("a key").to_string())
        .collect()
}

/// Imports the chain `A <- B <- C` (B waits on A, C on B) and a free task; returns their ids.
async fn chain(s: &Server, repo: &str) -> (String, String, String, String) {
    s.upsert_repo(repo, 10, false).await;
    let tasks = s
        .import(
            repo,
            json!([
                {"key": "C", "title": "third", "blocked_by": ["B"], "priority": "critical"},
                {"key": "B", "title": "second", "blocked_by": ["A"], "priority": "high"},
                {"key": "A", "title": "first"},
                {"key": "F", "title": "free", "priority": "low"}
            ]),
        )
        .await;
    assert_eq!(keys(&tasks[0]["blocked_by"]), ["B"]);
    assert_eq!(keys(&tasks[0]["waiting_on"]), ["B"]);
    assert_eq!(keys(&tasks[1]["waiting_on"]), ["A"]);
    assert_eq!(keys(&tasks[2]["blocked_by"]), Vec::<String>::new());
    assert_eq!(keys(&tasks[2]["waiting_on"]), Vec::<String>::new());
    for t in &tasks {
        assert_eq!(t["status"], "ready", "{t}");
    }
    let id = |i: usize| str_field(&tasks[i], "task_id");
    (id(2), id(1), id(0), id(3))
}

#[tokio::test]
async fn a_waiting_task_is_never_offered_until_its_blocker_merges() {
    let s = Server::start().await;
    let (a, b, c, f) = chain(&s, "acme/deps").await;
    let (_, token) = s.register_worker("w", &[], 10, 5).await;
    // C and B outrank A by priority, but only A and F are the frontier.
    let (lease_a, got, _) = s.claim_ok(&token).await;
    assert_eq!(got, a);
    let (_, got, _) = s.claim_ok(&token).await;
    assert_eq!(got, f);
    s.claim_none(&token).await;
    // B and C stay `ready` while they wait.
    let task_b = s.task(&b).await;
    assert_eq!(task_b["status"], "ready");
    assert_eq!(keys(&task_b["waiting_on"]), ["A"]);
    // A in review still holds B.
    s.ack(&token, &lease_a).await.expect(200);
    s.open_pr(&token, &a).await;
    s.claim_none(&token).await;
    s.merge(&token, &a).await;
    let task_b = s.task(&b).await;
    assert_eq!(keys(&task_b["blocked_by"]), ["A"]);
    assert_eq!(keys(&task_b["waiting_on"]), Vec::<String>::new());
    let (_, got, lease) = s.claim_ok(&token).await;
    assert_eq!(got, b);
    assert_eq!(keys(&lease["task"]["blocked_by"]), ["A"]);
    assert_eq!(keys(&lease["task"]["waiting_on"]), Vec::<String>::new());
    // C still waits on B, which is only leased.
    s.claim_none(&token).await;
    assert_eq!(keys(&s.task(&c).await["waiting_on"]), ["B"]);
}

#[tokio::test]
async fn a_cancelled_blocker_releases_its_dependants_and_a_blocked_one_does_not() {
    let s = Server::start().await;
    let (a, b, _c, f) = chain(&s, "acme/cancel").await;
    s.admin_set_status(&f, "cancelled").await.expect(200);
    let (_, token) = s.register_worker("w", &[], 10, 5).await;
    s.admin_set_status(&a, "blocked").await.expect(200);
    s.claim_none(&token).await;
    s.admin_set_status(&a, "cancelled").await.expect(200);
    let (_, got, _) = s.claim_ok(&token).await;
    assert_eq!(got, b);
}

#[tokio::test]
async fn the_frontier_filter_lists_what_can_be_offered_now() {
    let s = Server::start().await;
    let (a, b, c, f) = chain(&s, "acme/frontier").await;
    let ready = s
        .admin_get("/v1/admin/state?repo=acme/frontier&ready=true")
        .await
        .expect(200);
    let ids: Vec<String> = ready["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| str_field(t, "task_id"))
        .collect();
    assert_eq!(ids, [a.clone(), f.clone()]);
    let waiting = s
        .admin_get("/v1/admin/state?repo=acme/frontier&ready=false")
        .await
        .expect(200);
    let ids: Vec<String> = waiting["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| str_field(t, "task_id"))
        .collect();
    assert_eq!(ids, [c, b]);
}

#[tokio::test]
async fn unknown_keys_and_cycles_are_refused_and_nothing_is_imported() {
    let s = Server::start().await;
    s.upsert_repo("acme/bad", 10, true).await;
    s.upsert_repo("acme/other", 10, true).await;
    s.import("acme/other", json!([{"key": "X", "title": "elsewhere"}]))
        .await;
    s.import("acme/bad", json!([{"key": "A", "title": "a"}]))
        .await;
    let post = |tasks: Value| {
        s.admin_post(
            "/v1/admin/tasks",
            json!({"repo": "acme/bad", "tasks": tasks}),
        )
    };
    // A key of another repository is unknown here.
    let r = post(
        json!([{"key": "N", "title": "new"}, {"key": "B", "title": "b", "blocked_by": ["X"]}]),
    )
    .await;
    assert_eq!(r.expect_problem(422), "unknown_dependency");
    assert!(
        r.json["detail"].as_str().unwrap().contains("`X`"),
        "{}",
        r.describe()
    );
    // A direct cycle, a self-loop, and a cycle through a stored task.
    let r = post(json!([
        {"key": "P", "title": "p", "blocked_by": ["Q"]},
        {"key": "Q", "title": "q", "blocked_by": ["P"]}
    ]))
    .await;
    assert_eq!(r.expect_problem(422), "dependency_cycle");
    let r = post(json!([{"key": "S", "title": "s", "blocked_by": ["S"]}])).await;
    assert_eq!(r.expect_problem(422), "dependency_cycle");
    s.import(
        "acme/bad",
        json!([{"key": "B", "title": "b", "blocked_by": ["A"]}]),
    )
    .await;
    let r = post(json!([{"key": "A", "title": "a again", "blocked_by": ["B"]}])).await;
    assert_eq!(r.expect_problem(422), "dependency_cycle");
    // Too many blockers.
    let many: Vec<String> = (0..51).map(|i| format!("K{i}")).collect();
    let r = post(json!([{"key": "M", "title": "m", "blocked_by": many}])).await;
    assert_eq!(r.expect_problem(422), "too_many_blockers");
    // Nothing of the refused imports was stored; A is unchanged.
    let state = s
        .admin_get("/v1/admin/state?repo=acme/bad")
        .await
        .expect(200);
    let mut stored: Vec<String> = state["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| str_field(t, "key"))
        .collect();
    stored.sort();
    assert_eq!(stored, ["A", "B"]);
    let a = find(&state["tasks"], "key", "A").unwrap();
    assert_eq!(a["title"], "a");
    assert_eq!(keys(&a["blocked_by"]), Vec::<String>::new());
}

#[tokio::test]
async fn re_import_replaces_blockers_and_yaml_carries_them() {
    let s = Server::start().await;
    s.upsert_repo("acme/yaml-deps", 10, true).await;
    let doc = "repo: acme/yaml-deps\ntasks:\n  - key: base\n    title: Base\n  - key: top\n    title: Top\n    blocked_by: [base]\n";
    let r = s
        .req(Method::POST, "/v1/admin/tasks")
        .admin(&s)
        .body(doc, "application/yaml")
        .send()
        .await;
    let body = r.expect(201);
    assert_eq!(keys(&body["tasks"][1]["waiting_on"]), ["base"]);
    // The same import again changes nothing; without `blocked_by` the task waits on nothing.
    let again = s
        .import(
            "acme/yaml-deps",
            json!([{"key": "top", "title": "Top", "blocked_by": ["base"]}]),
        )
        .await;
    assert_eq!(keys(&again[0]["blocked_by"]), ["base"]);
    let freed = s
        .import("acme/yaml-deps", json!([{"key": "top", "title": "Top"}]))
        .await;
    assert_eq!(keys(&freed[0]["blocked_by"]), Vec::<String>::new());
    assert_eq!(keys(&freed[0]["waiting_on"]), Vec::<String>::new());
}

#[tokio::test]
async fn a_long_poll_wakes_within_a_second_of_the_blocker_merging() {
    let s = Arc::new(Server::start_preferring_postgres(&[]).await);
    s.upsert_repo("acme/poll", 10, true).await;
    let ids = s
        .import_ids(
            "acme/poll",
            json!([{"key": "A", "title": "a"}, {"key": "B", "title": "b", "blocked_by": ["A"]}]),
        )
        .await;
    let (_, holder) = s.register_worker("holder", &[], 10, 5).await;
    let (lease, got, _) = s.claim_ok(&holder).await;
    assert_eq!(got, ids[0]);
    s.ack(&holder, &lease).await.expect(200);
    s.open_pr(&holder, &ids[0]).await;
    let (_, waiter) = s.register_worker("waiter", &[], 10, 5).await;
    let poll = {
        let s = s.clone();
        tokio::spawn(async move {
            let r = s
                .req(Method::POST, "/v1/work?wait=20")
                .bearer(&waiter)
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            (r, Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!poll.is_finished(), "the long poll answered while B waited");
    let merged_at = Instant::now();
    s.admin_set_status(&ids[0], "merged").await.expect(200);
    let (r, answered_at) = poll.await.unwrap();
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(str_field(&r.json["lease"]["task"], "task_id"), ids[1]);
    let after = answered_at.saturating_duration_since(merged_at);
    assert!(
        after < Duration::from_secs(1),
        "answered {after:?} after the merge"
    );
}

/// Many workers claim in a loop while the blocker merges: every dependant is taken once, and
/// never by a claim that ran before the merge (its `task.leased` event comes after the merge's).
#[tokio::test]
async fn racing_claims_while_the_blocker_merges_take_dependants_only_after() {
    const DEPENDANTS: usize = 12;
    const WORKERS: usize = 8;
    let s = Arc::new(Server::start_preferring_postgres(&[]).await);
    s.upsert_repo("acme/race", 100, false).await;
    let mut tasks = vec![json!({"key": "root", "title": "root"})];
    for i in 0..DEPENDANTS {
        tasks.push(json!({"key": format!("d{i}"), "title": format!("dependant {i}"), "blocked_by": ["root"], "priority": "critical"}));
    }
    let ids = s.import_ids("acme/race", json!(tasks)).await;
    let (_, holder) = s.register_worker("holder", &[], 10, 1).await;
    let (lease, got, _) = s.claim_ok(&holder).await;
    assert_eq!(got, ids[0]);
    s.ack(&holder, &lease).await.expect(200);
    s.open_pr(&holder, &ids[0]).await;
    let mut tokens = Vec::new();
    for i in 0..WORKERS {
        tokens.push(s.register_worker(&format!("r{i}"), &[], 100, 100).await.1);
    }
    let stop_at = Instant::now() + Duration::from_secs(4);
    let mut claimers = Vec::new();
    for token in tokens {
        let s = s.clone();
        claimers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while Instant::now() < stop_at {
                if let Some(lease) = s.claim_lease(&token).await {
                    got.push(str_field(&lease["task"], "task_id"));
                }
            }
            got
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    s.admin_set_status(&ids[0], "merged").await.expect(200);
    let mut taken = Vec::new();
    for c in claimers {
        taken.extend(c.await.unwrap());
    }
    taken.sort();
    let mut want: Vec<String> = ids[1..].to_vec();
    want.sort();
    assert_eq!(taken, want, "each dependant taken exactly once");
    let state = s
        .admin_get("/v1/admin/state?repo=acme/race&events=10000")
        .await
        .expect(200);
    let events = state["events"].as_array().unwrap();
    let merged_event = events
        .iter()
        .filter(|e| e["task_id"] == json!(ids[0]) && mentions(e, "status", "merged"))
        .map(|e| int_field(e, "id"))
        .max()
        .expect("the merge's event");
    for e in events {
        if e["kind"] == "task.leased" && ids[1..].iter().any(|id| e["task_id"] == json!(id)) {
            assert!(
                int_field(e, "id") > merged_event,
                "leased before the merge: {e}"
            );
        }
    }
}

/// The public board shows what each task of a public repository waits on.
#[tokio::test]
async fn the_public_board_shows_what_a_task_waits_on() {
    let s = Server::start_with_env(&[("OWP_PUBLIC_BOARDS", "true")]).await;
    let r = s
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "acme/public", "max_open_prs": 3, "visibility": "public"}),
        )
        .await;
    r.expect(201);
    s.import(
        "acme/public",
        json!([
            {"key": "A", "title": "a"},
            {"key": "B", "title": "b", "blocked_by": ["A"]},
            {"key": "octo/secret#3", "title": "named like an issue of a private repository"},
            {"key": "C", "title": "c", "blocked_by": ["octo/secret#3", "A"]}
        ]),
    )
    .await;
    let board = s.req(Method::GET, "/board/state").send().await;
    assert_eq!(board.status, 200, "{}", board.describe());
    let b = find(&board.json["tasks"], "key", "B").expect("B on the board");
    assert_eq!(keys(&b["waiting_on"]), ["A"]);
    assert_eq!(keys(&b["blocked_by"]), ["A"]);
    // A key shaped like an issue of a repository that is not on the board is not shown.
    let c = find(&board.json["tasks"], "key", "C").expect("C on the board");
    assert_eq!(keys(&c["waiting_on"]), ["a private issue", "A"]);
}
