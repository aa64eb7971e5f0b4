//! A hostile stranger against the API (contract section 9): nobody but an admin or GitHub decides
//! `merged`, a holder's `blocked` waits for a maintainer inside the review budget, and every input
//! is bounded. Each test runs against a real `owp serve`.

mod support;

use serde_json::json;
use support::*;

/// One anonymous worker used to drain the queue by reporting merges, or `blocked`, a thousand
/// times despite a review budget of 3.
#[tokio::test]
async fn a_worker_cannot_drain_the_queue_with_merged_or_blocked() {
    let s = Server::start().await;
    s.upsert_repo("acme/drain", 2, false).await;
    let ids = s
        .import_ids(
            "acme/drain",
            json!([{"title": "a"}, {"title": "b"}, {"title": "c"}, {"title": "d"}]),
        )
        .await;
    let (_, token) = s.register_worker("drainer", &[], 10, 4).await;

    // `merged` from a worker: 403 not_allowed, and nothing changes.
    let (_, first, _) = s.claim_ok(&token).await;
    s.open_pr(&token, &first).await;
    let r = s
        .set_status(&token, &first, json!({"status": "merged"}))
        .await;
    assert_eq!(r.expect_problem(403), "not_allowed");
    let t = s.task(&first).await;
    assert_eq!(t["status"], "pr_opened");
    assert_eq!(s.repo("acme/drain").await["open_prs"], 1);

    // `blocked` from its holder keeps a review slot, with the reason for the maintainers.
    let (_, second, _) = s.claim_ok(&token).await;
    let body = s
        .set_status(
            &token,
            &second,
            json!({"status": "blocked", "note": "cannot reproduce"}),
        )
        .await
        .expect(200);
    assert_eq!(body["status"], "blocked");
    assert_eq!(body["awaits_maintainer"], true);
    let state = s.state().await;
    let t = find(&state["tasks"], "task_id", &second).unwrap();
    assert_eq!(t["status_reason"], "cannot reproduce");
    let repo = find(&state["repos"], "repo", "acme/drain").unwrap();
    assert_eq!(repo["open_prs"], 2, "{repo}");
    assert_eq!(repo["throttled"], true, "{repo}");
    // Budget of 2 is full: nothing more for anyone.
    s.claim_none(&token).await;
    let (_, other) = s.register_worker("other", &[], 10, 4).await;
    s.claim_none(&other).await;

    // The maintainer unblocks it: the slot is free again.
    s.admin_set_status(&second, "ready").await.expect(200);
    let repo = s.repo("acme/drain").await;
    assert_eq!(repo["open_prs"], 1, "{repo}");
    assert_eq!(repo["throttled"], false, "{repo}");
    let (_, third, _) = s.claim_ok(&other).await;
    assert!(ids.contains(&third));
}
