//! The scheduling rules of `POST /v1/work` (contract section 5), one test per rule.

use crate::support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn nothing_to_do_is_204() {
    let s = Server::start().await;
    let (_, token) = s.register_worker("w", &["rust"], 5, 2).await;
    let r = s.claim(&token).await;
    assert_eq!(r.status, 204, "{}", r.describe());
    assert!(r.text.is_empty(), "204 has no body: {:?}", r.text);
}

#[tokio::test]
async fn required_skills_must_all_match_case_insensitively() {
    let s = Server::start().await;
    s.upsert_repo("acme/skills", 10, true).await;
    let ids = s
        .import_ids(
            "acme/skills",
            json!([{"title": "needs rust and docs", "required_skills": ["Rust", "DOCS"]}]),
        )
        .await;
    let (_, only_rust) = s.register_worker("only-rust", &["rust"], 5, 2).await;
    let (_, no_skills) = s.register_worker("none", &[], 5, 2).await;
    let (_, both) = s
        .register_worker("both", &["RUST", "Docs", "python"], 5, 2)
        .await;
    s.claim_none(&only_rust).await;
    s.claim_none(&no_skills).await;
    let (_, task_id, _) = s.claim_ok(&both).await;
    assert_eq!(task_id, ids[0]);
}

#[tokio::test]
async fn task_without_skills_goes_to_anyone() {
    let s = Server::start().await;
    s.upsert_repo("acme/any", 10, true).await;
    let ids = s.import_ids("acme/any", json!([{"title": "open"}])).await;
    let (_, token) = s.register_worker("none", &[], 5, 2).await;
    let (_, task_id, _) = s.claim_ok(&token).await;
    assert_eq!(task_id, ids[0]);
}

#[tokio::test]
async fn capacity_points_limit_what_a_worker_holds() {
    let s = Server::start().await;
    s.upsert_repo("acme/cap", 10, true).await;
    let ids = s
        .import_ids(
            "acme/cap",
            json!([
                {"title": "a", "estimate_points": 3},
                {"title": "b", "estimate_points": 3},
                {"title": "c", "estimate_points": 2},
                {"title": "too big", "estimate_points": 6}
            ]),
        )
        .await;
    let (wid, token) = s.register_worker("w", &[], 5, 10).await;
    let (lease_a, got, _) = s.claim_ok(&token).await;
    assert_eq!(got, ids[0]);
    // b would make 6 > 5; c fits exactly (3 + 2 = 5).
    let (_, got, _) = s.claim_ok(&token).await;
    assert_eq!(got, ids[2], "the task that fits is offered");
    s.claim_none(&token).await;
    let w = s.worker(&wid).await;
    assert_eq!(w["active_points"], 5);
    assert_eq!(w["active_tasks"], 2);
    // An opened pull request no longer counts as active: a's 3 points are free again.
    s.ack(&token, &lease_a).await.expect(200);
    s.open_pr(&token, &ids[0]).await;
    let (_, got, _) = s.claim_ok(&token).await;
    assert_eq!(got, ids[1]);
    // The 6-point task never fits a 5-point worker.
    s.claim_none(&token).await;
    let (_, big) = s.register_worker("big", &[], 6, 1).await;
    let (_, got, _) = s.claim_ok(&big).await;
    assert_eq!(got, ids[3]);
}

#[tokio::test]
async fn max_concurrent_tasks_limits_active_leases() {
    let s = Server::start().await;
    s.upsert_repo("acme/max", 10, true).await;
    let ids = s
        .import_ids(
            "acme/max",
            json!([{"title": "a"}, {"title": "b"}, {"title": "c"}]),
        )
        .await;
    let (wid, token) = s.register_worker("w", &[], 100, 2).await;
    let (lease_a, a, _) = s.claim_ok(&token).await;
    let (_, b, _) = s.claim_ok(&token).await;
    assert_eq!((a.as_str(), b.as_str()), (ids[0].as_str(), ids[1].as_str()));
    s.claim_none(&token).await;
    assert_eq!(s.worker(&wid).await["active_tasks"], 2);
    // Handing one over to review frees a slot.
    s.ack(&token, &lease_a).await.expect(200);
    s.open_pr(&token, &a).await;
    let (_, c, _) = s.claim_ok(&token).await;
    assert_eq!(c, ids[2]);
}

