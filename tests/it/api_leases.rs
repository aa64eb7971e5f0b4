//! The lease life cycle and the task state machine as seen by a worker (contract section 4).

use crate::support;

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use support::*;

async fn one_task(s: &Server, repo: &str) -> String {
    s.upsert_repo(repo, 10, true).await;
    s.import_ids(repo, json!([{"title": "the task", "estimate_points": 2}]))
        .await
        .remove(0)
}

#[tokio::test]
async fn claim_returns_a_lease_with_its_task() {
    let s = Server::start_with_env(&[("OWP_ACCEPT_TTL_SECONDS", "120")]).await;
    let task_id = one_task(&s, "acme/lease").await;
    let (wid, token) = s.register_worker("w", &[], 5, 1).await;
    let before = Utc::now();
    let r = s.claim(&token).await;
    let body = r.expect(200);
    let lease = &body["lease"];
    let lease_id = str_field(lease, "lease_id");
    assert!(!lease_id.is_empty());
    let task = &lease["task"];
    assert_eq!(task["task_id"], task_id.as_str());
    assert_eq!(task["status"], "leased");
    assert_eq!(task["assigned_worker_id"], wid.as_str());
    assert_eq!(task["lease_id"], lease_id.as_str());
    let accept_by = ts(lease, "accept_by");
    let expires_at = ts(lease, "expires_at");
    let slack = chrono::Duration::seconds(5);
    assert!(
        accept_by > before + chrono::Duration::seconds(110)
            && accept_by < before + chrono::Duration::seconds(120) + slack,
        "accept_by should be about 120 s ahead: {accept_by} (claimed at {before})"
    );
    assert!(
        expires_at >= accept_by - chrono::Duration::seconds(1),
        "expires_at {expires_at} before accept_by {accept_by}"
    );
    // The admin view agrees.
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "leased");
    assert_eq!(t["lease_id"], lease_id.as_str());
    assert_eq!(t["assigned_worker_id"], wid.as_str());
    assert!(!t["lease_expires_at"].is_null());
    let w = s.worker(&wid).await;
    assert_eq!(w["active_tasks"], 1);
    assert_eq!(w["active_points"], 2);
}

#[tokio::test]
async fn ack_moves_the_task_in_progress_with_a_fresh_lease_ttl() {
    let s = Server::start_with_env(&[
        ("OWP_ACCEPT_TTL_SECONDS", "60"),
        ("OWP_LEASE_TTL_SECONDS", "900"),
    ])
    .await;
    let task_id = one_task(&s, "acme/ack").await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, _, _) = s.claim_ok(&token).await;
    let before = Utc::now();
    let r = s.ack(&token, &lease_id).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    assert!(r.json.is_object(), "ack answers with the changed object");
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "in_progress");
    let exp = ts(&t, "lease_expires_at");
    assert!(
        exp > before + chrono::Duration::seconds(890)
            && exp < before + chrono::Duration::seconds(906),
        "after ack the lease expires OWP_LEASE_TTL_SECONDS from now: {exp} (acked at {before})"
    );
}

/// The contract does not say whether acknowledging an already acknowledged lease is a no-op or a
/// conflict. This test accepts either 200 or a 409 problem, and asserts that nothing changes: the
/// task stays `in_progress` under the same lease and holder.
#[tokio::test]
async fn second_ack_is_harmless() {
    let s = Server::start().await;
    let task_id = one_task(&s, "acme/ack2").await;
    let (wid, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, _, _) = s.claim_ok(&token).await;
    s.ack(&token, &lease_id).await.expect(200);
    let r = s.ack(&token, &lease_id).await;
    match r.status {
        200 => {}
        409 => {
            r.assert_problem_shape();
        }
        _ => panic!("second ack: {}", r.describe()),
    }
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "in_progress");
    assert_eq!(t["lease_id"], lease_id.as_str());
    assert_eq!(t["assigned_worker_id"], wid.as_str());
}

#[tokio::test]
async fn renew_extends_the_lease() {
    let s = Server::start_with_env(&[("OWP_LEASE_TTL_SECONDS", "600")]).await;
    let task_id = one_task(&s, "acme/renew").await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, _, _) = s.claim_ok(&token).await;
    s.ack(&token, &lease_id).await.expect(200);
    let first = ts(&s.task(&task_id).await, "lease_expires_at");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = s.renew(&token, &lease_id).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let second = ts(&s.task(&task_id).await, "lease_expires_at");
    assert!(
        second > first,
        "renew must move the deadline: {first} → {second}"
    );
    assert_eq!(s.task(&task_id).await["status"], "in_progress");
}

