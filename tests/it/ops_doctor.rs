//! `owp doctor` run as a person runs it, against a fake GitHub (`GET /app` checks the App JWT's
//! signature) and a real service answering `/healthz`.

#[allow(unused_imports)]
use crate::github_support;
use std::path::Path;

use github_support::{FakeGithub, OTHER_KEY, TEST_APP_ID, TEST_APP_KEY};

/// Runs `owp doctor` in `dir` with exactly `env` (nothing from the caller's environment).
async fn doctor(dir: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"));
    cmd.arg("doctor").current_dir(dir).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("run owp doctor");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn line<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find(|l| {
            let mut chars = l.trim_start().chars();
            chars.next();
            chars.as_str().trim_start().starts_with(name)
        })
        .unwrap_or_else(|| panic!("no `{name}` line in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_complete_configuration_passes_every_check() {
    let fake = FakeGithub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("owp.db");
    let service = owp::server::start(
        owp::config::ServeConfig::for_tests(
            &dir.path().join("service.db"),
            "service-token-0123456789",
        ),
        false,
    )
    .await
    .unwrap();
    let public = format!("http://{}", service.addr);
    let app_id = TEST_APP_ID.to_string();
    let (ok, text) = doctor(
        dir.path(),
        &[
            ("OWP_DB", db.to_str().unwrap()),
            ("OWP_ADMIN_TOKEN", "0123456789abcdef0123456789abcdef"),
            ("GITHUB_APP_ID", &app_id),
            ("GITHUB_PRIVATE_KEY", TEST_APP_KEY),
            ("GITHUB_API_URL", fake.url()),
            ("GITHUB_WEBHOOK_SECRET", "a-webhook-secret"),
            ("OWP_PUBLIC_URL", &public),
        ],
    )
    .await;
    assert!(ok, "{text}");
    for name in [
        "Database",
        "Admin token",
        "GitHub App key",
        "GitHub accepts App",
        "Webhook secret",
        "Public URL",
    ] {
        assert!(
            line(&text, name).trim_start().starts_with('✔'),
            "{name}:\n{text}"
        );
    }
    assert!(
        line(&text, "GitHub accepts App").contains("OWP Pool (test)"),
        "{text}"
    );
    assert!(text.contains("All checks passed."), "{text}");
    assert!(
        !text.contains("0123456789abcdef"),
        "the admin token is never printed"
    );
    assert!(!text.contains("a-webhook-secret"), "nor the webhook secret");
    assert!(!db.exists(), "checking creates no database");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn problems_fail_with_a_fix_each() {
    let fake = FakeGithub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app_id = TEST_APP_ID.to_string();
    // A key of another App, no admin token, no webhook secret, a public URL nobody answers at.
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let public = format!("http://127.0.0.1:{closed_port}");
    let (ok, text) = doctor(
        dir.path(),
        &[
            ("OWP_DB", dir.path().join("owp.db").to_str().unwrap()),
            ("GITHUB_APP_ID", &app_id),
            ("GITHUB_PRIVATE_KEY", OTHER_KEY),
            ("GITHUB_API_URL", fake.url()),
            ("OWP_PUBLIC_URL", &public),
        ],
    )
    .await;
    assert!(!ok, "exit status 1:\n{text}");
    assert!(
        line(&text, "Database").trim_start().starts_with('✔'),
        "{text}"
    );
    for name in [
        "Admin token",
        "GitHub accepts App",
        "Webhook secret",
        "Public URL",
    ] {
        let l = line(&text, name);
        assert!(l.trim_start().starts_with('✘'), "{name}:\n{text}");
    }
    assert!(
        line(&text, "GitHub App key").trim_start().starts_with('✔'),
        "the key itself parses"
    );
    assert!(
        line(&text, "GitHub accepts App").contains("refused"),
        "{text}"
    );
    assert_eq!(
        text.matches("fix:").count(),
        4,
        "one fix per failure:\n{text}"
    );
    assert!(text.contains("4 checks failed"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_github_the_github_checks_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = doctor(
        dir.path(),
        &[("OWP_ADMIN_TOKEN", "0123456789abcdef0123456789abcdef")],
    )
    .await;
    assert!(ok, "{text}");
    for name in ["GitHub App", "Webhook secret", "Public URL"] {
        assert!(
            line(&text, name).trim_start().starts_with('–'),
            "{name}:\n{text}"
        );
    }
    assert!(
        line(&text, "Database").contains("not created yet"),
        "{text}"
    );
}
