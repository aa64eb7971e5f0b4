//! GitHub's facts come only from GitHub (contract section 14), as stories over the fake GitHub: a
//! worker's report cannot say what GitHub decides of its pull request, and what GitHub did not
//! answer (whether the commits are verified) is not known — never "ready for review" — until the
//! App asks again and GitHub answers.

use serde_json::json;

use crate::github_support::story::{REPO, Story};
use crate::github_support::{FailWhen, Failure};
use owp::domain::TaskStatus;

const SHA_A: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const SHA_B: &str = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";

const REQUIRED: &str = "claim:\n  verified_commits: required\n";

/// A status comment that says the pull request is ready for review.
fn says_ready(body: &str) -> bool {
    body.contains("— ready for review")
}

/// A maintainer opens an issue and puts it in the pool; `alice` claims it by comment.
async fn claimed_issue(story: &Story) -> u64 {
    let n = story.label_issue("Fix the parser", &[]).await;
    story.comment(n, "alice", "/owp claim").await;
    story.expect_status(n, &["claimed by @alice"]);
    n
}

/// GitHub answers 500 when the App reads the pull request's commits: the status comment says
/// that it is not known whether they are verified, never "ready for review", at open and after a
/// push; once GitHub answers again, reconciliation asks again and the comment becomes right.
#[tokio::test]
async fn commits_github_did_not_answer_for_are_not_known_and_asked_again() {
    let story = Story::with(Some(REQUIRED), |_| {}).await;
    let n = claimed_issue(&story).await;
    story
        .fake
        .fail(FailWhen::on("GET", "/commits"), 1_000, Failure::ServerError);
    let pr = story
        .fake
        .open_pr(REPO, "alice", "A fix", &format!("A change.\n\nFixes #{n}"));
    story
        .fake
        .set_pr_commits(REPO, pr, &[(SHA_A, true), (SHA_B, false)]);
    story.remember_number(pr);
    let payload = story.pr_payload("pull_request.opened", pr, "alice");
    story.send("pull_request", &payload).await;
    let status = story.expect_status(
        n,
        &[
            "**Pull request open**",
            "Whether every commit is verified is not known yet",
        ],
    );
    assert!(!says_ready(&status.body), "{}", status.body);
    let task = story.task(n).await;
    assert_eq!(
        task.artifact.as_ref().unwrap()["commits"]["verified"],
        json!(null)
    );
    let asked = story.fake.count_calls("GET", "/commits");
    assert!(asked >= 1, "the commits were read");

    // Reconciliation while GitHub still fails: still not known.
    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    assert!(
        story.fake.count_calls("GET", "/commits") > asked,
        "asked again"
    );
    let status = story.expect_status(n, &["Whether every commit is verified is not known yet"]);
    assert!(!says_ready(&status.body), "{}", status.body);

    // GitHub answers again: the next reconciliation names the unverified commit.
    story.github_recovers();
    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    let status = story.expect_status(
        n,
        &["Not ready for review until every commit is verified: `b2b2b2b` is not."],
    );
    assert!(!says_ready(&status.body), "{}", status.body);

    // A push that signs the commit, read while GitHub fails: not known again, not ready.
    story
        .fake
        .set_pr_commits(REPO, pr, &[(SHA_A, true), (SHA_B, true)]);
    story
        .fake
        .fail(FailWhen::on("GET", "/commits"), 1_000, Failure::ServerError);
    let payload = story.pr_payload("pull_request.synchronize", pr, "alice");
    story.send("pull_request", &payload).await;
    let status = story.expect_status(n, &["Whether every commit is verified is not known yet"]);
    assert!(!says_ready(&status.body), "{}", status.body);
    story.github_recovers();
    story.running().github.reconcile_now().await.unwrap();
    story.settle().await;
    story.expect_status(n, &["Every commit is verified — ready for review."]);
    assert_eq!(story.task(n).await.status, TaskStatus::PrOpened);
    story.stop_checking_comments();
}

/// alice's worker `owl`, linked to her GitHub account, holds the task of a new issue: the
/// issue's number, the task's id and the worker's token.
async fn owl_holds_a_new_issue(story: &Story) -> (u64, String, String) {
    let n = story.label_issue("Fix the flaky test", &[]).await;
    let registration = json!({"name": "owl", "skills": [], "capacity_points": 5,
        "max_concurrent_tasks": 2});
    let token = story.linked_worker(n, "alice", registration).await;
    let (status, lease) = story.post_json("/v1/work", Some(&token), json!({})).await;
    assert_eq!(status, 200, "{lease}");
    (n, story.task(n).await.id, token)
}

