//! `Idempotency-Key` on POST requests (contract section 4).

use crate::support;

use reqwest::Method;
use serde_json::json;
use support::*;

#[tokio::test]
async fn replayed_claim_returns_the_same_lease() {
    let s = Server::start().await;
    s.upsert_repo("acme/idem", 10, false).await;
    let ids = s
        .import_ids("acme/idem", json!([{"title": "a"}, {"title": "b"}]))
        .await;
    let (wid, token) = s.register_worker("w", &[], 10, 5).await;
    let claim = || {
        s.req(Method::POST, "/v1/work")
            .bearer(&token)
            .idempotency_key("claim-1")
            .json(&json!({}))
    };
    let first = claim().send().await;
    let body1 = first.expect(200);
    let second = claim().send().await;
    assert_eq!(second.status, first.status);
    assert_eq!(second.json, body1, "the replay must repeat the first body");
    // Only one lease was made: the other task is still ready.
    let w = s.worker(&wid).await;
    assert_eq!(w["active_tasks"], 1, "{w}");
    assert_eq!(body1["lease"]["task"]["task_id"], ids[0].as_str());
    assert_eq!(s.task(&ids[1]).await["status"], "ready");
    // A different key is a new claim.
    let third = s
        .req(Method::POST, "/v1/work")
        .bearer(&token)
        .idempotency_key("claim-2")
        .json(&json!({}))
        .send()
        .await
        .expect(200);
    assert_eq!(third["lease"]["task"]["task_id"], ids[1].as_str());
}

#[tokio::test]
async fn replayed_204_claim_stays_204() {
    let s = Server::start().await;
    s.upsert_repo("acme/idem204", 10, false).await;
    let (_, token) = s.register_worker("w", &[], 10, 5).await;
    let claim = || {
        s.req(Method::POST, "/v1/work")
            .bearer(&token)
            .idempotency_key("empty-claim")
            .json(&json!({}))
    };
    assert_eq!(claim().send().await.status, 204);
    s.import("acme/idem204", json!([{"title": "late"}])).await;
    // The replay repeats the first answer; it does not claim the new task.
    assert_eq!(claim().send().await.status, 204);
    let (_, _, _) = s.claim_ok(&token).await;
}

#[tokio::test]
async fn same_key_with_a_different_body_is_422() {
    let s = Server::start().await;
    s.upsert_repo("acme/idem2", 10, false).await;
    let import = |title: &str| {
        s.req(Method::POST, "/v1/admin/tasks")
            .admin(&s)
            .idempotency_key("import-1")
            .json(&json!({"repo": "acme/idem2", "tasks": [{"title": title}]}))
    };
    let first = import("one").send().await;
    let body = first.expect(201);
    let other = import("two").send().await;
    other.expect_problem(422);
    // The original body still replays, and no task was added twice (tasks without a key would
    // otherwise be duplicated).
    let again = import("one").send().await;
    assert_eq!(again.status, 201);
    assert_eq!(again.json, body);
    let tasks = s.state().await["tasks"].as_array().unwrap().clone();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["title"], "one");
}

#[tokio::test]
async fn replayed_status_change_is_not_applied_twice() {
    let s = Server::start().await;
    s.upsert_repo("acme/idem3", 10, false).await;
    s.import("acme/idem3", json!([{"title": "a"}])).await;
    let (_, token) = s.register_worker("w", &[], 10, 5).await;
    let (lease_id, task_id, _) = s.claim_ok(&token).await;
    let nack = || {
        s.req(Method::POST, &format!("/v1/leases/{lease_id}/nack"))
            .bearer(&token)
            .idempotency_key("nack-1")
            .json(&json!({"reason": "no time"}))
    };
    let first = nack().send().await;
    let body = first.expect(200);
    // Without the key a second nack would be a 409 (the lease is over); the replay is the first answer.
    let second = nack().send().await;
    assert_eq!(second.status, 200, "{}", second.describe());
    assert_eq!(second.json, body);
    let t = s.task(&task_id).await;
    assert_eq!(t["status"], "ready");
}

