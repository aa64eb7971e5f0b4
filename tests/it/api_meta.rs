//! Discovery (spec "Discovery"): `GET /v1/meta` answers without credentials with the protocol,
//! its versions, the optional features this server implements and its TTLs.

use crate::support;

use reqwest::Method;
use support::Server;

const TEST_APP_KEY: &str = include_str!("../fixtures/github/test-app-key.pem");

fn features(meta: &serde_json::Value) -> Vec<String> {
    meta["features"]
        .as_array()
        .expect("features is an array")
        .iter()
        .map(|f| f.as_str().expect("a feature is a string").to_string())
        .collect()
}

#[tokio::test]
async fn meta_needs_no_credentials_and_shows_the_configured_ttls() {
    let s = Server::start_with_env(&[
        ("OWP_LEASE_TTL_SECONDS", "777"),
        ("OWP_ACCEPT_TTL_SECONDS", "33"),
        ("OWP_HEARTBEAT_TTL_SECONDS", "44"),
    ])
    .await;
    let r = s.req(Method::GET, "/v1/meta").send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.content_type.starts_with("application/json"),
        "{}",
        r.content_type
    );
    let m = &r.json;
    assert_eq!(m["protocol"], "owp/1");
    assert_eq!(
        m["versions"],
        serde_json::json!(["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"])
    );
    assert_eq!(m["lease_ttl_seconds"], 777);
    assert_eq!(m["accept_ttl_seconds"], 33);
    assert_eq!(m["heartbeat_ttl_seconds"], 44);
    let f = features(m);
    for name in [
        "long_poll",
        "sse",
        "dependencies",
        "requires",
        "reputation",
        "leaderboard",
        "mcp",
        "paths",
        "preview",
        "disclosure",
        "evidence",
        "proposals",
        "persons",
    ] {
        assert!(f.iter().any(|x| x == name), "{name} in {f:?}");
    }
    assert!(
        !f.iter()
            .any(|x| x == "github" || x == "reviewers" || x == "vouch"),
        "no GitHub App here: {f:?}"
    );
    assert!(
        !f.iter().any(|x| x == "signin"),
        "no GitHub sign-in here: {f:?}"
    );

    // The registration reply and the discovery document agree.
    let reg = s
        .register(
            serde_json::json!({"name": "w", "skills": [], "capacity_points": 1,
            "max_concurrent_tasks": 1}),
        )
        .await;
    assert_eq!(reg.status, 201, "{}", reg.text);
    for ttl in [
        "lease_ttl_seconds",
        "accept_ttl_seconds",
        "heartbeat_ttl_seconds",
    ] {
        assert_eq!(reg.json[ttl], m[ttl], "{ttl}");
    }
}

#[tokio::test]
async fn meta_is_rate_limited_like_every_anonymous_route() {
    let s = Server::start_with_env(&[("OWP_RATE_ANONYMOUS_PER_MINUTE", "3")]).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(s.req(Method::GET, "/v1/meta").send().await);
    }
    let limited = statuses
        .iter()
        .find(|r| r.status == 429)
        .unwrap_or_else(|| {
            panic!(
                "no 429: {:?}",
                statuses.iter().map(|r| r.status).collect::<Vec<_>>()
            )
        });
    assert_eq!(limited.json["code"], "rate_limited", "{}", limited.text);
}

#[tokio::test]
async fn github_is_listed_only_while_the_app_runs() {
    let s = Server::start_with_env(&[
        ("GITHUB_APP_ID", "4242"),
        ("GITHUB_PRIVATE_KEY", TEST_APP_KEY),
        ("GITHUB_WEBHOOK_SECRET", "a-webhook-secret"),
        ("GITHUB_API_URL", "http://127.0.0.1:9"),
    ])
    .await;
    let r = s.req(Method::GET, "/v1/meta").send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let f = features(&r.json);
    assert!(f.iter().any(|x| x == "github"), "{f:?}");
    assert!(f.iter().any(|x| x == "reviewers"), "{f:?}");
    assert!(f.iter().any(|x| x == "long_poll"), "{f:?}");
}
