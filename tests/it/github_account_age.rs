//! A claimant's account age (contract section 11): `.github/owp.yml` `claim:
//! {min_account_age_days: N}` keeps GitHub accounts younger than N days from claiming, by their
//! own comment or as their linked worker; the reply says when they can. GitHub is asked once per
//! account (`GET /users/{login}`, whose answer counts only for the account id the event named),
//! and the answer is kept by account id. When GitHub does not answer, the rule refuses and says it
//! will ask again (contract section 13).

use chrono::TimeDelta;
use serde_json::json;

use crate::github_support::model::{FailWhen, Failure};
use crate::github_support::story::{REPO, Story};
use owp::domain::TaskStatus;

const THIRTY_DAYS: &str = "max_open_prs: 10\nclaim:\n  min_account_age_days: 30\n";

async fn account_age_story(postgres: bool) {
    let mut story = Story::on(postgres, Some(THIRTY_DAYS), |_| {}).await;
    let created = story.now() - TimeDelta::days(10);
    story.fake.set_account_created("newbie", created);
    let claim_from = (created + TimeDelta::days(30))
        .format("%Y-%m-%d %H:%M UTC")
        .to_string();

    let n = story.label_issue("Fix the flaky test", &[]).await;
    story.comment(n, "newbie", "/owp claim").await;
    story.expect_comment(
        n,
        &format!(
            "@newbie, you can't claim this issue right now: this repository takes claims from \
             GitHub accounts at least 30 days old — yours can claim from {claim_from}."
        ),
    );
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.expect_status(n, &["**Ready**"]);

    // An account of years claims.
    story.comment(n, "veteran", "/owp claim").await;
    story.expect_status(n, &["claimed by @veteran"]);

    // newbie links a worker: claims through it are refused the same way, and GitHub is not
    // asked again, not even after a restart.
    let m = story.label_issue("Document the flag", &[]).await;
    let registration = json!({"name": "new-bot", "skills": [], "capacity_points": 5});
    story.linked_worker(m, "newbie", registration).await;
    story.stop().await;
    story.boot().await;
    story.comment(m, "newbie", "/owp claim").await;
    story.expect_comment(m, &format!("yours can claim from {claim_from}."));
    story.expect_status(m, &["**Ready**"]);
    assert_eq!(story.fake.count_calls("GET", "/users/newbie"), 1);
    assert_eq!(story.fake.count_calls("GET", "/users/veteran"), 1);
    let id = story.fake.user_id("newbie") as i64;
    let kept = story.running().store.accounts().get(id).await.unwrap();
    assert_eq!(
        kept.and_then(|k| k.created_at),
        Some(created.timestamp() * 1000),
        "kept to the second, as GitHub gives it"
    );
}

#[tokio::test]
async fn a_young_account_waits_and_an_old_one_claims_sqlite() {
    account_age_story(false).await;
}

#[tokio::test]
async fn a_young_account_waits_and_an_old_one_claims_postgres() {
    account_age_story(true).await;
}

/// Without `min_account_age_days` nobody's account is read.
#[tokio::test]
async fn without_a_minimum_no_account_is_read() {
    let story = Story::start().await;
    story
        .fake
        .set_account_created("newbie", story.now() - TimeDelta::days(1));
    let n = story.label_issue("Fix the flaky test", &[]).await;
    story.comment(n, "newbie", "/owp claim").await;
    story.expect_status(n, &["claimed by @newbie"]);
    assert_eq!(story.fake.count_calls("GET", "/users/"), 0);
}

