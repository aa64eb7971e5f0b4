//! Long-poll claims and the Server-Sent Events stream (contract section 4).

use crate::support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use support::*;

#[tokio::test]
async fn long_poll_returns_204_after_the_wait_when_nothing_appears() {
    let s = Server::start().await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let started = Instant::now();
    let r = s
        .req(Method::POST, "/v1/work?wait=5")
        .bearer(&token)
        .send()
        .await;
    let elapsed = started.elapsed();
    assert_eq!(r.status, 204, "{}", r.describe());
    assert!(
        elapsed >= Duration::from_millis(4500) && elapsed < Duration::from_millis(7000),
        "wait=5 should hold about 5 s, held {elapsed:?}"
    );
}

#[tokio::test]
async fn long_poll_answers_within_a_second_of_an_import() {
    let s = Server::start().await;
    s.upsert_repo("acme/lp", 5, true).await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let poll = {
        let req = s
            .req(Method::POST, "/v1/work?wait=20")
            .bearer(&token)
            .timeout(Duration::from_secs(30));
        tokio::spawn(async move {
            let r = req.send().await;
            (r, Instant::now())
        })
    };
    // Let the claim reach the server and start waiting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !poll.is_finished(),
        "the long poll answered before any work existed"
    );
    let ids = s.import_ids("acme/lp", json!([{"title": "fresh"}])).await;
    let imported = Instant::now();
    let (r, answered) = poll.await.expect("poll task");
    let body = r.expect(200);
    assert_eq!(body["lease"]["task"]["task_id"], ids[0].as_str());
    let delay = answered.saturating_duration_since(imported);
    assert!(
        delay < Duration::from_millis(1500),
        "long poll answered {delay:?} after the import"
    );
}

