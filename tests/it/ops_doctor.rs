//! `owp doctor` run as a person runs it, against a fake GitHub (`GET /app` checks the App JWT's
//! signature) and a real service answering `/healthz`.

#[allow(unused_imports)]
use crate::github_support;
use std::path::Path;

use github_support::{
    FakeGithub, OTHER_KEY, OTHER_PUBLIC_KEY, TEST_APP_ID, TEST_APP_KEY, TEST_APP_PUBLIC_KEY,
};

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
    assert!(
        line(&text, "Admin token").trim_start().starts_with('!'),
        "no token yet is a warning: a first `owp serve` generates one\n{text}"
    );
    for name in ["GitHub accepts App", "Webhook secret", "Public URL"] {
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
        "one fix per failure or warning:\n{text}"
    );
    assert!(text.contains("3 checks failed, 1 warning"), "{text}");
}

/// The fingerprint GitHub lists beside a key in the App's settings, from its public half as
/// GitHub holds it: `SHA256:` and the base64 of the SHA-256 of the DER.
fn fingerprint(public_pem: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let body: String = public_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let digest = sha2::Sha256::digest(der);
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Several keys in `GITHUB_PRIVATE_KEY` (a rotation under way): GitHub is asked about each, and
/// each is shown by its position and fingerprint, never by the key. A key GitHub refuses beside
/// one it takes is a warning naming the key to remove; the check fails only when it takes none.
#[tokio::test(flavor = "multi_thread")]
async fn each_app_key_is_asked_about_and_shown_by_its_fingerprint() {
    let fake = FakeGithub::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app_id = TEST_APP_ID.to_string();
    let db = dir.path().join("owp.db");
    // The new key first, then the one GitHub has: step 2 of the README's rotation, done before
    // step 1 (the new key generated on GitHub).
    let keys = format!("{OTHER_KEY}\n{TEST_APP_KEY}");
    let env = [
        ("OWP_DB", db.to_str().unwrap()),
        ("OWP_ADMIN_TOKEN", "0123456789abcdef0123456789abcdef"),
        ("GITHUB_APP_ID", app_id.as_str()),
        ("GITHUB_PRIVATE_KEY", keys.as_str()),
        ("GITHUB_API_URL", fake.url()),
        ("GITHUB_WEBHOOK_SECRET", "a-webhook-secret"),
    ];
    let (new, old) = (
        fingerprint(OTHER_PUBLIC_KEY),
        fingerprint(TEST_APP_PUBLIC_KEY),
    );
    let never_shown = |text: &str| {
        assert!(!text.contains("PRIVATE KEY"), "{text}");
        for key in [OTHER_KEY, TEST_APP_KEY] {
            let body = key.lines().nth(1).unwrap();
            assert!(!text.contains(body), "a key was printed:\n{text}");
        }
    };

    let (ok, text) = doctor(dir.path(), &env).await;
    assert!(ok, "one key GitHub takes is enough:\n{text}");
    never_shown(&text);
    assert!(
        line(&text, "GitHub App key").contains("2 private keys parse"),
        "{text}"
    );
    let l = line(&text, "GitHub accepts App");
    assert!(l.trim_start().starts_with('!'), "{text}");
    assert!(l.contains("with key 2 of 2"), "{text}");
    assert!(
        text.contains(&format!("key 1 of 2 ({new}): refused (401")),
        "{text}"
    );
    assert!(
        text.contains(&format!("key 2 of 2 ({old}): accepted")),
        "{text}"
    );
    assert!(
        text.contains("fix: GitHub no longer has key 1 of 2") && text.contains("remove it"),
        "{text}"
    );

    // Step 1 done: GitHub has both keys.
    fake.add_app_key(OTHER_PUBLIC_KEY);
    let (ok, text) = doctor(dir.path(), &env).await;
    assert!(ok, "{text}");
    assert!(
        line(&text, "GitHub accepts App")
            .trim_start()
            .starts_with('✔'),
        "{text}"
    );
    assert!(
        line(&text, "GitHub accepts App").contains("with key 1 of 2"),
        "{text}"
    );
    for shown in [
        format!("key 1 of 2 ({new}): accepted"),
        format!("key 2 of 2 ({old}): accepted"),
    ] {
        assert!(text.contains(&shown), "{shown}:\n{text}");
    }

    // Step 3: the old key deleted on GitHub, still given here.
    fake.delete_app_key(TEST_APP_PUBLIC_KEY);
    let (ok, text) = doctor(dir.path(), &env).await;
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("key 2 of 2 ({old}): refused")),
        "{text}"
    );
    assert!(
        text.contains("fix: GitHub no longer has key 2 of 2"),
        "{text}"
    );

    // Both deleted: none works, and the fix says what to do.
    fake.delete_app_key(OTHER_PUBLIC_KEY);
    let (ok, text) = doctor(dir.path(), &env).await;
    assert!(!ok, "exit status 1:\n{text}");
    never_shown(&text);
    let l = line(&text, "GitHub accepts App");
    assert!(l.trim_start().starts_with('✘'), "{text}");
    assert!(l.contains("each of the 2 keys"), "{text}");
    for shown in [
        format!("key 1 of 2 ({new}): refused"),
        format!("key 2 of 2 ({old}): refused"),
    ] {
        assert!(text.contains(&shown), "{shown}:\n{text}");
    }
    assert!(
        text.contains("fix: none of the 2 keys in GITHUB_PRIVATE_KEY is one of this App's"),
        "{text}"
    );
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

