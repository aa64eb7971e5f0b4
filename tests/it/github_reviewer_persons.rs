//! A reviewer is a person (rule 13, contract section 14): the logins `review.reviewers` lists
//! are resolved to GitHub account ids, and away, open reviews and assignment follow the id. A
//! reviewer who renames keeps all of it, settings updated to the new login name the same
//! person, a new account that takes the freed login is not the reviewer, and a login GitHub does
//! not know counts as no reviewer with room until it names an account (the rule fails closed).

use chrono::TimeDelta;

use crate::github_reviewers::{load, loads};
use crate::github_support::story::Story;
use crate::github_vouch::push_file;
use owp::domain::TaskStatus;

const NO_ROOM: &str = "you can't claim this issue right now: this repository's reviewers have no \
                       room for another pull request";

/// alice reviews; she renames her account to `alice-two`, and a new account takes `alice`.
/// alice, under her new login, keeps her open review and goes away and back; the newcomer is no
/// reviewer; the claim rule follows alice's away state; and settings updated to her new login
/// name her, with her review.
async fn rename_story(postgres: bool) {
    let settings = "max_open_prs: 10\nreview:\n  reviewers:\n    alice: 2\n";
    let story = Story::among(postgres, &["alice"], Some(settings), |_| {}).await;
    let first = story.label_issue("Fix the parser", &[]).await;
    let second = story.label_issue("Speed up the index", &[]).await;
    story.comment(first, "carol", "/owp claim").await;
    story.expect_status(first, &["claimed by @carol"]);
    story
        .open_pr("carol", &format!("A fix.\n\nFixes #{first}"))
        .await;
    story.expect_status(first, &["Reviewer: @alice"]);
    let alice = story.fake.user_id("alice");

    story.fake.rename_account("alice", "alice-two");
    story
        .fake
        .new_account("alice", story.now() - TimeDelta::days(400));
    assert_ne!(story.fake.user_id("alice"), alice);

    // The new holder of the login is not the reviewer: their `/owp away` is refused.
    story.comment(second, "alice", "/owp away").await;
    story.expect_comment(
        second,
        "@alice, you are not one of this repository's reviewers",
    );
    assert_eq!(loads(&story).await, [load("alice", 1, 2, false)]);

    // alice under her new login is: she keeps her open review, and is away.
    story.comment(second, "alice-two", "/owp away").await;
    story.expect_comment(
        second,
        "@alice-two, you are away until you comment `/owp back`: no new pull requests are \
         assigned to you for review. You keep the 1 open pull request you review.",
    );
    assert_eq!(loads(&story).await, [load("alice-two", 1, 2, true)]);

    // Away, she has no room: a claim is refused, and the newcomer cannot bring her back.
    story.comment(second, "dave", "/owp claim").await;
    story.expect_comment(second, &format!("@dave, {NO_ROOM}"));
    // (The App does not say the same thing twice to the newcomer on one issue.)
    story.comment(second, "alice", "/owp back").await;
    assert_eq!(loads(&story).await, [load("alice-two", 1, 2, true)]);
    assert_eq!(story.task(second).await.status, TaskStatus::Ready);

    // She is back: the claim is granted.
    story.comment(second, "alice-two", "/owp back").await;
    story.expect_comment(
        second,
        "@alice-two, welcome back: pull requests are assigned to you for review again.",
    );
    story.comment(second, "dave", "/owp claim").await;
    story.expect_status(second, &["claimed by @dave"]);

    // The settings updated to her new login name the same person, with her open review.
    push_file(
        &story,
        ".github/owp.yml",
        "max_open_prs: 10\nreview:\n  reviewers:\n    alice-two: 2\n",
    )
    .await;
    assert_eq!(loads(&story).await, [load("alice-two", 1, 2, false)]);

    // Dave's pull request goes to alice, shown by her new login.
    story
        .open_pr("dave", &format!("Faster.\n\nFixes #{second}"))
        .await;
    story.expect_status(second, &["Reviewer: @alice-two"]);
    assert_eq!(loads(&story).await, [load("alice-two", 2, 2, false)]);
}

#[tokio::test]
async fn a_renamed_reviewer_keeps_away_and_reviews_sqlite() {
    rename_story(false).await;
}

