//! Disclosure over the fake GitHub (contract section 11): a repository whose `.github/owp.yml`
//! contract requires it refuses a worker's pull request without one, shows "made with TOOL" on
//! the status comment and in the credit, and asks the holder of a plain GitHub pull request to
//! say which tool made it.

use crate::github_support::story::{REPO, Story};
use owp::domain::TaskStatus;
use serde_json::json;

const REQUIRED: &str = "max_open_prs: 10\ncontract:\n  test: make test\n  disclosure: required\n";

/// alice's worker `owl` (its agent claude, running opus), linked to her GitHub account, claims
/// the task of a new issue: the issue's number, the worker's token and the claim's answer.
async fn owl_holds_a_new_issue(story: &Story) -> (u64, String, serde_json::Value) {
    let n = story.label_issue("Fix the flaky test", &[]).await;
    let registration = json!({"name": "owl", "skills": [], "capacity_points": 5,
        "max_concurrent_tasks": 2, "capabilities": {"agent": "claude", "model": "opus"}});
    let token = story.linked_worker(n, "alice", registration).await;
    let (status, lease) = story.post_json("/v1/work", Some(&token), json!({})).await;
    assert_eq!(status, 200, "{lease}");
    (n, token, lease)
}

#[tokio::test]
async fn a_required_disclosure_is_shown_and_credited() {
    let story = Story::with(Some(REQUIRED), |_| {}).await;
    let (n, token, lease) = owl_holds_a_new_issue(&story).await;
    assert_eq!(lease["lease"]["task"]["contract"]["disclosure"], "required");
    let task_id = story.task(n).await.id;
    // alice opens the pull request; her worker reports it before GitHub's webhook arrives.
    let pr = story
        .fake
        .open_pr(REPO, "alice", "A fix", &format!("Fixes #{n}"));
    story.remember_number(pr);
    let pr_url = format!("https://github.com/{REPO}/pull/{pr}");
    let path = format!("/v1/tasks/{task_id}/status");
    let (status, problem) = story
        .post_json(
            &path,
            Some(&token),
            json!({"status": "pr_opened", "artifact": {"pr_url": pr_url}}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("disclosure_required"))
    );
    let (status, task) = story
        .post_json(
            &path,
            Some(&token),
            json!({"status": "pr_opened", "artifact": {
                "pr_url": pr_url, "disclosure": {"tool": "claude", "model": "opus"}}}),
        )
        .await;
    assert_eq!(status, 200, "{task}");
    story.expect_status(
        n,
        &[&format!(
            "**Pull request open** — {pr_url} by worker `owl` (@alice), made with `claude (opus)`."
        )],
    );
    let payload = story.pr_payload("pull_request.opened", pr, "alice");
    story.send("pull_request", &payload).await;
    story.merge_pr(pr).await;
    let merged = story.task(n).await;
    assert_eq!(merged.status, TaskStatus::Merged);
    let artifact = merged.artifact.unwrap();
    assert_eq!(artifact["credit"]["disclosure"]["tool"], "claude");
    story.expect_status(
        n,
        &[&format!(
            "**Done** — merged in {pr_url}. Thank you! Credited to worker `owl` (@alice), made \
             with `claude (opus)`."
        )],
    );

    // bob claims by comment and opens a pull request on GitHub alone: he is asked to say which
    // tool made it.
    let m = story.label_issue("Document the flag", &[]).await;
    story.comment(m, "bob", "/owp claim").await;
    story.expect_status(m, &["claimed by @bob"]);
    let bobs = story.open_pr("bob", &format!("Fixes #{m}")).await;
    let status = story.expect_status(
        m,
        &[
            &format!("**Pull request open** — https://github.com/{REPO}/pull/{bobs} by @bob."),
            "This repository asks every pull request to say which tool made it. @bob, please \
             say so in the pull request's description",
        ],
    );
    assert!(!status.body.contains("made with"), "{}", status.body);

    // He says it in the description: the note goes, and what he named is shown and credited.
    story
        .edit_pr_body(bobs, &format!("Fixes #{m}\n\nMade with: none"))
        .await;
    let status = story.expect_status(
        m,
        &[&format!(
            "**Pull request open** — https://github.com/{REPO}/pull/{bobs} by @bob, made with \
             `none`."
        )],
    );
    assert!(!status.body.contains("please say so"), "{}", status.body);
    // Taken out again, the note is back.
    story.edit_pr_body(bobs, &format!("Fixes #{m}")).await;
    story.expect_status(
        m,
        &["@bob, please say so in the pull request's description"],
    );
    story
        .edit_pr_body(bobs, &format!("Fixes #{m}\n\n- **Made with:** `aider`"))
        .await;
    story.merge_pr(bobs).await;
    let merged = story.task(m).await;
    assert_eq!(merged.status, TaskStatus::Merged);
    assert_eq!(
        merged.artifact.unwrap()["credit"]["disclosure"]["tool"],
        "aider"
    );
}

