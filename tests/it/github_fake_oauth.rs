//! The fake GitHub's sign-in side, driven by hand with plain HTTP: the web flow with PKCE and the
//! device flow, and every refusal GitHub gives on the way (bad secret, reused or expired code,
//! wrong verifier, foreign redirect, polling too fast, an expired device code, …). What the
//! tokens reach is in `github_fake_user`.

use crate::github_support;

use base64::Engine as _;
use chrono::TimeDelta;
use github_support::{
    CallAuth, DeviceError, FailWhen, Failure, FakeGithub, TEST_CLIENT_ID, TEST_CLIENT_SECRET,
};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use serde_json::Value;
use sha2::{Digest, Sha256};

const CALLBACK: &str = "http://127.0.0.1:9/auth/github/callback";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more.~_0123456789";

/// A browser that does not follow redirects, so the test sees where GitHub sends it.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A fake whose App has `CALLBACK` as its callback URL.
pub(crate) async fn fake_with_callback() -> FakeGithub {
    let fake = FakeGithub::start().await;
    fake.set_callback_urls(&[CALLBACK]);
    fake
}

/// `GET /login/oauth/authorize` with the App's client id, `CALLBACK`, a state, PKCE for
/// [`VERIFIER`], and `extra` over them (an empty value removes a parameter).
async fn authorize(fake: &FakeGithub, extra: &[(&str, &str)]) -> reqwest::Response {
    let challenge = challenge(VERIFIER);
    let mut pairs: Vec<(&str, &str)> = vec![
        ("client_id", TEST_CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("state", "st4te"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        pairs.retain(|(name, _)| name != k);
        if !v.is_empty() {
            pairs.push((k, v));
        }
    }
    browser()
        .get(format!(
            "{}/login/oauth/authorize?{}",
            fake.web_url(),
            form(&pairs)
        ))
        .send()
        .await
        .unwrap()
}

/// The query of the redirect an answer carries.
fn redirect_query(answer: &reqwest::Response) -> Vec<(String, String)> {
    assert_eq!(answer.status(), StatusCode::FOUND);
    let location = answer.headers()[LOCATION].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    assert!(location.starts_with(CALLBACK), "{location}");
    url.query_pairs().into_owned().collect()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A fresh code for `alice`, issued for `CALLBACK` and [`VERIFIER`].
async fn code(fake: &FakeGithub) -> String {
    fake.sign_in_browser("alice");
    let answer = authorize(fake, &[]).await;
    let query = redirect_query(&answer);
    assert_eq!(param(&query, "state"), Some("st4te"));
    param(&query, "code").unwrap().to_string()
}

#[tokio::test]
async fn a_test_can_play_the_browser_on_the_authorize_page() {
    let fake = fake_with_callback().await;
    let url = format!(
        "{}/login/oauth/authorize?{}",
        fake.web_url(),
        form(&[("client_id", TEST_CLIENT_ID), ("state", "s1")])
    );
    assert_eq!(fake.visit_authorize(&url).await, Err(200));
    fake.sign_in_browser("alice");
    let back = fake.visit_authorize(&url).await.unwrap();
    assert!(back.starts_with(&format!("{CALLBACK}?code=")), "{back}");
    assert!(back.ends_with("&state=s1"), "{back}");
    let foreign = url.replace("state=s1", "redirect_uri=http%3A%2F%2Fevil.example%2F");
    assert_eq!(fake.visit_authorize(&foreign).await, Err(400));
}

/// `POST /login/oauth/access_token` with a form body and `Accept: application/json`.
async fn token(fake: &FakeGithub, pairs: &[(&str, &str)]) -> Value {
    let answer = reqwest::Client::new()
        .post(format!("{}/login/oauth/access_token", fake.web_url()))
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .unwrap();
    // Errors too are HTTP 200, as GitHub answers them.
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

async fn exchange(fake: &FakeGithub, code: &str, verifier: &str) -> Value {
    token(
        fake,
        &[
            ("client_id", TEST_CLIENT_ID),
            ("client_secret", TEST_CLIENT_SECRET),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier),
        ],
    )
    .await
}

fn error_of(answer: &Value) -> &str {
    assert!(answer.get("access_token").is_none(), "{answer}");
    assert!(answer["error_description"].is_string(), "{answer}");
    assert!(answer["error_uri"].is_string(), "{answer}");
    answer["error"].as_str().unwrap()
}

/// `GET /user` on the API origin, with this `Authorization` header.
pub(crate) async fn get_user(fake: &FakeGithub, authorization: Option<&str>) -> reqwest::Response {
    let mut request = github_support::github_http().get(format!("{}/user", fake.url()));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.unwrap()
}

// --- the web flow -------------------------------------------------------------------------------

#[tokio::test]
async fn the_web_flow_with_pkce_signs_the_browser_user_in() {
    let fake = fake_with_callback().await;
    let code = code(&fake).await;
    assert_eq!(code.len(), 20);
    let answer = exchange(&fake, &code, VERIFIER).await;
    let access = answer["access_token"].as_str().unwrap().to_string();
    assert!(access.starts_with("ghu_"), "{answer}");
    assert_eq!(answer["token_type"], "bearer");
    assert_eq!(answer["scope"], "");
    // Expiring user tokens, GitHub's default for Apps.
    assert_eq!(answer["expires_in"], 28_800);
    assert!(
        answer["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("ghr_")
    );
    assert_eq!(answer["refresh_token_expires_in"], 15_811_200);

    // `GET /user` names the person (the answer is checked against GitHub's schema on the way).
    for scheme in ["Bearer", "token"] {
        let me = get_user(&fake, Some(&format!("{scheme} {access}"))).await;
        assert_eq!(me.status(), StatusCode::OK);
        let me: Value = me.json().await.unwrap();
        assert_eq!(me["login"], "alice");
        assert_eq!(me["type"], "User");
        assert!(me["id"].as_u64().is_some() && me["created_at"].is_string());
    }
    let calls = fake.calls();
    assert_eq!(calls.last().unwrap().auth, CallAuth::User("alice".into()));

    // Every request is recorded, and no secret is.
    let paths: Vec<(&str, &str, u16)> = calls
        .iter()
        .map(|c| (c.method.as_str(), c.path.as_str(), c.status))
        .collect();
    assert_eq!(
        paths,
        [
            ("GET", "/login/oauth/authorize", 302),
            ("POST", "/login/oauth/access_token", 200),
            ("GET", "/user", 200),
            ("GET", "/user", 200),
        ]
    );
    assert_eq!(fake.count_calls("POST", "/login/oauth/access_token"), 1);
    let recorded = format!("{calls:?}");
    for secret in [TEST_CLIENT_SECRET, &code, VERIFIER, &access] {
        assert!(!recorded.contains(secret), "{secret} recorded: {recorded}");
    }
    assert!(recorded.contains("[redacted]"));
}

#[tokio::test]
async fn the_token_answer_is_form_encoded_unless_json_is_asked_for() {
    let fake = fake_with_callback().await;
    let code = code(&fake).await;
    // A JSON body is accepted as well as a form; without `Accept: application/json` the answer
    // is form-encoded, as GitHub's.
    let answer = reqwest::Client::new()
        .post(format!("{}/login/oauth/access_token", fake.web_url()))
        .json(&serde_json::json!({
            "client_id": TEST_CLIENT_ID,
            "client_secret": TEST_CLIENT_SECRET,
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": VERIFIER,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        answer.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    let text = answer.text().await.unwrap();
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect();
    assert!(param(&fields, "access_token").unwrap().starts_with("ghu_"));
    assert_eq!(param(&fields, "token_type"), Some("bearer"));
    // An error, form-encoded too.
    let again = reqwest::Client::new()
        .post(format!("{}/login/oauth/access_token", fake.web_url()))
        .body(form(&[
            ("client_id", TEST_CLIENT_ID),
            ("client_secret", "nope"),
            ("code", "x"),
        ]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        again.starts_with("error=incorrect_client_credentials&"),
        "{again}"
    );
}

#[tokio::test]
async fn authorize_never_redirects_to_an_address_the_app_did_not_register() {
    let fake = fake_with_callback().await;
    fake.sign_in_browser("alice");
    let page = |answer: &reqwest::Response| {
        assert!(answer.headers().get(LOCATION).is_none());
        answer.status()
    };
    // Unknown client id: GitHub's 404 page.
    let answer = authorize(&fake, &[("client_id", "Iv1.someoneelse")]).await;
    assert_eq!(page(&answer), StatusCode::NOT_FOUND);
    // A redirect_uri that is not exactly a callback URL of the App: an error page.
    for foreign in [
        "http://127.0.0.1:10/auth/github/callback",
        "http://evil.example/auth/github/callback",
        "http://127.0.0.1:9/auth/github/callback/deeper",
        "http://127.0.0.1:9/auth/github/callback?next=http://evil.example",
        "http://127.0.0.1:9/",
    ] {
        let answer = authorize(&fake, &[("redirect_uri", foreign)]).await;
        assert_eq!(page(&answer), StatusCode::BAD_REQUEST, "{foreign}");
    }
    // With wildcard matching on (Apps registered before August 2026), subdirectories and
    // subdomains match; other ports, paths, schemes and queries still do not.
    fake.set_callback_urls(&[CALLBACK, "http://example.test/cb"]);
    fake.set_callback_wildcard(CALLBACK, true);
    fake.set_callback_wildcard("http://example.test/cb", true);
    for (redirect, allowed) in [
        ("http://auth.example.test/cb/x", true),
        ("http://example.test:80/cb", true),
        ("http://example.test:8080/cb", false),
        ("http://badexample.test/cb", false),
        ("http://127.0.0.1:9/auth/github/callback/deeper", true),
        ("http://127.0.0.1:9/auth/github/callbacks", false),
        ("http://127.0.0.1:10/auth/github/callback", false),
        ("https://127.0.0.1:9/auth/github/callback", false),
        (
            "http://127.0.0.1:9/auth/github/callback?next=http://evil.example",
            false,
        ),
        ("http://127.0.0.1:9/auth/github", false),
    ] {
        let answer = authorize(&fake, &[("redirect_uri", redirect)]).await;
        assert_eq!(answer.status() == StatusCode::FOUND, allowed, "{redirect}");
        if allowed {
            let location = answer.headers()[LOCATION].to_str().unwrap();
            assert!(
                location.starts_with(&format!("{redirect}?code=")),
                "{location}"
            );
        }
    }
    fake.set_callback_wildcard(CALLBACK, false);
    let answer = authorize(
        &fake,
        &[(
            "redirect_uri",
            "http://127.0.0.1:9/auth/github/callback/deeper",
        )],
    )
    .await;
    assert_eq!(page(&answer), StatusCode::BAD_REQUEST);
    // PKCE is S256 only, with a well-formed challenge.
    let answer = authorize(&fake, &[("code_challenge_method", "plain")]).await;
    assert_eq!(page(&answer), StatusCode::BAD_REQUEST);
    let answer = authorize(&fake, &[("code_challenge", "short")]).await;
    assert_eq!(page(&answer), StatusCode::BAD_REQUEST);
    let answer = authorize(&fake, &[("code_challenge_method", "")]).await;
    assert_eq!(page(&answer), StatusCode::BAD_REQUEST);
    // Without a redirect_uri GitHub uses the first callback URL; without PKCE it still works.
    let answer = authorize(
        &fake,
        &[
            ("redirect_uri", ""),
            ("code_challenge", ""),
            ("code_challenge_method", ""),
        ],
    )
    .await;
    assert!(param(&redirect_query(&answer), "code").is_some());
    // Nobody signed in, or someone other than the suggested `login`: the sign-in page.
    let answer = authorize(&fake, &[("login", "bob")]).await;
    assert_eq!(page(&answer), StatusCode::OK);
    fake.sign_out_browser();
    let answer = authorize(&fake, &[]).await;
    assert_eq!(page(&answer), StatusCode::OK);
    // A `dotcom_user` cookie picks the person for one browser.
    let answer = browser()
        .get(format!(
            "{}/login/oauth/authorize?{}",
            fake.web_url(),
            form(&[("client_id", TEST_CLIENT_ID), ("state", "s")])
        ))
        .header("cookie", "logged_in=yes; dotcom_user=carol")
        .send()
        .await
        .unwrap();
    let code = param(&redirect_query(&answer), "code").unwrap().to_string();
    let answer = token(
        &fake,
        &[
            ("client_id", TEST_CLIENT_ID),
            ("client_secret", TEST_CLIENT_SECRET),
            ("code", &code),
        ],
    )
    .await;
    let access = answer["access_token"].as_str().unwrap();
    let me: Value = get_user(&fake, Some(&format!("Bearer {access}")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["login"], "carol");
    // The person cancels: back to the callback with `access_denied` and the state, no code.
    fake.sign_in_browser("alice");
    fake.set_browser_approves(false);
    let query = redirect_query(&authorize(&fake, &[]).await);
    assert_eq!(param(&query, "error"), Some("access_denied"));
    assert_eq!(param(&query, "state"), Some("st4te"));
    assert!(param(&query, "code").is_none());
    // An App with no callback URL cannot be signed in to.
    fake.set_callback_urls(&[]);
    fake.set_browser_approves(true);
    let answer = authorize(&fake, &[("redirect_uri", "")]).await;
    assert_eq!(page(&answer), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_code_exchange_checks_client_code_redirect_and_verifier() {
    let fake = fake_with_callback().await;
    let code = code(&fake).await;
    let with = |over: &[(&'static str, &'static str)]| {
        let mut pairs: Vec<(&str, String)> = vec![
            ("client_id", TEST_CLIENT_ID.into()),
            ("client_secret", TEST_CLIENT_SECRET.into()),
            ("code", code.clone()),
            ("redirect_uri", CALLBACK.into()),
            ("code_verifier", VERIFIER.into()),
        ];
        for (k, v) in over {
            pairs.retain(|(name, _)| name != k);
            if !v.is_empty() {
                pairs.push((k, v.to_string()));
            }
        }
        pairs
    };
    let refusals: [(&[(&str, &str)], &str); 11] = [
        (
            &[("client_secret", "wrong")],
            "incorrect_client_credentials",
        ),
        (&[("client_secret", "")], "incorrect_client_credentials"),
        (
            &[("client_id", "Iv1.other")],
            "incorrect_client_credentials",
        ),
        (&[("code", "0123456789abcdef0123")], "bad_verification_code"),
        (&[("code", "")], "bad_verification_code"),
        (
            &[("redirect_uri", "http://127.0.0.1:9/elsewhere")],
            "redirect_uri_mismatch",
        ),
        // Named at authorize, the redirect_uri must be named again.
        (&[("redirect_uri", "")], "redirect_uri_mismatch"),
        (
            &[(
                "code_verifier",
                "another-verifier-of-forty-three-characters-at-least",
            )],
            "bad_verification_code",
        ),
        (&[("code_verifier", "")], "bad_verification_code"),
        // The challenge itself is not the verifier.
        (
            &[(
                "code_verifier",
                "Vx3Ab1yM6AqrKnVtyYzD1y8U6ucBqoPVk0S0bwlw7HA",
            )],
            "bad_verification_code",
        ),
        (&[("grant_type", "password")], "unsupported_grant_type"),
    ];
    for (over, expected) in refusals {
        let pairs = with(over);
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = token(&fake, &pairs).await;
        assert_eq!(error_of(&answer), expected, "{over:?}");
    }
    // None of those used the code up; the right request does, once.
    let pairs = with(&[("grant_type", "authorization_code")]);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(token(&fake, &pairs).await["access_token"].is_string());
    assert_eq!(
        error_of(&token(&fake, &pairs).await),
        "bad_verification_code"
    );
    assert_eq!(fake.issued_user_tokens(), 1);
}

#[tokio::test]
async fn a_rotated_client_secret_replaces_the_old_one() {
    let fake = fake_with_callback().await;
    let code = code(&fake).await;
    fake.set_client("Iv1.rotated", "a-new-secret");
    assert_eq!(
        (fake.client_id(), fake.client_secret()),
        ("Iv1.rotated".into(), "a-new-secret".into())
    );
    let old = exchange(&fake, &code, VERIFIER).await;
    assert_eq!(error_of(&old), "incorrect_client_credentials");
    let pairs = [
        ("client_id", "Iv1.rotated"),
        ("client_secret", "a-new-secret"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
    ];
    assert!(token(&fake, &pairs).await["access_token"].is_string());
    // The authorize page knows the App by its new client id only.
    let answer = authorize(&fake, &[]).await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_code_issued_without_pkce_refuses_a_verifier() {
    let fake = fake_with_callback().await;
    fake.sign_in_browser("alice");
    let answer = authorize(
        &fake,
        &[("code_challenge", ""), ("code_challenge_method", "")],
    )
    .await;
    let code = param(&redirect_query(&answer), "code").unwrap().to_string();
    assert_eq!(
        error_of(&exchange(&fake, &code, VERIFIER).await),
        "bad_verification_code"
    );
}

#[tokio::test]
async fn codes_expire_after_ten_minutes_on_the_fakes_clock() {
    let fake = fake_with_callback().await;
    let fresh = code(&fake).await;
    let stale = code(&fake).await;
    fake.advance_clock(TimeDelta::minutes(10) - TimeDelta::seconds(2));
    assert!(exchange(&fake, &fresh, VERIFIER).await["access_token"].is_string());
    fake.advance_clock(TimeDelta::seconds(2));
    assert_eq!(
        error_of(&exchange(&fake, &stale, VERIFIER).await),
        "bad_verification_code"
    );
}

#[tokio::test]
async fn refresh_tokens_work_once_and_tokens_can_be_made_not_to_expire() {
    let fake = fake_with_callback().await;
    let code = code(&fake).await;
    let first = exchange(&fake, &code, VERIFIER).await;
    let refresh = first["refresh_token"].as_str().unwrap();
    let grant = [
        ("client_id", TEST_CLIENT_ID),
        ("client_secret", TEST_CLIENT_SECRET),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh),
    ];
    let again = token(&fake, &grant).await;
    assert!(again["access_token"].as_str().unwrap().starts_with("ghu_"));
    assert_eq!(error_of(&token(&fake, &grant).await), "bad_refresh_token");

    // The App's token expiration setting off: no expiry, no refresh token.
    fake.set_expiring_user_tokens(false);
    let code = self::code(&fake).await;
    let answer = exchange(&fake, &code, VERIFIER).await;
    assert!(answer.get("expires_in").is_none() && answer.get("refresh_token").is_none());
    fake.advance_clock(TimeDelta::hours(9));
    let access = answer["access_token"].as_str().unwrap();
    let me = get_user(&fake, Some(&format!("Bearer {access}"))).await;
    assert_eq!(me.status(), StatusCode::OK);
}

// --- the device flow ----------------------------------------------------------------------------

async fn device_code(fake: &FakeGithub, client_id: &str) -> Value {
    let answer = reqwest::Client::new()
        .post(format!("{}/login/device/code", fake.web_url()))
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("client_id", client_id)]))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

async fn poll(fake: &FakeGithub, device_code: &str) -> Value {
    token(
        fake,
        &[
            ("client_id", TEST_CLIENT_ID),
            ("device_code", device_code),
            ("grant_type", DEVICE_GRANT),
        ],
    )
    .await
}

#[tokio::test]
async fn the_device_flow_waits_for_the_person_and_slows_down_eager_pollers() {
    let fake = FakeGithub::start().await;
    let start = device_code(&fake, TEST_CLIENT_ID).await;
    let device = start["device_code"].as_str().unwrap();
    let user_code = start["user_code"].as_str().unwrap();
    assert_eq!(device.len(), 40);
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert_eq!(
        start["verification_uri"],
        format!("{}/login/device", fake.web_url())
    );
    assert_eq!(start["expires_in"], 900);
    assert_eq!(start["interval"], 5);
    assert_eq!(fake.user_codes(), [user_code]);

    assert_eq!(
        error_of(&poll(&fake, device).await),
        "authorization_pending"
    );
    // Again at once: too fast, and the interval grows by 5 s each time.
    let slow = poll(&fake, device).await;
    assert_eq!(error_of(&slow), "slow_down");
    assert_eq!(slow["interval"], 10);
    fake.advance_clock(TimeDelta::seconds(9));
    let slower = poll(&fake, device).await;
    assert_eq!(error_of(&slower), "slow_down");
    assert_eq!(slower["interval"], 15);
    fake.advance_clock(TimeDelta::seconds(15));
    assert_eq!(
        error_of(&poll(&fake, device).await),
        "authorization_pending"
    );

    fake.approve_device(&user_code.to_lowercase(), "alice")
        .unwrap();
    fake.advance_clock(TimeDelta::seconds(15));
    let answer = poll(&fake, device).await;
    let access = answer["access_token"].as_str().unwrap();
    assert!(access.starts_with("ghu_"), "{answer}");
    assert_eq!(answer["token_type"], "bearer");
    let me: Value = get_user(&fake, Some(&format!("Bearer {access}")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["login"], "alice");
    // The device code is spent, and its user code cannot be entered again.
    fake.advance_clock(TimeDelta::seconds(15));
    assert_eq!(
        error_of(&poll(&fake, device).await),
        "incorrect_device_code"
    );
    assert_eq!(
        fake.approve_device(user_code, "mallory"),
        Err(DeviceError::UnknownCode)
    );
    let recorded = format!("{:?}", fake.calls());
    assert!(!recorded.contains(device) && !recorded.contains(access));
}

#[tokio::test]
async fn device_codes_expire_deny_and_refuse_what_github_refuses() {
    let fake = FakeGithub::start().await;
    // Denied: `access_denied`, for good.
    let denied = device_code(&fake, TEST_CLIENT_ID).await;
    fake.deny_device(denied["user_code"].as_str().unwrap())
        .unwrap();
    let device = denied["device_code"].as_str().unwrap();
    assert_eq!(error_of(&poll(&fake, device).await), "access_denied");
    fake.advance_clock(TimeDelta::seconds(5));
    assert_eq!(error_of(&poll(&fake, device).await), "access_denied");

    // Expired after 900 s, for polling and for the person alike.
    let late = device_code(&fake, TEST_CLIENT_ID).await;
    fake.advance_clock(TimeDelta::seconds(900));
    let device = late["device_code"].as_str().unwrap();
    assert_eq!(error_of(&poll(&fake, device).await), "expired_token");
    assert_eq!(
        fake.approve_device(late["user_code"].as_str().unwrap(), "alice"),
        Err(DeviceError::Expired)
    );

    // Unknown device code, unknown client, wrong grant type.
    assert_eq!(
        error_of(&poll(&fake, &"0".repeat(40)).await),
        "incorrect_device_code"
    );
    let fresh = device_code(&fake, TEST_CLIENT_ID).await;
    let device = fresh["device_code"].as_str().unwrap();
    let wrong_client = token(
        &fake,
        &[
            ("client_id", "Iv1.other"),
            ("device_code", device),
            ("grant_type", DEVICE_GRANT),
        ],
    )
    .await;
    assert_eq!(error_of(&wrong_client), "incorrect_client_credentials");
    let no_grant_type = token(
        &fake,
        &[("client_id", TEST_CLIENT_ID), ("device_code", device)],
    )
    .await;
    assert_eq!(error_of(&no_grant_type), "unsupported_grant_type");
    assert_eq!(
        error_of(&device_code(&fake, "Iv1.other").await),
        "incorrect_client_credentials"
    );
    assert_eq!(fake.deny_device("BCDF-GHJK"), Err(DeviceError::UnknownCode));

    // The App's device flow switched off.
    fake.set_device_flow(false);
    assert_eq!(
        error_of(&device_code(&fake, TEST_CLIENT_ID).await),
        "device_flow_disabled"
    );
    fake.advance_clock(TimeDelta::seconds(5));
    assert_eq!(error_of(&poll(&fake, device).await), "device_flow_disabled");
}

#[tokio::test]
async fn the_browser_takes_fifty_user_codes_an_hour_per_app() {
    let fake = FakeGithub::start().await;
    let mut codes = Vec::new();
    for _ in 0..52 {
        let start = device_code(&fake, TEST_CLIENT_ID).await;
        codes.push(start["user_code"].as_str().unwrap().to_string());
    }
    for code in &codes[..50] {
        fake.approve_device(code, "alice").unwrap();
    }
    assert_eq!(
        fake.approve_device(&codes[50], "alice"),
        Err(DeviceError::RateLimited)
    );
    // A bad submission counts too, and an hour later the window has room again.
    assert_eq!(fake.deny_device("BCDF-GHJK"), Err(DeviceError::RateLimited));
    fake.advance_clock(TimeDelta::minutes(14));
    assert_eq!(
        fake.approve_device(&codes[50], "alice"),
        Err(DeviceError::RateLimited)
    );
    fake.advance_clock(TimeDelta::minutes(46));
    // By then the codes themselves have expired (15 minutes).
    assert_eq!(
        fake.approve_device(&codes[51], "alice"),
        Err(DeviceError::Expired)
    );
}

#[tokio::test]
async fn a_test_may_shorten_the_polling_interval() {
    let fake = FakeGithub::start().await;
    fake.set_device_interval(1);
    let start = device_code(&fake, TEST_CLIENT_ID).await;
    assert_eq!(start["interval"], 1);
    let device = start["device_code"].as_str().unwrap();
    assert_eq!(
        error_of(&poll(&fake, device).await),
        "authorization_pending"
    );
    fake.advance_clock(TimeDelta::seconds(1));
    assert_eq!(
        error_of(&poll(&fake, device).await),
        "authorization_pending"
    );
    let slow = poll(&fake, device).await;
    assert_eq!(slow["interval"], 6);
}

#[tokio::test]
async fn the_sign_in_routes_fail_when_told_to_and_the_code_survives() {
    let fake = fake_with_callback().await;
    let code = code(&fake).await;
    fake.fail(
        FailWhen::on("POST", "/login/oauth/access_token"),
        1,
        Failure::ServerError,
    );
    let answer = reqwest::Client::new()
        .post(format!("{}/login/oauth/access_token", fake.web_url()))
        .header(ACCEPT, "application/json")
        .body(form(&[("client_id", TEST_CLIENT_ID)]))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(exchange(&fake, &code, VERIFIER).await["access_token"].is_string());
    let statuses: Vec<u16> = fake.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [302, 500, 200]);
}
