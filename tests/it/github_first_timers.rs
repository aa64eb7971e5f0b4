//! First timers and cool-downs (contract section 12, rule 14): `.github/owp.yml` `claim:
//! {first_timers_label, cooldown_hours}`. An issue with the first-timers label goes only to a
//! person (or worker) with no merged task in the repository — a linked worker counts its person's
//! merges — and, by comment, only when GitHub does not mark the comment as a collaborator's,
//! member's or owner's. A claim that ended without a pull request (given back, released, expired)
//! keeps its person from claiming in the repository for `cooldown_hours`. Over the API, by
//! comment and in the preview alike.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::github_support::story::{OWNER, REPO, Story};
use owp::domain::TaskStatus;

const GOOD_FIRST: &str = "good first issue";

const RULES: &str =
    "max_open_prs: 10\nclaim:\n  first_timers_label: \"good first issue\"\n  cooldown_hours: 2\n";

/// `POST /v1/work` for the worker of `token`: the key of the task taken, or `None` (204).
pub(crate) async fn claim(story: &Story, token: &str) -> Option<(String, String)> {
    let (status, answer) = story.post_json("/v1/work", Some(token), json!({})).await;
    match status {
        204 => None,
        200 => {
            let lease = &answer["lease"];
            Some((
                lease["task"]["key"].as_str().unwrap().to_string(),
                lease["lease_id"].as_str().unwrap().to_string(),
            ))
        }
        other => panic!("claim answered {other}: {answer}"),
    }
}

/// The reasons the worker's preview gives for the task of issue `n` (none when it is eligible).
pub(crate) async fn reasons_for(story: &Story, token: &str, n: u64) -> Vec<Value> {
    let preview = story.preview(token).await;
    let key = format!("{REPO}#{n}");
    preview["refused"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key.as_str())
        .map(|r| r["reasons"].as_array().unwrap().clone())
        .unwrap_or_default()
}

/// The codes of the reasons the worker's preview gives for the task of issue `n`.
pub(crate) async fn codes_for(story: &Story, token: &str, n: u64) -> Vec<Value> {
    reasons_for(story, token, n)
        .await
        .iter()
        .map(|reason| reason["code"].clone())
        .collect()
}

pub(crate) fn key(n: u64) -> String {
    format!("{REPO}#{n}")
}

