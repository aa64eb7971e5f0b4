//! What a volunteer's actions cost GitHub, written as the attack (contract section 14: open to
//! strangers, safe from them): a linked volunteer holding one GitHub task sends 200 `pr_opened`
//! reports naming pull requests that do not exist; the App asks GitHub a bounded number of
//! times, answers the rest `429` with `Retry-After` without asking, answers a repeated report
//! from what GitHub said before, and a pull request GitHub's webhook already told of costs no
//! read at all. Two replicas on one PostgreSQL database share the bound.

use std::time::Duration;

use serde_json::{Value, json};

use crate::github_support::story::{REPO, Story};
use owp::domain::TaskStatus;
use owp::github::volunteer_reads::PER_TASK_PER_MINUTE;

/// How many hostile reports the attack sends.
const REPORTS: u64 = 200;

/// Waits for a fresh minute when the current one is nearly over: a task's bound counts per
/// minute.
async fn early_in_a_minute() {
    let into = chrono::Utc::now().timestamp_millis().rem_euclid(60_000);
    if into > 40_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - into) as u64 + 100)).await;
    }
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

/// A `pr_opened` report naming pull request `pr` of the story's repository.
fn report(pr: u64) -> Value {
    json!({"status": "pr_opened",
           "artifact": {"pr_url": format!("https://github.com/{REPO}/pull/{pr}")}})
}

/// One report sent to the service at `base` without waiting for anything else: the status, the
/// `Retry-After` header and the problem's code.
async fn send_report(
    story: &Story,
    base: &str,
    task_id: &str,
    token: &str,
    pr: u64,
) -> (u16, Option<String>, Value) {
    let res = story
        .http
        .post(format!("{base}/v1/tasks/{task_id}/status"))
        .bearer_auth(token)
        .json(&report(pr))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if status >= 400 {
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{body}"
        );
    }
    (status, retry, body["code"].clone())
}

/// How the answers to the hostile reports were counted.
#[derive(Debug, Default)]
struct Answers {
    not_found: usize,
    limited: usize,
}

