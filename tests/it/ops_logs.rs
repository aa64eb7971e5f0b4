//! What an on-call person reads, from a real `owp serve`: every request has an id (the client's
//! `X-Request-Id` when sane, else one of the server's), echoed in the answer and named on the
//! request's log lines with its method and route, a 500 among them; `OWP_LOG_FORMAT=json` makes
//! every line JSON, the start-up lines included, with no credential in them, and names the
//! instance id the App claims its queued rows under; every environment variable the code reads is
//! in the `--help` of a command.

use crate::github_support::FakeGithub;
use crate::support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use support::Server;

const TEST_APP_KEY: &str = include_str!("../fixtures/github/test-app-key.pem");

/// The server's log as JSON lines; panics on a line that is not one.
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {l:?}\n{log}"))
        })
        .collect()
}

/// The log lines written in the span of the request `id`.
fn lines_of(lines: &[Value], id: &str) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| l["span"]["request_id"] == id)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_request_id_is_echoed_and_names_the_request_s_log_lines() {
    let server = Server::start_with_env(&[
        ("OWP_LOG_FORMAT", "json"),
        ("OWP_LOG", "info,tower_http=debug"),
    ])
    .await;
    // The client's id, kept.
    let r = server
        .req(Method::GET, "/v1/admin/state")
        .admin(&server)
        .header("X-Request-Id", "lb-7f3a:web.1")
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.header("x-request-id").as_deref(), Some("lb-7f3a:web.1"));
    // An id that could forge log lines or grow them, replaced; none sent, one made.
    let mut made = BTreeSet::new();
    for sent in [Some("x".repeat(65)), Some("a b\"c".to_string()), None] {
        let mut req = server.req(Method::GET, "/healthz");
        if let Some(sent) = &sent {
            req = req.header("X-Request-Id", sent);
        }
        let r = req.send().await;
        let id = r.header("x-request-id").expect("an id in every answer");
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id:?} for {sent:?}"
        );
        made.insert(id);
    }
    assert_eq!(made.len(), 3, "each request its own id");

    // A 500: the table the route needs is gone.
    server.database.rename_table("repos", "repos_gone").await;
    let r = server
        .req(Method::POST, "/v1/admin/repos")
        .admin(&server)
        .header("X-Request-Id", "broken-1")
        .json(&json!({"repo": "acme/web", "max_open_prs": 2}))
        .send()
        .await;
    assert_eq!(r.status, 500, "{}", r.describe());
    assert_eq!(r.header("x-request-id").as_deref(), Some("broken-1"));
    assert!(
        !r.text.contains("repos"),
        "internal text reached the client"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    let lines = json_lines(&server.log());
    let kept = lines_of(&lines, "lb-7f3a:web.1");
    assert!(!kept.is_empty(), "no line of the request");
    for line in &kept {
        assert_eq!(line["span"]["method"], "GET", "{line}");
        assert_eq!(line["span"]["route"], "/v1/admin/state", "{line}");
    }
    let failed = lines_of(&lines, "broken-1");
    let error = failed
        .iter()
        .find(|l| l["level"] == "ERROR" && l["fields"]["message"] == "internal error")
        .unwrap_or_else(|| panic!("no error line of the 500: {failed:#?}"));
    assert_eq!(error["span"]["method"], "POST", "{error}");
    assert_eq!(error["span"]["route"], "/v1/admin/repos", "{error}");
    assert!(
        error["fields"]["error"]
            .as_str()
            .unwrap_or("")
            .contains("repos"),
        "the log keeps the cause: {error}"
    );
}