/// A worker with a merged task in the repository is not offered its first-timers task — the
/// preview names rule 14 — and a worker with none takes it.
async fn first_timer_tasks_over_the_api(postgres: bool) {
    let story = Story::on(postgres, Some(RULES), |_| {}).await;
    let warm_up = story.label_issue("Refactor the parser", &[]).await;
    let easy = story
        .label_issue("Fix a typo in the README", &[GOOD_FIRST])
        .await;
    let veteran = story.register_worker("veteran-bot").await;
    let (taken, _) = claim(&story, &veteran).await.expect("the oldest task");
    assert_eq!(taken, key(warm_up));
    let task_id = story.task(warm_up).await.id;
    let (status, merged) = story
        .admin(
            Method::POST,
            &format!("/v1/admin/tasks/{task_id}/status"),
            Some(json!({"status": "merged"})),
        )
        .await;
    assert_eq!(status, 200, "{merged}");

    assert_eq!(claim(&story, &veteran).await, None);
    let reasons = reasons_for(&story, &veteran, easy).await;
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0]["rule"], 14);
    assert_eq!(reasons[0]["code"], "not_first_timer");
    let detail = reasons[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("`good first issue`") && detail.contains("1 merged task"),
        "{detail}"
    );
    assert_eq!(story.task(easy).await.status, TaskStatus::Ready);

    // The veteran gives another task back: the preview names both parts of rule 14.
    let chore = story.label_issue("Update the changelog", &[]).await;
    let (taken, lease) = claim(&story, &veteran).await.expect("the chore");
    assert_eq!(taken, key(chore));
    let (status, answer) = story
        .post_json(
            &format!("/v1/leases/{lease}/nack"),
            Some(&veteran),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let codes: Vec<Value> = reasons_for(&story, &veteran, easy)
        .await
        .iter()
        .map(|r| r["code"].clone())
        .collect();
    assert_eq!(codes, [json!("not_first_timer"), json!("cooling_down")]);

    let newcomer = story.register_worker("newcomer-bot").await;
    assert!(reasons_for(&story, &newcomer, easy).await.is_empty());
    let (taken, _) = claim(&story, &newcomer)
        .await
        .expect("the first-timers task");
    assert_eq!(taken, key(easy));
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_first_timers_task_goes_to_a_worker_without_merges_here_sqlite() {
    first_timer_tasks_over_the_api(false).await;
}

#[tokio::test]
async fn a_first_timers_task_goes_to_a_worker_without_merges_here_postgres() {
    first_timer_tasks_over_the_api(true).await;
}

/// A worker that gives a task back claims nothing in the repository for `cooldown_hours` (the
/// preview names rule 14 and when it ends), other workers are not held back, and once the hours
/// have passed it claims again; a lease left to expire cools its worker down the same way.
async fn a_cooldown_over_the_api(postgres: bool) {
    // An accept window of a few seconds: long enough for the claim's answer to reach the nack
    // on a busy machine, short enough to wait out below.
    let story = Story::on(postgres, Some(RULES), |c| c.accept_ttl_seconds = 4).await;
    let first = story.label_issue("Refactor the parser", &[]).await;
    let second = story.label_issue("Document the flags", &[]).await;
    let quitter = story.register_worker("quitter-bot").await;
    let (taken, lease) = claim(&story, &quitter).await.expect("a task");
    assert_eq!(taken, key(first));
    let (status, answer) = story
        .post_json(
            &format!("/v1/leases/{lease}/nack"),
            Some(&quitter),
            json!({"reason": "no time after all"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    assert_eq!(claim(&story, &quitter).await, None);
    let reasons = reasons_for(&story, &quitter, second).await;
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0]["rule"], 14);
    assert_eq!(reasons[0]["code"], "cooling_down");
    let detail = reasons[0]["detail"].as_str().unwrap();
    let until = (story.now() + chrono::TimeDelta::hours(2))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        detail.contains("less than 2 hours ago") && detail.contains(&until),
        "{detail}"
    );
    let codes: Vec<Value> = reasons_for(&story, &quitter, first)
        .await
        .iter()
        .map(|r| r["code"].clone())
        .collect();
    assert_eq!(codes, [json!("recently_released"), json!("cooling_down")]);

    let steady = story.register_worker("steady-bot").await;
    let (taken, _) = claim(&story, &steady).await.expect("a task");
    assert_eq!(taken, key(first));

    // Two hours later the quitter claims again; it lets that lease's accept window pass.
    story.age_ended_leases(2).await;
    let (taken, _) = claim(&story, &quitter).await.expect("cooled down");
    assert_eq!(taken, key(second));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while story.task(second).await.status != TaskStatus::Ready
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(story.task(second).await.status, TaskStatus::Ready);
    assert_eq!(claim(&story, &quitter).await, None);
    let reasons = reasons_for(&story, &quitter, second).await;
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0]["code"], "cooling_down");
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_worker_cools_down_after_a_release_or_an_expiry_sqlite() {
    a_cooldown_over_the_api(false).await;
}

#[tokio::test]
async fn a_worker_cools_down_after_a_release_or_an_expiry_postgres() {
    a_cooldown_over_the_api(true).await;
}

