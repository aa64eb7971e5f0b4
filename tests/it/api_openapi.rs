//! The OpenAPI document kept in the repository (`docs/openapi.json`) is the one the server serves
//! at `GET /v1/openapi.json`, whatever the configuration: the TypeScript clients under `clients/`
//! and `tests/mcp_client` take their types from that file, so it must never drift from the server.
//!
//! `OWP_UPDATE_OPENAPI=1 cargo test --test it api_openapi` rewrites the file from the served document.

use crate::support;

use std::path::PathBuf;

use reqwest::Method;
use serde_json::Value;
use support::Server;

const TEST_APP_KEY: &str = include_str!("../fixtures/github/test-app-key.pem");

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json")
}

/// The file's form: two-space indentation, keys in sorted order (serde_json's map without
/// `preserve_order` is a sorted map), and a trailing newline.
fn render(doc: &Value) -> String {
    let sorted: Value = serde_json::from_str(&doc.to_string()).expect("a JSON value re-parses");
    let mut text = serde_json::to_string_pretty(&sorted).expect("JSON serialises");
    text.push('\n');
    text
}

async fn served(s: &Server) -> Value {
    let r = s.req(Method::GET, "/v1/openapi.json").send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

/// The first line where two texts differ, with its number, for a failure message a person can
/// act on without a diff tool.
fn first_difference(committed: &str, served: &str) -> String {
    let mut a = committed.lines();
    let mut b = served.lines();
    let mut n = 1;
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            (x, y) => {
                return format!(
                    "line {n}: docs/openapi.json has {:?}, the server serves {:?}",
                    x.unwrap_or("<end of file>"),
                    y.unwrap_or("<end of document>")
                );
            }
        }
    }
}

#[tokio::test]
async fn the_committed_document_is_the_served_one() {
    let s = Server::start().await;
    let doc = served(&s).await;
    let text = render(&doc);
    let path = committed_path();
    if std::env::var("OWP_UPDATE_OPENAPI").as_deref() == Ok("1") {
        std::fs::write(&path, &text).expect("docs/openapi.json is writable");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "docs/openapi.json differs from the document served at GET /v1/openapi.json ({}); \
         regenerate it with `OWP_UPDATE_OPENAPI=1 cargo test --test it api_openapi`, then the \
         TypeScript types with `npm --prefix clients/obsidian run gen-api`",
        first_difference(&committed, &text)
    );
}

#[tokio::test]
async fn the_document_does_not_depend_on_the_configuration() {
    let plain = Server::start_with_env(&[
        ("OWP_LEASE_TTL_SECONDS", "777"),
        ("OWP_PUBLIC_BOARDS", "1"),
        ("OWP_PUBLIC_URL", "https://pool.example.org"),
    ])
    .await;
    let github = Server::start_with_env(&[
        ("GITHUB_APP_ID", "4242"),
        ("GITHUB_PRIVATE_KEY", TEST_APP_KEY),
        ("GITHUB_WEBHOOK_SECRET", "a-webhook-secret"),
        ("GITHUB_API_URL", "http://127.0.0.1:9"),
    ])
    .await;
    let (a, b) = (served(&plain).await, served(&github).await);
    assert!(
        a == b,
        "the served OpenAPI document changes with the configuration ({})",
        first_difference(&render(&a), &render(&b))
    );
    // A document that named the machine (its address, port or paths) would differ between two
    // servers on two ports.
    let text = render(&a);
    for needle in [
        plain.url(""),
        github.url(""),
        plain.dir().display().to_string(),
    ] {
        assert!(
            !text.contains(needle.trim_end_matches('/')),
            "the document names {needle}"
        );
    }
}