/// A linked worker claims over the API (`POST /v1/work`): a repository that takes claims only from
/// accounts of 30 days does not offer its tasks to a worker linked to a younger account — its
/// preview says why and until when — and does offer them to one linked to an older account. The
/// account is read once, when the worker is linked.
async fn linked_workers_claim_over_the_api(postgres: bool) {
    let story = Story::on(postgres, Some(THIRTY_DAYS), |_| {}).await;
    let created = story.now() - TimeDelta::days(10);
    story.fake.set_account_created("newbie", created);
    let n = story.label_issue("Fix the flaky test", &[]).await;
    let registration = |name: &str| json!({"name": name, "skills": [], "capacity_points": 5});
    let young = story
        .linked_worker(n, "newbie", registration("young-bot"))
        .await;
    assert_eq!(story.fake.count_calls("GET", "/users/newbie"), 1);
    let (status, answer) = story.post_json("/v1/work", Some(&young), json!({})).await;
    assert_eq!(status, 204, "{answer}");
    let preview = story.preview(&young).await;
    let reasons = &preview["refused"][0]["reasons"];
    assert_eq!(reasons[0]["rule"], 2, "{preview}");
    assert_eq!(reasons[0]["code"], "account_too_new", "{preview}");
    let claim_from = (created + TimeDelta::days(30))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        reasons[0]["detail"].as_str().unwrap().contains(&claim_from),
        "{preview}"
    );
    let old = story
        .linked_worker(n, "veteran", registration("old-bot"))
        .await;
    let (status, answer) = story.post_json("/v1/work", Some(&old), json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(story.task(n).await.status, TaskStatus::Leased);
    story.expect_status(n, &["old-bot"]);
    assert_eq!(story.fake.count_calls("GET", "/users/newbie"), 1);
}

#[tokio::test]
async fn a_young_linked_worker_is_not_offered_work_over_the_api_sqlite() {
    linked_workers_claim_over_the_api(false).await;
}

#[tokio::test]
async fn a_young_linked_worker_is_not_offered_work_over_the_api_postgres() {
    linked_workers_claim_over_the_api(true).await;
}

/// A 2-day-old account comments `/owp claim` and renames itself before the App reads it (GitHub
/// answers 404 for the old login), and another hides itself (403): neither claims; each is told
/// that its age is not known yet and will be asked again; claiming again at once costs no GitHub
/// request.
async fn an_account_github_does_not_answer_for_cannot_claim(postgres: bool) {
    let story = Story::on(postgres, Some(THIRTY_DAYS), |_| {}).await;
    let young = story.now() - TimeDelta::days(2);
    story.fake.set_account_created("newbie", young);
    story.fake.set_account_created("hidden", young);
    let n = story.label_issue("Fix the flaky test", &[]).await;

    let comment = story.fake.add_comment(REPO, n, "newbie", "/owp claim");
    let payload = story.comment_payload(comment, "created", None);
    story.fake.rename_account("newbie", "someone-else");
    story.send("issue_comment", &payload).await;
    let retry = "GitHub has not told us how old yours is — we'll ask again within 5 minutes; \
                 claim again then.";
    story.expect_comment(n, &format!("@newbie, you can't claim this issue right now: this repository takes claims from GitHub accounts at least 30 days old, and {retry}"));
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);

    story.fake.fail(
        FailWhen::on("GET", "/users/hidden"),
        100,
        Failure::NotAccessibleByIntegration,
    );
    story.comment(n, "hidden", "/owp claim").await;
    story.expect_comment(n, &format!("@hidden, you can't claim this issue right now: this repository takes claims from GitHub accounts at least 30 days old, and {retry}"));
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    story.expect_status(n, &["**Ready**"]);

    // Hammering the claim costs no more GitHub requests.
    for _ in 0..3 {
        story.comment(n, "hidden", "/owp claim").await;
    }
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    assert_eq!(story.fake.count_calls("GET", "/users/hidden"), 1);
    assert_eq!(story.fake.count_calls("GET", "/users/newbie"), 1);
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_renamed_or_hidden_account_cannot_claim_sqlite() {
    an_account_github_does_not_answer_for_cannot_claim(false).await;
}

#[tokio::test]
async fn a_renamed_or_hidden_account_cannot_claim_postgres() {
    an_account_github_does_not_answer_for_cannot_claim(true).await;
}

