//! What a signed-in person costs GitHub (the contract's section 13), counted on the fake GitHub's
//! record of requests, with 1,000 repositories installed: a stranger who maintains nothing signs
//! in and hammers `GET /v1/me` and `GET /v1/admin/state`; a maintainer of 3 of the 1,000 uses the
//! dashboard for an hour (its polling, with the permission's five minutes shortened to 300 ms and
//! the polling interval by the same factor); concurrent asks for one permission; GitHub down
//! while a permission is confirmed.
//!
//! Figures (also in docs/github-app.md): one device sign-in is 5 requests for a person who sees
//! no installation of the App (the device code, one pending poll, the token, `GET /user`,
//! `GET /user/installations`) and one more per 100 repositories they see; then nothing, however
//! often they ask. A maintainer's listing re-confirms each of their own repositories at most once
//! per five minutes: 3 × 12 = 36 permission requests an hour for 3 repositories.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::github_support::story::{INSTALLATION, REPO, Story};
use crate::github_support::{FailWhen, Failure};
use crate::signin::{MONA, device_sign_in, story_with, with_token};

/// Repositories installed, [`REPO`] and `octo-org/other` included.
const INSTALLED: usize = 1000;
/// The permission's five minutes, shortened 1,000 times: an hour is 3.6 s.
const SHORT_MAX_AGE_MS: u64 = 300;

/// How long the [`INSTALLED`] repositories may take to join: each joins with six reads of the
/// fake GitHub, about 19 s of one core in a debug build, and the test starts beside the suite's
/// other heaviest ones on a 2-core machine (seen: 185 s there). The test's own limit in
/// `.config/nextest.toml` leaves room for it.
const JOINED_WITHIN: Duration = Duration::from_secs(420);

/// A story with [`INSTALLED`] repositories in the App's installation.
async fn crowded(max_age_ms: Option<u64>) -> Story {
    let story = story_with(false, |c| {
        c.github.github_permission_max_age_ms = max_age_ms
    })
    .await;
    let names: Vec<String> = (0..INSTALLED - 2)
        .map(|i| format!("octo-org/repo-{i:04}"))
        .collect();
    for name in &names {
        story.fake.add_repo(INSTALLATION, name);
    }
    let added: Vec<&str> = names.iter().map(String::as_str).collect();
    let payload = story
        .fake
        .installation_repositories_payload(INSTALLATION, &added, &[]);
    let status = story
        .fake
        .send_webhook("installation_repositories", &payload)
        .await;
    assert!((200..300).contains(&status), "answered {status}");
    story.settle_within(JOINED_WITHIN).await;
    story
}

/// GitHub requests since `before`, and how many of them asked a permission.
fn since(story: &Story, before: usize) -> (usize, usize) {
    let calls = story.fake.calls();
    // The App's own schedule (the look for failed webhook deliveries) runs whoever signs in:
    // not a cost of the person.
    let new: Vec<_> = calls[before..]
        .iter()
        .filter(|c| !c.path.starts_with("/app/hook/deliveries"))
        .collect();
    let permissions = new
        .iter()
        .filter(|c| c.path.ends_with("/permission"))
        .count();
    (new.len(), permissions)
}

/// `rounds` rounds of `GET /v1/me` and `GET /v1/admin/state`, 8 of each at once.
async fn hammer(story: &Story, token: &str, rounds: usize) {
    for _ in 0..rounds {
        let mut asks = Vec::new();
        for i in 0..16 {
            let path = if i % 2 == 0 {
                "/v1/me"
            } else {
                "/v1/admin/state"
            };
            asks.push(with_token(story, Method::GET, path, token, None));
        }
        for (status, body) in futures_util::future::join_all(asks).await {
            assert_eq!(status, 200, "{body}");
        }
    }
}

/// A stranger who maintains nothing, then a maintainer of 3 of the 1,000 repositories. One
/// story holds both, since its thousand repositories joining is most of what either costs the
/// machine; what each costs GitHub is counted from its own start.
#[tokio::test]
async fn what_a_stranger_and_a_maintainer_of_3_of_1000_repositories_cost_github() {
    let story = crowded(Some(SHORT_MAX_AGE_MS)).await;
    a_stranger_who_maintains_nothing_costs_github_five_requests_however_hard_they_ask(&story).await;
    an_hour_of_the_dashboard_costs_a_maintainer_of_3_of_1000_repositories_36_questions(&story)
        .await;
}

