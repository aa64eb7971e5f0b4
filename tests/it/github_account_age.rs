//! A claimant's account age (contract section 11): `.github/owp.yml` `claim:
//! {min_account_age_days: N}` keeps GitHub accounts younger than N days from claiming, by their
//! own comment or as their linked worker; the reply says when they can. GitHub is asked once per
//! person (`GET /users/{login}`), and the answer is kept in the database.

use chrono::TimeDelta;
use serde_json::json;

use crate::github_support::story::Story;
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
    let kept = story
        .running()
        .store
        .gh_account_created("NewBie")
        .await
        .unwrap();
    assert_eq!(
        kept,
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
    let preview = story
        .http
        .get(format!("{}/v1/work/preview", story.url()))
        .bearer_auth(&young)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
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
