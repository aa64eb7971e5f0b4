//! A person is a GitHub account id (contract section 14): everything the pool keeps about a
//! person is found by the id GitHub sends, and the login is only how they are shown. An account
//! that renames itself keeps its worker, its claims and its denouncements; a new account that
//! takes the freed login inherits nothing: no worker, no trust, no opt-in, no lease to release.

use chrono::TimeDelta;
use serde_json::json;

use crate::github_support::story::{REPO, Story};
use owp::domain::TaskStatus;

const SETTINGS: &str = "max_open_prs: 10\n";

/// alice claims an issue and is trusted; she renames her account and a new account takes the
/// login `alice`. The newcomer cannot release alice's claim, opt her worker in, or claim with her
/// trust; alice, under her new login, still holds and releases her claim.
async fn a_new_account_on_a_freed_login_inherits_nothing(postgres: bool) {
    let story = Story::on(postgres, Some(SETTINGS), |_| {}).await;
    let n = story.label_issue("Fix the flaky test", &[]).await;
    story.comment(n, "alice", "/owp claim").await;
    story.expect_status(n, &["claimed by @alice"]);
    let old_id = story.fake.user_id("alice") as i64;
    let (status, body) = story
        .admin(
            reqwest::Method::POST,
            "/v1/admin/workers/gh_alice",
            Some(json!({"trust_level": 1})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    story.fake.rename_account("alice", "alice-retired");
    story
        .fake
        .new_account("alice", story.now() - TimeDelta::days(400));
    let new_id = story.fake.user_id("alice") as i64;
    assert_ne!(old_id, new_id);

    // The lease is not the newcomer's to give back.
    story.comment(n, "alice", "/owp release").await;
    story.expect_comment(
        n,
        "you don't hold this issue, so there is nothing to release",
    );
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::InProgress);
    assert_eq!(task.worker_id.as_deref(), Some("gh_alice"));

    // Opting in switches on the newcomer's own worker, not alice's.
    story.comment(n, "alice", "/owp opt-in").await;
    story.expect_comment(n, "@alice, you opted in");
    let store = &story.running().store;
    let old = store.workers().get("gh_alice").await.unwrap().unwrap();
    assert!(!old.reputation_opt_in && !old.leaderboard_opt_in);
    let new_worker = format!("gh_alice_{new_id}");
    let new = store.workers().get(&new_worker).await.unwrap().unwrap();
    assert!(new.reputation_opt_in && new.leaderboard_opt_in);
    assert_eq!(new.trust_level, 0);

    // A tier 1 task needs alice's trust, which the newcomer does not have.
    let risky = story
        .label_issue("Rotate the signing keys", &["tier:1"])
        .await;
    story.comment(risky, "alice", "/owp claim").await;
    story.expect_comment(
        risky,
        "this task is tier 1 and needs trust level 1 or more; yours is 0.",
    );
    assert_eq!(story.task(risky).await.status, TaskStatus::Ready);

    // alice, renamed, is still who holds her claim: her worker shows her new login, and she
    // releases it.
    story.comment(n, "alice-retired", "/owp release").await;
    let task = story.task(n).await;
    assert_eq!(task.status, TaskStatus::Ready);
    story.expect_status(n, &["**Ready**"]);
    let old = store.workers().get("gh_alice").await.unwrap().unwrap();
    assert_eq!(old.github_login.as_deref(), Some("alice-retired"));

    // And she claims the tier 1 task with her own trust.
    story.comment(risky, "alice-retired", "/owp claim").await;
    story.expect_status(risky, &["claimed by @alice-retired"]);
    assert_eq!(
        story.task(risky).await.worker_id.as_deref(),
        Some("gh_alice")
    );
}

#[tokio::test]
async fn a_new_account_on_a_freed_login_inherits_nothing_sqlite() {
    a_new_account_on_a_freed_login_inherits_nothing(false).await;
}

#[tokio::test]
async fn a_new_account_on_a_freed_login_inherits_nothing_postgres() {
    a_new_account_on_a_freed_login_inherits_nothing(true).await;
}

/// A worker linked by alice keeps speaking for alice's account after she renames; the new
/// account on her old login does not act as it.
async fn a_link_follows_the_account(postgres: bool) {
    let story = Story::on(postgres, Some(SETTINGS), |_| {}).await;
    let n = story.label_issue("Fix the flaky test", &[]).await;
    let registration = json!({"name": "alice-bot", "skills": [], "capacity_points": 5});
    let token = story.linked_worker(n, "alice", registration).await;
    let (status, work) = story.post_json("/v1/work", Some(&token), json!({})).await;
    assert_eq!(status, 200, "{work}");

    story.fake.rename_account("alice", "alice-retired");
    story
        .fake
        .new_account("alice", story.now() - TimeDelta::days(400));
    story.comment(n, "alice", "/owp release").await;
    story.expect_comment(
        n,
        "you don't hold this issue, so there is nothing to release",
    );
    assert_eq!(story.task(n).await.status, TaskStatus::Leased);

    story.comment(n, "alice-retired", "/owp release").await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_link_follows_the_account_sqlite() {
    a_link_follows_the_account(false).await;
}

#[tokio::test]
async fn a_link_follows_the_account_postgres() {
    a_link_follows_the_account(true).await;
}

/// A maintainer denounces a login by comment: the App keeps the account GitHub names by it. The
/// account renames itself and is still refused; a new account that takes the freed login is not.
async fn a_denounced_account_stays_denounced_under_a_new_login(postgres: bool) {
    let story = Story::on(postgres, Some(SETTINGS), |_| {}).await;
    story.fake.set_permission(REPO, "maint", "write");
    let spammer = story.fake.user_id("spammer");
    let n = story.label_issue("Fix the flaky test", &[]).await;
    let denounce = story
        .comment(n, "maint", "/owp denounce @spammer drive-by pull requests")
        .await;
    assert!(story.reacted(denounce, "+1"));
    assert_eq!(story.fake.count_calls("GET", "/users/spammer"), 1);

    story.fake.rename_account("spammer", "helpful-person");
    story.comment(n, "helpful-person", "/owp claim").await;
    story.expect_comment(n, "do not take contributions from you here");
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.expect_status(n, &["**Ready**"]);

    story
        .fake
        .new_account("spammer", story.now() - TimeDelta::days(400));
    assert_ne!(story.fake.user_id("spammer"), spammer);
    let m = story.label_issue("Document the flag", &[]).await;
    story.comment(m, "spammer", "/owp claim").await;
    story.expect_status(m, &["claimed by @spammer"]);
}

#[tokio::test]
async fn a_denounced_account_stays_denounced_under_a_new_login_sqlite() {
    a_denounced_account_stays_denounced_under_a_new_login(false).await;
}

#[tokio::test]
async fn a_denounced_account_stays_denounced_under_a_new_login_postgres() {
    a_denounced_account_stays_denounced_under_a_new_login(true).await;
}