/// A worker linked while GitHub would not say how old the account is: over the API it is not
/// offered the tasks of a repository that asks for a minimum age (its preview says why), nor is
/// a worker that is no GitHub account (it must link first); in a repository without a minimum
/// the same linked worker claims.
async fn a_linked_worker_of_unknown_age_waits(postgres: bool) {
    let story = Story::on(postgres, Some(THIRTY_DAYS), |_| {}).await;
    story.fake.fail(
        FailWhen::on("GET", "/users/newbie"),
        100,
        Failure::NotAccessibleByIntegration,
    );
    let n = story.label_issue("Fix the flaky test", &[]).await;
    let registration = |name: &str| json!({"name": name, "skills": [], "capacity_points": 5});
    let linked = story
        .linked_worker(n, "newbie", registration("newbie-bot"))
        .await;
    let (status, answer) = story.post_json("/v1/work", Some(&linked), json!({})).await;
    assert_eq!(status, 204, "{answer}");
    let preview = story.preview(&linked).await;
    let reasons = &preview["refused"][0]["reasons"];
    assert_eq!(reasons[0]["rule"], 2, "{preview}");
    assert_eq!(reasons[0]["code"], "account_age_unknown", "{preview}");
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);
    // Asking again is the App's: once the retry interval has passed, reconciliation asks for it.
    let store = &story.running().store;
    let due = store.accounts().to_read(i64::MAX, 20).await.unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].login, "newbie");
    assert_eq!(due[0].account_id, Some(story.fake.user_id("newbie") as i64));
    assert!(store.accounts().to_read(0, 20).await.unwrap().is_empty());

    // A worker that speaks for no GitHub account works no task of an installed repository at
    // all (contract section 14): its preview says how to link.
    let (status, reg) = story
        .post_json("/v1/workers/register", None, registration("plain-bot"))
        .await;
    assert_eq!(status, 201, "{reg}");
    let plain = reg["token"].as_str().unwrap();
    let (status, answer) = story.post_json("/v1/work", Some(plain), json!({})).await;
    assert_eq!(status, 204, "{answer}");
    let preview = story.preview(plain).await;
    let reasons = &preview["refused"][0]["reasons"];
    assert_eq!(reasons[0]["code"], "link_required", "{preview}");
    assert!(
        reasons[0]["detail"]
            .as_str()
            .is_some_and(|m| m.contains("owp worker link")),
        "{preview}"
    );
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_linked_worker_of_unknown_age_waits_sqlite() {
    a_linked_worker_of_unknown_age_waits(false).await;
}

#[tokio::test]
async fn a_linked_worker_of_unknown_age_waits_postgres() {
    a_linked_worker_of_unknown_age_waits(true).await;
}

/// Without a minimum, the same worker (its account's age unknown) is offered work.
#[tokio::test]
async fn without_a_minimum_a_linked_worker_of_unknown_age_claims() {
    let story = Story::start().await;
    story.fake.fail(
        FailWhen::on("GET", "/users/newbie"),
        100,
        Failure::NotAccessibleByIntegration,
    );
    let n = story.label_issue("Fix the flaky test", &[]).await;
    let registration = json!({"name": "newbie-bot", "skills": [], "capacity_points": 5});
    let linked = story.linked_worker(n, "newbie", registration).await;
    let (status, answer) = story.post_json("/v1/work", Some(&linked), json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(story.task(n).await.status, TaskStatus::Leased);
    story.stop_checking_comments();
}

/// An old account claims, gives the task back and renames itself; a 2-day-old account takes its
/// login. The new account does not inherit the old one's age: its claim is refused.
async fn a_reused_login_does_not_inherit_an_age(postgres: bool) {
    let story = Story::on(postgres, Some(THIRTY_DAYS), |_| {}).await;
    let n = story.label_issue("Fix the flaky test", &[]).await;
    story.comment(n, "alice", "/owp claim").await;
    story.expect_status(n, &["claimed by @alice"]);
    story.comment(n, "alice", "/owp release").await;
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);

    story.fake.rename_account("alice", "alice-retired");
    let young = story.now() - TimeDelta::days(2);
    story.fake.new_account("alice", young);
    let m = story.label_issue("Document the flag", &[]).await;
    story.comment(m, "alice", "/owp claim").await;
    let claim_from = (young + TimeDelta::days(30))
        .format("%Y-%m-%d %H:%M UTC")
        .to_string();
    story.expect_comment(m, &format!("yours can claim from {claim_from}."));
    assert_eq!(story.task(m).await.status, TaskStatus::Ready);
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_reused_login_does_not_inherit_an_age_sqlite() {
    a_reused_login_does_not_inherit_an_age(false).await;
}

#[tokio::test]
async fn a_reused_login_does_not_inherit_an_age_postgres() {
    a_reused_login_does_not_inherit_an_age(true).await;
}