/// A worker's `pr_opened` report of a GitHub task is checked against GitHub: another person's
/// pull request, one of another repository or one GitHub does not know is refused; while GitHub
/// does not answer, the task does not move; a report that says what GitHub decides (checks,
/// verified commits) is refused, and the status comment never says "ready for review" from a
/// report; the holder's own pull request moves the task.
#[tokio::test]
async fn a_pr_opened_report_names_the_holders_open_pull_request_as_github_answers() {
    let story = Story::with(Some(REQUIRED), |_| {}).await;
    let (n, task_id, token) = owl_holds_a_new_issue(&story).await;
    let path = format!("/v1/tasks/{task_id}/status");
    let report = |pr: u64| {
        json!({"status": "pr_opened",
               "artifact": {"pr_url": format!("https://github.com/{REPO}/pull/{pr}")}})
    };

    // mallory's pull request (GitHub has not told the App of it) is not owl's to report.
    let mallorys = story
        .fake
        .open_pr(REPO, "mallory", "A fix", &format!("Fixes #{n}"));
    let (status, problem) = story.post_json(&path, Some(&token), report(mallorys)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("pr_not_yours")),
        "{problem}"
    );
    // Nor one of another repository, nor one GitHub does not know.
    let elsewhere = json!({"status": "pr_opened",
        "artifact": {"pr_url": "https://github.com/octo-org/other/pull/1"}});
    let (status, problem) = story.post_json(&path, Some(&token), elsewhere).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_pr_url")),
        "{problem}"
    );
    let (status, problem) = story.post_json(&path, Some(&token), report(9_999)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("pr_not_found")),
        "{problem}"
    );
    assert_eq!(story.task(n).await.status, TaskStatus::Leased);

    // alice's own pull request, with an unsigned commit.
    let alices = story
        .fake
        .open_pr(REPO, "alice", "A fix", &format!("Fixes #{n}"));
    story.remember_number(alices);
    story
        .fake
        .set_pr_commits(REPO, alices, &[(SHA_A, true), (SHA_B, false)]);

    // owl says the checks passed and every commit is verified: refused, naming the key.
    let mut claimed = report(alices);
    claimed["artifact"]["checks"] = json!("success");
    claimed["artifact"]["commits"] = json!({"verified": true, "unverified": []});
    let (status, problem) = story.post_json(&path, Some(&token), claimed.clone()).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("not_reported_by_workers")),
        "{problem}"
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("`artifact."),
        "{problem}"
    );

    // GitHub does not answer: the task does not move.
    story
        .fake
        .fail(FailWhen::on("GET", "/pulls/"), 1_000, Failure::ServerError);
    let (status, problem) = story.post_json(&path, Some(&token), report(alices)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("github_unavailable")),
        "{problem}"
    );
    assert_eq!(story.task(n).await.status, TaskStatus::Leased);
    story.github_recovers();

    // GitHub answers: the report of alice's pull request moves the task.
    let (status, task) = story.post_json(&path, Some(&token), report(alices)).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(story.task(n).await.status, TaskStatus::PrOpened);
    let status = story.expect_status(n, &["**Pull request open**"]);
    assert!(!says_ready(&status.body), "{}", status.body);

    // A later report cannot say it either; GitHub's webhook then tells the truth.
    let (status, problem) = story.post_json(&path, Some(&token), claimed).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("not_reported_by_workers")),
        "{problem}"
    );
    let payload = story.pr_payload("pull_request.opened", alices, "alice");
    story.send("pull_request", &payload).await;
    let status = story.expect_status(n, &["`b2b2b2b` is not"]);
    assert!(!says_ready(&status.body), "{}", status.body);
    let artifact = story.task(n).await.artifact.unwrap();
    assert!(artifact.get("checks").is_none(), "{artifact}");
    story.stop_checking_comments();
}

/// A maintainer's pull request may be reported by the holder (section 9: it acts on the task).
#[tokio::test]
async fn a_maintainers_pull_request_may_be_reported() {
    let story = Story::with(None, |_| {}).await;
    let (n, task_id, token) = owl_holds_a_new_issue(&story).await;
    story.fake.set_permission(REPO, "mona", "write");
    let monas = story
        .fake
        .open_pr(REPO, "mona", "A fix", &format!("Fixes #{n}"));
    let body = json!({"status": "pr_opened",
        "artifact": {"pr_url": format!("https://github.com/{REPO}/pull/{monas}")}});
    let path = format!("/v1/tasks/{task_id}/status");
    let (status, task) = story.post_json(&path, Some(&token), body).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(story.task(n).await.status, TaskStatus::PrOpened);
    story.stop_checking_comments();
}

/// Section 9 compares people by account id: alice claims by comment and renames her account; a
/// new account takes the freed login `alice` and opens a pull request closing the issue. It is
/// not the holder's, so it is recorded and does not act (the claim stays in progress).
#[tokio::test]
async fn a_pull_request_of_a_new_account_with_the_holders_old_login_does_not_act() {
    let story = Story::with(None, |_| {}).await;
    let n = claimed_issue(&story).await;
    story.fake.rename_account("alice", "alice-renamed");
    story.fake.new_account("alice", story.now());
    let pr = story.open_pr("alice", &format!("Fixes #{n}")).await;
    story.expect_status(
        n,
        &[
            "**In progress** — claimed by @alice",
            &format!("not acting on this task (not the holder's, or a draft): https://github.com/{REPO}/pull/{pr}"),
        ],
    );
    assert_eq!(story.task(n).await.status, TaskStatus::InProgress);
    story.stop_checking_comments();
}

/// The same while alice's pull request is open: a second pull request by the new account named
/// `alice` is not hers, though her link carries the same login.
#[tokio::test]
async fn a_second_pull_request_under_the_holders_old_login_does_not_act() {
    let story = Story::with(None, |_| {}).await;
    let n = claimed_issue(&story).await;
    let hers = story.open_pr("alice", &format!("Fixes #{n}")).await;
    story.expect_status(n, &["**Pull request open**"]);
    story.fake.rename_account("alice", "alice-renamed");
    story.fake.new_account("alice", story.now());
    let theirs = story.open_pr("alice", &format!("Fixes #{n}")).await;
    story.expect_status(
        n,
        &[
            &format!("**Pull request open** — https://github.com/{REPO}/pull/{hers}"),
            &format!("not acting on this task (not the holder's, or a draft): https://github.com/{REPO}/pull/{theirs}"),
        ],
    );
    story.stop_checking_comments();
}
