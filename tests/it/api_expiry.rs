//! Time-based behaviour with short TTLs: lease expiry and online/offline (contract sections 0, 5).
//!
//! The contract promises each deadline is honoured within one second, whether or not any request
//! arrives. These tests therefore sleep to the deadline plus a little over a second without
//! sending anything, and only then look.

use crate::support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

const SHORT: &[(&str, &str)] = &[
    ("OWP_ACCEPT_TTL_SECONDS", "2"),
    ("OWP_LEASE_TTL_SECONDS", "3"),
    ("OWP_HEARTBEAT_TTL_SECONDS", "3"),
];

/// One second of contract tolerance plus a little for the request itself.
const GRACE: Duration = Duration::from_millis(1200);

async fn setup(s: &Server, repo: &str, max_open_prs: i64) -> Vec<String> {
    s.upsert_repo(repo, max_open_prs, true).await;
    s.import_ids(repo, json!([{"title": "a"}, {"title": "b"}]))
        .await
}

#[tokio::test]
async fn unacked_lease_returns_to_ready_after_accept_ttl() {
    let s = Server::start_with_env(SHORT).await;
    let ids = setup(&s, "acme/accept", 5).await;
    let (wid, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, task_id, lease) = s.claim_ok(&token).await;
    assert_eq!(task_id, ids[0]);
    assert_eq!(lease["task"]["attempts"], 0);
    let accept_by = ts(&lease, "accept_by");
    // Silence until one second after the deadline.
    sleep_until_after(accept_by, GRACE).await;
    let state = s.state().await;
    let t = find(&state["tasks"], "task_id", &task_id).unwrap();
    assert_eq!(
        t["status"], "ready",
        "not requeued by {accept_by} + 1 s: {t}"
    );
    assert_eq!(t["attempts"], 1, "{t}");
    assert!(
        t["lease_id"].is_null() && t["assigned_worker_id"].is_null(),
        "{t}"
    );
    let w = find(&state["workers"], "worker_id", &wid).unwrap();
    assert_eq!(w["active_tasks"], 0, "{w}");
    assert_eq!(
        find(&state["repos"], "repo", "acme/accept").unwrap()["active_leases"],
        0
    );
    // The ended lease can no longer be acknowledged or renewed.
    s.ack(&token, &lease_id).await.expect_problem(409);
    s.renew(&token, &lease_id).await.expect_problem(409);
}

#[tokio::test]
async fn unacked_lease_expiry_is_pushed_without_any_request() {
    let s = Server::start_with_env(SHORT).await;
    let ids = setup(&s, "acme/push", 5).await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let mut events = s.events().await;
    let (_, task_id, lease) = s.claim_ok(&token).await;
    let accept_by = ts(&lease, "accept_by");
    let deadline = instant_of(accept_by);
    // Events about the claim itself.
    events.drain(Duration::from_millis(400)).await;
    // The next event naming the task is its requeue; it must come by itself.
    let (_, at) = events
        .wait_for(deadline + Duration::from_secs(4), |ev| {
            mentions(ev, "task_id", &task_id)
        })
        .await
        .expect("no event for the expired lease");
    assert!(
        at + Duration::from_millis(150) >= deadline,
        "the lease ended {:?} before accept_by",
        deadline.saturating_duration_since(at)
    );
    assert!(
        at <= deadline + Duration::from_millis(2000),
        "expiry (1 s) plus its event (1 s) took {:?} past accept_by",
        at.saturating_duration_since(deadline)
    );
    let t = s.task(&ids[0]).await;
    assert_eq!(t["status"], "ready");
    assert_eq!(t["attempts"], 1);
}

#[tokio::test]
async fn claim_right_after_accept_deadline_sees_the_lease_expired() {
    let s = Server::start_with_env(SHORT).await;
    // Budget 1: the second worker is refused while the first lease lives.
    let ids = setup(&s, "acme/edge", 1).await;
    let (_, first) = s.register_worker("first", &[], 5, 1).await;
    let (_, second) = s.register_worker("second", &[], 5, 1).await;
    let (_, task_id, lease) = s.claim_ok(&first).await;
    assert_eq!(task_id, ids[0]);
    s.claim_none(&second).await;
    // Right after accept_by (allowing for a sub-second rounding of the timestamp) the claim must
    // not see the lease as active, even if no sweep has run yet.
    sleep_until_after(ts(&lease, "accept_by"), Duration::from_millis(300)).await;
    let (_, got, lease2) = s.claim_ok(&second).await;
    assert_eq!(got, ids[0], "the requeued task is the oldest");
    assert_eq!(lease2["task"]["attempts"], 1);
}

#[tokio::test]
async fn expired_task_is_offered_again_to_the_same_worker() {
    let s = Server::start_with_env(SHORT).await;
    let ids = setup(&s, "acme/again", 5).await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let (old_lease, task_id, lease) = s.claim_ok(&token).await;
    assert_eq!(task_id, ids[0]);
    sleep_until_after(ts(&lease, "accept_by"), GRACE).await;
    // Expiry is not a nack: the task may come back to the same worker, under a new lease.
    let (new_lease, got, _) = s.claim_ok(&token).await;
    assert_eq!(got, ids[0]);
    assert_ne!(new_lease, old_lease);
    s.ack(&token, &old_lease).await.expect_problem(409);
    s.ack(&token, &new_lease).await.expect(200);
}

