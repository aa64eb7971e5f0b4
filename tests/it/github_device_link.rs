//! A worker proves its person with GitHub's device flow through the App's OAuth client (the
//! contract's section 14): over HTTP against the fake GitHub, which runs the device flow as
//! GitHub does. The worker then speaks for the approving account (its id, not a typed login),
//! the person's GitHub token is nowhere the pool keeps or answers anything, a device code of a
//! worker and one of a maintainer never cross, a flood of starts and polls reaches GitHub only
//! as often as the limits allow, and a person phished into entering a stranger's code is told and
//! takes their work back.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::github_support::story::{REPO, Story};
use crate::signin::{MONA, browser, story, story_with, story_with_settings};
use owp::domain::TaskStatus;

const START: &str = "/v1/workers/link/device";
const TOKEN: &str = "/v1/workers/link/device/token";

/// Registers a worker that types `typed` as its GitHub login; its id and token.
pub(crate) async fn register(story: &Story, name: &str, typed: Option<&str>) -> (String, String) {
    let mut body = json!({"name": name, "skills": [], "capacity_points": 5});
    if let Some(login) = typed {
        body["github_login"] = json!(login);
    }
    let (status, reg) = story.post_json("/v1/workers/register", None, body).await;
    assert_eq!(status, 201, "{reg}");
    (
        reg["worker_id"].as_str().unwrap().to_string(),
        reg["token"].as_str().unwrap().to_string(),
    )
}

