//! What the fake GitHub's user access tokens reach: `GET /user` with a live token only, neither
//! the App's routes nor repositories; the App revoking them with its client credentials; the
//! sign-in routes on the web origin only; and the collaborator permission route, as strict as
//! GitHub's.

use crate::github_fake_oauth::{browser, fake_with_callback, get_user};
use crate::github_support;

use chrono::TimeDelta;
use github_support::{CallAuth, FakeGithub, TEST_CLIENT_ID, TEST_CLIENT_SECRET};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn get_user_takes_only_a_live_user_token() {
    let (fake, app) = github_support::fake_with_app(7, "octo-org/hello").await;
    let alice = fake.issue_user_token("alice");
    assert_eq!(
        get_user(&fake, Some(&format!("Bearer {alice}")))
            .await
            .status(),
        200
    );

    let message = |answer: Value| answer["message"].as_str().unwrap().to_string();
    let none = get_user(&fake, None).await;
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        message(none.json().await.unwrap()),
        "Requires authentication"
    );
    let unknown = get_user(
        &fake,
        Some("Bearer ghu_000000000000000000000000000000000000"),
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(message(unknown.json().await.unwrap()).starts_with("Bad credentials"));

    // An installation token is the App's, not a person's.
    let installation = app.installation_token(7).await.unwrap();
    let answer = get_user(&fake, Some(&format!("Bearer {installation}"))).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);

    // A user token reaches neither the App's routes nor repositories.
    let http = github_support::github_http();
    let app_route = http
        .get(format!("{}/app", fake.url()))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(app_route.status(), StatusCode::FORBIDDEN);
    fake.set_permission("octo-org/hello", "alice", "admin");
    let permission = http
        .get(format!(
            "{}/repos/octo-org/hello/collaborators/alice/permission",
            fake.url()
        ))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(permission.status(), StatusCode::FORBIDDEN);
    let listing = http
        .get(format!("{}/installation/repositories", fake.url()))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), StatusCode::FORBIDDEN);

    // Revoked, or past its 8 hours: 401.
    let bob = fake.issue_user_token("bob");
    fake.revoke_user_tokens("alice");
    assert_eq!(
        get_user(&fake, Some(&format!("Bearer {alice}")))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get_user(&fake, Some(&format!("token {bob}")))
            .await
            .status(),
        200
    );
    fake.advance_clock(TimeDelta::hours(8));
    assert_eq!(
        get_user(&fake, Some(&format!("token {bob}")))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let refused: Vec<String> = fake
        .calls()
        .into_iter()
        .filter_map(|c| match c.auth {
            CallAuth::Refused(reason) => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        refused,
        [
            "unknown user access token",
            "user access token revoked",
            "user access token expired"
        ]
    );
}

#[tokio::test]
async fn the_app_revokes_user_tokens_with_its_client_credentials() {
    let fake = FakeGithub::start().await;
    let alice = fake.issue_user_token("alice");
    let alice_again = fake.issue_user_token("alice");
    let bob = fake.issue_user_token("bob");
    let http = github_support::github_http();
    let url = |what: &str| format!("{}/applications/{TEST_CLIENT_ID}/{what}", fake.url());
    let body = |token: &str| serde_json::json!({ "access_token": token });
    let status = |answer: reqwest::Result<reqwest::Response>| answer.unwrap().status();
    let delete = |what: &str, token: &str| {
        http.delete(url(what))
            .basic_auth(TEST_CLIENT_ID, Some(TEST_CLIENT_SECRET))
            .json(&body(token))
            .send()
    };
    // Only the App's client id and secret, in Basic authentication, for its own client id.
    let wrong = http
        .delete(url("token"))
        .basic_auth(TEST_CLIENT_ID, Some("wrong"))
        .json(&body(&alice));
    assert_eq!(status(wrong.send().await), StatusCode::UNAUTHORIZED);
    let anonymous = http.delete(url("token")).json(&body(&alice));
    assert_eq!(status(anonymous.send().await), StatusCode::UNAUTHORIZED);
    let as_user = http
        .delete(url("token"))
        .bearer_auth(&bob)
        .json(&body(&alice));
    assert_eq!(status(as_user.send().await), StatusCode::NOT_FOUND);
    let other_client = http
        .delete(format!("{}/applications/Iv1.other/token", fake.url()))
        .basic_auth(TEST_CLIENT_ID, Some(TEST_CLIENT_SECRET))
        .json(&body(&alice));
    assert_eq!(status(other_client.send().await), StatusCode::NOT_FOUND);
    assert_eq!(
        get_user(&fake, Some(&format!("Bearer {alice}")))
            .await
            .status(),
        StatusCode::OK
    );

    // `…/token` revokes that token; a revoked or unknown one is not found.
    assert_eq!(
        status(delete("token", &alice).await),
        StatusCode::NO_CONTENT
    );
    assert_eq!(status(delete("token", &alice).await), StatusCode::NOT_FOUND);
    let me = |token: String| {
        let fake = &fake;
        async move {
            get_user(fake, Some(&format!("Bearer {token}")))
                .await
                .status()
        }
    };
    assert_eq!(me(alice.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(alice_again.clone()).await, StatusCode::OK);
    // `…/grant` revokes every token of the person.
    let other = fake.issue_user_token("alice");
    assert_eq!(
        status(delete("grant", &other).await),
        StatusCode::NO_CONTENT
    );
    assert_eq!(me(alice_again).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(bob.clone()).await, StatusCode::OK);

    // A token in the query (GitHub no longer reads it there) is not recorded either.
    let answer = http
        .get(format!("{}/user?access_token={bob}", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(fake.take_violations().len(), 1);
    let recorded = format!("{:?}", fake.calls());
    for secret in [TEST_CLIENT_SECRET, &alice, &other, &bob] {
        assert!(!recorded.contains(secret), "{secret} recorded");
    }
}

#[tokio::test]
async fn the_sign_in_routes_live_on_the_web_origin_only() {
    let fake = fake_with_callback().await;
    assert_ne!(fake.url(), fake.web_url());
    // On the API origin they are routes GitHub's REST API does not have.
    let answer = github_support::github_http()
        .post(format!("{}/login/oauth/access_token", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    assert_eq!(fake.take_violations().len(), 1);
    // And the web origin serves no API.
    let answer = github_support::github_http()
        .get(format!("{}/user", fake.web_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    // GitHub serves the token endpoint to POST only, and authorize to GET only.
    let answer = browser()
        .get(format!("{}/login/oauth/access_token", fake.web_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let violations = fake.take_violations();
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert!(violations[1].starts_with("GET /login/oauth/access_token"));
}

#[tokio::test]
async fn the_permission_route_is_as_strict_as_github() {
    let (fake, app) = github_support::fake_with_app(7, "octo-org/hello").await;
    fake.set_permission("octo-org/hello", "maya", "maintain");
    let installation = app.installation_token(7).await.unwrap();
    let http = github_support::github_http();
    let get = |repo: &str, login: &str, credential: String| {
        http.get(format!(
            "{}/repos/{repo}/collaborators/{login}/permission",
            fake.url()
        ))
        .bearer_auth(credential)
        .send()
    };
    let answer = get("octo-org/hello", "maya", installation.clone())
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    // The shape is checked against GitHub's schema as it is served; the values here.
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["permission"], "write");
    assert_eq!(body["role_name"], "maintain");
    assert_eq!(body["user"]["login"], "maya");
    assert_eq!(body["user"]["role_name"], "maintain");
    // A repository the installation does not cover, and a login GitHub does not know: 404.
    let answer = get("octo-org/other", "maya", installation.clone())
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let answer = get("octo-org/hello", "nobody-at-all", installation)
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    // The App JWT is not an installation token.
    let jwt = app.jwt().unwrap();
    let answer = get("octo-org/hello", "maya", jwt).await.unwrap();
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
}

#[test]
fn an_answer_that_does_not_match_githubs_schema_is_a_violation() {
    use github_support::openapi::check_answer;
    let good = serde_json::json!({"message": "Bad credentials", "documentation_url": "x"});
    assert!(check_answer("GET", "/user", 401, &good).is_ok());
    let missing_fields = serde_json::json!({"login": "alice", "id": 1});
    let error = check_answer("GET", "/user", 200, &missing_fields).unwrap_err();
    assert!(error.contains("users/get-authenticated"), "{error}");
    let no_role = serde_json::json!({"permission": "write", "user": null});
    assert!(
        check_answer(
            "GET",
            "/repos/o/r/collaborators/maya/permission",
            200,
            &no_role
        )
        .is_err()
    );
}
