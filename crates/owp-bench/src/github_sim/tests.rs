use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::*;

const KEY: &str = include_str!("../../../../tests/fixtures/github/test-app-key.pem");
const OTHER_KEY: &str = include_str!("../../../../tests/fixtures/github/other-key.pem");

/// A JWT as the App signs it (`owp`'s own signer).
fn jwt(pem: &str) -> String {
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    owp::github::app_auth::app_jwt(7, &key, SystemTime::now()).unwrap()
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    auth: &str,
    body: Option<Value>,
) -> (u16, Value, HeaderMap) {
    let mut req = http.request(method, url).bearer_auth(auth);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body, headers)
}

/// The App's calls answered as GitHub does: its JWT checked against its key, a token that
/// reaches its own installation only, issues and comments kept, writes logged with GitHub's
/// limits, pages linked, an unknown route counted, and every answer late by the latency.
#[tokio::test]
async fn the_simulation_answers_the_app_as_github_does() {
    let sim = SimGithub::start(Duration::from_millis(20), 7, KEY.as_bytes())
        .await
        .unwrap();
    sim.add_installation(11, "org-a", &[(101, "org-a/r".into())]);
    sim.add_installation(12, "org-b", &[(102, "org-b/r".into())]);
    let issue = sim
        .open_issue("org-a/r", 1, "One", "text", ("someone", 5))
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let api = sim.url.clone();
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;

    // Only the installation with an issue is listed; a JWT of another key is refused.
    let app = jwt(KEY);
    let started = Instant::now();
    let (status, listed, _) = call(
        &http,
        get.clone(),
        format!("{api}/app/installations"),
        &app,
        None,
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(20));
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], 11);
    let (status, ..) = call(
        &http,
        get.clone(),
        format!("{api}/app"),
        &jwt(OTHER_KEY),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, ..) = call(
        &http,
        post.clone(),
        format!("{api}/app/installations/12/access_tokens"),
        &app,
        None,
    )
    .await;
    assert_eq!(status, 404, "not installed yet");

    let (status, token, _) = call(
        &http,
        post.clone(),
        format!("{api}/app/installations/11/access_tokens"),
        &app,
        None,
    )
    .await;
    assert_eq!(status, 201);
    let token = token["token"].as_str().unwrap().to_string();
    let (_, issues, _) = call(
        &http,
        get.clone(),
        format!("{api}/repos/org-a/r/issues?state=open&labels=pool:ready"),
        &token,
        None,
    )
    .await;
    assert_eq!(issues[0]["id"], issue);
    assert_eq!(issues[0]["labels"][0]["name"], "pool:ready");
    let (status, ..) = call(
        &http,
        get.clone(),
        format!("{api}/repos/org-b/r/issues"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 404, "another installation's repository");
    let (status, ..) = call(
        &http,
        get.clone(),
        format!("{api}/repositories/101/issues/1"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200, "the paths of pagination links");

    // Two status comments on the same issue, the second at once: logged as too close.
    let marker = crate::domain::markers::status_marker("t_1");
    let comments = format!("{api}/repos/org-a/r/issues/1/comments");
    let (status, made, _) = call(
        &http,
        post.clone(),
        comments.clone(),
        &token,
        Some(json!({"body": marker})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(made["user"]["type"], "Bot");
    let (status, ..) = call(
        &http,
        post.clone(),
        comments.clone(),
        &token,
        Some(json!({"body": "hi"})),
    )
    .await;
    assert_eq!(status, 201);
    let edit = format!("{api}/repos/org-a/r/issues/comments/{}", made["id"]);
    let (status, edited, _) = call(
        &http,
        reqwest::Method::PATCH,
        edit,
        &token,
        Some(json!({"body": "edited"})),
    )
    .await;
    assert_eq!((status, edited["body"].as_str()), (200, Some("edited")));
    let (_, page_one, headers) = call(
        &http,
        get.clone(),
        format!("{comments}?per_page=1"),
        &token,
        None,
    )
    .await;
    assert_eq!(page_one.as_array().unwrap().len(), 1);
    let link = headers["link"].to_str().unwrap();
    assert!(
        link.contains("page=2") && link.contains("rel=\"next\""),
        "{link}"
    );
    let (status, ..) = call(
        &http,
        get.clone(),
        format!("{api}/repos/org-a/r/branches"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, ..) = call(
        &http,
        get,
        format!("{api}/repos/org-a/r/contents/.github/owp.yml"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 404);

    let report = sim.report();
    assert_eq!((report.status_issues, report.duplicate_status), (1, 0));
    let writes = &report.writes[&11];
    assert_eq!((writes.writes, writes.too_close), (3, 2));
    assert_eq!(report.writes[&12].writes, 0);
    assert_eq!(report.refused, 1);
    assert_eq!(
        report.unknown.into_iter().collect::<Vec<_>>(),
        [("GET /repos/{}/{}/branches".to_string(), 1)]
    );
}

/// The 81st write of an installation in a minute is answered as GitHub's secondary limit.
#[test]
fn the_eighty_first_write_in_a_minute_is_refused() {
    let mut m = Model::default();
    for i in 0..80 {
        assert!(write(&mut m, 3, i * 10).is_none());
    }
    let refused = write(&mut m, 3, 900).expect("refused");
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.headers, [("retry-after", "60".to_string())]);
    assert!(
        write(&mut m, 3, 60_000 + 11 * 10).is_none(),
        "a minute later"
    );
    assert_eq!(m.limited, 1);
}
