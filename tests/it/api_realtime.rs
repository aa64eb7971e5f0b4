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