#[tokio::test]
async fn nack_returns_the_task_to_ready() {
    let s = Server::start().await;
    let task_id = one_task(&s, "acme/nack").await;
    let (wid, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, _, _) = s.claim_ok(&token).await;
    let r = s.nack(&token, &lease_id).await;
    assert_eq!(r.status, 200, "{}", r.describe());
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "ready");
    assert!(t["assigned_worker_id"].is_null(), "{t}");
    assert!(t["lease_id"].is_null(), "{t}");
    let w = s.worker(&wid).await;
    assert_eq!(w["active_tasks"], 0);
    assert_eq!(w["active_points"], 0);
    // The lease is over: acting on it again conflicts.
    s.ack(&token, &lease_id).await.expect_problem(409);
    s.renew(&token, &lease_id).await.expect_problem(409);
    s.nack(&token, &lease_id).await.expect_problem(409);
}

#[tokio::test]
async fn status_in_progress_acts_as_ack() {
    let s = Server::start().await;
    let task_id = one_task(&s, "acme/ip").await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    s.claim_ok(&token).await;
    let r = s
        .set_status(
            &token,
            &task_id,
            json!({"status": "in_progress", "note": "starting"}),
        )
        .await;
    let body = r.expect(200);
    assert_eq!(
        body["status"], "in_progress",
        "answers with the task: {body}"
    );
    assert_eq!(s.task(&task_id).await["status"], "in_progress");
}

#[tokio::test]
async fn pr_opened_records_the_artifact_and_merged_follows() {
    let s = Server::start().await;
    let task_id = one_task(&s, "acme/pr").await;
    let (wid, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, _, _) = s.claim_ok(&token).await;
    s.ack(&token, &lease_id).await.expect(200);
    let r = s
        .set_status(
            &token,
            &task_id,
            json!({"status": "pr_opened", "artifact": {"pr_url": "https://example.test/acme/pr/pull/7", "commit_sha": "abc123"}}),
        )
        .await;
    let body = r.expect(200);
    assert_eq!(body["status"], "pr_opened");
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "pr_opened");
    assert_eq!(
        t["artifact"]["pr_url"],
        "https://example.test/acme/pr/pull/7"
    );
    assert_eq!(t["artifact"]["commit_sha"], "abc123");
    // No longer active for the worker; the repo counts an open PR.
    let w = s.worker(&wid).await;
    assert_eq!(w["active_tasks"], 0);
    assert_eq!(w["active_points"], 0);
    let repo = s.repo("acme/pr").await;
    assert_eq!(repo["open_prs"], 1);
    assert_eq!(repo["active_leases"], 0);
    // A lease in review no longer takes ack or nack.
    s.ack(&token, &lease_id).await.expect_problem(409);
    s.nack(&token, &lease_id).await.expect_problem(409);
    // The worker cannot say it merged; the maintainer merges.
    let r = s
        .set_status(&token, &task_id, json!({"status": "merged"}))
        .await;
    assert_eq!(r.expect_problem(403), "not_allowed");
    assert_eq!(s.task(&task_id).await["status"], "pr_opened");
    let body = s.admin_set_status(&task_id, "merged").await.expect(200);
    assert_eq!(body["status"], "merged");
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "merged");
    assert_eq!(
        t["artifact"]["pr_url"],
        "https://example.test/acme/pr/pull/7"
    );
    assert_eq!(s.repo("acme/pr").await["open_prs"], 0);
}

#[tokio::test]
async fn pr_opened_directly_from_leased() {
    let s = Server::start().await;
    let task_id = one_task(&s, "acme/pr2").await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    s.claim_ok(&token).await;
    s.open_pr(&token, &task_id).await;
    assert_eq!(s.task(&task_id).await["status"], "pr_opened");
}

#[tokio::test]
async fn workers_never_report_merged() {
    let s = Server::start().await;
    let task_id = one_task(&s, "acme/m").await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, _, _) = s.claim_ok(&token).await;
    // From leased, in_progress and pr_opened alike: 403, and nothing changes.
    s.set_status(&token, &task_id, json!({"status": "merged"}))
        .await
        .expect_problem(403);
    s.ack(&token, &lease_id).await.expect(200);
    s.set_status(&token, &task_id, json!({"status": "merged"}))
        .await
        .expect_problem(403);
    assert_eq!(s.task(&task_id).await["status"], "in_progress");
    s.open_pr(&token, &task_id).await;
    let r = s
        .set_status(&token, &task_id, json!({"status": "merged"}))
        .await;
    assert_eq!(r.expect_problem(403), "not_allowed");
    assert_eq!(s.task(&task_id).await["status"], "pr_opened");
}

