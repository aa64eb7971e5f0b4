//! Sign-in with GitHub against hostile people (the contract's sections 9 and 10): a stolen or
//! replayed `state`, someone else's code (PKCE), an open redirect through the callback, a lost
//! write permission, a flood of device-code requests and polls faster than the interval — each
//! refused, on SQLite and, where storage matters, on PostgreSQL.

use reqwest::Method;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::github_support::story::{REPO, Story};
use crate::signin::{
    MONA, browser, device_sign_in, start_web, start_web_at, story, story_with, web_sign_in,
    with_cookie, with_token,
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

/// Whether an answer opens a session (sets the session cookie).
pub(crate) fn opens_a_session(res: &reqwest::Response) -> bool {
    res.headers().get_all(SET_COOKIE).iter().any(|v| {
        v.to_str().unwrap().starts_with("owp_session=")
            && !v.to_str().unwrap().contains("Max-Age=0")
    })
}

/// A replayed state, someone else's code and a made-up state open no session.
async fn state_and_pkce_hold(story: &Story) {
    let b = browser();
    story.fake.sign_in_browser(MONA);
    // A replayed callback (the same state and code twice) opens no second session.
    let (authorize, cookie) = start_web(&b, &story.url()).await;
    let first = story.fake.visit_authorize(&authorize).await.unwrap();
    let opened = b.get(&first).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(opened.status(), 302);
    assert!(opens_a_session(&opened));
    let again = b.get(&first).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(!opens_a_session(&again));

    // Someone else's code with the victim's state (in the victim's browser): the victim's
    // verifier does not fit it.
    let (victim, victim_cookie) = start_web(&b, &story.url()).await;
    let victim_state = victim
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    story.fake.sign_in_browser("mallory");
    let (theirs, _) = start_web(&b, &story.url()).await;
    let theirs = story.fake.visit_authorize(&theirs).await.unwrap();
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
    let answer = b
        .get(&forged)
        .header(COOKIE, &victim_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        400,
        "a code bound to another flow's PKCE challenge"
    );
    assert!(!opens_a_session(&answer));
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
    assert_eq!(
        b.get(&made_up)
            .header(COOKIE, &victim_cookie)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
}

#[tokio::test]
async fn the_callback_never_sends_the_browser_anywhere_but_the_dashboard() {
    let story = story().await;
    let b = browser();
    let (authorize, cookie) = start_web_at(
        &b,
        &format!(
            "{}/auth/github?redirect_uri=https://evil.example/&next=https://evil.example/",
            story.url()
        ),
    )
    .await;
    assert!(!authorize.contains("evil"), "{authorize}");
    story.fake.sign_in_browser(MONA);
    let callback = story.fake.visit_authorize(&authorize).await.unwrap();
    let hostile =
        format!("{callback}&next=https://evil.example/&redirect_uri=https://evil.example/");
    let back = b
        .get(&hostile)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
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

/// Login CSRF: Mallory starts a sign-in, approves it on GitHub as herself and sends the callback
/// address to Mona. Mona's browser (which never started that sign-in, or started its own) is not
/// signed in as Mallory: 400, no session. Only the browser that started it finishes it.
#[tokio::test]
async fn a_callback_opened_in_another_browser_signs_nobody_in() {
    let story = story().await;
    let mallory = browser();
    let (authorize, mallory_cookie) = start_web(&mallory, &story.url()).await;
    story.fake.sign_in_browser("mallory");
    let callback = story.fake.visit_authorize(&authorize).await.unwrap();

    // Mona's browser: no sign-in cookie at all, then one of a sign-in of her own.
    let mona = browser();
    let bare = mona.get(&callback).send().await.unwrap();
    assert_eq!(bare.status(), 400);
    assert!(!opens_a_session(&bare), "no session for another browser");
    let (_, mona_cookie) = start_web(&mona, &story.url()).await;
    let own = mona
        .get(&callback)
        .header(COOKIE, &mona_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 400);
    assert!(
        !opens_a_session(&own),
        "another sign-in's cookie does not fit"
    );
    let page = own.text().await.unwrap();
    assert!(page.contains("not started in this browser") || page.contains("another browser"));

    // The browser that started it is signed in, and its sign-in cookie is removed.
    let back = mallory
        .get(&callback)
        .header(COOKIE, &mallory_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302);
    assert!(opens_a_session(&back));
    let cleared = back
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .any(|c| c.starts_with("owp_signin=;") && c.contains("Max-Age=0"));
    assert!(cleared, "the callback removes the sign-in cookie");
}

/// The sign-in cookie is short-lived, HttpOnly, Lax and seen only by the sign-in routes, and
/// Secure behind an https public URL.
#[tokio::test]
async fn the_sign_in_cookie_is_short_lived_and_secure_when_the_public_url_is_https() {
    let story = story_with(false, |c| {
        c.public_url = Some("https://pool.example".into());
    })
    .await;
    let b = browser();
    let start = b
        .get(format!("{}/auth/github", story.url()))
        .send()
        .await
        .unwrap();
    let flow = start.headers()[SET_COOKIE].to_str().unwrap().to_string();
    for part in [
        "owp_signin=",
        "Path=/auth/github",
        "HttpOnly",
        "SameSite=Lax",
        "Max-Age=600",
        "Secure",
    ] {
        assert!(flow.contains(part), "{flow} lacks {part}");
    }
}

/// Behind an https public URL the admin's dashboard session cookie is Secure too, whatever
/// `X-Forwarded-Proto` says (a proxy that does not send it must not strip `Secure`).
#[tokio::test]
async fn the_admin_session_cookie_is_secure_when_the_public_url_is_https() {
    let story = story_with(false, |c| {
        c.public_url = Some("https://pool.example".into());
    })
    .await;
    let b = browser();
    let admin = b
        .post(format!("{}/login", story.url()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={}", crate::github_support::story::ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 303);
    let session = admin.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(session.starts_with("owp_session="), "{session}");
    assert!(
        session.contains("; Secure"),
        "the admin's session cookie is Secure behind an https public URL: {session}"
    );
    // Signing out (here with no session) removes the cookie with the same attributes.
    let out = b
        .post(format!("{}/logout", story.url()))
        .send()
        .await
        .unwrap();
    let cleared = out
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_string());
    assert!(
        cleared.as_deref().is_some_and(|c| c.contains("; Secure")),
        "{cleared:?}"
    );
}

/// GitHub does not list the person's installations at sign-in: the service cannot know what
/// they maintain, so nobody is signed in (`503`, start again), on the web and in the device flow.
#[tokio::test]
async fn a_sign_in_whose_repositories_github_does_not_list_opens_nothing() {
    use crate::github_support::{FailWhen, Failure};
    let story = story().await;
    story.fake.fail(
        FailWhen::on("GET", "/user/installations"),
        10,
        Failure::ServerError,
    );
    let b = browser();
    let (authorize, cookie) = start_web(&b, &story.url()).await;
    story.fake.sign_in_browser(MONA);
    let callback = story.fake.visit_authorize(&authorize).await.unwrap();
    let back = b
        .get(&callback)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 503);
    assert!(!opens_a_session(&back));

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
    let poll = b
        .post(format!("{}/v1/auth/device/token", story.url()))
        .json(&json!({"device_code": start["device_code"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(poll.status(), 503);
    assert!(poll.headers().get("retry-after").is_some());
    let problem: Value = poll.json().await.unwrap();
    assert_eq!(problem["code"], "github_unavailable");
    assert!(problem.get("token").is_none());
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
