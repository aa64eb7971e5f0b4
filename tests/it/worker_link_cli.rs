//! `owp worker link`, `owp worker register --link`: the volunteer proves their GitHub account with
//! GitHub's device page, against a real `owp serve` whose GitHub App and OAuth client are the
//! fake GitHub's; the person's GitHub token appears nowhere in the server's log. And against a
//! hostile server that names another site as GitHub's device page: the CLI refuses to show it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::github_support::{FakeGithub, TEST_APP_KEY, TEST_CLIENT_ID, TEST_CLIENT_SECRET};
use crate::support::Server;

/// `owp ARGS` with the CLI's config in `config_dir`, the fake's GitHub as `GITHUB_WEB_URL`,
/// nothing from the caller's shell, standard input closed (no terminal).
fn owp(config_dir: &Path, web_url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_owp"));
    cmd.args(args)
        .env("OWP_CONFIG_DIR", config_dir)
        .env("GITHUB_WEB_URL", web_url)
        .env_remove("OWP_SERVER")
        .env_remove("OWP_PROFILE")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Reads the child's standard output up to the line that says where to enter which code; the
/// page and the code, and the lines read.
async fn code_line(child: &mut Child) -> (String, String, String) {
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut read = String::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            read.push_str(&line);
            read.push('\n');
            if let Some(rest) = line.strip_prefix("Open ") {
                let (page, code) = rest.split_once(" and enter ").unwrap();
                // "… and enter CODE to link worker NAME (ID) of the pool at URL"
                let code = code.split_whitespace().next().unwrap_or_default();
                return Some((page.to_string(), code.to_string()));
            }
        }
        None
    })
    .await
    .expect("the code was shown within 30 s");
    let (page, code) = found.unwrap_or_else(|| panic!("no code was shown:\n{read}"));
    // The rest of the output is read to the end while the command waits.
    tokio::spawn(async move {
        let mut rest = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push_str(&line);
            rest.push('\n');
        }
        rest
    });
    (page, code, read)
}

/// Waits for the child to end (at most a minute): success, and its standard error.
async fn ended(child: Child) -> (bool, String) {
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("ended within a minute")
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A real `owp serve` whose GitHub App and OAuth client are `fake`'s (device codes poll every
/// second), logging at debug.
pub(crate) async fn pool_with_github(fake: &FakeGithub) -> Server {
    fake.set_device_interval(1);
    let app_id = fake.app_id().to_string();
    Server::start_with_env(&[
        ("GITHUB_APP_ID", app_id.as_str()),
        ("GITHUB_PRIVATE_KEY", TEST_APP_KEY),
        ("GITHUB_WEBHOOK_SECRET", "hook-secret"),
        ("GITHUB_API_URL", fake.url()),
        ("GITHUB_WEB_URL", fake.web_url()),
        ("GITHUB_CLIENT_ID", TEST_CLIENT_ID),
        ("GITHUB_CLIENT_SECRET", TEST_CLIENT_SECRET),
        ("RUST_LOG", "debug"),
    ])
    .await
}

#[tokio::test]
async fn owp_worker_link_proves_the_volunteers_account_and_the_server_logs_no_token() {
    let fake = FakeGithub::start().await;
    let server = pool_with_github(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path();
    let web = fake.web_url();

    // Registered without the proof; then `owp worker link`.
    let out = owp(
        config,
        web,
        &[
            "worker",
            "register",
            "--server",
            &server.base,
            "--name",
            "bob-bot",
            "--no-link",
        ],
    )
    .output()
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Open "));
    let mut link = owp(config, web, &["worker", "link"]).spawn().unwrap();
    let (page, code, _) = code_line(&mut link).await;
    assert_eq!(page, format!("{web}/login/device"));
    fake.approve_device(&code, "bob").unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), link.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    // `register --link` runs the same proof without a terminal.
    let second = dir.path().join("second");
    let mut register = owp(
        &second,
        web,
        &[
            "worker",
            "register",
            "--server",
            &server.base,
            "--name",
            "carol-bot",
            "--link",
        ],
    )
    .spawn()
    .unwrap();
    let (_, code, _) = code_line(&mut register).await;
    fake.approve_device(&code, "carol").unwrap();
    let (ok, err) = ended(register).await;
    assert!(ok, "{err}");

    // `join --link` too.
    let fourth = dir.path().join("fourth");
    let mut join = owp(
        &fourth,
        web,
        &[
            "worker",
            "join",
            &server.base,
            "--name",
            "erin-bot",
            "--no-input",
            "--no-run",
            "--link",
        ],
    )
    .spawn()
    .unwrap();
    let (_, code, _) = code_line(&mut join).await;
    fake.approve_device(&code, "erin").unwrap();
    let (ok, err) = ended(join).await;
    assert!(ok, "{err}");

    let state = server.state().await;
    let workers = state["workers"].as_array().unwrap();
    for (name, login) in [
        ("bob-bot", "bob"),
        ("carol-bot", "carol"),
        ("erin-bot", "erin"),
    ] {
        let w = workers.iter().find(|w| w["name"] == name).unwrap();
        assert_eq!(w["github_login"], login, "{w}");
    }
    // Without a terminal and without `--link`, registering says how to prove it later and
    // does not wait for anyone.
    let third = dir.path().join("third");
    let out = owp(
        &third,
        web,
        &[
            "worker",
            "register",
            "--server",
            &server.base,
            "--name",
            "dan-bot",
        ],
    )
    .output()
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("run `owp worker link`"), "{said}");

    let log = server.log();
    assert!(
        log.contains("a worker was linked"),
        "the server logs at debug: {log}"
    );
    for login in ["bob", "carol"] {
        let tokens = fake.user_tokens_of(login);
        assert_eq!(tokens.len(), 1);
        assert!(
            !log.contains(&tokens[0]),
            "the log holds {login}'s GitHub token"
        );
    }
}

#[tokio::test]
async fn owp_worker_link_does_not_send_a_volunteer_to_a_page_that_is_not_githubs() {
    let app = axum::Router::new()
        .route(
            "/v1/workers/link/device",
            axum::routing::post(|| async {
                axum::Json(json!({
                    "device_code": "dc", "user_code": "WDJB-MJHT",
                    "verification_uri": "https://github.com.evil.example/login/device",
                    "interval": 1, "expires_in": 900
                }))
            }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "no").into_response() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let serving = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let profile = json!({
        "server": base, "worker_id": "w_1", "token": "owp_token", "name": "Ada"
    });
    std::fs::write(dir.path().join("worker.json"), profile.to_string()).unwrap();

    let out = owp(dir.path(), "https://github.com", &["worker", "link"])
        .output()
        .await
        .unwrap();
    serving.abort();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{all}");
    assert!(!all.contains("evil.example"), "{all}");
    assert!(
        !all.contains("WDJB-MJHT"),
        "no code to enter anywhere: {all}"
    );
    assert!(all.contains("not GitHub's"), "{all}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .trim_end()
            .lines()
            .count(),
        1,
        "one line: {all}"
    );
}
