//! Process configuration (contract section 0): environment files and the first run without an
//! admin token.

use crate::support;

use reqwest::Method;
use serde_json::json;
use support::*;

/// Finds the admin token a first run chose: in `env.local` (dotenv syntax), or printed in the log.
async fn discover_admin_token(s: &Server) -> Option<String> {
    let mut candidates = Vec::new();
    if let Ok(text) = std::fs::read_to_string(s.dir().join("env.local")) {
        for line in text.lines() {
            let line = line.trim().trim_start_matches("export ").trim();
            if let Some(v) = line.strip_prefix("OWP_ADMIN_TOKEN=") {
                candidates.push(v.trim().trim_matches('"').trim_matches('\'').to_string());
            }
        }
    }
    for word in s
        .log()
        .split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '=')
    {
        let word = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_');
        if word.len() >= 16 && !candidates.iter().any(|c| c == word) {
            candidates.push(word.to_string());
        }
    }
    for candidate in candidates.into_iter().take(200) {
        let r = s
            .req(Method::GET, "/v1/admin/state")
            .header("X-Admin-Token", &candidate)
            .send()
            .await;
        if r.status == 200 {
            return Some(candidate);
        }
    }
    None
}

#[tokio::test]
async fn first_run_without_admin_token_is_usable_and_never_open() {
    let mut s = Server::start_without_admin_token(&[]).await;
    s.req(Method::GET, "/healthz").send().await.expect(200);
    // Admin endpoints stay closed.
    s.req(Method::GET, "/v1/admin/state")
        .send()
        .await
        .expect_problem(401);
    s.req(Method::GET, "/v1/admin/state")
        .header("X-Admin-Token", "")
        .send()
        .await
        .expect_problem(401);
    s.req(Method::POST, "/v1/admin/repos")
        .json(&json!({"repo": "acme/open", "max_open_prs": 1}))
        .send()
        .await
        .expect_problem(401);
    // The newcomer can find the token without editing anything.
    let token = discover_admin_token(&s)
        .await
        .expect("the generated admin token is neither in env.local nor in the log");
    s.admin_token = token.clone();
    s.upsert_repo("acme/first", 2, true).await;

    // A restart in the same directory keeps the same token.
    s.stop();
    let mut again = s.start_sharing_without_admin_token().await;
    again
        .req(Method::GET, "/v1/admin/state")
        .send()
        .await
        .expect_problem(401);
    again.admin_token = token;
    let state = again.state().await;
    assert!(
        find(&state["repos"], "repo", "acme/first").is_some(),
        "{state}"
    );
}

#[tokio::test]
async fn env_files_are_read_and_the_real_environment_wins() {
    let s = Server::start_with_files(
        &[
            (
                "env.local",
                "OWP_ACCEPT_TTL_SECONDS=7\nOWP_LEASE_TTL_SECONDS=200\n",
            ),
            (
                ".env",
                "OWP_HEARTBEAT_TTL_SECONDS=44\nOWP_LEASE_TTL_SECONDS=300\n",
            ),
        ],
        &[("OWP_LEASE_TTL_SECONDS", "100")],
    )
    .await;
    let body = s
        .register(
            json!({"name": "w", "skills": [], "capacity_points": 1, "max_concurrent_tasks": 1}),
        )
        .await
        .expect(201);
    assert_eq!(body["accept_ttl_seconds"], 7, "from env.local: {body}");
    assert_eq!(body["heartbeat_ttl_seconds"], 44, "from .env: {body}");
    assert_eq!(
        body["lease_ttl_seconds"], 100,
        "the real environment wins: {body}"
    );
}

#[tokio::test]
async fn default_ttls_are_the_documented_ones() {
    let s = Server::start().await;
    let body = s
        .register(
            json!({"name": "w", "skills": [], "capacity_points": 1, "max_concurrent_tasks": 1}),
        )
        .await
        .expect(201);
    assert_eq!(body["lease_ttl_seconds"], 1800);
    assert_eq!(body["accept_ttl_seconds"], 120);
    assert_eq!(body["heartbeat_ttl_seconds"], 90);
}