#[tokio::test]
async fn long_poll_wakes_when_another_worker_gives_a_task_back() {
    let s = Server::start().await;
    s.upsert_repo("acme/lp2", 5, true).await;
    let ids = s.import_ids("acme/lp2", json!([{"title": "only"}])).await;
    let (_, first) = s.register_worker("first", &[], 5, 1).await;
    let (_, second) = s.register_worker("second", &[], 5, 1).await;
    let (lease_id, _, _) = s.claim_ok(&first).await;
    let poll = {
        let req = s
            .req(Method::POST, "/v1/work?wait=20")
            .bearer(&second)
            .timeout(Duration::from_secs(30));
        tokio::spawn(async move {
            let r = req.send().await;
            (r, Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !poll.is_finished(),
        "the long poll answered while the task was leased"
    );
    s.nack(&first, &lease_id).await.expect(200);
    let released = Instant::now();
    let (r, answered) = poll.await.expect("poll task");
    let body = r.expect(200);
    assert_eq!(body["lease"]["task"]["task_id"], ids[0].as_str());
    let delay = answered.saturating_duration_since(released);
    assert!(
        delay < Duration::from_millis(1500),
        "answered {delay:?} after the nack"
    );
}

#[tokio::test]
async fn long_poll_with_work_available_answers_at_once() {
    let s = Server::start().await;
    s.upsert_repo("acme/lp3", 5, true).await;
    s.import("acme/lp3", json!([{"title": "there"}])).await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let r = s
        .req(Method::POST, "/v1/work?wait=10")
        .bearer(&token)
        .send()
        .await;
    r.expect(200);
    assert!(r.elapsed < Duration::from_secs(1), "took {:?}", r.elapsed);
}

#[tokio::test]
async fn sse_reports_an_import_within_a_second() {
    let s = Server::start().await;
    s.upsert_repo("acme/sse", 5, true).await;
    let mut events = s.events().await;
    // Anything already queued (a replay of older changes, say) is not what we wait for.
    events.drain(Duration::from_millis(300)).await;
    let ids = s
        .import_ids("acme/sse", json!([{"title": "watched"}]))
        .await;
    let changed = Instant::now();
    let found = events
        .wait_for(changed + Duration::from_secs(3), |ev| {
            mentions(ev, "task_id", &ids[0])
        })
        .await;
    let (ev, at) = found.expect("no event names the imported task within 3 s");
    assert!(
        at.duration_since(changed) < Duration::from_millis(1000),
        "event arrived {:?} after the change",
        at.duration_since(changed)
    );
    assert!(
        mentions(&ev, "repo", "acme/sse"),
        "event does not name the repo: {ev}"
    );
}

#[tokio::test]
async fn sse_reports_worker_registration_and_lease_changes() {
    let s = Server::start().await;
    s.upsert_repo("acme/sse2", 5, true).await;
    let ids = s.import_ids("acme/sse2", json!([{"title": "t"}])).await;
    let mut events = s.events().await;
    events.drain(Duration::from_millis(300)).await;

    let (wid, token) = s.register_worker("watched", &[], 5, 1).await;
    let t0 = Instant::now();
    let (_, at) = events
        .wait_for(t0 + Duration::from_secs(3), |ev| {
            mentions(ev, "worker_id", &wid)
        })
        .await
        .expect("no event names the new worker");
    assert!(at.duration_since(t0) < Duration::from_secs(1));

    let (lease_id, _, _) = s.claim_ok(&token).await;
    let t1 = Instant::now();
    let (ev, at) = events
        .wait_for(t1 + Duration::from_secs(3), |ev| {
            mentions(ev, "task_id", &ids[0])
        })
        .await
        .expect("no event names the leased task");
    assert!(at.duration_since(t1) < Duration::from_secs(1));
    assert!(mentions(&ev, "repo", "acme/sse2"), "{ev}");

    s.ack(&token, &lease_id).await.expect(200);
    let t2 = Instant::now();
    events
        .wait_for(t2 + Duration::from_secs(3), |ev| {
            mentions(ev, "task_id", &ids[0])
        })
        .await
        .expect("no event for the ack");
    assert!(t2.elapsed() < Duration::from_secs(2));
}

/// Starts `POST /v1/work?wait=30` for `token` in the background.
fn long_poll(s: &Server, token: &str) -> tokio::task::JoinHandle<Resp> {
    let req = s
        .req(Method::POST, "/v1/work?wait=30")
        .bearer(token)
        .timeout(Duration::from_secs(60));
    tokio::spawn(async move { req.send().await })
}

/// What a held long poll answered, if it answered within `within` (it was asked to hold 30 s).
async fn answered_within(poll: tokio::task::JoinHandle<Resp>, within: Duration) -> Option<Resp> {
    tokio::time::timeout(within, poll)
        .await
        .ok()
        .map(|r| r.expect("poll task"))
}

/// A worker holds a long poll; the operator archives it: the poll ends with 401 well before its
/// 30 s (the archive is checked again every few seconds), and never with a lease.
#[tokio::test]
async fn archiving_a_worker_ends_its_long_poll() {
    let s = Server::start().await;
    s.upsert_repo("acme/ends", 5, false).await;
    let (id, token) = s.register_worker("w", &[], 5, 1).await;
    let poll = long_poll(&s, &token);
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.admin_post(&format!("/v1/admin/workers/{id}/archive"), json!({}))
        .await
        .expect(200);
    // A task appears: the archived worker's poll must not take it.
    s.import("acme/ends", json!([{"title": "bait"}])).await;
    let r = answered_within(poll, Duration::from_secs(15))
        .await
        .expect("the archived worker's long poll ended within seconds");
    assert_eq!(r.expect_problem(401), "unauthorized", "{}", r.describe());
}

/// One worker opens many long polls at once: each newer one ends the one before it (204), so a
/// worker holds one poll at a time, and the newest still gets the work.
#[tokio::test]
async fn a_worker_holds_one_long_poll_at_a_time() {
    let s = Server::start().await;
    s.upsert_repo("acme/polls", 5, false).await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let first = long_poll(&s, &token);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut older = vec![first];
    for _ in 0..3 {
        older.push(long_poll(&s, &token));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let newest = long_poll(&s, &token);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for poll in older {
        let r = answered_within(poll, Duration::from_secs(10))
            .await
            .expect("an older poll ended when a newer one began");
        assert_eq!(r.status, 204, "{}", r.describe());
    }
    let ids = s.import_ids("acme/polls", json!([{"title": "work"}])).await;
    let r = answered_within(newest, Duration::from_secs(10))
        .await
        .expect("the newest poll gets the work");
    assert_eq!(r.expect(200)["lease"]["task"]["task_id"], ids[0].as_str());
}