#[tokio::test]
async fn area_lock_holds_from_lease_through_pr_until_merged() {
    let s = Server::start().await;
    s.upsert_repo("acme/area", 10, true).await;
    let ids = s
        .import_ids(
            "acme/area",
            json!([
                {"title": "api 1", "area": "api"},
                {"title": "api 2", "area": "api"},
                {"title": "ui 1", "area": "ui"},
                {"title": "free 1"},
                {"title": "free 2"}
            ]),
        )
        .await;
    let (_, w1) = s.register_worker("w1", &[], 10, 1).await;
    let (_, w2) = s.register_worker("w2", &[], 10, 1).await;
    let (_, w3) = s.register_worker("w3", &[], 10, 1).await;
    let (_, w4) = s.register_worker("w4", &[], 10, 1).await;
    let (_, w5) = s.register_worker("w5", &[], 10, 1).await;
    let (lease1, t1, _) = s.claim_ok(&w1).await;
    assert_eq!(t1, ids[0]);
    let (_, t2, _) = s.claim_ok(&w2).await;
    assert_eq!(t2, ids[2], "api 2 is locked by api 1; ui 1 is next");
    // Tasks without an area never lock each other.
    let (_, t3, _) = s.claim_ok(&w3).await;
    assert_eq!(t3, ids[3]);
    let (_, t4, _) = s.claim_ok(&w4).await;
    assert_eq!(t4, ids[4]);
    s.claim_none(&w5).await;
    // In progress and pr_opened still hold the area.
    s.ack(&w1, &lease1).await.expect(200);
    s.claim_none(&w5).await;
    s.open_pr(&w1, &t1).await;
    s.claim_none(&w5).await;
    // Merged frees it.
    s.merge(&w1, &t1).await;
    let (_, t5, _) = s.claim_ok(&w5).await;
    assert_eq!(t5, ids[1]);
}

