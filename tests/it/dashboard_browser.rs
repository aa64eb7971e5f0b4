//! The dashboard in a real browser: headless Chromium driven over the DevTools protocol.
//!
//! Signs in with the admin token, watches the review-budget gauge follow tasks moved through the
//! API (no reload), sees a worker go offline when its heartbeats stop, and saves a screenshot to
//! `target/tmp/dashboard-browser.png`. Skips with a message when Chromium is not installed
//! (Debian: `apt-get install chromium`; `.ci/run` installs it).
//!
//! `cargo test --test it dashboard_browser -- --ignored readme_screenshot` refreshes the README's
//! picture (`docs/images/dashboard.png`) from a running `owp demo`.

#![cfg(unix)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "browser-test-admin-token-0123456789";

/// How long one start of Chromium may take to open its DevTools port (well under a second on an
/// idle machine; `.config/nextest.toml` starts at most two browsers at once).
const START_UP: Duration = Duration::from_secs(30);

// ---- a small DevTools protocol client ----------------------------------------------------------

/// Finds Chromium: `OWP_CHROMIUM`, else `chromium` (or a Chrome) on the `PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OWP_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The last lines Chromium printed, for a failure's message.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    if tail.is_empty() {
        "(nothing)".to_owned()
    } else {
        tail
    }
}