/// Sends [`REPORTS`] reports naming pull requests GitHub does not know, alternating between
/// `bases` (one replica or several), and counts the answers: each is `422 pr_not_found` (GitHub
/// was asked) or `429 rate_limited` with `Retry-After` (nothing was asked).
async fn hostile_reports(story: &Story, bases: &[String], task_id: &str, token: &str) -> Answers {
    let mut answers = Answers::default();
    for i in 0..REPORTS {
        let base = &bases[i as usize % bases.len()];
        let (status, retry, code) = send_report(story, base, task_id, token, 50_000 + i).await;
        match (status, code.as_str()) {
            (422, Some("pr_not_found")) => answers.not_found += 1,
            (429, Some("rate_limited")) => {
                let secs: u64 = retry.expect("a 429 says when to retry").parse().unwrap();
                assert!((1..=60).contains(&secs), "Retry-After {secs}");
                answers.limited += 1;
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    answers
}

async fn hostile_reports_story(postgres: bool) {
    let story = Story::on(postgres, None, |_| {}).await;
    let (n, task_id, token) = owl_holds_a_new_issue(&story).await;
    let base = story.url();
    early_in_a_minute().await;
    let reads = || {
        story
            .fake
            .count_calls("GET", &format!("/repos/{REPO}/pulls/"))
    };
    let permissions = || story.fake.count_calls("GET", "/permission");

    // 200 reports of pull requests that do not exist: the task's bound is what they cost.
    let before = reads();
    let answers = hostile_reports(&story, std::slice::from_ref(&base), &task_id, &token).await;
    let spent = reads() - before;
    eprintln!(
        "{REPORTS} hostile pr_opened reports cost {spent} GitHub reads ({answers:?}) on {}",
        if postgres { "postgres" } else { "sqlite" }
    );
    assert_eq!(answers.not_found, spent, "a read for each pr_not_found");
    assert!(
        (1..=PER_TASK_PER_MINUTE as usize).contains(&spent),
        "{spent} reads for {REPORTS} hostile reports"
    );
    assert_eq!(answers.not_found + answers.limited, REPORTS as usize);
    assert_eq!(story.task(n).await.status, TaskStatus::Leased);

    // A repeated report of a pull request GitHub said it does not know: no second read, even
    // with the bound spent.
    let before = reads();
    let (status, _, code) = send_report(&story, &base, &task_id, &token, 50_000).await;
    assert_eq!((status, code.as_str()), (422, Some("pr_not_found")));
    assert_eq!(reads(), before, "a remembered 404 is not asked again");

    // alice's own pull request (not naming the issue, so the webhook moves nothing), which
    // GitHub's webhook told the App of: her report moves the task with no read, while the
    // bound is spent.
    let alices = story.open_pr("alice", "A fix of the flaky test.").await;
    assert_eq!(story.task(n).await.status, TaskStatus::Leased);
    let before = reads();
    let (status, _, _) = send_report(&story, &base, &task_id, &token, alices).await;
    assert_eq!(status, 200);
    assert_eq!(reads(), before, "what the webhook said is not asked again");
    story.settle().await;
    assert_eq!(story.task(n).await.status, TaskStatus::PrOpened);

    // On owl's second task, mallory's pull request, which GitHub has not told the App of: read
    // once, refused; the same report again is answered from what GitHub said, without a read.
    let m = story.label_issue("Fix the footer", &[]).await;
    let (status, lease) = story.post_json("/v1/work", Some(&token), json!({})).await;
    assert_eq!(status, 200, "{lease}");
    let second_task = story.task(m).await.id;
    let mallorys = story
        .fake
        .open_pr(REPO, "mallory", "A fix", &format!("Fixes #{m}"));
    let before = (reads(), permissions());
    for _ in 0..3 {
        let (status, _, code) = send_report(&story, &base, &second_task, &token, mallorys).await;
        assert_eq!((status, code.as_str()), (409, Some("pr_not_yours")));
    }
    assert_eq!(
        (reads() - before.0, permissions() - before.1),
        (1, 1),
        "one read of the pull request and one of its author's permission for three reports"
    );
    story.stop_checking_comments();
}

#[tokio::test]
async fn hostile_pr_opened_reports_cost_a_bounded_number_of_github_reads_sqlite() {
    hostile_reports_story(false).await;
}

#[tokio::test]
async fn hostile_pr_opened_reports_cost_a_bounded_number_of_github_reads_postgres() {
    hostile_reports_story(true).await;
}

/// Two replicas on one PostgreSQL database: the hostile reports, split between them, cost what
/// they cost on one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_the_bound_on_github_reads() {
    if !crate::services::postgres_enabled("two_replicas_share_the_bound_on_github_reads") {
        return;
    }
    let story = Story::on(true, None, |_| {}).await;
    let second = owp::server::start(story.config.clone(), false)
        .await
        .unwrap();
    second
        .github
        .wait_idle(Duration::from_secs(30))
        .await
        .unwrap();
    let (n, task_id, token) = owl_holds_a_new_issue(&story).await;
    early_in_a_minute().await;
    let reads = || {
        story
            .fake
            .count_calls("GET", &format!("/repos/{REPO}/pulls/"))
    };
    let before = reads();
    let bases = [story.url(), format!("http://{}", second.addr)];
    let answers = hostile_reports(&story, &bases, &task_id, &token).await;
    let spent = reads() - before;
    assert_eq!(answers.not_found, spent, "a read for each pr_not_found");
    assert!(
        spent <= PER_TASK_PER_MINUTE as usize,
        "{spent} reads for {REPORTS} hostile reports over two replicas"
    );
    assert!(answers.limited >= REPORTS as usize - PER_TASK_PER_MINUTE as usize);
    assert_eq!(story.task(n).await.status, TaskStatus::Leased);
    second.stop().await;
    story.stop_checking_comments();
}