/// GitHub's webhook for the holder's pull request may arrive before the worker's own
/// `pr_opened` report: the report that follows still records its disclosure on the task (once,
/// however often it is sent again), the status comment shows it, and the credit keeps it.
#[tokio::test]
async fn a_disclosure_reported_after_the_webhook_is_kept() {
    let story = Story::with(Some(REQUIRED), |_| {}).await;
    let (n, token, _) = owl_holds_a_new_issue(&story).await;
    let task_id = story.task(n).await.id;

    // alice opens the pull request, and GitHub's webhook comes first.
    let pr = story.open_pr("alice", &format!("Fixes #{n}")).await;
    let pr_url = format!("https://github.com/{REPO}/pull/{pr}");
    assert_eq!(story.task(n).await.status, TaskStatus::PrOpened);
    story.expect_status(
        n,
        &[
            &format!("**Pull request open** — {pr_url} by worker `owl` (@alice)."),
            "This repository asks every pull request to say which tool made it.",
        ],
    );

    // Her worker's report follows, with the disclosure.
    let path = format!("/v1/tasks/{task_id}/status");
    let report = json!({"status": "pr_opened", "artifact": {
        "pr_url": pr_url, "disclosure": {"tool": "claude", "model": "opus"}}});
    for _ in 0..2 {
        let (status, task) = story.post_json(&path, Some(&token), report.clone()).await;
        assert_eq!(status, 200, "{task}");
        assert_eq!(task["status"], "pr_opened");
        assert_eq!(task["artifact"]["pr_url"], pr_url.as_str());
        assert_eq!(task["artifact"]["disclosure"]["tool"], "claude");
    }
    let status = story.expect_status(
        n,
        &[&format!(
            "**Pull request open** — {pr_url} by worker `owl` (@alice), made with `claude (opus)`."
        )],
    );
    assert!(
        !status.body.contains("asks every pull request"),
        "{}",
        status.body
    );
    // Recorded once, with its audit event naming the worker.
    let (_, state) = story
        .admin(reqwest::Method::GET, "/v1/admin/state", None)
        .await;
    let recorded: Vec<&serde_json::Value> = state["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "task.artifact" && e["task_id"] == task_id.as_str())
        .collect();
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(
        recorded[0]["data"]["artifact"]["disclosure"]["tool"],
        "claude"
    );
    assert!(
        recorded[0]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("worker:")),
        "{}",
        recorded[0]
    );

    // A later report naming another pull request, or without the required disclosure, changes
    // nothing.
    let other = json!({"status": "pr_opened", "artifact": {
        "pr_url": format!("https://github.com/{REPO}/pull/{}", pr + 100),
        "disclosure": {"tool": "codex"}}});
    let (status, problem) = story.post_json(&path, Some(&token), other).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("invalid_transition")),
        "{problem}"
    );
    let bare = json!({"status": "pr_opened", "artifact": {"pr_url": pr_url}});
    let (status, problem) = story.post_json(&path, Some(&token), bare).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("disclosure_required")),
        "{problem}"
    );
    let task = story.task(n).await;
    let artifact = task.artifact.unwrap();
    assert_eq!(artifact["pr_url"], pr_url.as_str());
    assert_eq!(artifact["disclosure"]["tool"], "claude");

    story.merge_pr(pr).await;
    let merged = story.task(n).await;
    assert_eq!(merged.status, TaskStatus::Merged);
    assert_eq!(
        merged.artifact.unwrap()["credit"]["disclosure"]["tool"],
        "claude"
    );
    story.expect_status(
        n,
        &[&format!(
            "**Done** — merged in {pr_url}. Thank you! Credited to worker `owl` (@alice), made \
             with `claude (opus)`."
        )],
    );
}