#[tokio::test]
async fn keys_are_scoped_to_the_caller() {
    let s = Server::start().await;
    s.upsert_repo("acme/idem4", 10, false).await;
    let ids = s
        .import_ids("acme/idem4", json!([{"title": "a"}, {"title": "b"}]))
        .await;
    let (_, t1) = s.register_worker("one", &[], 10, 5).await;
    let (_, t2) = s.register_worker("two", &[], 10, 5).await;
    let claim = |token: &str| {
        s.req(Method::POST, "/v1/work")
            .bearer(token)
            .idempotency_key("shared-key")
            .json(&json!({}))
    };
    let a = claim(&t1).send().await.expect(200);
    let b = claim(&t2).send().await.expect(200);
    assert_ne!(a["lease"]["lease_id"], b["lease"]["lease_id"]);
    let mut got = vec![
        str_field(&a["lease"]["task"], "task_id"),
        str_field(&b["lease"]["task"], "task_id"),
    ];
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn replayed_registration_keeps_the_worker_and_rotates_the_token() {
    let s = Server::start().await;
    let body = json!({"name": "idem-bot", "skills": ["rust"], "capacity_points": 3, "max_concurrent_tasks": 1});
    let register = || {
        s.req(Method::POST, "/v1/workers/register")
            .idempotency_key("reg-1")
            .json(&body)
    };
    let first = register().send().await.expect(201);
    // The first token is in use (and so remembered by the server) when the replay comes.
    s.heartbeat(&str_field(&first, "token"), json!({}))
        .await
        .expect(200);
    let second = register().send().await;
    let second_body = second.expect(201);
    assert_eq!(second_body["worker_id"], first["worker_id"]);
    let old = str_field(&first, "token");
    let new = str_field(&second_body, "token");
    assert_ne!(old, new, "a replayed registration issues a new token");
    assert_eq!(second_body["protocol"], "owp/1");
    // The earlier token stops working, the new one works.
    s.heartbeat(&old, json!({})).await.expect_problem(401);
    s.heartbeat(&new, json!({})).await.expect(200);
    // Still one worker.
    let workers = s.state().await["workers"].as_array().unwrap().clone();
    assert_eq!(workers.len(), 1, "{workers:?}");
    // A different body under the same key is refused.
    let mut changed = body.clone();
    changed["capacity_points"] = json!(4);
    s.req(Method::POST, "/v1/workers/register")
        .idempotency_key("reg-1")
        .json(&changed)
        .send()
        .await
        .expect_problem(422);
}

#[tokio::test]
async fn replayed_repo_upsert_repeats_the_first_status() {
    let s = Server::start().await;
    let upsert = || {
        s.req(Method::POST, "/v1/admin/repos")
            .admin(&s)
            .idempotency_key("repo-1")
            .json(&json!({"repo": "acme/idem5", "max_open_prs": 2}))
    };
    let first = upsert().send().await;
    assert_eq!(first.status, 201, "{}", first.describe());
    let second = upsert().send().await;
    assert_eq!(
        second.status, 201,
        "a replay repeats the first status, not 200"
    );
    assert_eq!(second.json, first.json);
}

/// The operator archives a worker; its owner replays the registration that created it, with the
/// same key and body: `410 archived`, no token, and the worker stays out of work.
#[tokio::test]
async fn a_replayed_registration_of_an_archived_worker_is_410_and_issues_no_token() {
    let s = Server::start().await;
    s.upsert_repo("acme/archived", 5, false).await;
    s.import("acme/archived", json!([{"title": "bait"}])).await;
    let body = json!({"name": "revenant", "skills": [], "capacity_points": 3});
    let register = || {
        s.req(Method::POST, "/v1/workers/register")
            .idempotency_key("reg-archived")
            .json(&body)
    };
    let first = register().send().await.expect(201);
    let id = str_field(&first, "worker_id");
    let old = str_field(&first, "token");
    s.admin_post(&format!("/v1/admin/workers/{id}/archive"), json!({}))
        .await
        .expect(200);
    let replay = register().send().await;
    assert_eq!(
        replay.expect_problem(410),
        "archived",
        "{}",
        replay.describe()
    );
    assert!(
        replay.json.get("token").is_none() && !replay.text.contains("owpw_"),
        "no token: {}",
        replay.text
    );
    // Again, in case the first refusal were stored as an answer to replay with a token.
    register().send().await.expect_problem(410);
    // The old token stays dead and the worker takes nothing.
    s.heartbeat(&old, json!({})).await.expect_problem(401);
    s.claim(&old).await.expect_problem(401);
    let archived_worker = || async {
        let state = s
            .admin_get("/v1/admin/state?archived=true")
            .await
            .expect(200);
        find(&state["workers"], "worker_id", &id).unwrap().clone()
    };
    let w = archived_worker().await;
    assert_eq!(w["status"], "paused", "{w}");
    // Nor does the operator's resume bring it back.
    let r = s.admin_update_worker(&id, json!({"status": "idle"})).await;
    assert_eq!(r.expect_problem(410), "archived");
    assert_eq!(archived_worker().await["status"], "paused");
}