#[tokio::test]
async fn area_lock_is_per_repo() {
    let s = Server::start().await;
    s.upsert_repo("acme/one", 10, true).await;
    s.upsert_repo("acme/two", 10, true).await;
    let a = s
        .import_ids("acme/one", json!([{"title": "x", "area": "api"}]))
        .await;
    let b = s
        .import_ids("acme/two", json!([{"title": "y", "area": "api"}]))
        .await;
    let (_, w1) = s.register_worker("w1", &[], 10, 1).await;
    let (_, w2) = s.register_worker("w2", &[], 10, 1).await;
    let (_, t1, _) = s.claim_ok(&w1).await;
    let (_, t2, _) = s.claim_ok(&w2).await;
    let mut got = vec![t1, t2];
    got.sort();
    let mut want = vec![a[0].clone(), b[0].clone()];
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn area_locks_off_lets_the_same_area_run_twice() {
    let s = Server::start().await;
    s.upsert_repo("acme/nolock", 10, false).await;
    let ids = s
        .import_ids(
            "acme/nolock",
            json!([{"title": "api 1", "area": "api"}, {"title": "api 2", "area": "api"}]),
        )
        .await;
    let (_, w1) = s.register_worker("w1", &[], 10, 1).await;
    let (_, w2) = s.register_worker("w2", &[], 10, 1).await;
    let (_, t1, _) = s.claim_ok(&w1).await;
    let (_, t2, _) = s.claim_ok(&w2).await;
    assert_eq!(t1, ids[0]);
    assert_eq!(t2, ids[1]);
}

#[tokio::test]
async fn review_budget_counts_open_prs_and_active_leases() {
    let s = Server::start().await;
    s.upsert_repo("acme/budget", 2, true).await;
    s.upsert_repo("acme/other", 5, true).await;
    let ids = s
        .import_ids(
            "acme/budget",
            json!([{"title": "1"}, {"title": "2"}, {"title": "3"}, {"title": "4"}]),
        )
        .await;
    let (_, w1) = s.register_worker("w1", &[], 10, 1).await;
    let (_, w2) = s.register_worker("w2", &[], 10, 1).await;
    let (_, w3) = s.register_worker("w3", &[], 10, 1).await;
    let (lease1, t1, _) = s.claim_ok(&w1).await;
    let (_, t2, _) = s.claim_ok(&w2).await;
    assert_eq!(
        (t1.as_str(), t2.as_str()),
        (ids[0].as_str(), ids[1].as_str())
    );
    let repo = s.repo("acme/budget").await;
    assert_eq!(repo["active_leases"], 2);
    assert_eq!(repo["open_prs"], 0);
    assert_eq!(repo["throttled"], true);
    s.claim_none(&w3).await;

    // An opened PR still counts: 1 open PR + 1 active lease = 2.
    s.ack(&w1, &lease1).await.expect(200);
    s.open_pr(&w1, &t1).await;
    let repo = s.repo("acme/budget").await;
    assert_eq!(repo["open_prs"], 1);
    assert_eq!(repo["active_leases"], 1);
    assert_eq!(repo["throttled"], true);
    s.claim_none(&w3).await;

    // Other repos are not affected by this one's budget.
    let other = s.import_ids("acme/other", json!([{"title": "o"}])).await;
    let (_, got, _) = s.claim_ok(&w3).await;
    assert_eq!(got, other[0]);

    // Merging frees a slot.
    s.merge(&w1, &t1).await;
    let repo = s.repo("acme/budget").await;
    assert_eq!(repo["open_prs"], 0);
    assert_eq!(repo["active_leases"], 1);
    assert_eq!(repo["throttled"], false);
    let (_, got, _) = s.claim_ok(&w1).await;
    assert_eq!(got, ids[2]);
    assert_eq!(s.repo("acme/budget").await["throttled"], true);
}

#[tokio::test]
async fn zero_budget_offers_nothing() {
    let s = Server::start().await;
    s.upsert_repo("acme/zero", 0, true).await;
    s.import("acme/zero", json!([{"title": "never"}])).await;
    let (_, w) = s.register_worker("w", &[], 10, 1).await;
    s.claim_none(&w).await;
    // Raising the budget opens it.
    s.upsert_repo("acme/zero", 1, true).await;
    s.claim_ok(&w).await;
}

#[tokio::test]
async fn tier_must_not_exceed_trust_level() {
    let s = Server::start().await;
    s.upsert_repo("acme/tier", 10, true).await;
    let ids = s
        .import_ids("acme/tier", json!([{"title": "sensitive", "tier": 2}]))
        .await;
    let (wid, token) = s.register_worker("w", &[], 10, 1).await;
    s.claim_none(&token).await;
    s.admin_update_worker(&wid, json!({"trust_level": 1}))
        .await
        .expect(200);
    s.claim_none(&token).await;
    s.admin_update_worker(&wid, json!({"trust_level": 2}))
        .await
        .expect(200);
    let (_, got, _) = s.claim_ok(&token).await;
    assert_eq!(got, ids[0]);
}

#[tokio::test]
async fn nacked_task_is_not_offered_again_to_the_same_worker() {
    let s = Server::start().await;
    s.upsert_repo("acme/nack", 10, true).await;
    let ids = s.import_ids("acme/nack", json!([{"title": "a"}])).await;
    let (_, w1) = s.register_worker("w1", &[], 10, 1).await;
    let (_, w2) = s.register_worker("w2", &[], 10, 1).await;
    let (lease, got, _) = s.claim_ok(&w1).await;
    assert_eq!(got, ids[0]);
    let r = s.nack(&w1, &lease).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(s.task(&ids[0]).await["status"], "ready");
    s.claim_none(&w1).await;
    let (_, got, _) = s.claim_ok(&w2).await;
    assert_eq!(got, ids[0]);
}

#[tokio::test]
async fn nack_after_ack_also_excludes_the_worker() {
    let s = Server::start().await;
    s.upsert_repo("acme/nack2", 10, true).await;
    let ids = s
        .import_ids("acme/nack2", json!([{"title": "a"}, {"title": "b"}]))
        .await;
    let (_, w1) = s.register_worker("w1", &[], 10, 1).await;
    let (lease, got, _) = s.claim_ok(&w1).await;
    assert_eq!(got, ids[0]);
    s.ack(&w1, &lease).await.expect(200);
    s.nack(&w1, &lease).await.expect(200);
    // a is ready again and older, but w1 gave it back: w1 gets b.
    let (_, got, _) = s.claim_ok(&w1).await;
    assert_eq!(got, ids[1]);
}

#[tokio::test]
async fn higher_priority_first_then_import_order() {
    let s = Server::start().await;
    s.upsert_repo("acme/prio", 20, false).await;
    let first = s
        .import_ids(
            "acme/prio",
            json!([
                {"title": "low", "priority": "low"},
                {"title": "normal 1"},
                {"title": "critical", "priority": "critical"},
                {"title": "high 1", "priority": "high"},
                {"title": "normal 2", "priority": "normal"},
                {"title": "high 2", "priority": "high"}
            ]),
        )
        .await;
    let second = s
        .import_ids(
            "acme/prio",
            json!([{"title": "normal 3"}, {"title": "critical 2", "priority": "critical"}]),
        )
        .await;
    let (_, token) = s.register_worker("w", &[], 100, 20).await;
    let mut order = Vec::new();
    while let Some(lease) = s.claim_lease(&token).await {
        order.push(str_field(&lease["task"], "task_id"));
        assert!(order.len() <= 8, "more leases than tasks");
    }
    let want = vec![
        first[2].clone(),  // critical
        second[1].clone(), // critical 2 (newer)
        first[3].clone(),  // high 1
        first[5].clone(),  // high 2
        first[1].clone(),  // normal 1
        first[4].clone(),  // normal 2
        second[0].clone(), // normal 3 (later import)
        first[0].clone(),  // low
    ];
    assert_eq!(order, want);
}

/// Tasks that rules of their own settings refuse (a tier above the worker's trust, a
/// capability it lacks) or let through (a free area) stand in the offer order beside plain
/// ones: every claim still gets the first task it may take, whichever of them comes first.
#[tokio::test]
async fn tasks_with_their_own_rules_keep_their_place_in_the_offer_order() {
    let s = Server::start().await;
    s.upsert_repo("acme/mixed", 10, true).await;
    let ids = s
        .import_ids(
            "acme/mixed",
            json!([
                {"title": "sensitive", "priority": "critical", "tier": 2},
                {"title": "gpu", "priority": "critical", "requires": {"gpu": true}},
                {"title": "core", "priority": "high", "area": "core"},
                {"title": "core again", "priority": "high", "area": "core"},
                {"title": "plain", "priority": "normal"},
                {"title": "plain 2", "priority": "low"}
            ]),
        )
        .await;
    let (wid, token) = s.register_worker("w", &[], 100, 20).await;
    let (_, got, _) = s.claim_ok(&token).await;
    assert_eq!(
        got, ids[2],
        "the tier and the capability refuse the critical tasks"
    );
    let (_, got, _) = s.claim_ok(&token).await;
    assert_eq!(got, ids[4], "core again waits for the area");
    let (_, got, _) = s.claim_ok(&token).await;
    assert_eq!(got, ids[5]);
    s.claim_none(&token).await;
    s.admin_update_worker(&wid, json!({"trust_level": 2}))
        .await
        .expect(200);
    let (_, got, _) = s.claim_ok(&token).await;
    assert_eq!(
        got, ids[0],
        "trusted now, the worker gets the critical task first"
    );
    s.claim_none(&token).await;
}

#[tokio::test]
async fn paused_worker_gets_no_work() {
    let s = Server::start().await;
    s.upsert_repo("acme/pause", 10, true).await;
    s.import("acme/pause", json!([{"title": "a"}])).await;
    let (wid, token) = s.register_worker("w", &[], 10, 1).await;
    // Paused by its own heartbeat.
    s.heartbeat(&token, json!({"status": "paused"}))
        .await
        .expect(200);
    assert_eq!(s.worker(&wid).await["status"], "paused");
    s.claim_none(&token).await;
    s.heartbeat(&token, json!({"status": "idle"}))
        .await
        .expect(200);
    let (lease, _, _) = s.claim_ok(&token).await;
    s.nack(&token, &lease).await.expect(200);
    // Paused by the admin.
    let (_, other) = s.register_worker("other", &[], 10, 1).await;
    let other_id = s.state().await["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "other")
        .map(|w| str_field(w, "worker_id"))
        .unwrap();
    s.admin_update_worker(&other_id, json!({"status": "paused"}))
        .await
        .expect(200);
    s.claim_none(&other).await;
    s.admin_update_worker(&other_id, json!({"status": "idle"}))
        .await
        .expect(200);
    s.claim_ok(&other).await;
}

#[tokio::test]
async fn lease_task_satisfies_every_rule_for_the_claimer() {
    let s = Server::start().await;
    s.upsert_repo("acme/mix", 10, true).await;
    s.import(
        "acme/mix",
        json!([
            {"title": "go", "required_skills": ["go"], "estimate_points": 1},
            {"title": "rust big", "required_skills": ["rust"], "estimate_points": 8},
            {"title": "rust tier", "required_skills": ["rust"], "tier": 1},
            {"title": "rust ok", "required_skills": ["rust"], "estimate_points": 2}
        ]),
    )
    .await;
    let (wid, token) = s.register_worker("w", &["rust"], 4, 3).await;
    let (_, _, lease) = s.claim_ok(&token).await;
    assert_eq!(lease["task"]["title"], "rust ok");
    assert_eq!(lease["task"]["status"], "leased");
    assert_eq!(lease["task"]["assigned_worker_id"], wid.as_str());
    s.claim_none(&token).await;
}

/// A worker registered as `specialist` is offered only tasks that require at least one of its
/// skills: never a task open to anyone (no required skills), which any other worker gets.
#[tokio::test]
async fn a_specialist_is_offered_only_tasks_that_need_one_of_its_skills() {
    let s = Server::start().await;
    s.upsert_repo("acme/special", 10, false).await;
    let ids = s
        .import_ids(
            "acme/special",
            json!([{"title": "open to anyone"}, {"title": "docs", "required_skills": ["Docs"]}]),
        )
        .await;
    let body = s
        .register(
            json!({"name": "sp", "skills": ["docs"], "capacity_points": 5,
                         "max_concurrent_tasks": 5, "specialist": true}),
        )
        .await
        .expect(201);
    let token = body["token"].as_str().unwrap().to_string();
    let (_, task, _) = s.claim_ok(&token).await;
    assert_eq!(
        task, ids[1],
        "the specialist got the task open to anyone first"
    );
    s.claim_none(&token).await;
    let me = s.worker_get(&token, "/v1/workers/me").await.expect(200);
    assert_eq!(me["worker"]["specialist"], true, "{me}");

    let (_, anyone) = s.register_worker("generalist", &["docs"], 5, 5).await;
    let (_, task, _) = s.claim_ok(&anyone).await;
    assert_eq!(task, ids[0]);
}
