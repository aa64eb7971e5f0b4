//! A lease's progress (what the agent working on it last said it does, sent with a renewal by
//! `owp worker run --acp`): kept on the lease, shown to its holder, on the admin state and on the
//! dashboard's worker card (headless Chromium; that half skips when Chromium is not installed,
//! see `dashboard_browser`), and refused when it is not one short line.

#![cfg(unix)]

use std::time::Duration;

use serde_json::json;

use crate::dashboard_browser::Browser;
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leases_progress_is_shown_on_the_dashboard_worker_card() {
    let server = Server::start().await;
    server.upsert_repo("acme/web", 3, false).await;
    server
        .import_ids("acme/web", json!([{"title": "Fix the login redirect"}]))
        .await;
    let (worker_id, token) = server.register_worker("ada", &[], 5, 2).await;
    let (lease_id, task_id, _) = server.claim_ok(&token).await;
    let renew = format!("/v1/leases/{lease_id}/renew");

    // Not one short line: refused, the lease unchanged.
    for bad in ["two\nlines", &"x".repeat(201)] {
        let r = server
            .worker_post(&token, &renew, json!({ "progress": bad }))
            .await;
        assert_eq!(r.status, 422, "{}", r.describe());
        assert!(r.json["code"].is_string(), "{}", r.describe());
    }
    // A renewal without progress keeps none.
    let task = server
        .worker_post(&token, &renew, json!({}))
        .await
        .expect(200);
    assert!(task.get("lease_progress").is_none(), "{task}");

    let line = "agent: Edit src/login.rs (in_progress)";
    let task = server
        .worker_post(&token, &renew, json!({ "progress": line }))
        .await
        .expect(200);
    assert_eq!(task["lease_progress"], line, "{task}");
    assert!(task["lease_progress_at"].is_string(), "{task}");
    assert_eq!(server.task(&task_id).await["lease_progress"], line);
    let me = server
        .req(reqwest::Method::GET, "/v1/workers/me")
        .bearer(&token)
        .send()
        .await
        .expect(200);
    assert_eq!(me["leases"][0]["task"]["lease_progress"], line, "{me}");
    // The audit event says that it changed, not what it says.
    let state = server.state().await;
    let renewed = state["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["kind"] == "lease.renewed")
        .unwrap_or_else(|| panic!("no lease.renewed event: {state}"));
    assert_eq!(renewed["data"]["progress"], true, "{renewed}");

    let Some(browser) =
        Browser::launch("a_leases_progress_is_shown_on_the_dashboard_worker_card").await
    else {
        return;
    };
    let mut page = browser.new_page().await;
    page.sign_in(&server.base, &server.admin_token).await;
    let shown = page
        .wait_for(
            "the lease's progress on the worker card",
            &format!(
                "[...document.querySelectorAll('#workers .worker')].find((w) => \
                 w.querySelector('.worker-name')?.title === '{worker_id}')\
                 ?.querySelector('.worker-progress')?.textContent"
            ),
            Duration::from_secs(15),
        )
        .await;
    assert!(
        shown
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("{line} · "))),
        "{shown}"
    );
}