#[tokio::test]
async fn a_renamed_reviewer_keeps_away_and_reviews_postgres() {
    rename_story(true).await;
}

/// Settings that still list a renamed reviewer's old login keep the person the login was
/// resolved to: a new account that takes the login is not given the reviewer's place, even when
/// the settings are read again.
async fn taken_login_story(postgres: bool) {
    let settings = "max_open_prs: 10\nreview:\n  reviewers:\n    alice: 1\n";
    let story = Story::among(postgres, &["alice"], Some(settings), |_| {}).await;
    let first = story.label_issue("Fix the parser", &[]).await;
    story.fake.rename_account("alice", "alice-two");
    story
        .fake
        .new_account("alice", story.now() - TimeDelta::days(400));
    story.running().github.reconcile_now().await.unwrap();
    // alice comments under her new login: the pool shows it from now on.
    story.comment(first, "alice-two", "/owp back").await;
    story.expect_comment(first, "@alice-two, welcome back");

    // The newcomer speaks as `alice`: not the reviewer, and nothing is resolved to them.
    story.comment(first, "alice", "/owp away").await;
    story.expect_comment(
        first,
        "@alice, you are not one of this repository's reviewers",
    );
    // Their pull request on a claimed task goes to the person the login was resolved to.
    story.comment(first, "alice", "/owp claim").await;
    story.expect_status(first, &["claimed by @alice"]);
    story
        .open_pr("alice", &format!("A fix.\n\nFixes #{first}"))
        .await;
    story.expect_status(first, &["**Pull request open**", "Reviewer: @alice-two"]);
    // The review is the original person's.
    story.comment(first, "alice-two", "/owp away 2").await;
    story.expect_comment(first, "@alice-two, you are away until");
    assert_eq!(loads(&story).await, [load("alice-two", 1, 1, true)]);
}

#[tokio::test]
async fn a_login_taken_over_is_not_the_reviewer_sqlite() {
    taken_login_story(false).await;
}

#[tokio::test]
async fn a_login_taken_over_is_not_the_reviewer_postgres() {
    taken_login_story(true).await;
}

/// A listed login GitHub does not know (`GET /users/{login}` is 404) is no reviewer with room:
/// claims wait, and maintainers are told. GitHub's answer is remembered (the login is not asked
/// on every read); once an account of that login comments, it is the reviewer, and claims go.
async fn unknown_login_story(postgres: bool) {
    let story = Story::on(postgres, Some("max_open_prs: 10\n"), |_| {}).await;
    push_file(
        &story,
        ".github/owp.yml",
        "max_open_prs: 10\nreview:\n  reviewers:\n    ghost: 2\n",
    )
    .await;
    assert_eq!(story.fake.count_calls("GET", "/users/ghost"), 1);
    let n = story.label_issue("Fix the parser", &[]).await;
    story.expect_status(
        n,
        &[
            "A reviewer is not counted",
            "`ghost` names no GitHub account the App could find yet",
        ],
    );
    story.comment(n, "carol", "/owp claim").await;
    story.expect_comment(n, &format!("@carol, {NO_ROOM}"));
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.running().github.reconcile_now().await.unwrap();
    assert_eq!(
        story.fake.count_calls("GET", "/users/ghost"),
        1,
        "a login GitHub did not know is not asked again at once"
    );

    // An account takes the login and comments: GitHub has named it, and it is the reviewer.
    story
        .fake
        .new_account("ghost", story.now() - TimeDelta::days(400));
    story.comment(n, "ghost", "/owp away 1").await;
    story.expect_comment(n, "@ghost, you are away until");
    story.comment(n, "ghost", "/owp back").await;
    story.expect_comment(n, "@ghost, welcome back");
    story.comment(n, "carol", "/owp claim").await;
    story.expect_status(n, &["claimed by @carol"]);
    assert_eq!(loads(&story).await, [load("ghost", 0, 2, false)]);
    story.stop_checking_comments();
}

#[tokio::test]
async fn an_unknown_reviewer_login_has_no_room_sqlite() {
    unknown_login_story(false).await;
}

#[tokio::test]
async fn an_unknown_reviewer_login_has_no_room_postgres() {
    unknown_login_story(true).await;
}