#[tokio::test]
async fn workers_cannot_make_other_moves() {
    let s = Server::start().await;
    let task_id = one_task(&s, "acme/moves").await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, _, _) = s.claim_ok(&token).await;
    s.ack(&token, &lease_id).await.expect(200);
    for status in ["ready", "leased", "cancelled"] {
        let r = s
            .set_status(&token, &task_id, json!({"status": status}))
            .await;
        assert_eq!(r.status, 409, "{status}: {}", r.describe());
        r.assert_problem_shape();
    }
    assert_eq!(s.task(&task_id).await["status"], "in_progress");
    // Once merged, nothing moves it back.
    s.open_pr(&token, &task_id).await;
    s.merge(&token, &task_id).await;
    for status in ["in_progress", "pr_opened", "blocked", "merged"] {
        let mut body = json!({"status": status});
        if status == "pr_opened" {
            body["artifact"] = json!({"pr_url": "https://example.test/p/1"});
        }
        let r = s.set_status(&token, &task_id, body).await;
        assert!(
            r.status == 409 || r.status == 403 || r.status == 404,
            "{status} after merged: {}",
            r.describe()
        );
        r.assert_problem_shape();
    }
    assert_eq!(s.task(&task_id).await["status"], "merged");
}

#[tokio::test]
async fn blocked_releases_the_worker() {
    let s = Server::start().await;
    let task_id = one_task(&s, "acme/blocked").await;
    let (wid, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, _, _) = s.claim_ok(&token).await;
    s.ack(&token, &lease_id).await.expect(200);
    let body = s
        .set_status(
            &token,
            &task_id,
            json!({"status": "blocked", "note": "needs a decision"}),
        )
        .await
        .expect(200);
    assert_eq!(body["status"], "blocked");
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "blocked");
    let w = s.worker(&wid).await;
    assert_eq!(w["active_tasks"], 0);
    // A blocked task is not offered.
    s.claim_none(&token).await;
    let repo = s.repo("acme/blocked").await;
    assert_eq!(repo["active_leases"], 0);
}

#[tokio::test]
async fn blocked_from_leased() {
    let s = Server::start().await;
    let task_id = one_task(&s, "acme/blocked2").await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    s.claim_ok(&token).await;
    s.set_status(&token, &task_id, json!({"status": "blocked"}))
        .await
        .expect(200);
    assert_eq!(s.task(&task_id).await["status"], "blocked");
}

#[tokio::test]
async fn another_workers_lease_and_task_are_off_limits() {
    let s = Server::start().await;
    let task_id = one_task(&s, "acme/mine").await;
    let (w1, t1) = s.register_worker("one", &[], 5, 1).await;
    let (_, t2) = s.register_worker("two", &[], 5, 1).await;
    let (lease_id, _, _) = s.claim_ok(&t1).await;
    for action in ["ack", "nack", "renew"] {
        s.worker_post(&t2, &format!("/v1/leases/{lease_id}/{action}"), json!({}))
            .await
            .expect_problem_in(&[403, 404]);
    }
    for status in ["in_progress", "blocked"] {
        s.set_status(&t2, &task_id, json!({"status": status}))
            .await
            .expect_problem_in(&[403, 404]);
    }
    s.set_status(
        &t2,
        &task_id,
        json!({"status": "pr_opened", "artifact": {"pr_url": "https://example.test/p/2"}}),
    )
    .await
    .expect_problem_in(&[403, 404]);
    s.worker_get(&t2, &format!("/v1/tasks/{task_id}"))
        .await
        .expect_problem_in(&[403, 404]);
    // Still the first worker's.
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "leased");
    assert_eq!(t["assigned_worker_id"], w1.as_str());
    s.ack(&t1, &lease_id).await.expect(200);
}

#[tokio::test]
async fn status_change_on_a_task_the_worker_does_not_hold() {
    let s = Server::start().await;
    let task_id = one_task(&s, "acme/nothold").await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    // Ready and held by nobody.
    let r = s
        .set_status(&token, &task_id, json!({"status": "in_progress"}))
        .await;
    assert!(
        [403, 404, 409].contains(&r.status),
        "a worker cannot take a task by setting its status: {}",
        r.describe()
    );
    r.assert_problem_shape();
    assert_eq!(s.task(&task_id).await["status"], "ready");
}