// ---- a first run: `owp serve` as a newcomer starts it, then `owp doctor` -------------------------

/// `owp serve` started in `dir` with only `args` and `env` (nothing from the caller's
/// environment), its stderr read line by line.
pub(crate) struct Serve {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Serve {
    pub(crate) fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Serve {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_owp"));
        cmd.arg("serve")
            .args(args)
            .current_dir(dir)
            .env_clear()
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn owp serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Serve {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Everything printed up to and including the first line containing `needle` (or the end).
    pub(crate) fn until(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            match self
                .lines
                .recv_timeout(std::time::Duration::from_millis(200))
            {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.seen.push(line);
                    if found {
                        break;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        self.seen.join("\n")
    }

    /// Waits for the process to end by itself; its exit status and everything it printed.
    fn finish(mut self) -> (bool, String) {
        let status = self.child.wait().expect("owp serve ends");
        let text = self.until("\u{0}never printed");
        (status.success(), text)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_serve_says_where_everything_is_and_doctor_agrees() {
    let dir = tempfile::tempdir().unwrap();
    // Before anything: no token yet is fine here, as `owp serve` generates one.
    let (ok, before) = doctor(dir.path(), &[]).await;
    assert!(ok, "doctor passes before the first run:\n{before}");
    assert!(
        line(&before, "Admin token").contains("a first `owp serve` here generates one"),
        "{before}"
    );
    assert!(before.contains("`owp serve` can start here"), "{before}");

    let mut serve = Serve::start(dir.path(), &["--port", "0"], &[]);
    let text = serve.until("  Next ");
    assert!(text.contains("OWP Pool is running."), "{text}");
    let token_line = std::fs::read_to_string(dir.path().join("env.local")).unwrap();
    let token = token_line
        .trim()
        .strip_prefix("OWP_ADMIN_TOKEN=")
        .expect("env.local holds the generated token");
    assert!(!text.contains(token), "the token is never printed:\n{text}");
    assert!(!text.contains('\u{1b}'), "no colours in a pipe:\n{text}");
    let dashboard = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Dashboard"))
        .unwrap_or_else(|| panic!("a dashboard line:\n{text}"))
        .trim();
    let url = dashboard.split_whitespace().next().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{text}");
    let page = reqwest::get(url).await.unwrap();
    assert!(page.status().is_success(), "the dashboard answers at {url}");
    let env_local = dir.path().join("env.local");
    assert!(
        text.contains(&format!("saved to {}", env_local.display())),
        "names the file with the token:\n{text}"
    );
    assert!(
        text.contains("owp admin init-repo demo --max-open-prs 2 --server http://127.0.0.1:"),
        "the next command, with the port it runs on:\n{text}"
    );

    // Exactly the state the first run left: doctor passes and says where the token is.
    let (ok, after) = doctor(dir.path(), &[]).await;
    assert!(ok, "doctor passes after the first run:\n{after}");
    let admin = line(&after, "Admin token");
    assert!(admin.trim_start().starts_with('✔'), "{after}");
    assert!(admin.contains("env.local"), "{after}");
    assert!(!after.contains(token), "{after}");
    assert!(
        line(&after, "Database").contains("takes writes"),
        "the database the running service uses:\n{after}"
    );
    assert!(after.contains("All checks passed"), "{after}");
}

#[test]
fn serve_on_a_taken_port_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (ok, text) = Serve::start(dir.path(), &["--port", &port], &[]).finish();
    assert!(!ok, "{text}");
    assert_eq!(text.lines().count(), 1, "one line:\n{text}");
    assert!(
        text.contains(&format!("port {port} is in use")) && text.contains("pass --port"),
        "{text}"
    );
    assert!(!text.contains("os error"), "no raw library error:\n{text}");
    assert_eq!(
        entries(dir.path()),
        Vec::<String>::new(),
        "no owp.db, no env.local"
    );
}

#[test]
fn serve_names_a_missing_database_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, text) = Serve::start(
        dir.path(),
        &["--port", "0", "--db", "./data/owp.db"],
        &[("OWP_LOG", "info")],
    )
    .finish();
    assert!(!ok, "{text}");
    assert_eq!(text.lines().count(), 1, "one line:\n{text}");
    assert!(
        text.contains("the directory ./data does not exist") && text.contains("mkdir -p ./data"),
        "{text}"
    );
    assert!(!text.contains("code: 14"), "{text}");
    assert_eq!(entries(dir.path()), Vec::<String>::new(), "nothing created");
}

#[test]
fn serve_logs_without_colours_in_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    // A pipe is not a terminal: plain text, whatever the log level prints.
    let mut serve = Serve::start(
        dir.path(),
        &["--port", "0"],
        &[
            ("OWP_LOG", "debug"),
            ("OWP_ADMIN_TOKEN", "0123456789abcdef0123456789abcdef"),
        ],
    );
    let text = serve.until("  Next ");
    assert!(
        text.contains("OWP Pool is listening"),
        "the log line is there:\n{text}"
    );
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("Admin token")
                && l.contains("OWP_ADMIN_TOKEN in the environment")),
        "{text}"
    );
}

/// On a maintainer's machine after `owp login`, no admin token is needed: the doctor checks the
/// saved sign-in against its server instead, and says when the server no longer takes it.
#[tokio::test(flavor = "multi_thread")]
async fn a_maintainers_sign_in_stands_for_the_admin_token() {
    let story = crate::signin::story().await;
    let token = crate::signin::device_sign_in(&story, crate::signin::MONA).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let saved = serde_json::json!({"server": story.url(), "login": "mona", "token": token,
                                   "expires_at": "2099-01-01T00:00:00.000Z"});
    std::fs::write(config.join("maintainer.json"), saved.to_string()).unwrap();
    let env = [
        (
            "OWP_DB",
            dir.path().join("owp.db").to_str().unwrap().to_string(),
        ),
        ("OWP_CONFIG_DIR", config.to_str().unwrap().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let (ok, text) = doctor(dir.path(), &env).await;
    assert!(ok, "{text}");
    let admin = line(&text, "Admin token");
    assert!(admin.trim_start().starts_with('✔'), "{text}");
    assert!(
        admin.contains(&format!("signed in to {} as mona", story.url())),
        "{text}"
    );
    assert!(admin.contains("1 repository mona maintains"), "{text}");
    assert!(!text.contains("not set yet"), "{text}");
    assert!(!text.contains(&token), "the token is never printed");

    // Signed out on the server: a warning, with the way back.
    let out = reqwest::Client::new()
        .post(format!("{}/v1/auth/logout", story.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success(), "{}", out.status());
    let (ok, text) = doctor(dir.path(), &env).await;
    assert!(ok, "a warning fails nothing:\n{text}");
    let admin = line(&text, "Admin token");
    assert!(admin.trim_start().starts_with('!'), "{text}");
    assert!(admin.contains("no longer takes it"), "{text}");
    assert!(
        text.contains(&format!("run `owp login {}` again", story.url())),
        "{text}"
    );

    // Neither a token nor a sign-in: the first-run warning, as before.
    std::fs::remove_file(config.join("maintainer.json")).unwrap();
    let (_, text) = doctor(dir.path(), &env).await;
    assert!(line(&text, "Admin token").contains("not set yet"), "{text}");
}
