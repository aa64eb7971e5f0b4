//! Sign-in with GitHub against hostile people (the contract's sections 9 and 10): a stolen or
//! replayed `state`, someone else's code (PKCE), an open redirect through the callback, a lost
//! write permission, a flood of device-code requests and polls faster than the interval — each
//! refused, on SQLite and, where storage matters, on PostgreSQL.

use reqwest::Method;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::github_support::story::{REPO, Story};
use crate::signin::{
    MONA, browser, device_sign_in, story, story_with, web_sign_in, with_cookie, with_token,
};

#[tokio::test]
async fn a_state_is_used_once_and_a_code_needs_its_own_verifier() {
    state_and_pkce_hold(&story().await).await;
}

#[tokio::test]
async fn pg_a_state_is_used_once_and_a_device_code_once_on_postgresql() {
    if !crate::services::postgres_enabled(
        "pg_a_state_is_used_once_and_a_device_code_once_on_postgresql",
    ) {
        return;
    }
    let story = story_with(true, |_| {}).await;
    state_and_pkce_hold(&story).await;
    // A device code gives one token, however often it is polled afterwards.
    let b = browser();
    let start: Value = b
        .post(format!("{}/v1/auth/device", story.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    story
        .fake
        .approve_device(start["user_code"].as_str().unwrap(), MONA)
        .unwrap();
    let poll = || async {
        b.post(format!("{}/v1/auth/device/token", story.url()))
            .json(&json!({"device_code": start["device_code"]}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(poll().await, 201);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(poll().await, 400, "used once");
}

/// A replayed state, someone else's code and a made-up state open no session.
async fn state_and_pkce_hold(story: &Story) {
    let b = browser();
    let start = |b: reqwest::Client, url: String| async move {
        let r = b.get(format!("{url}/auth/github")).send().await.unwrap();
        r.headers()[LOCATION].to_str().unwrap().to_string()
    };
    story.fake.sign_in_browser(MONA);
    // A replayed callback (the same state and code twice) opens no second session.
    let first = story
        .fake
        .visit_authorize(&start(b.clone(), story.url()).await)
        .await
        .unwrap();
    assert_eq!(b.get(&first).send().await.unwrap().status(), 302);
    let again = b.get(&first).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.headers().get(SET_COOKIE).is_none());

    // Someone else's code with the victim's state: the victim's verifier does not fit it.
    let victim = start(b.clone(), story.url()).await;
    let victim_state = victim
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    story.fake.sign_in_browser("mallory");
    let theirs = story
        .fake
        .visit_authorize(&start(b.clone(), story.url()).await)
        .await
        .unwrap();
    let code = theirs
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let forged = format!(
        "{}/auth/github/callback?code={code}&state={victim_state}",
        story.url()
    );
    let answer = b.get(&forged).send().await.unwrap();
    assert_eq!(
        answer.status(),
        400,
        "a code bound to another flow's PKCE challenge"
    );
    assert!(answer.headers().get(SET_COOKIE).is_none());
    let page = answer.text().await.unwrap();
    assert!(
        !page.contains(code) && !page.contains(&victim_state),
        "nothing echoed"
    );

    // A made-up state.
    let made_up = format!(
        "{}/auth/github/callback?code=abc&state={}",
        story.url(),
        "f".repeat(64)
    );
    assert_eq!(b.get(&made_up).send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn the_callback_never_sends_the_browser_anywhere_but_the_dashboard() {
    let story = story().await;
    let b = browser();
    let start = b
        .get(format!(
            "{}/auth/github?redirect_uri=https://evil.example/&next=https://evil.example/",
            story.url()
        ))
        .send()
        .await
        .unwrap();
    let authorize = start.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(!authorize.contains("evil"), "{authorize}");
    story.fake.sign_in_browser(MONA);
    let callback = story.fake.visit_authorize(&authorize).await.unwrap();
    let hostile =
        format!("{callback}&next=https://evil.example/&redirect_uri=https://evil.example/");
    let back = b.get(&hostile).send().await.unwrap();
    assert_eq!(back.status(), 302);
    assert_eq!(back.headers()[LOCATION], "/");
}

#[tokio::test]
async fn a_lost_write_permission_ends_the_right_once_the_cache_is_older_than_its_limit() {
    // The cache's five minutes, shortened to one second for the test.
    let story = story_with(false, |c| {
        c.github.github_permission_max_age_ms = Some(1000)
    })
    .await;
    let token = device_sign_in(&story, MONA).await;
    let budget = json!({"repo": REPO, "max_open_prs": 3});
    let (status, _) = with_token(
        &story,
        Method::POST,
        "/v1/admin/repos",
        &token,
        Some(budget.clone()),
    )
    .await;
    assert_eq!(status, 200);
    story.fake.set_permission(REPO, MONA, "read");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (status, body) = with_token(
        &story,
        Method::POST,
        "/v1/admin/repos",
        &token,
        Some(budget),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("not_maintainer"))
    );
    let (_, me) = with_token(&story, Method::GET, "/v1/me", &token, None).await;
    assert_eq!(me["repos"], json!([]));
}

#[tokio::test]
async fn a_flood_of_device_code_requests_is_rate_limited() {
    let story = story_with(false, |c| c.limits.rate_signin_per_minute = 5).await;
    let b = browser();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(
            b.post(format!("{}/v1/auth/device", story.url()))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert!(statuses[..5].iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(statuses[7], 429, "{statuses:?}");
    assert!(
        story.fake.user_codes().len() <= 5,
        "GitHub was not asked past the limit"
    );
}

#[tokio::test]
async fn polling_faster_than_the_interval_is_slowed_down_without_asking_github() {
    let story = story().await;
    let b = browser();
    let start: Value = b
        .post(format!("{}/v1/auth/device", story.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let poll = || {
        b.post(format!("{}/v1/auth/device/token", story.url()))
            .json(&json!({"device_code": start["device_code"]}))
            .send()
    };
    assert_eq!(poll().await.unwrap().status(), 428);
    let fast = poll().await.unwrap();
    assert_eq!(fast.status(), 429);
    assert!(fast.headers().contains_key("retry-after"));
    let unknown = b
        .post(format!("{}/v1/auth/device/token", story.url()))
        .json(&json!({"device_code": "0".repeat(40)}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
}

/// Mona's device-flow token (no repository needed to get one) buys her address nothing on the
/// routes that need no credential: registration and `/v1/meta` reach 429 as for anyone there.
#[tokio::test]
async fn a_maintainer_token_lifts_no_per_address_limit() {
    let story = story_with(false, |c| {
        c.limits.rate_registrations_per_minute = 5;
        c.limits.rate_anonymous_per_minute = 20;
    })
    .await;
    let token = device_sign_in(&story, MONA).await;
    let registration = json!({"name": "sock", "skills": [], "capacity_points": 1});
    let mut registered = 0;
    loop {
        let (status, _) = with_token(
            &story,
            Method::POST,
            "/v1/workers/register",
            &token,
            Some(registration.clone()),
        )
        .await;
        if status == 429 {
            break;
        }
        assert_eq!(status, 201);
        registered += 1;
        assert!(
            registered <= 10,
            "a maintainer token lifts the registration limit"
        );
    }
    let mut reads = 0;
    loop {
        let (status, _) = with_token(&story, Method::GET, "/v1/meta", &token, None).await;
        if status == 429 {
            break;
        }
        reads += 1;
        assert!(
            reads <= 40,
            "a maintainer token lifts the limit of /v1/meta"
        );
    }
}

/// A signed-in maintainer's requests are limited per person, from any address; the operator is
/// not held by them.
#[tokio::test]
async fn a_maintainers_requests_are_limited_per_person() {
    let story = story_with(false, |c| c.limits.rate_maintainer_per_minute = 5).await;
    let token = device_sign_in(&story, MONA).await;
    let from = |local: &str| {
        reqwest::Client::builder()
            .local_address(local.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let mut statuses = Vec::new();
    for i in 0..8 {
        let client = from(if i % 2 == 0 { "127.0.0.1" } else { "127.0.0.9" });
        let r = client
            .get(format!("{}/v1/me", story.url()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            let problem: Value = r.json().await.unwrap();
            assert_eq!(problem["code"], "rate_limited");
            statuses.push(429);
        } else {
            statuses.push(r.status().as_u16());
        }
    }
    assert!(statuses[..5].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let (status, _) = story.admin(Method::GET, "/v1/admin/state", None).await;
    assert_eq!(status, 200, "the operator is not held by Mona's limit");
}

/// Mona's open event stream.
async fn open_stream(story: &Story, token: &str) -> reqwest::Response {
    let res = browser()
        .get(format!("{}/v1/events", story.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res
}

/// Whether the stream ends within `within` (a bounded wait: the end is due within 5 s).
async fn ends_within(mut res: reqwest::Response, within: std::time::Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, res.chunk()).await {
            Err(_) => return false,
            Ok(Ok(Some(_))) => continue,
            Ok(_) => return true,
        }
    }
}

/// Mona signs out, and the operator revokes her other token: each open stream of the ended
/// credential ends within seconds, not at its next minute.
#[tokio::test]
async fn logout_and_revoke_end_open_event_streams() {
    let story = story().await;
    let within = std::time::Duration::from_secs(15);
    let token = device_sign_in(&story, MONA).await;
    let stream = open_stream(&story, &token).await;
    let (status, _) = with_token(&story, Method::POST, "/v1/auth/logout", &token, None).await;
    assert_eq!(status, 204);
    assert!(ends_within(stream, within).await, "logout ended the stream");

    let token = device_sign_in(&story, MONA).await;
    let stream = open_stream(&story, &token).await;
    let (status, _) = story
        .admin(
            Method::POST,
            "/v1/admin/signin/revoke",
            Some(json!({"login": MONA})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(ends_within(stream, within).await, "revoke ended the stream");
}

/// Mona loses write on her repository on GitHub: once the permission is read again (the cache
/// is shortened to a second here), her open stream ends.
#[tokio::test]
async fn a_lost_permission_ends_the_open_event_stream() {
    let story = story_with(false, |c| {
        c.github.github_permission_max_age_ms = Some(1000)
    })
    .await;
    let token = device_sign_in(&story, MONA).await;
    let stream = open_stream(&story, &token).await;
    story.fake.set_permission(REPO, MONA, "read");
    assert!(
        ends_within(stream, std::time::Duration::from_secs(15)).await,
        "the lost permission ended the stream"
    );
}

/// `owp admin task ID` for a signed-in maintainer: a task of her repository reads, a task of
/// another, or an id that names none, answers `403 not_maintainer` alike (and is not counted as
/// a wrong credential).
#[tokio::test]
async fn a_maintainer_reads_the_tasks_of_her_repositories_only() {
    let story = story().await;
    let token = device_sign_in(&story, MONA).await;
    let import = |repo: &'static str| {
        let story = &story;
        async move {
            let (status, body) = story
                .admin(
                    Method::POST,
                    "/v1/admin/tasks",
                    Some(json!({"repo": repo, "tasks": [{"title": "t"}]})),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            body["tasks"][0]["task_id"].as_str().unwrap().to_string()
        }
    };
    let mine = import(REPO).await;
    let theirs = import(crate::signin::OTHER).await;
    let (status, task) = with_token(
        &story,
        Method::GET,
        &format!("/v1/tasks/{mine}"),
        &token,
        None,
    )
    .await;
    assert_eq!(
        (status, task["task_id"].as_str()),
        (200, Some(mine.as_str()))
    );
    for id in [theirs.as_str(), "t_no_such_task"] {
        let (status, problem) = with_token(
            &story,
            Method::GET,
            &format!("/v1/tasks/{id}"),
            &token,
            None,
        )
        .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("not_maintainer")),
            "{id}"
        );
    }
}

/// The dashboard's stream (`GET /v1/events` with the session cookie) ends when Mona signs out
/// of the dashboard.
#[tokio::test]
async fn signing_out_of_the_dashboard_ends_its_event_stream() {
    let story = story().await;
    let mona = web_sign_in(&story, MONA).await;
    let stream = browser()
        .get(format!("{}/v1/events", story.url()))
        .header(reqwest::header::COOKIE, &mona.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let (status, _) = with_cookie(&story, Method::POST, "/v1/auth/logout", &mona, true, None).await;
    assert_eq!(status, 204);
    assert!(
        ends_within(stream, std::time::Duration::from_secs(15)).await,
        "signing out ended the dashboard's stream"
    );
}
