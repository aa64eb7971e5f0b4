//! Reviewers with room (rule 13, contract section 12), as stories over the fake GitHub: a
//! repository whose `.github/owp.yml` names its reviewers assigns each pull request that starts
//! acting on a task to the reviewer with room who has the fewest open reviews, names them in the
//! status comment, refuses claims its reviewers have no room for (leases in flight are future
//! reviews), and takes `/owp away`, `/owp back` and `/owp review @login`.

#[allow(unused_imports)]
use crate::github_support;

use github_support::story::{REPO, Story};
use owp::domain::TaskStatus;
use serde_json::json;

const TWO_REVIEWERS: &str = "max_open_prs: 10\nreview:\n  reviewers:\n    alice: 2\n    bob: 2\n";

/// Each reviewer of the repository as `GET /v1/admin/state` shows them: (login, open, capacity,
/// away).
pub(crate) async fn loads(story: &Story) -> Vec<(String, i64, i64, bool)> {
    let (status, state) = story
        .admin(reqwest::Method::GET, "/v1/admin/state", None)
        .await;
    assert_eq!(status, 200, "{state}");
    let repo = state["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo"] == REPO)
        .expect("the repository")
        .clone();
    repo["reviewers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r["login"].as_str().unwrap().to_string(),
                r["open"].as_i64().unwrap(),
                r["capacity"].as_i64().unwrap(),
                r["away"].as_bool().unwrap(),
            )
        })
        .collect()
}

pub(crate) fn load(login: &str, open: i64, capacity: i64, away: bool) -> (String, i64, i64, bool) {
    (login.to_string(), open, capacity, away)
}

/// `login` claims issue `n` by comment and gets it.
async fn claims(story: &Story, login: &str, n: u64) {
    story.comment(n, login, "/owp claim").await;
    story.expect_status(n, &[&format!("claimed by @{login}")]);
}

async fn reviewers_story(postgres: bool) {
    let story = Story::among(postgres, &["alice", "bob"], Some(TWO_REVIEWERS), |_| {}).await;
    story.fake.set_permission(REPO, "maria", "maintain");
    let first = story.label_issue("Fix the parser", &[]).await;
    let second = story.label_issue("Speed up the index", &[]).await;
    let third = story.label_issue("Document the CLI", &[]).await;
    let fourth = story.label_issue("Tidy the logs", &[]).await;
    assert_eq!(
        loads(&story).await,
        [load("alice", 0, 2, false), load("bob", 0, 2, false)]
    );
    claims(&story, "carol", first).await;
    claims(&story, "dave", second).await;

    // Carol's pull request: both reviewers are free and neither was ever assigned; Alice comes
    // first by name.
    let carol_pr = story
        .open_pr("carol", &format!("A fix.\n\nFixes #{first}"))
        .await;
    assert_eq!(story.task(first).await.status, TaskStatus::PrOpened);
    story.expect_status(first, &["**Pull request open**", "Reviewer: @alice"]);

    // Alice is away: her open review stays hers, and nothing new is assigned to her.
    story.comment(third, "alice", "/owp away").await;
    story.expect_comment(
        third,
        "@alice, you are away until you comment `/owp back`: no new pull requests are assigned \
         to you for review. You keep the 1 open pull request you review.",
    );
    assert_eq!(
        loads(&story).await,
        [load("alice", 1, 2, true), load("bob", 0, 2, false)]
    );
    story.comment(third, "carol", "/owp away 3").await;
    story.expect_comment(
        third,
        "@carol, you are not one of this repository's reviewers",
    );

    // Dave's pull request goes to Bob, though Alice has room: she is away.
    story
        .open_pr("dave", &format!("Faster.\n\nFixes #{second}"))
        .await;
    story.expect_status(second, &["Reviewer: @bob"]);

    // Bob has room for one more pull request; Erin's claim takes it, so Frank's waits.
    claims(&story, "erin", third).await;
    story.comment(fourth, "frank", "/owp claim").await;
    story.expect_comment(
        fourth,
        "@frank, you can't claim this issue right now: this repository's reviewers have room \
         for 1 more pull request, and 1 claim in progress will need it — try again when a \
         review ends or a reviewer is back.",
    );
    assert_eq!(story.task(fourth).await.status, TaskStatus::Ready);

    // A worker's preview names the rule.
    let token = story
        .linked_worker(
            fourth,
            "grace",
            json!({"name": "grace-bot", "skills": [], "capacity_points": 5}),
        )
        .await;
    let (status, answer) = story.post_json("/v1/work", Some(&token), json!({})).await;
    assert_eq!(status, 204, "{answer}");
    let preview = story.preview(&token).await;
    let reasons = &preview["refused"][0]["reasons"];
    assert_eq!(reasons[0]["rule"], 13, "{preview}");
    assert_eq!(reasons[0]["code"], "no_reviewer_room", "{preview}");

    // Alice is back: there is room again, and Frank claims.
    story.comment(fourth, "alice", "/owp back").await;
    story.expect_comment(
        fourth,
        "@alice, welcome back: pull requests are assigned to you for review again.",
    );
    claims(&story, "frank", fourth).await;

    // A maintainer moves Carol's pull request's review to Bob; an unknown login is refused.
    let moved = story.comment(first, "maria", "/owp review @bob").await;
    assert!(story.reacted(moved, "+1"));
    story.expect_status(first, &["Reviewer: @bob"]);
    story.comment(first, "maria", "/owp review @zed").await;
    story.expect_comment(
        first,
        "@maria, `zed` is not one of this repository's reviewers",
    );
    story.comment(first, "carol", "/owp review @alice").await;
    story.expect_comment(first, "@carol, only maintainers");
    assert_eq!(
        loads(&story).await,
        [load("alice", 0, 2, false), load("bob", 2, 2, false)]
    );

    // The merge ends Bob's review of it.
    story.merge_pr(carol_pr).await;
    story.expect_status(first, &["**Done**"]);
    assert_eq!(
        loads(&story).await,
        [load("alice", 0, 2, false), load("bob", 1, 2, false)]
    );
}