#[tokio::test]
async fn json_logs_are_only_json_and_hold_no_credential() {
    // Without an App: the setup link and its key are not logged.
    let server = Server::start_with_env(&[("OWP_LOG_FORMAT", "json")]).await;
    let log = server.log();
    let lines = json_lines(&log);
    assert!(
        !log.contains("key="),
        "the setup link's key in the log: {log}"
    );
    assert!(
        !log.contains(&server.admin_token),
        "the admin token in the log"
    );
    let running = lines
        .iter()
        .find(|l| l["fields"]["message"] == "OWP Pool is running")
        .unwrap_or_else(|| panic!("no start-up line: {log}"));
    assert_eq!(running["fields"]["api"], server.base.as_str(), "{running}");
    let setup = lines
        .iter()
        .find(|l| l["fields"].get("setup_page").is_some())
        .unwrap_or_else(|| panic!("the setup page is not named: {log}"));
    assert_eq!(
        setup["fields"]["setup_page"],
        format!("{}/github/setup", server.base),
        "{setup}"
    );

    // With the App: its instance id, the `claimed_by` of the rows it takes, at start.
    let fake = FakeGithub::start().await;
    let app_id = fake.app_id().to_string();
    let server = Server::start_with_env(&[
        ("OWP_LOG_FORMAT", "json"),
        ("GITHUB_APP_ID", &app_id),
        ("GITHUB_PRIVATE_KEY", TEST_APP_KEY),
        ("GITHUB_WEBHOOK_SECRET", "a-webhook-secret-for-logs"),
        ("GITHUB_API_URL", fake.url()),
        ("GITHUB_WEB_URL", fake.web_url()),
        ("OWP_PUBLIC_URL", "https://pool.example.org"),
    ])
    .await;
    let log = server.log();
    let lines = json_lines(&log);
    assert!(!log.contains("a-webhook-secret-for-logs"), "{log}");
    assert!(!log.contains("PRIVATE KEY"), "{log}");
    let on = lines
        .iter()
        .find(|l| l["fields"]["message"] == "GitHub App on")
        .unwrap_or_else(|| panic!("no App line: {log}"));
    let instance = on["fields"]["instance"].as_str().unwrap_or_default();
    assert!(instance.starts_with("owp-") && instance.len() > 8, "{on}");

    // A failed start is one JSON line too.
    let taken = server.base.rsplit(':').next().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .args(["serve", "--host", "127.0.0.1", "--port", &taken])
        .env("OWP_LOG_FORMAT", "json")
        .env("OWP_ADMIN_TOKEN", "a-long-enough-admin-token-for-this-test")
        .current_dir(server.dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines = json_lines(&stderr);
    assert!(
        lines.iter().any(|l| l["level"] == "ERROR"
            && l["fields"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("in use")),
        "{stderr}"
    );
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// A variable's name at the start of `text` (`OWP_…` or `GITHUB_…`), if one is there.
fn name_at(text: &str) -> Option<&str> {
    if !(text.starts_with("OWP_") || text.starts_with("GITHUB_")) {
        return None;
    }
    let end = text
        .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(text.len());
    Some(&text[..end])
}

/// What follows each `marker` in `text`.
fn after<'a>(text: &'a str, marker: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    text.match_indices(marker)
        .map(move |(i, _)| &text[i + marker.len()..])
}

/// The `OWP_*` and `GITHUB_*` names the code reads from the environment: clap arguments with
/// `env = "…"` (hidden ones included), `env::var("…")`, `env::var_os("…")`,
/// `try_from_env("…")`, and the constants read so by name.
fn variables_read() -> BTreeSet<String> {
    let mut files = Vec::new();
    // The `owp` crate and the workspace's crates below it (crates/).
    for dir in ["src", "crates"] {
        sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir), &mut files);
    }
    let mut names = BTreeSet::new();
    let mut consts = BTreeSet::new();
    for text in &files {
        for marker in ["env::var(\"", "env::var_os(\"", "try_from_env(\""] {
            names.extend(after(text, marker).filter_map(name_at).map(String::from));
        }
        for marker in ["env::var(", "env::var_os("] {
            for rest in after(text, marker) {
                let end = rest.find(')').unwrap_or(0);
                let arg = rest[..end].trim();
                if !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                    consts.insert(arg.to_string());
                }
            }
        }
        for (i, _) in text.match_indices("env = \"") {
            let Some(name) = name_at(&text[i + 7..]) else {
                continue;
            };
            // Hidden ones too: an operator meets every variable in a --help, tuning knobs
            // included.
            names.insert(name.to_string());
        }
    }
    for konst in consts {
        let marker = format!("const {konst}: &str = \"");
        for text in &files {
            names.extend(after(text, &marker).filter_map(name_at).map(String::from));
        }
    }
    names
}

#[test]
fn every_variable_the_code_reads_is_in_a_help() {
    let owp = env!("CARGO_BIN_EXE_owp");
    let commands: &[&[&str]] = &[
        &["serve"],
        &["doctor"],
        &["healthcheck"],
        &["mcp"],
        &["bench"],
        &["demo"],
        &["login"],
        &["leaderboard"],
        &["conformance"],
        &["admin"],
        &["worker"],
        &["worker", "join"],
        &["worker", "register"],
        &["worker", "run"],
        &["worker", "status"],
        &["worker", "link"],
    ];
    let mut help = String::new();
    for args in commands {
        let out = std::process::Command::new(owp)
            .args(*args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "owp {args:?} --help");
        help.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    let read = variables_read();
    assert!(
        read.contains("OWP_LOG") && read.contains("OWP_DATABASE_URL"),
        "the scan finds the variables: {read:?}"
    );
    // The name as a whole word (`OWP_LOG` is not found in `OWP_LOG_FORMAT`).
    let word = |v: &str| {
        after(&help, v)
            .any(|rest| !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
    };
    let missing: Vec<_> = read
        .iter()
        // Test hooks, never set by an operator.
        .filter(|v| !v.starts_with("OWP_TEST_"))
        .filter(|v| !word(v))
        .collect();
    assert!(missing.is_empty(), "read but in no --help: {missing:?}");
    // `owp serve --help` itself names the log filter.
    let out = std::process::Command::new(owp)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let serve = String::from_utf8_lossy(&out.stdout);
    assert!(serve.contains("env: OWP_LOG="), "{serve}");
}