/// `POST path` with the worker's `token` (when given): the status and the raw answer.
async fn post(story: &Story, path: &str, token: Option<&str>, body: Value) -> (u16, String) {
    let mut req = browser().post(format!("{}{path}", story.url())).json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// A worker's device flow started: its device code and user code.
pub(crate) async fn start(story: &Story, token: &str) -> (String, String) {
    let (status, body) = post(story, START, Some(token), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let start = json_of(&body);
    assert_eq!(
        start["verification_uri"],
        format!("{}/login/device", story.fake.web_url())
    );
    assert!(start["interval"].as_u64().unwrap() >= 1);
    assert!(start["expires_in"].as_u64().unwrap() >= 60);
    (
        start["device_code"].as_str().unwrap().to_string(),
        start["user_code"].as_str().unwrap().to_string(),
    )
}

/// One poll of the worker's flow: the status and the raw answer.
async fn poll(story: &Story, token: &str, device_code: &str) -> (u16, String) {
    post(
        story,
        TOKEN,
        Some(token),
        json!({"device_code": device_code}),
    )
    .await
}

/// Polls until the answer is no longer `authorization_pending` or `slow_down`.
pub(crate) async fn poll_until_done(
    story: &Story,
    token: &str,
    device_code: &str,
) -> (u16, String) {
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (status, body) = poll(story, token, device_code).await;
        if status != 428 && status != 429 {
            return (status, body);
        }
    }
    panic!("the flow never ended");
}

/// Every byte the service keeps on disk (the SQLite database and its journal).
fn kept_bytes(story: &Story) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(story.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_worker_speaks_for_the_account_that_approved_its_device_code_and_keeps_no_token() {
    let story = story().await;
    // The worker types a stranger's login: it proves nothing.
    let (worker_id, token) = register(&story, "alice-bot", Some("mallory")).await;
    let (status, _) = post(&story, START, Some("owpw_wrong"), json!({})).await;
    assert_eq!(status, 401, "a worker token is needed");
    let (device_code, user_code) = start(&story, &token).await;

    // Another worker cannot poll (or finish) this worker's flow.
    let (_, other) = register(&story, "other-bot", None).await;
    let (status, body) = poll(&story, &other, &device_code).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(json_of(&body)["code"], "invalid_device_code");

    let (status, body) = poll(&story, &token, &device_code).await;
    assert_eq!(status, 428, "{body}");
    assert_eq!(json_of(&body)["code"], "authorization_pending");
    let (status, body) = poll(&story, &token, &device_code).await;
    assert_eq!(status, 429, "polled again within the interval: {body}");
    assert_eq!(json_of(&body)["code"], "slow_down");

    story.fake.approve_device(&user_code, "alice").unwrap();
    let (status, body) = poll_until_done(&story, &token, &device_code).await;
    assert_eq!(status, 200, "{body}");
    let linked = json_of(&body);
    let alice_id = story.fake.user_id("alice");
    assert_eq!(
        linked,
        json!({"worker_id": worker_id, "github_login": "alice", "github_account_id": alice_id})
    );
    // The code links once.
    let (status, again) = poll(&story, &token, &device_code).await;
    assert_eq!(status, 400, "{again}");

    let store = &story.running().store;
    let mut tx = store.begin().await.unwrap();
    let account = tx
        .person_links()
        .account_of_worker(&worker_id)
        .await
        .unwrap();
    drop(tx);
    assert_eq!(account, Some(alice_id as i64), "the approving account's id");
    let events: Vec<_> = store
        .events()
        .recent(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "github.worker_linked")
        .collect();
    assert_eq!(events.len(), 1, "one audit event");
    assert_eq!(events[0].actor, "github:alice");
    assert_eq!(events[0].worker_id.as_deref(), Some(worker_id.as_str()));

    // The person's GitHub token was handed out, and is nowhere the pool keeps or answers.
    let tokens = story.fake.user_tokens_of("alice");
    assert_eq!(tokens.len(), 1, "GitHub handed out one token");
    let kept = kept_bytes(&story);
    assert!(
        !contains(&kept, &device_code),
        "the device code is kept as a digest only"
    );
    for t in &tokens {
        for answer in [&body, &again] {
            assert!(!answer.contains(t.as_str()), "no answer carries the token");
        }
        assert!(!contains(&kept, t), "the database does not keep the token");
    }

    // Alice's claims by comment are now her worker's.
    let n = story.label_issue("Proofread the guide", &[]).await;
    story.comment(n, "alice", "/owp claim").await;
    assert_eq!(
        story.task(n).await.worker_id.as_deref(),
        Some(worker_id.as_str())
    );
    story.expect_status(n, &["claimed by worker `alice-bot` (@alice)"]);
    // …and mallory, whose login the worker typed, is not its person.
    let m = story.label_issue("Fix the footer", &[]).await;
    story.comment(m, "mallory", "/owp claim").await;
    assert_eq!(story.task(m).await.worker_id.as_deref(), Some("gh_mallory"));
    story.expect_status(m, &["claimed by @mallory"]);
}

#[tokio::test]
async fn a_workers_device_code_is_no_sign_in_and_a_maintainers_links_no_worker() {
    codes_do_not_cross(&story().await).await;
}

#[tokio::test]
async fn pg_device_codes_do_not_cross_and_link_once_on_postgresql() {
    if !crate::services::postgres_enabled(
        "pg_device_codes_do_not_cross_and_link_once_on_postgresql",
    ) {
        return;
    }
    codes_do_not_cross(&story_with(true, |_| {}).await).await;
}

/// A worker's and a maintainer's device codes, both approved on GitHub, each refused at the
/// other's route and taken at its own, once.
async fn codes_do_not_cross(story: &Story) {
    let (worker_id, token) = register(story, "bob-bot", None).await;
    let (worker_code, worker_user_code) = start(story, &token).await;
    story.fake.approve_device(&worker_user_code, MONA).unwrap();
    let signin: Value = browser()
        .post(format!("{}/v1/auth/device", story.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let maintainer_code = signin["device_code"].as_str().unwrap().to_string();
    story
        .fake
        .approve_device(signin["user_code"].as_str().unwrap(), MONA)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Both codes are approved on GitHub; neither works at the other's route.
    let (status, body) = post(
        story,
        "/v1/auth/device/token",
        None,
        json!({"device_code": worker_code}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(json_of(&body)["code"], "invalid_device_code");
    assert!(!body.contains("owpm_"), "no maintainer token: {body}");
    let (status, body) = poll(story, &token, &maintainer_code).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(json_of(&body)["code"], "invalid_device_code");
    let mut tx = story.running().store.begin().await.unwrap();
    assert_eq!(
        tx.person_links()
            .account_of_worker(&worker_id)
            .await
            .unwrap(),
        None
    );
    drop(tx);

    // Each still works where it belongs.
    let (status, body) = poll(story, &token, &worker_code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_of(&body)["github_login"], MONA);
    let (status, body) = post(
        story,
        "/v1/auth/device/token",
        None,
        json!({"device_code": maintainer_code}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(
        json_of(&body)["token"]
            .as_str()
            .unwrap()
            .starts_with("owpm_")
    );
    // A maintainer token is no worker token.
    let maintainer = json_of(&body)["token"].as_str().unwrap().to_string();
    let (status, _) = post(story, START, Some(&maintainer), json!({})).await;
    assert_eq!(status, 401);
    let (status, _) = poll(story, &token, &worker_code).await;
    assert_eq!(status, 400, "linked once");
}

#[tokio::test]
async fn a_worker_linked_to_one_account_is_not_moved_by_another_ones_approval() {
    let story = story().await;
    let (worker_id, token) = register(&story, "carol-bot", None).await;
    let (code, user_code) = start(&story, &token).await;
    story.fake.approve_device(&user_code, "carol").unwrap();
    let (status, body) = poll_until_done(&story, &token, &code).await;
    assert_eq!(status, 200, "{body}");

    let (code, user_code) = start(&story, &token).await;
    story.fake.approve_device(&user_code, "dave").unwrap();
    let (status, body) = poll_until_done(&story, &token, &code).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(json_of(&body)["code"], "linked_elsewhere");
    let mut tx = story.running().store.begin().await.unwrap();
    assert_eq!(
        tx.person_links()
            .account_of_worker(&worker_id)
            .await
            .unwrap(),
        Some(story.fake.user_id("carol") as i64)
    );
    drop(tx);

    // A declined approval ends the flow.
    let (code, user_code) = start(&story, &token).await;
    story.fake.deny_device(&user_code).unwrap();
    let (status, body) = poll_until_done(&story, &token, &code).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(json_of(&body)["code"], "access_denied");
    let (status, _) = poll(&story, &token, &code).await;
    assert_eq!(status, 400, "ended");
}

#[tokio::test]
async fn a_hostile_worker_reaches_githubs_device_endpoint_only_as_often_as_the_limits_allow() {
    let story = story().await;
    let (_, token) = register(&story, "flood-bot", None).await;
    let before = story.fake.user_codes().len();
    let mut limited = 0;
    for _ in 0..40 {
        let (status, body) = post(&story, START, Some(&token), json!({})).await;
        match status {
            200 => {}
            429 => {
                limited += 1;
                assert_eq!(json_of(&body)["code"], "rate_limited", "{body}");
            }
            other => panic!("{other}: {body}"),
        }
    }
    let asked = story.fake.user_codes().len() - before;
    assert!(asked <= 4, "GitHub was asked for {asked} device codes");
    assert_eq!(limited, 40 - asked);
    // Polls of one flow reach GitHub at most once per interval (5 s here), however fast they
    // come.
    story.fake.set_device_interval(5);
    tokio::time::sleep(Duration::from_secs(15)).await;
    let (code, _) = start(&story, &token).await;
    let calls = story.fake.calls().len();
    let polling = std::time::Instant::now();
    let mut answers = Vec::new();
    for _ in 0..20 {
        answers.push(poll(&story, &token, &code).await.0);
    }
    let allowed = polling.elapsed().as_secs() / 5 + 1;
    let token_calls = story.fake.calls()[calls..]
        .iter()
        .filter(|c| c.path.contains("/login/oauth/access_token"))
        .count();
    assert!(
        token_calls as u64 <= allowed,
        "GitHub was polled {token_calls} times: {answers:?}"
    );
    assert!(answers.iter().filter(|s| **s == 428).count() <= allowed as usize);
}

#[tokio::test]
async fn without_an_oauth_client_the_routes_are_not_served() {
    // The App runs, but has no OAuth client: linking is by comment only.
    let story = Story::start().await;
    let token = story.register_worker("eve-bot").await;
    let (status, body) = post(&story, START, Some(&token), json!({})).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = story
        .post_json("/v1/workers/link-code", Some(&token), json!({}))
        .await;
    assert_eq!(status, 201, "the link code stays");
    let (status, doc) = story.admin(Method::GET, "/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    assert!(doc["paths"][START].is_object(), "documented all the same");
}

/// `worker_id`'s trust set by the admin.
async fn set_trust(story: &Story, worker_id: &str, trust: i64) {
    let (status, body) = story
        .admin(
            Method::POST,
            &format!("/v1/admin/workers/{worker_id}"),
            Some(json!({"trust_level": trust})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Row 5, the phished device link, written as the attack: alice holds a task and has a plan
/// waiting through her laptop's worker; mallory's worker starts a device link and alice enters
/// its code at GitHub's device page. Mallory's worker then speaks for alice: her claim and her
/// plan move to it, and alice is told on both issues which worker speaks for her now, which
/// stopped, and how to take it back. Mallory cannot end alice's work with what is hers: her pull
/// request naming the issue ends no claim (contract section 9), and her worker's report of it is
/// refused. alice links her laptop again with her own code: the claim and the plan move back,
/// she is told again, and mallory's worker speaks for nobody.
#[tokio::test]
async fn a_phished_device_link_is_told_to_the_victim_and_taken_back() {
    let rules = "max_open_prs: 10\nclaim:\n  approval: plan\n  approval_skip_trust: 1\n";
    let story = story_with_settings(false, Some(rules), |_| {}).await;
    let held = story.label_issue("Refactor the parser", &[]).await;
    let planned = story.label_issue("Document the flags", &[]).await;
    let links = story
        .fake
        .create_issue(REPO, "maintainer", "Links", "Where people link.", &[]);
    let registration = json!({"name": "alice-laptop", "skills": [], "capacity_points": 10,
        "max_concurrent_tasks": 5});
    let laptop = story.linked_worker(links, "alice", registration).await;
    let (_, me) = story.get_json("/v1/workers/me", &laptop).await;
    let laptop_id = me["worker"]["worker_id"].as_str().unwrap().to_string();
    set_trust(&story, &laptop_id, 1).await;
    let (status, lease) = story.post_json("/v1/work", Some(&laptop), json!({})).await;
    assert_eq!(status, 200, "{lease}");
    let held_id = story.task(held).await.id;
    set_trust(&story, &laptop_id, 0).await;
    let planned_id = story.task(planned).await.id;
    let (status, body) = story
        .post_json(
            &format!("/v1/tasks/{planned_id}/proposals"),
            Some(&laptop),
            json!({"plan": "Describe each flag with an example."}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // mallory's worker starts a device link; alice enters its code.
    let (mallory_id, mallory) = register(&story, "mallory-bot", None).await;
    let (code, user_code) = start(&story, &mallory).await;
    story.fake.approve_device(&user_code, "alice").unwrap();
    let (status, body) = poll_until_done(&story, &mallory, &code).await;
    assert_eq!(status, 200, "{body}");
    let linked = json_of(&body);
    assert_eq!(linked["replaced_worker"], laptop_id.as_str(), "{linked}");
    assert_eq!(linked["moved_tasks"], json!([held_id]), "{linked}");
    story.settle().await;
    let told = |moved: &str| {
        format!(
            "@alice, worker `{mallory_id}` speaks for you now (you linked it just now); worker \
             `{laptop_id}` no longer does. Your {moved} this issue moved with you"
        )
    };
    let take_back = format!("If you did not link `{mallory_id}`");
    for (n, moved) in [(held, "claim of"), (planned, "plan for")] {
        let comment = story.expect_comment(n, &told(moved));
        assert!(comment.body.contains(&take_back), "{}", comment.body);
        assert!(
            comment.body.contains("`owp worker link`"),
            "{}",
            comment.body
        );
    }
    assert_eq!(
        story.task(held).await.worker_id.as_deref(),
        Some(mallory_id.as_str())
    );
    let plan_holder: String =
        sqlx::query_scalar("SELECT worker_id FROM proposals WHERE state = 'open'")
            .fetch_one(story.running().store.read_pool())
            .await
            .unwrap();
    assert_eq!(
        plan_holder, mallory_id,
        "the plan answers to the worker linked"
    );

    // What is mallory's own ends nothing of alice's.
    let pr = story.open_pr("mallory", &format!("Fixes #{held}")).await;
    story.settle().await;
    assert_eq!(story.task(held).await.status, TaskStatus::Leased);
    let (status, body) = story
        .post_json(
            &format!("/v1/tasks/{held_id}/status"),
            Some(&mallory),
            json!({"status": "pr_opened",
                "artifact": {"pr_url": format!("https://github.com/{REPO}/pull/{pr}")}}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "pr_not_yours", "{body}");
    assert_eq!(story.task(held).await.status, TaskStatus::Leased);

    // alice takes it back with her own code.
    let (code, user_code) = start(&story, &laptop).await;
    story.fake.approve_device(&user_code, "alice").unwrap();
    let (status, body) = poll_until_done(&story, &laptop, &code).await;
    assert_eq!(status, 200, "{body}");
    let linked = json_of(&body);
    assert_eq!(linked["replaced_worker"], mallory_id.as_str(), "{linked}");
    assert_eq!(linked["moved_tasks"], json!([held_id]), "{linked}");
    story.settle().await;
    story.expect_comment(
        held,
        &format!("worker `{laptop_id}` speaks for you now (you linked it just now); worker `{mallory_id}` no longer does."),
    );
    assert_eq!(
        story.task(held).await.worker_id.as_deref(),
        Some(laptop_id.as_str())
    );
    let mut tx = story.running().store.begin().await.unwrap();
    assert_eq!(
        tx.person_links()
            .account_of_worker(&mallory_id)
            .await
            .unwrap(),
        None
    );
    drop(tx);
    let (status, body) = story.post_json("/v1/work", Some(&mallory), json!({})).await;
    assert!(
        status == 409 || status == 204,
        "mallory's worker speaks for nobody: {status} {body}"
    );
    story.stop_checking_comments();
}