#[tokio::test]
async fn acked_lease_expires_after_lease_ttl_without_renewal() {
    let s = Server::start_with_env(SHORT).await;
    let ids = setup(&s, "acme/lease", 5).await;
    let (wid, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, task_id, _) = s.claim_ok(&token).await;
    assert_eq!(task_id, ids[0]);
    s.ack(&token, &lease_id).await.expect(200);
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "in_progress");
    let expires = ts(&t, "lease_expires_at");
    sleep_until_after(expires, GRACE).await;
    let state = s.state().await;
    let t = find(&state["tasks"], "task_id", &task_id).unwrap();
    assert_eq!(t["status"], "ready", "not requeued by {expires} + 1 s: {t}");
    assert_eq!(t["attempts"], 1, "{t}");
    assert_eq!(
        find(&state["workers"], "worker_id", &wid).unwrap()["active_tasks"],
        0
    );
    s.renew(&token, &lease_id).await.expect_problem(409);
    s.ack(&token, &lease_id).await.expect_problem(409);
    s.nack(&token, &lease_id).await.expect_problem(409);
    let r = s
        .set_status(&token, &task_id, json!({"status": "in_progress"}))
        .await;
    r.expect_problem_in(&[403, 404, 409]);
}

#[tokio::test]
async fn heartbeats_keep_an_acked_lease_alive() {
    let s = Server::start_with_env(SHORT).await;
    setup(&s, "acme/hb", 5).await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, task_id, _) = s.claim_ok(&token).await;
    s.ack(&token, &lease_id).await.expect(200);
    let first = ts(&s.task(&task_id).await, "lease_expires_at");
    // Well past two lease TTLs, with a heartbeat every second.
    let until = Instant::now() + Duration::from_secs(7);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        s.heartbeat(&token, json!({})).await.expect(200);
    }
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "in_progress", "{t}");
    assert_eq!(t["attempts"], 0);
    assert_eq!(t["lease_id"], lease_id.as_str());
    let last = ts(&t, "lease_expires_at");
    assert!(
        last > first + chrono::Duration::seconds(5),
        "{first} → {last}"
    );
    // Once the heartbeats stop, it expires.
    sleep_until_after(last, GRACE).await;
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "ready");
    assert_eq!(t["attempts"], 1);
}

#[tokio::test]
async fn renewals_keep_an_acked_lease_alive() {
    let s = Server::start_with_env(SHORT).await;
    setup(&s, "acme/renew", 5).await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, task_id, _) = s.claim_ok(&token).await;
    s.ack(&token, &lease_id).await.expect(200);
    let until = Instant::now() + Duration::from_secs(7);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        s.renew(&token, &lease_id).await.expect(200);
    }
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "in_progress", "{t}");
    assert_eq!(t["attempts"], 0);
}

#[tokio::test]
async fn other_worker_requests_do_not_extend_leases() {
    let s = Server::start_with_env(SHORT).await;
    setup(&s, "acme/noext", 5).await;
    let (_, token) = s.register_worker("w", &[], 5, 2).await;
    let (lease_id, task_id, _) = s.claim_ok(&token).await;
    s.ack(&token, &lease_id).await.expect(200);
    let expires = ts(&s.task(&task_id).await, "lease_expires_at");
    // Claims and task reads mark the worker online but only heartbeat and renew extend leases.
    let stop = instant_of(expires) + GRACE;
    while Instant::now() + Duration::from_millis(500) < stop {
        let r = s.worker_get(&token, &format!("/v1/tasks/{task_id}")).await;
        assert!(r.status == 200 || r.status == 403 || r.status == 404 || r.status == 409);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep_until(tokio::time::Instant::from_std(stop)).await;
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "ready", "{t}");
    assert_eq!(t["attempts"], 1);
}

#[tokio::test]
async fn pr_opened_task_does_not_expire() {
    let s = Server::start_with_env(SHORT).await;
    setup(&s, "acme/review", 5).await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, task_id, _) = s.claim_ok(&token).await;
    s.ack(&token, &lease_id).await.expect(200);
    s.open_pr(&token, &task_id).await;
    // Longer than both TTLs plus the tolerance.
    tokio::time::sleep(Duration::from_millis(5000)).await;
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "pr_opened", "{t}");
    assert_eq!(t["attempts"], 0);
    s.merge(&token, &task_id).await;
}

#[tokio::test]
async fn worker_goes_offline_after_heartbeat_ttl_and_back_online() {
    let s = Server::start_with_env(SHORT).await;
    let (wid, token) = s.register_worker("w", &[], 5, 1).await;
    let w = s.worker(&wid).await;
    assert_eq!(w["online"], true);
    let seen = if w["last_heartbeat"].is_null() {
        chrono::Utc::now()
    } else {
        ts(&w, "last_heartbeat")
    };
    sleep_until_after(seen + chrono::Duration::seconds(3), GRACE).await;
    let w = s.worker(&wid).await;
    assert_eq!(
        w["online"], false,
        "still online 1 s after the heartbeat TTL: {w}"
    );
    s.heartbeat(&token, json!({})).await.expect(200);
    assert_eq!(s.worker(&wid).await["online"], true);
}

#[tokio::test]
async fn any_worker_request_marks_it_online() {
    let s = Server::start_with_env(SHORT).await;
    let (wid, token) = s.register_worker("w", &[], 5, 1).await;
    tokio::time::sleep(Duration::from_millis(3000) + GRACE).await;
    assert_eq!(s.worker(&wid).await["online"], false);
    s.claim_none(&token).await;
    assert_eq!(s.worker(&wid).await["online"], true);
}
