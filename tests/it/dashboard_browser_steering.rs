//! The dashboard's proposals in headless Chromium: Mona signs in with GitHub, reads each open
//! proposal with its scorecard and its plan as text (a plan of markup stays text), approves one
//! (the proposer holds the task), declines another, and sees an approval the review budget refuses
//! explained rule by rule. Skips when Chromium is not installed (see `dashboard_browser`).

#![cfg(unix)]

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::dashboard_browser::{Browser, Page};
use crate::dashboard_steering::{HOSTILE_PLAN, planned};
use crate::signin::MONA;

fn proposal(id: &str) -> String {
    format!("document.querySelector('[data-proposal=\"' + CSS.escape('{id}') + '\"]')")
}

async fn click(page: &mut Page, id: &str, action: &str) {
    page.eval(&format!(
        "{}.querySelector('button[data-action=\"{action}\"]').click()",
        proposal(id)
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maintainer_approves_and_declines_proposals_on_the_dashboard() {
    let Some(browser) = Browser::launch("dashboard_browser_steering").await else {
        return;
    };
    let p = planned(false).await;
    let story = &p.story;
    let [a1, a2, b1, b2] = p.proposals.clone();
    let base = story.url();
    story.fake.sign_in_browser(MONA);
    let mut page = browser.new_page().await;
    page.goto(&format!("{base}/")).await;
    page.wait_for(
        "the Sign in with GitHub button",
        "!!document.getElementById('github-sign-in')",
        Duration::from_secs(15),
    )
    .await;
    page.eval("document.getElementById('github-sign-in').click()")
        .await;
    page.wait_for(
        "the four open proposals",
        "document.querySelectorAll('#proposals li.proposal').length === 4",
        Duration::from_secs(20),
    )
    .await;
    // The repository's card says which rules about people are in force.
    page.wait_for(
        "the rules about people on the repository's card",
        "[...document.querySelectorAll('.repo-people')].some((e) => \
           e.textContent.includes('linked GitHub accounts only') \
           && e.textContent.includes('plan first'))",
        Duration::from_secs(20),
    )
    .await;

    // The plan is the proposer's words, as text: no element of it exists, none of it ran.
    let shown = page
        .eval(&format!(
            "{}.querySelector('pre.plan').textContent",
            proposal(&a1)
        ))
        .await;
    assert_eq!(shown, json!(HOSTILE_PLAN));
    assert_eq!(
        page.eval("document.querySelectorAll('#steering script, #steering img').length")
            .await,
        json!(0)
    );
    assert_eq!(page.eval("typeof window.__owned").await, json!("undefined"));
    // Each proposal carries its scorecard.
    let card = page
        .eval(&format!(
            "{}.querySelector('.scorecard').textContent",
            proposal(&b1)
        ))
        .await;
    let card = card.as_str().unwrap();
    for label in [
        "Merged here",
        "Merged in the pool",
        "Accepted here",
        "Account age",
        "Vouched",
        "Holds now",
        "Tools",
    ] {
        assert!(card.contains(label), "{label}: {card}");
    }

    // Approve: the proposer holds the task, and the task's other proposal was not chosen.
    click(&mut page, &a1, "approve").await;
    page.wait_for(
        "the approved proposal to leave the list",
        &format!("!{} && !{}", proposal(&a1), proposal(&a2)),
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(
        story.task(p.issues[0]).await.status,
        owp::domain::TaskStatus::Leased
    );
    // The issue says so, as an approval by comment would: the worker must claim and acknowledge.
    story.settle().await;
    story.expect_comment(
        p.issues[0],
        "@w-one, your plan is approved: this issue is held for your worker `w-one`. It must \
         claim and acknowledge it within 24 hours",
    );

    // Decline, with a reason.
    page.eval(&format!(
        "{}.querySelector('input').value = 'One page is enough.'",
        proposal(&b2)
    ))
    .await;
    click(&mut page, &b2, "decline").await;
    page.wait_for(
        "the declined proposal to leave the list",
        &format!("!{}", proposal(&b2)),
        Duration::from_secs(15),
    )
    .await;
    let (status, listed) = story
        .admin(
            Method::GET,
            &format!("/v1/tasks/{}/proposals", p.tasks[1]),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let declined = listed["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["proposal_id"] == b2.as_str())
        .unwrap();
    assert_eq!(declined["state"], "declined");

    // The one review slot is the approved lease's: the next approval is refused, each rule named,
    // and the proposal stays.
    click(&mut page, &b1, "approve").await;
    let refusal = page
        .wait_for(
            "the refusal",
            &format!(
                "{}?.querySelector('.refusal[role=alert]')?.textContent",
                proposal(&b1)
            ),
            Duration::from_secs(15),
        )
        .await;
    let refusal = refusal.as_str().unwrap();
    assert!(refusal.contains("stays open"), "{refusal}");
    assert!(refusal.contains("rule "), "{refusal}");
    assert_eq!(
        story.task(p.issues[1]).await.status,
        owp::domain::TaskStatus::Ready
    );
}

/// A pull request of a repository that asks for verified commits is not ready for review while
/// GitHub has not verified them all: the dashboard lists it apart, naming the unverified commits,
/// until a push signs them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_requests_waiting_for_verified_commits_name_their_unverified_commits() {
    use crate::github_support::story::REPO;
    const SHA_A: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
    const SHA_B: &str = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";
    let Some(browser) = Browser::launch("dashboard_browser_steering").await else {
        return;
    };
    let story = crate::signin::story_with_settings(
        false,
        Some("claim:\n  verified_commits: required\n"),
        |_| {},
    )
    .await;
    let n = story
        .fake
        .create_issue(REPO, "maintainer", "Fix the parser", "", &[]);
    story.remember_number(n);
    let payload = story.issue_payload_in("issues.opened", REPO, n, "maintainer");
    story.send("issues", &payload).await;
    story.add_label(n, "pool:ready").await;
    story.comment(n, "alice", "/owp claim").await;
    let pr = story
        .fake
        .open_pr(REPO, "alice", "A fix", &format!("A change.\n\nFixes #{n}"));
    story
        .fake
        .set_pr_commits(REPO, pr, &[(SHA_A, true), (SHA_B, false)]);
    let payload = story.pr_payload("pull_request.opened", pr, "alice");
    story.send("pull_request", &payload).await;
    story.stop_checking_comments();

    story.fake.sign_in_browser(MONA);
    let mut page = browser.new_page().await;
    page.goto(&format!("{}/", story.url())).await;
    page.wait_for(
        "the Sign in with GitHub button",
        "!!document.getElementById('github-sign-in')",
        Duration::from_secs(15),
    )
    .await;
    page.eval("document.getElementById('github-sign-in').click()")
        .await;
    let waiting = page
        .wait_for(
            "the pull request waiting for verified commits",
            "document.getElementById('waiting-commits')?.textContent",
            Duration::from_secs(20),
        )
        .await;
    let waiting = waiting.as_str().unwrap();
    assert!(waiting.contains("Fix the parser"), "{waiting}");
    assert!(waiting.contains("b2b2b2b"), "{waiting}");
    assert!(
        !waiting.contains("a1a1a1a"),
        "only the unverified: {waiting}"
    );
    assert_eq!(
        page.eval("document.querySelectorAll('#review > table.tasks').length")
            .await,
        json!(0),
        "nothing is ready for review"
    );

    // A push that signs the commit: ready for review, no longer waiting.
    story
        .fake
        .set_pr_commits(REPO, pr, &[(SHA_A, true), (SHA_B, true)]);
    let payload = story.pr_payload("pull_request.synchronize", pr, "alice");
    story.send("pull_request", &payload).await;
    page.wait_for(
        "the pull request ready for review",
        "!document.getElementById('waiting-commits') \
         && document.querySelector('#review > table.tasks')?.textContent.includes('Fix the parser')",
        Duration::from_secs(20),
    )
    .await;
}
