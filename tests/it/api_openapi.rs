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

/// `METHOD /path` as the specification writes a route in backticks, the path's query and a body
/// sketch (`{login}` after a space) left off, its ids named as the OpenAPI document names them.
fn route_of(text: &str) -> Option<(String, String)> {
    let (method, rest) = text.split_once(' ')?;
    if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) || !rest.starts_with('/') {
        return None;
    }
    let path = rest.split([' ', '?']).next()?;
    // The spec's shorthand `{id}` for the id the route's own section names.
    let path = path
        .replace("/tasks/{id}", "/tasks/{task_id}")
        .replace("/proposals/{id}", "/proposals/{proposal_id}");
    Some((method.to_lowercase(), path))
}

/// A route: its method and its path.
type Route = (String, String);

/// The routes in the first cell of the rows of the tables of section 9's opening (before 9.1):
/// `(protocol, extensions)`, the second table being OWP Pool's extensions.
fn spec_routes(spec: &str) -> (Vec<Route>, Vec<Route>) {
    let start = spec.find("\n## 9. Endpoints").expect("section 9");
    let end = start + spec[start..].find("\n### 9.1").expect("section 9.1");
    let (mut protocol, mut extensions) = (Vec::new(), Vec::new());
    let mut in_extensions = false;
    for line in spec[start..end].lines() {
        if line.starts_with("| extension of OWP Pool |") {
            in_extensions = true;
        }
        let Some(cell) = line.strip_prefix("| `").and_then(|l| l.split('`').next()) else {
            continue;
        };
        if let Some(route) = route_of(cell) {
            if in_extensions {
                extensions.push(route);
            } else {
                protocol.push(route);
            }
        }
    }
    (protocol, extensions)
}

/// Every route the specification names anywhere, in backticks; GitHub's own API (which the
/// GitHub binding calls) left out.
fn routes_named(spec: &str) -> Vec<(String, String)> {
    const GITHUB_API: [&str; 3] = ["/repos/", "/user", "/users/"];
    spec.split('`')
        .skip(1)
        .step_by(2)
        .filter(|code| !code.contains('\n'))
        .filter_map(route_of)
        .filter(|(_, path)| !GITHUB_API.iter().any(|g| path.starts_with(g)))
        .collect()
}

#[test]
fn the_spec_route_reader_reads_routes() {
    assert_eq!(
        route_of("POST /v1/admin/proposals/{id}/decline {reason?}"),
        Some((
            "post".into(),
            "/v1/admin/proposals/{proposal_id}/decline".into()
        ))
    );
    assert_eq!(
        route_of("GET /v1/leaderboard?repo=&days="),
        Some(("get".into(), "/v1/leaderboard".into()))
    );
    assert_eq!(route_of("GET is safe"), None);
    let spec = "\n## 9. Endpoints\n\n| method and path | who |\n|---|---|\n| `GET /a` | x |\n\n\
                | extension of OWP Pool | what |\n|---|---|\n| `POST /b/{id}` | y |\n\n### 9.1 \
                x\n| `GET /c` | z |\n";
    let (protocol, extensions) = spec_routes(spec);
    assert_eq!(protocol, [("get".to_string(), "/a".to_string())]);
    assert_eq!(extensions, [("post".to_string(), "/b/{id}".to_string())]);
}

/// Section 9's table is the protocol's one list of routes, and its second table OWP Pool's
/// extensions. `docs/openapi.json` documents every route of the first without
/// `x-owp-extension`, every route of the second with `x-owp-extension: true`, and nothing else;
/// and every route the specification names elsewhere is in one of the two tables.
#[test]
fn the_document_holds_the_specs_routes_and_only_those() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let spec = std::fs::read_to_string(root.join("docs/owp-spec.md")).unwrap();
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(committed_path()).unwrap()).unwrap();
    let (protocol, extensions) = spec_routes(&spec);
    assert!(protocol.len() >= 40, "section 9 lists {protocol:?}");
    assert!(!extensions.is_empty());
    let mut problems = Vec::new();
    for (routes, extension) in [(&protocol, false), (&extensions, true)] {
        for (method, path) in routes {
            match doc["paths"][path].get(method) {
                None => problems.push(format!(
                    "{} {path}: in section 9 of the spec, not in docs/openapi.json",
                    method.to_uppercase()
                )),
                Some(op) if (op["x-owp-extension"] == true) != extension => problems.push(format!(
                    "{} {path}: {} in the spec, but `x-owp-extension` is {}",
                    method.to_uppercase(),
                    if extension {
                        "an extension"
                    } else {
                        "a route of the protocol"
                    },
                    op["x-owp-extension"]
                )),
                Some(_) => {}
            }
        }
    }
    let listed = |m: &str, p: &str| {
        protocol
            .iter()
            .chain(&extensions)
            .any(|(lm, lp)| lm == m && lp == p)
    };
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if !listed(method, path) {
                problems.push(format!(
                    "{} {path}: in docs/openapi.json, not in section 9 of the spec",
                    method.to_uppercase()
                ));
            }
        }
    }
    for (method, path) in routes_named(&spec) {
        if !listed(&method, &path) {
            problems.push(format!(
                "{} {path}: named by the spec, in neither table of section 9",
                method.to_uppercase()
            ));
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