async fn a_stranger_who_maintains_nothing_costs_github_five_requests_however_hard_they_ask(
    story: &Story,
) {
    let before = story.fake.calls().len();
    let token = device_sign_in(story, "eve").await;
    let (sign_in, _) = since(story, before);
    println!("a device sign-in of a stranger: {sign_in} GitHub requests");
    assert_eq!(
        sign_in, 5,
        "device code, a pending poll, the token, GET /user, GET /user/installations"
    );

    // An hour of the dashboard's reads and more, from one account, 8 at a time: rounds 30 ms
    // apart (as the dashboard's own, below) across four of the permission's windows, rather than
    // as fast as a busy machine answers them.
    let before = story.fake.calls().len();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(4 * SHORT_MAX_AGE_MS) {
        hammer(story, &token, 1).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // Acting on a repository of the pool she does not maintain asks GitHub nothing either.
    let (status, body) = with_token(
        story,
        Method::POST,
        "/v1/admin/repos",
        &token,
        Some(json!({"repo": REPO, "max_open_prs": 9})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("not_maintainer"))
    );
    let (_, me) = with_token(story, Method::GET, "/v1/me", &token, None).await;
    assert_eq!(me["repos"], json!([]));
    let (after, _) = since(story, before);
    println!("a stranger's reads and writes after signing in: {after} GitHub requests");
    assert_eq!(after, 0, "{:?}", &story.fake.calls()[before..]);
}

async fn an_hour_of_the_dashboard_costs_a_maintainer_of_3_of_1000_repositories_36_questions(
    story: &Story,
) {
    story
        .fake
        .set_permission("octo-org/repo-0001", MONA, "maintain");
    story
        .fake
        .set_permission("octo-org/repo-0002", MONA, "admin");
    let before = story.fake.calls().len();
    let token = device_sign_in(story, MONA).await;
    let (sign_in, asked) = since(story, before);
    println!("a device sign-in of a maintainer of 3: {sign_in} GitHub requests");
    assert_eq!(
        (sign_in, asked),
        (6, 0),
        "the stranger's five and one page of her installation's repositories"
    );
    let (_, me) = with_token(story, Method::GET, "/v1/me", &token, None).await;
    let mine: Vec<&str> = me["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repo"].as_str().unwrap())
        .collect();
    assert_eq!(
        mine,
        ["octo-org/hello", "octo-org/repo-0001", "octo-org/repo-0002"]
    );

    // The dashboard loads the state every 30 s (and /v1/me with it), and its event stream
    // re-checks what she may see. At 1/1000 of the time, an hour is 12 windows of 300 ms: the
    // reads go on (every 30 ms, or as fast as they are answered) until 12 windows have passed.
    let before = story.fake.calls().len();
    let started = Instant::now();
    let hour = Duration::from_millis(12 * SHORT_MAX_AGE_MS);
    let mut loads = 0;
    while started.elapsed() < hour {
        for path in ["/v1/admin/state", "/v1/me"] {
            let (status, body) = with_token(story, Method::GET, path, &token, None).await;
            assert_eq!(status, 200, "{body}");
        }
        loads += 1;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let elapsed = started.elapsed();
    let (requests, questions) = since(story, before);
    let windows = elapsed.as_millis() as usize / SHORT_MAX_AGE_MS as usize + 1;
    println!(
        "an hour of the dashboard (scaled: {elapsed:?}, {loads} loads, {windows} windows of the \
         permission's age begun): {questions} permission questions, {requests} GitHub requests \
         in all"
    );
    assert!(
        questions <= 3 * windows,
        "at most her 3 repositories per window: {questions} in {windows} windows"
    );
    assert!(
        questions >= 3,
        "her repositories are confirmed again: {questions}"
    );
    assert!(
        requests - questions <= 1,
        "besides the questions, at most an installation token: {requests}"
    );
}

#[tokio::test]
async fn concurrent_requests_for_one_permission_ask_github_once() {
    let story = story_with(false, |c| {
        c.github.github_permission_max_age_ms = Some(1000)
    })
    .await;
    let token = device_sign_in(&story, MONA).await;
    // The sign-in's own answer ages past the limit: the next asks need GitHub.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = story.fake.count_calls("GET", "/permission");
    let mut asks = Vec::new();
    for i in 0..24 {
        let (method, path, body) = match i % 3 {
            0 => (Method::GET, "/v1/me", None),
            1 => (Method::GET, "/v1/admin/state", None),
            _ => (
                Method::POST,
                "/v1/admin/repos",
                Some(json!({"repo": REPO, "max_open_prs": 4})),
            ),
        };
        asks.push(with_token(&story, method, path, &token, body));
    }
    for (status, body) in futures_util::future::join_all(asks).await {
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        story.fake.count_calls("GET", "/permission") - before,
        1,
        "24 concurrent requests, one question"
    );
}

#[tokio::test]
async fn a_github_outage_while_confirming_refuses_then_the_retry_works() {
    let story = story_with(false, |c| {
        c.github.github_permission_max_age_ms = Some(1000)
    })
    .await;
    let token = device_sign_in(&story, MONA).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    story.fake.fail(
        FailWhen::on("GET", "/permission"),
        100,
        Failure::ServerError,
    );
    let was = story.policy().await.max_open_prs;
    let budget = json!({"repo": REPO, "max_open_prs": 11});
    let res = crate::signin::browser()
        .post(format!("{}/v1/admin/repos", story.url()))
        .bearer_auth(&token)
        .json(&budget)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503, "no answer from GitHub grants nothing");
    assert!(
        res.headers().get("retry-after").is_some(),
        "it says when to retry"
    );
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "github_unavailable");
    let (status, _) = with_token(&story, Method::GET, "/v1/me", &token, None).await;
    assert_eq!(
        status, 503,
        "nor does a listing show what GitHub did not confirm"
    );
    assert_eq!(story.policy().await.max_open_prs, was, "nothing changed");

    story.github_recovers();
    let (status, body) = with_token(
        &story,
        Method::POST,
        "/v1/admin/repos",
        &token,
        Some(budget),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(story.policy().await.max_open_prs, 11);
}