/// By comment: the repository's owner and a collaborator are asked to leave a good first issue
/// to a newcomer, who claims it; released, the newcomer's next claim here waits out the
/// cool-down. A settings file with `cooldown_hours: 500` is refused whole, and the rules stay.
async fn first_timers_by_comment(postgres: bool) {
    let settings = "claim:\n  first_timers_label: \"good first issue\"\n  cooldown_hours: 24\n";
    let story = Story::on(postgres, Some(settings), |_| {}).await;
    let n = story
        .label_issue("Fix a typo in the README", &[GOOD_FIRST])
        .await;
    let leave_it = "its `good first issue` label keeps it for people new to this repository, \
                    and GitHub lists you as a collaborator, member or owner of it — please leave \
                    it to a newcomer.";
    story.comment(n, OWNER, "/owp claim").await;
    story.expect_comment(
        n,
        &format!("@{OWNER}, you can't claim this issue right now: {leave_it}"),
    );
    story.fake.set_permission(REPO, "maria", "write");
    story.comment(n, "maria", "/owp claim").await;
    story.expect_comment(
        n,
        &format!("@maria, you can't claim this issue right now: {leave_it}"),
    );
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);

    story.comment(n, "newbie", "/owp claim").await;
    story.expect_status(n, &["claimed by @newbie"]);
    story.comment(n, "newbie", "/owp release").await;
    story.expect_status(n, &["**Ready**"]);
    // The release says when the next claim here may be.
    story.expect_comment(
        n,
        "@newbie, released — thank you. This repository asks for a pause of 24 hours after a \
         claim ends without a pull request: you can claim here again after",
    );
    let m = story.label_issue("Document the flags", &[]).await;
    story.comment(m, "newbie", "/owp claim").await;
    story.expect_comment(
        m,
        "@newbie, you can't claim this issue right now: your last claim here ended without a \
         pull request, and this repository asks for a pause of 24 hours before the next — you \
         can claim here again after",
    );
    assert_eq!(story.task(m).await.status, TaskStatus::Ready);

    story
        .fake
        .set_file(REPO, ".github/owp.yml", "claim:\n  cooldown_hours: 500\n");
    story.running().github.reconcile_now().await.unwrap();
    story.add_label(m, "estimate:2").await;
    story.expect_status(
        m,
        &["claim.cooldown\\_hours must be between 0 and 168 (found 500)"],
    );
    // The last good settings still apply.
    story.fake.set_permission(REPO, "omar", "maintain");
    story.comment(n, "omar", "/owp claim").await;
    story.expect_comment(
        n,
        &format!("@omar, you can't claim this issue right now: {leave_it}"),
    );
}

#[tokio::test]
async fn a_good_first_issue_is_left_to_a_newcomer_sqlite() {
    first_timers_by_comment(false).await;
}

#[tokio::test]
async fn a_good_first_issue_is_left_to_a_newcomer_postgres() {
    first_timers_by_comment(true).await;
}

/// A person's merge by comment counts for the worker they link: its claims of first-timers tasks
/// over the API are refused.
async fn a_linked_worker_counts_its_persons_merges(postgres: bool) {
    let story = Story::on(postgres, Some(RULES), |_| {}).await;
    let n = story.label_issue("Refactor the parser", &[]).await;
    story.comment(n, "alice", "/owp claim").await;
    let pr = story.open_pr("alice", &format!("Fixes #{n}")).await;
    story.merge_pr(pr).await;
    assert_eq!(story.task(n).await.status, TaskStatus::Merged);
    let easy = story
        .label_issue("Fix a typo in the README", &[GOOD_FIRST])
        .await;
    let registration = json!({"name": "alice-bot", "skills": [], "capacity_points": 5});
    let token = story.linked_worker(easy, "alice", registration).await;
    assert_eq!(claim(&story, &token).await, None);
    let reasons = reasons_for(&story, &token, easy).await;
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0]["code"], "not_first_timer");
    story.stop_checking_comments();
}

#[tokio::test]
async fn a_linked_worker_counts_its_persons_merges_sqlite() {
    a_linked_worker_counts_its_persons_merges(false).await;
}

#[tokio::test]
async fn a_linked_worker_counts_its_persons_merges_postgres() {
    a_linked_worker_counts_its_persons_merges(true).await;
}

/// Eight workers without merges claim at once when the only ready task is a first-timers task:
/// one of them takes it.
async fn racing_for_the_only_first_timers_task(postgres: bool) {
    let story = Story::on(postgres, Some(RULES), |_| {}).await;
    let easy = story
        .label_issue("Fix a typo in the README", &[GOOD_FIRST])
        .await;
    let mut tokens = Vec::new();
    for i in 0..8 {
        tokens.push(story.register_worker(&format!("racer-{i}")).await);
    }
    let url = format!("{}/v1/work", story.url());
    let claims = tokens.iter().map(|token| {
        let (http, url) = (story.http.clone(), url.clone());
        let token = token.clone();
        async move {
            let res = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }
    });
    let statuses = futures_util::future::join_all(claims).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 204),
        "{statuses:?}"
    );
    story.settle().await;
    assert_eq!(story.task(easy).await.status, TaskStatus::Leased);
    story.stop_checking_comments();
}

#[tokio::test]
async fn racing_claims_take_the_only_first_timers_task_once_sqlite() {
    racing_for_the_only_first_timers_task(false).await;
}

#[tokio::test]
async fn racing_claims_take_the_only_first_timers_task_once_postgres() {
    racing_for_the_only_first_timers_task(true).await;
}