#[tokio::test]
async fn pull_requests_go_to_reviewers_with_room_sqlite() {
    reviewers_story(false).await;
}

#[tokio::test]
async fn pull_requests_go_to_reviewers_with_room_postgres() {
    reviewers_story(true).await;
}

/// A `review:` out of its bounds is a settings error like any other: the file is refused as a
/// whole, the last good reviewers stay, and the error is shown where settings errors are shown.
async fn bad_reviewers_story(postgres: bool) {
    let story = Story::among(postgres, &["alice", "bob"], Some(TWO_REVIEWERS), |_| {}).await;
    let n = story.label_issue("Fix the parser", &[]).await;
    story.expect_status(n, &["**Ready**"]);
    let many: String = (0..51).map(|i| format!("    r{i}: 1\n")).collect();
    for (settings, error) in [
        (
            format!("max_open_prs: 4\nreview:\n  reviewers:\n{many}"),
            "review.reviewers names 51 reviewers; at most 50 are accepted",
        ),
        (
            "max_open_prs: 4\nreview:\n  reviewers:\n    alice: 0\n".to_string(),
            "review.reviewers.alice must be between 1 and 20 (found 0)",
        ),
    ] {
        story.fake.set_file(REPO, ".github/owp.yml", &settings);
        story.running().github.reconcile_now().await.unwrap();
        story.add_label(n, "estimate:2").await;
        story.expect_status(n, &["could not be used", error]);
        story.remove_label(n, "estimate:2").await;
        assert_eq!(
            story.policy().await.max_open_prs,
            10,
            "the last good settings"
        );
        assert_eq!(
            loads(&story).await,
            [load("alice", 0, 2, false), load("bob", 0, 2, false)]
        );
    }
    // A good file without reviewers: the rule is off again.
    story
        .fake
        .set_file(REPO, ".github/owp.yml", "max_open_prs: 4\n");
    story.running().github.reconcile_now().await.unwrap();
    assert!(loads(&story).await.is_empty());
    story.stop_checking_comments();
}

#[tokio::test]
async fn reviewers_out_of_bounds_are_a_settings_error_sqlite() {
    bad_reviewers_story(false).await;
}

#[tokio::test]
async fn reviewers_out_of_bounds_are_a_settings_error_postgres() {
    bad_reviewers_story(true).await;
}