/// A headless Chromium with its own throw-away profile; killed (with its helpers) when dropped.
pub(crate) struct Browser {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The browser leads its own process group: end it and every helper it started. (Not with
        // the `kill` program: procps-ng 4.0.2 reads `kill -KILL -<pgid>` as "every process".)
        if let Ok(pgid) = i32::try_from(self.child.id())
            && pgid > 1
        {
            // SAFETY: `killpg` only sends a signal, to the group this browser leads.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts Chromium, or `None` (with a message) when it is not installed. A browser that has
    /// not opened its DevTools port within [`START_UP`] is killed and started once more; the
    /// failure names what each of the two printed.
    pub(crate) async fn launch(test: &str) -> Option<Browser> {
        let Some(binary) = chromium() else {
            crate::services::missing(
                "chromium",
                test,
                "Chromium not found (install Debian's `chromium` package, or set OWP_CHROMIUM to \
                 a Chromium or Chrome binary); `.ci/run` installs it",
            );
            return None;
        };
        let mut printed = Vec::new();
        for attempt in 1..=2 {
            match Browser::start(&binary).await {
                Ok(browser) => return Some(browser),
                Err(why) => printed.push(format!("start {attempt}: {why}")),
            }
        }
        panic!("{}", printed.join("\n"));
    }

    /// One start of Chromium with a new profile: the browser once its DevTools port is open, or
    /// why not (with the last lines it printed).
    async fn start(binary: &Path) -> Result<Browser, String> {
        let profile = tempfile::tempdir().unwrap();
        // What Chromium prints goes to a file beside the profile, shown if it never comes up.
        let log_dir = tempfile::tempdir().unwrap();
        let log_path = log_dir.path().join("chromium.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = Command::new(binary);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--remote-debugging-port=0",
            "--window-size=1440,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        // Chromium writes the port it picked to DevToolsActivePort in the profile.
        let port_file = profile.path().join("DevToolsActivePort");
        let started = Instant::now();
        // Dropped on a failure, it kills the browser and every helper it started.
        let mut browser = Browser {
            child,
            port: 0,
            _profile: profile,
        };
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file)
                && let Some(port) = text.lines().next().and_then(|l| l.trim().parse().ok())
            {
                browser.port = port;
                return Ok(browser);
            }
            if let Ok(Some(status)) = browser.child.try_wait() {
                return Err(format!(
                    "Chromium exited at start-up ({status}); it printed:\n{}",
                    log_tail(&log_path)
                ));
            }
            if started.elapsed() >= START_UP {
                return Err(format!(
                    "Chromium did not open its DevTools port within {START_UP:?}; it printed:\n{}",
                    log_tail(&log_path)
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens a new tab and connects to it.
    pub(crate) async fn new_page(&self) -> Page {
        let target: Value = reqwest::Client::new()
            .put(format!(
                "http://127.0.0.1:{}/json/new?about:blank",
                self.port
            ))
            .send()
            .await
            .expect("DevTools /json/new")
            .json()
            .await
            .expect("DevTools /json/new answer");
        let url = target["webSocketDebuggerUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("no webSocketDebuggerUrl in {target}"));
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect to the tab");
        let mut page = Page { ws, next_id: 0 };
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1440, "height": 1000, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await;
        page
    }
}

/// One tab, driven by DevTools commands.
pub(crate) struct Page {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Page {
    /// Sends one command and returns its result (events arriving meanwhile are skipped).
    async fn call(&mut self, method: &str, params: Value) -> Value {
        match self.try_call(method, params).await {
            Ok(result) => result,
            Err(err) => panic!("{method} failed: {err}"),
        }
    }

    /// [`Page::call`], with Chromium's error as an `Err`.
    async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws
            .send(Message::Text(msg.into()))
            .await
            .expect("send a DevTools command");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = tokio::time::timeout(left, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("{method}: no answer from Chromium"))
                .unwrap_or_else(|| panic!("{method}: the DevTools connection closed"))
                .expect("read from DevTools");
            let Message::Text(text) = frame else { continue };
            let answer: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if answer["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(err) = answer.get("error") {
                return Err(err.clone());
            }
            return Ok(answer["result"].clone());
        }
    }

    /// Evaluates a JavaScript expression in the page and returns its value.
    pub(crate) async fn eval(&mut self, expression: &str) -> Value {
        match self.try_eval(expression).await {
            Ok(v) => v,
            Err(err) => panic!("Runtime.evaluate failed: {err}"),
        }
    }

    /// [`Page::eval`], with Chromium's error as an `Err` (e.g. the page navigated meanwhile).
    async fn try_eval(&mut self, expression: &str) -> Result<Value, Value> {
        let r = self
            .try_call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await?;
        if let Some(ex) = r.get("exceptionDetails") {
            panic!("`{expression}` threw: {ex}");
        }
        Ok(r["result"]["value"].clone())
    }

    /// Polls `expression` until it is truthy; returns its value.
    pub(crate) async fn wait_for(
        &mut self,
        what: &str,
        expression: &str,
        timeout: Duration,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            // A page that navigates (a login's redirect, a reload) cancels an evaluation in
            // flight: that is a moment of the wait, not its answer.
            let v = match self.try_eval(expression).await {
                Ok(v) => v,
                Err(err) if Instant::now() <= deadline && err.to_string().contains("navigated") => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(err) => panic!("Runtime.evaluate failed: {err}"),
            };
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let body = self
                    .eval("document.body ? document.body.innerText : ''")
                    .await;
                panic!("timed out waiting for {what}; the page shows:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
    }

    /// Types into the focused element, as a keyboard would.
    async fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({"text": text})).await;
    }

    /// Saves a PNG of the viewport (or of the whole page) to `path`.
    async fn screenshot(&mut self, path: &Path, full_page: bool) {
        let mut params = json!({"format": "png"});
        if full_page {
            let m = self.call("Page.getLayoutMetrics", json!({})).await;
            let size = &m["cssContentSize"];
            params["captureBeyondViewport"] = json!(true);
            params["clip"] = json!({
                "x": 0, "y": 0, "scale": 1,
                "width": size["width"].as_f64().unwrap_or(1440.0),
                "height": size["height"].as_f64().unwrap_or(1000.0),
            });
        }
        let shot = self.call("Page.captureScreenshot", params).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("screenshot base64");
        assert!(png.starts_with(b"\x89PNG"), "a PNG image");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, &png).unwrap();
        eprintln!("screenshot: {} ({} KiB)", path.display(), png.len() / 1024);
    }

    /// Signs in through the form, typing the token as a person would.
    pub(crate) async fn sign_in(&mut self, base: &str, token: &str) {
        self.goto(&format!("{base}/")).await;
        self.sign_in_on_the_form(token).await;
    }

    /// Fills in the sign-in form the page shows (or is about to show) and waits for the dashboard.
    async fn sign_in_on_the_form(&mut self, token: &str) {
        self.wait_for(
            "the sign-in form",
            "!!document.querySelector('form[action=\"/login\"] #token')",
            Duration::from_secs(15),
        )
        .await;
        self.eval("document.getElementById('token').focus()").await;
        self.type_text(token).await;
        self.eval("document.querySelector('form[action=\"/login\"] button[type=submit]').click()")
            .await;
        self.wait_for(
            "the dashboard",
            "document.getElementById('conn')?.dataset.state === 'live' && !!document.querySelector('#repos article, #repos .empty')",
            Duration::from_secs(15),
        )
        .await;
    }
}

// ---- the service under test --------------------------------------------------------------------

async fn post(http: &reqwest::Client, url: String, auth: Option<&str>, body: Value) -> Value {
    let mut req = http.post(url).json(&body);
    req = match auth {
        Some(t) if t.starts_with("Bearer ") => req.header("Authorization", t),
        Some(t) => req.header("X-Admin-Token", t),
        None => req,
    };
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A service (its database in `dir`, its settings changed by `configure`) with the repository
/// `acme/web` and its review budget; its address and a client.
async fn web_pool(
    dir: &Path,
    max_open_prs: i64,
    configure: impl FnOnce(&mut owp::config::ServeConfig),
) -> (owp::server::Running, String, reqwest::Client) {
    let mut config = owp::config::ServeConfig::for_tests(&dir.join("owp.db"), TOKEN);
    configure(&mut config);
    let server = owp::server::start(config, false).await.unwrap();
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    post(
        &http,
        format!("{base}/v1/admin/repos"),
        Some(TOKEN),
        json!({"repo": "acme/web", "max_open_prs": max_open_prs}),
    )
    .await;
    (server, base, http)
}

/// The web sign-in as a person makes it: the dashboard's "Sign in with GitHub", GitHub's page (the
/// fake's, with Mona signed in there), back to the dashboard, which shows only her repository;
/// her budget change goes through with the page's CSRF token; sign-out ends the session.
#[tokio::test]
async fn a_maintainer_signs_in_with_github_in_the_browser_and_sees_only_their_repository() {
    use crate::github_support::story::REPO;
    use crate::signin::{MONA, OTHER};
    let Some(browser) = Browser::launch("dashboard_browser").await else {
        return;
    };
    let story = crate::signin::story_with(false, |_| {}).await;
    let base = story.url();
    story.fake.sign_in_browser(MONA);
    let mut page = browser.new_page().await;
    page.goto(&format!("{base}/")).await;
    page.wait_for(
        "the Sign in with GitHub button",
        "!!document.getElementById('github-sign-in')",
        Duration::from_secs(15),
    )
    .await;
    // "Sign in with GitHub" leads; the admin token form, the operator's, comes after it.
    assert_eq!(
        page.eval(
            "!!(document.getElementById('github-sign-in').compareDocumentPosition(\
             document.getElementById('token')) & Node.DOCUMENT_POSITION_FOLLOWING)"
        )
        .await,
        json!(true)
    );
    page.eval("document.getElementById('github-sign-in').click()")
        .await;
    page.wait_for(
        "the dashboard",
        "document.getElementById('conn')?.dataset.state === 'live' && !!document.querySelector('#repos article')",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(page.eval("location.href").await, json!(format!("{base}/")));
    let who = page
        .eval("document.getElementById('who').textContent")
        .await;
    assert_eq!(who, json!(format!("Signed in as {MONA} (GitHub)")));
    page.wait_for(
        "her repository",
        &format!("!!{}", repo_line(REPO)),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        page.eval(&format!("!!{}", repo_line(OTHER))).await,
        json!(false),
        "the other repository is not shown"
    );
    assert_eq!(
        page.eval("document.cookie.includes('owp_session')").await,
        json!(false),
        "the session cookie is HttpOnly"
    );
    // A write from the page, with its CSRF token, as the dashboard's own forms send it.
    let write = |repo: &str| {
        format!(
            "fetch('/v1/admin/repos', {{method: 'POST', headers: {{'Content-Type': 'application/json', \
             'X-CSRF-Token': document.querySelector('meta[name=\"csrf-token\"]').content}}, \
             body: JSON.stringify({{repo: '{repo}', max_open_prs: 6}})}}).then(r => r.status)"
        )
    };
    assert_eq!(page.eval(&write(REPO)).await, json!(200));
    assert_eq!(page.eval(&write(OTHER)).await, json!(403));
    // Sign out: the session ends, and the page is the sign-in form again.
    page.eval("document.querySelector('form[action=\"/logout\"] button[type=submit]').click()")
        .await;
    page.wait_for(
        "the sign-in page",
        "!!document.getElementById('github-sign-in')",
        Duration::from_secs(15),
    )
    .await;
    let status = page.eval("fetch('/v1/me').then(r => r.status)").await;
    assert_eq!(status, json!(401));
}

/// Login CSRF in a real browser: Mallory starts a sign-in with her own client, approves it on
/// GitHub as herself and sends Mona the callback address. Mona's browser opens it: the page says
/// the sign-in was not started there, and her browser holds no session. Her own sign-in from the
/// dashboard then goes through: the browser carries the state's cookie back from GitHub.
#[tokio::test]
async fn a_callback_address_sent_by_someone_else_signs_the_browser_in_as_nobody() {
    use crate::signin::MONA;
    let Some(browser) = Browser::launch("dashboard_browser").await else {
        return;
    };
    let story = crate::signin::story_with(false, |_| {}).await;
    let base = story.url();
    let (authorize, _) = crate::signin::start_web(&crate::signin::browser(), &base).await;
    story.fake.sign_in_browser("mallory");
    let callback = story.fake.visit_authorize(&authorize).await.unwrap();

    let mut page = browser.new_page().await;
    page.goto(&callback).await;
    page.wait_for(
        "the refusal page",
        "!!document.body && document.body.innerText.includes('Not signed in')",
        Duration::from_secs(15),
    )
    .await;
    let text = page_text(&mut page).await;
    assert!(text.contains("not started in this browser"), "{text}");
    // (The refusal page may fetch nothing: ask from the dashboard's own page.)
    page.goto(&format!("{base}/")).await;
    page.wait_for(
        "the sign-in page",
        "!!document.getElementById('github-sign-in')",
        Duration::from_secs(15),
    )
    .await;
    let status = page.eval("fetch('/v1/me').then(r => r.status)").await;
    assert_eq!(
        status,
        json!(401),
        "Mona's browser is not signed in as Mallory"
    );

    story.fake.sign_in_browser(MONA);
    page.eval("document.getElementById('github-sign-in').click()")
        .await;
    page.wait_for(
        "the dashboard, signed in as Mona",
        &format!("document.getElementById('who')?.textContent === 'Signed in as {MONA} (GitHub)'"),
        Duration::from_secs(20),
    )
    .await;
}

/// Everything the page holds: its markup and its visible text.
async fn page_text(page: &mut Page) -> String {
    page.eval("document.documentElement.outerHTML + document.body.innerText")
        .await
        .as_str()
        .unwrap()
        .to_string()
}

pub(crate) fn repo_line(repo: &str) -> String {
    format!(
        "[...document.querySelectorAll('#repos article')].find(a => a.querySelector('.repo-name')?.textContent === '{repo}')"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_signs_in_follows_the_pool_live_and_sees_a_worker_go_offline() {
    let Some(browser) = Browser::launch("dashboard_browser").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (server, base, http) = web_pool(dir.path(), 2, |c| c.heartbeat_ttl_seconds = 6).await;

    post(
        &http,
        format!("{base}/v1/admin/tasks"),
        Some(TOKEN),
        json!({"repo": "acme/web", "tasks": [
            {"key": "WEB-1", "title": "Fix the login redirect", "area": "auth", "priority": "high"},
            {"key": "WEB-2", "title": "Paginate the project list", "area": "api"},
            {"key": "WEB-3", "title": "Dark mode for settings", "area": "web"},
        ]}),
    )
    .await;
    let reg = post(
        &http,
        format!("{base}/v1/workers/register"),
        None,
        json!({"name": "ada", "skills": ["python"], "capacity_points": 6, "max_concurrent_tasks": 3}),
    )
    .await;
    let worker = format!("Bearer {}", reg["token"].as_str().unwrap());

    let mut page = browser.new_page().await;
    page.sign_in(&base, TOKEN).await;
    let acme = repo_line("acme/web");
    let line = page
        .wait_for(
            "the budget gauge",
            &format!("{acme}?.querySelector('.repo-line')?.textContent"),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(line, "0 of 2 review slots used");
    // The token never reaches the page, and the session cookie is out of the script's reach.
    let html = page.eval("document.documentElement.outerHTML").await;
    assert!(
        !html.as_str().unwrap().contains(TOKEN),
        "no token in the page"
    );
    assert_eq!(
        page.eval("document.cookie.includes('owp_session')").await,
        json!(false),
        "the session cookie is HttpOnly"
    );
    assert_eq!(page.eval("location.href").await, json!(format!("{base}/")));
    page.eval("window.__sameDocument = true").await;

    // A lease through the API moves the gauge, live.
    let lease = post(&http, format!("{base}/v1/work"), Some(&worker), json!({})).await;
    let task_id = lease["lease"]["task"]["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    page.wait_for(
        "the gauge to show one lease",
        &format!(
            "{acme}?.querySelector('.repo-line')?.textContent === '1 of 2 review slots used' && \
             {acme}?.querySelector('.g-num')?.textContent === '1/2'"
        ),
        Duration::from_secs(10),
    )
    .await;
    // The pull request keeps its slot; a second lease fills the budget.
    post(
        &http,
        format!(
            "{base}/v1/leases/{}/ack",
            lease["lease"]["lease_id"].as_str().unwrap()
        ),
        Some(&worker),
        json!({}),
    )
    .await;
    post(
        &http,
        format!("{base}/v1/tasks/{task_id}/status"),
        Some(&worker),
        json!({"status": "pr_opened", "artifact": {"pr_url": "https://example.invalid/acme/web/pull/7"}}),
    )
    .await;
    post(&http, format!("{base}/v1/work"), Some(&worker), json!({})).await;
    let badge = page
        .wait_for(
            "the budget to fill",
            &format!(
                "{acme}?.querySelector('.repo-line')?.textContent === '2 of 2 review slots used' && \
                 {acme}?.querySelector('.badge')?.textContent"
            ),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(badge, "Throttled");
    assert_eq!(
        page.eval(&format!("{acme}.querySelector('.legend').textContent"))
            .await
            .as_str()
            .map(|s| s.contains("1 open PR") && s.contains("1 lease")),
        Some(true)
    );
    let feed = page
        .eval("document.getElementById('feed').textContent")
        .await;
    assert!(
        feed.as_str().unwrap().contains("Lease granted"),
        "the live feed lists the lease: {feed}"
    );

    // The worker stops calling: six seconds (its heartbeat TTL) later it is offline, on the page
    // too. The TTL leaves a busy machine room to show it online first.
    page.wait_for(
        "the worker online",
        "document.querySelector('#workers .worker.is-online .worker-name')?.textContent === 'ada'",
        Duration::from_secs(6),
    )
    .await;
    let offline = page
        .wait_for(
            "the worker to go offline",
            "document.querySelector('#workers .worker.is-offline')?.querySelector('.badge')?.textContent",
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(offline, "Offline");
    assert_eq!(
        page.eval("window.__sameDocument === true").await,
        json!(true),
        "every change arrived without a reload"
    );

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-browser.png");
    page.screenshot(&shot, true).await;
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 20_000,
        "a real picture"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_reads_the_public_board_live_and_never_a_private_repository() {
    let Some(browser) = Browser::launch("public_board").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = owp::config::ServeConfig::for_tests(&dir.path().join("owp.db"), TOKEN);
    config.public_boards = true;
    let server = owp::server::start(config, false).await.unwrap();
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    for (repo, visibility) in [("acme/open", "public"), ("acme/hidden", "private")] {
        post(
            &http,
            format!("{base}/v1/admin/repos"),
            Some(TOKEN),
            json!({"repo": repo, "max_open_prs": 2, "visibility": visibility}),
        )
        .await;
    }
    let import = |repo: &'static str, title: &'static str| {
        let http = http.clone();
        let url = format!("{base}/v1/admin/tasks");
        async move {
            post(
                &http,
                url,
                Some(TOKEN),
                json!({"repo": repo, "tasks": [{"title": title}]}),
            )
            .await
        }
    };
    import("acme/open", "Write the contributor guide").await;
    import("acme/hidden", "Negotiate the secret deal").await;

    let mut page = browser.new_page().await;
    page.goto(&format!("{base}/")).await;
    let open = repo_line("acme/open");
    page.wait_for(
        "the public repository's gauge",
        &format!(
            "document.getElementById('conn')?.dataset.state === 'live' && \
             {open}?.querySelector('.repo-line')?.textContent === '0 of 2 review slots used'"
        ),
        Duration::from_secs(15),
    )
    .await;
    let shown = page_text(&mut page).await;
    assert!(shown.contains("Write the contributor guide"));
    for secret in ["acme/hidden", "Negotiate the secret deal", TOKEN] {
        assert!(!shown.contains(secret), "the public board shows {secret}");
    }
    assert_eq!(
        page.eval("!!document.getElementById('workers') || !!document.getElementById('repo-form') || !!document.querySelector('.stepper')").await,
        json!(false),
        "no workers, no forms, no budget buttons"
    );

    // Changes arrive live: a private one first, then a public one.
    import("acme/hidden", "Bribe the auditor quietly").await;
    import("acme/open", "Translate the guide").await;
    page.wait_for(
        "the new public task",
        "document.getElementById('tasks').textContent.includes('Translate the guide')",
        Duration::from_secs(10),
    )
    .await;
    let shown = page_text(&mut page).await;
    for secret in [
        "acme/hidden",
        "Negotiate the secret deal",
        "Bribe the auditor",
    ] {
        assert!(!shown.contains(secret), "the public board shows {secret}");
    }

    // Signing in opens the whole dashboard.
    page.eval("document.querySelector('a[href=\"/login\"]').click()")
        .await;
    page.sign_in_on_the_form(TOKEN).await;
    page.wait_for(
        "the private repository, once signed in",
        &format!("!!{}", repo_line("acme/hidden")),
        Duration::from_secs(10),
    )
    .await;
    server.stop().await;
}

/// A ready task whose paths overlap those of a task in flight (rule 10) says on its row whose
/// work it waits for, as a task waiting on its blockers does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_waiting_on_paths_says_whose_work_on_its_row() {
    let Some(browser) = Browser::launch("paths_waiting").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (server, base, http) = web_pool(dir.path(), 3, |_| {}).await;
    post(
        &http,
        format!("{base}/v1/admin/tasks"),
        Some(TOKEN),
        json!({"repo": "acme/web", "tasks": [
            {"key": "WEB-1", "title": "Rework the sign-in", "paths": ["src/auth/**"]},
            {"key": "WEB-2", "title": "Fix the login redirect", "paths": ["src/auth/login.rs"]},
        ]}),
    )
    .await;
    let reg = post(
        &http,
        format!("{base}/v1/workers/register"),
        None,
        json!({"name": "ada", "skills": [], "capacity_points": 6, "max_concurrent_tasks": 3}),
    )
    .await;
    let worker = format!("Bearer {}", reg["token"].as_str().unwrap());
    let lease = post(&http, format!("{base}/v1/work"), Some(&worker), json!({})).await;
    assert_eq!(lease["lease"]["task"]["key"], "WEB-1");

    let mut page = browser.new_page().await;
    page.sign_in(&base, TOKEN).await;
    let reason = page
        .wait_for(
            "the waiting task's reason",
            "[...document.querySelectorAll('#tasks tr')].find((r) => r.textContent.includes('WEB-2'))\
               ?.querySelector('.task-waiting')?.textContent",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        reason,
        "Waiting on the files WEB-1 is changing: offered once that work is done."
    );
    server.stop().await;
}

/// Refreshes `docs/images/dashboard.png` from a running `owp demo` (run by hand:
/// `cargo test --test it dashboard_browser -- --ignored readme_screenshot`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "refreshes the README's screenshot; run by hand"]
async fn readme_screenshot() {
    use tokio::io::AsyncBufReadExt;
    let Some(browser) = Browser::launch("readme_screenshot").await else {
        return;
    };
    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .args(["demo", "--port", "0", "--duration", "120"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn owp demo");
    let mut lines = tokio::io::BufReader::new(demo.stdout.take().unwrap()).lines();
    let (mut base, mut token) = (None, None);
    while base.is_none() || token.is_none() {
        let line = lines.next_line().await.unwrap().expect("demo output");
        if let Some(url) = line.trim().strip_prefix("Dashboard") {
            base = Some(url.trim().trim_end_matches('/').to_string());
        }
        if let Some((_, t)) = line.split_once("admin token: ") {
            token = Some(t.trim().to_string());
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (base, token) = (base.unwrap(), token.unwrap());
    let mut page = browser.new_page().await;
    page.sign_in(&base, &token).await;
    // Let the story run: leases, pull requests, merges, an expiry.
    tokio::time::sleep(Duration::from_secs(75)).await;
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images/dashboard.png");
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1440, "height": 1180, "deviceScaleFactor": 1, "mobile": false}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    page.screenshot(&out, false).await;
    let _ = Command::new("kill")
        .args(["-TERM", &demo.id().unwrap().to_string()])
        .status();
    let _ = demo.wait().await;
}

/// People who claim by comment on GitHub have no seat: the dashboard shows them as people claiming
/// there, not as workers of a million points with a Pause button, and the capacity headline
/// counts only workers' seats.
#[tokio::test]
async fn people_claiming_by_comment_are_shown_as_people_not_seats() {
    use crate::github_support::story::{ADMIN, Story};
    let Some(browser) = Browser::launch("dashboard_browser").await else {
        return;
    };
    let story = Story::with(Some("max_open_prs: 1\n"), |_| {}).await;
    let n = story.label_issue("Fix the parser", &[]).await;
    story.comment(n, "alice", "/owp claim").await;
    story.expect_status(n, &["claimed by @alice"]);
    // The review budget is full: the next ready issue waits, and "Ready to claim" says so.
    let waiting = story.label_issue("Speed up the lexer", &[]).await;
    story.expect_status(waiting, &["1 of 1 review slot"]);
    let base = story.url();
    let mut page = browser.new_page().await;
    page.sign_in(&base, ADMIN).await;
    let card = page
        .wait_for(
            "alice's card",
            "document.querySelector('#workers article.by-comment')?.textContent",
            Duration::from_secs(15),
        )
        .await;
    let card = card.as_str().unwrap_or_default().to_string();
    assert!(
        card.contains("@alice")
            && card.contains("claims on GitHub")
            && card.contains("Fix the parser"),
        "{card}"
    );
    assert!(!card.contains("points"), "{card}");
    assert_eq!(
        page.eval("!!document.querySelector('#workers article.by-comment button')")
            .await,
        json!(false),
        "no Pause button on a person"
    );
    let stats = page
        .eval("document.getElementById('stats').textContent")
        .await;
    let stats = stats.as_str().unwrap_or_default();
    assert!(stats.contains("1 person claiming by comment"), "{stats}");
    assert!(!stats.contains("000000"), "{stats}");
    let ready = page
        .eval("[...document.querySelectorAll('#stats .stat')].find(s => s.textContent.includes('Ready to claim'))?.textContent")
        .await;
    let ready = ready.as_str().unwrap_or_default();
    assert!(
        ready.contains("Ready to claim0") && ready.contains("1 more ready, waiting"),
        "{ready}"
    );
    // Each task row links to its issue on GitHub.
    let link = page
        .eval(&format!(
            "[...document.querySelectorAll('a.task-key')].map(a => a.href).find(h => h.endsWith('/issues/{n}')) || null"
        ))
        .await;
    assert_eq!(
        link,
        json!(format!(
            "{}/{}/issues/{n}",
            story.fake.url(),
            crate::github_support::story::REPO
        )),
        "the task row links to its issue"
    );
    // The feed says what happened in words, never an event's raw name.
    let feed = page
        .wait_for(
            "the claim in the feed",
            "(t => t.includes('Claimed by comment') ? t : null)([...document.querySelectorAll('#feed li')].map(li => li.textContent).join(' | '))",
            Duration::from_secs(10),
        )
        .await;
    let feed = feed.as_str().unwrap_or_default();
    assert!(feed.contains("Claimed by comment"), "{feed}");
    assert!(
        !feed.contains("github.") && !feed.contains("task.") && !feed.contains("lease."),
        "{feed}"
    );
}

/// A repository whose `.github/owp.yml` has a mistyped key says so on its dashboard card, where a
/// maintainer looks, and not only on status comments and in the log.
#[tokio::test]
async fn a_settings_file_error_is_shown_on_the_repository_card() {
    use crate::github_support::story::{ADMIN, REPO, Story};
    let Some(browser) = Browser::launch("dashboard_browser").await else {
        return;
    };
    let story = Story::with(Some("max_open_pr: 1\n"), |_| {}).await;
    let base = story.url();
    let mut page = browser.new_page().await;
    page.sign_in(&base, ADMIN).await;
    let warning = page
        .wait_for(
            "the settings warning",
            &format!(
                "{}?.querySelector('.repo-warn')?.textContent",
                repo_line(REPO)
            ),
            Duration::from_secs(15),
        )
        .await;
    let warning = warning.as_str().unwrap_or_default();
    assert!(
        warning.contains("did you mean `max_open_prs`?") && warning.contains("last good settings"),
        "{warning}"
    );
}

/// A repository that lacks the pool's labels says which on its dashboard card: people can pick
/// only labels that exist, and the App never creates them.
#[tokio::test]
async fn the_labels_a_repository_lacks_are_shown_on_its_card() {
    use crate::github_support::story::{ADMIN, REPO, Story};
    let Some(browser) = Browser::launch("dashboard_browser").await else {
        return;
    };
    let story = Story::start().await;
    let base = story.url();
    let mut page = browser.new_page().await;
    page.sign_in(&base, ADMIN).await;
    let note = page
        .wait_for(
            "the labels note",
            &format!(
                "[...({}?.querySelectorAll('.repo-warn') || [])].map(p => p.textContent)\
                 .find(t => t.startsWith('Labels'))",
                repo_line(REPO)
            ),
            Duration::from_secs(15),
        )
        .await;
    assert_eq!(
        note.as_str().unwrap_or_default(),
        "Labels not in the repository yet: pool:ready, estimate:N, priority:LEVEL, skills:NAME, \
         area:NAME, tier:N. Create the ones you use (Issues → Labels)."
    );
}
