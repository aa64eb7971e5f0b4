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
