//! Verified commits (contract section 12, "Work that shows its proof"), as stories over the fake
//! GitHub: in a repository whose `.github/owp.yml` says `claim: {verified_commits: required}`, the
//! App reads a pull request's commits when it acts on a task, and its status comment says "ready
//! for review" only when GitHub verified every commit, naming those it did not; a repository that
//! asks nothing costs no read.

#[allow(unused_imports)]
use crate::github_support;

use github_support::story::{REPO, Story};

const SHA_A: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const SHA_B: &str = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";

/// A maintainer opens an issue and puts it in the pool; `alice` claims it by comment.
async fn claimed_issue(story: &Story) -> u64 {
    let n = story
        .fake
        .create_issue(REPO, "maintainer", "Fix the parser", "", &[]);
    story.remember_number(n);
    let payload = story.issue_payload_in("issues.opened", REPO, n, "maintainer");
    story.send("issues", &payload).await;
    story.add_label(n, "pool:ready").await;
    story.expect_status(n, &["**Ready**"]);
    story.comment(n, "alice", "/owp claim").await;
    story.expect_status(n, &["claimed by @alice"]);
    n
}

/// `alice` opens a pull request closing `n` with these commits.
async fn open_pr_with(story: &Story, n: u64, commits: &[(&str, bool)]) -> u64 {
    let number = story
        .fake
        .open_pr(REPO, "alice", "A fix", &format!("A change.\n\nFixes #{n}"));
    story.fake.set_pr_commits(REPO, number, commits);
    story.remember_number(number);
    let payload = story.pr_payload("pull_request.opened", number, "alice");
    story.send("pull_request", &payload).await;
    number
}

#[tokio::test]
async fn unverified_commits_keep_a_pull_request_from_ready_for_review_until_pushed_signed() {
    let story = Story::with(Some("claim:\n  verified_commits: required\n"), |_| {}).await;
    let n = claimed_issue(&story).await;
    let pr = open_pr_with(&story, n, &[(SHA_A, true), (SHA_B, false)]).await;
    story.expect_status(
        n,
        &[
            "**Pull request open**",
            "Not ready for review until every commit is verified: `b2b2b2b` is not.",
        ],
    );
    let task = story.task(n).await;
    let commits = &task.artifact.as_ref().unwrap()["commits"];
    assert_eq!(commits["verified"], false, "{commits}");
    assert_eq!(commits["unverified"][0], SHA_B, "{commits}");

    // A push that signs the commit: every commit verified, and no checks reported.
    story
        .fake
        .set_pr_commits(REPO, pr, &[(SHA_A, true), (SHA_B, true)]);
    let payload = story.pr_payload("pull_request.synchronize", pr, "alice");
    story.send("pull_request", &payload).await;
    story.expect_status(n, &["Every commit is verified — ready for review."]);
    assert_eq!(story.fake.count_calls("GET", "/commits"), 2);
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_repository_that_asks_for_nothing_reads_no_commits() {
    let story = Story::with(None, |_| {}).await;
    let n = claimed_issue(&story).await;
    open_pr_with(&story, n, &[(SHA_B, false)]).await;
    story.expect_status(n, &["**Pull request open**"]);
    assert_eq!(story.fake.count_calls("GET", "/commits"), 0);
    let task = story.task(n).await;
    assert!(task.artifact.as_ref().unwrap().get("commits").is_none());
    story.stop_checking_comments();
}

#[tokio::test]
async fn verified_commits_below_a_trust_level_are_asked_of_people_without_a_worker() {
    let story = Story::with(Some("claim:\n  verified_commits_below_trust: 1\n"), |_| {}).await;
    let n = claimed_issue(&story).await;
    open_pr_with(&story, n, &[(SHA_B, false)]).await;
    story.expect_status(n, &["`b2b2b2b` is not"]);
    story.stop_checking_comments();
}
