//! The `owp` clients against a hostile OWP server: a small axum app on 127.0.0.1 that records
//! every request and answers what a stranger's server might (401 to lure an admin token out,
//! endless answers, redirects to another host, titles full of terminal escapes). The real `owp`
//! binary is pointed at it, as a volunteer would point it at a pool they found.
//!
//! Also here: what a newcomer meets first (a closed pipe, `join --dry-run`, a pasted dashboard
//! URL, a mistyped server URL, a database folder that does not exist).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// One request the hostile server received.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Response + Send + Sync>;

/// A hostile OWP server on a port of its own.
struct Hostile {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Hostile {
    async fn start(handler: impl Fn(&Seen) -> Response + Send + Sync + 'static) -> Hostile {
        let handler: Handler = Arc::new(handler);
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = seen.clone();
        let app =
            axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
                let handler = handler.clone();
                let record = record.clone();
                async move {
                    let request = Seen {
                        method,
                        path: uri
                            .path_and_query()
                            .map(|p| p.to_string())
                            .unwrap_or_default(),
                        headers: headers
                            .iter()
                            .map(|(n, v)| {
                                (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into())
                            })
                            .collect(),
                    };
                    record.lock().unwrap().push(request.clone());
                    handler(&request)
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Hostile { base, seen, task }
    }

    /// A server that lets anyone register and knows nothing else (`no such endpoint`).
    async fn registering() -> Hostile {
        Hostile::start(|req| match req.path.as_str() {
            "/v1/workers/register" => registration(),
            _ => problem(404, "no such endpoint", "not_found"),
        })
        .await
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const WORKER_TOKEN: &str = "owp_hostile_worker_token";

/// A title that would retitle the terminal (OSC 0), clear it (CSI 2J) and turn it red.
const HOSTILE_TITLE: &str =
    "Fix \u{1b}]0;you have been pwned\u{7}the \u{1b}[2Jparser\u{1b}[31m\u{9b}1;1H now";

fn json_answer(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn problem(status: u16, title: &str, code: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/problem+json")],
        json!({"type": "about:blank", "title": title, "status": status, "code": code}).to_string(),
    )
        .into_response()
}

/// An answer that never ends, as far as a client can tell: `{` and then blanks, produced as fast
/// as they are read (it stops at 256 MiB, so that a client without a limit cannot take the
/// machine's memory with it).
fn endless(status: u16, sent: Arc<AtomicU64>) -> Response {
    const CHUNK: usize = 64 * 1024;
    const STOP_AT: u64 = 256 * 1024 * 1024;
    let chunk = bytes::Bytes::from(vec![b' '; CHUNK]);
    let stream = futures_util::stream::unfold(0u64, move |produced| {
        let chunk = chunk.clone();
        let sent = sent.clone();
        async move {
            if produced >= STOP_AT {
                return None;
            }
            let piece = if produced == 0 {
                bytes::Bytes::from_static(b"{")
            } else {
                chunk
            };
            let n = piece.len() as u64;
            sent.fetch_add(n, Ordering::Relaxed);
            Some((Ok::<_, std::convert::Infallible>(piece), produced + n))
        }
    });
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn task_json(title: &str) -> Value {
    json!({
        "task_id": "t_hostile", "repo": "octo/tools", "key": "octo/tools#7", "title": title,
        "description": format!("{title}\nsecond line"), "estimate_points": 2,
        "priority": "high", "required_skills": ["rust"], "area": "cli", "tier": 0,
        "status": "in_progress", "assigned_worker_id": "w_hostile", "lease_id": "l_hostile",
        "lease_expires_at": "2030-01-01T00:30:00Z", "artifact": null, "attempts": 0,
        "created_at": "2030-01-01T00:00:00Z", "updated_at": "2030-01-01T00:00:00Z"
    })
}

fn worker_json(name: &str) -> Value {
    json!({
        "worker_id": "w_hostile", "name": name, "skills": ["rust"], "capacity_points": 5,
        "max_concurrent_tasks": 2, "github_login": null, "status": "idle", "online": true,
        "last_heartbeat": null, "trust_level": 0, "capabilities": {}, "active_points": 2,
        "active_tasks": 1, "created_at": "2030-01-01T00:00:00Z"
    })
}

fn lease_json(title: &str) -> Value {
    json!({
        "lease_id": "l_hostile", "task": task_json(title),
        "expires_at": "2030-01-01T01:00:00Z", "accept_by": "2030-01-01T00:02:00Z"
    })
}

/// The registration answer of a server that lets anyone register.
fn registration() -> Response {
    json_answer(
        201,
        json!({"worker_id": "w_hostile", "token": WORKER_TOKEN, "heartbeat_ttl_seconds": 90}),
    )
}

/// A volunteer's machine: a working directory (with its own `env.local`), a config folder, and
/// no OWP settings from the test's own environment.
struct Volunteer {
    dir: tempfile::TempDir,
    /// Every command run and what it printed, for the reviewed snapshot.
    transcript: std::sync::Mutex<String>,
}

impl Drop for Volunteer {
    /// What `owp` printed in the story is checked against its reviewed snapshot.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let transcript = std::mem::take(&mut *self.transcript.lock().unwrap());
        if let (false, Some(name)) = (transcript.is_empty(), crate::reviewed::test_name()) {
            let dir = self.dir.path().display().to_string();
            crate::reviewed::check(
                "cli",
                &name,
                &transcript.replace(&dir, "[dir]"),
                "What `owp` printed to a volunteer facing a hostile server, command by command.",
            );
        }
    }
}

impl Volunteer {
    fn new() -> Volunteer {
        Volunteer {
            dir: tempfile::tempdir().unwrap(),
            transcript: Default::default(),
        }
    }

    fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    fn owp(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_owp"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("OWP_CONFIG_DIR", self.config_dir())
            .env("HOME", self.dir.path())
            .env("USERPROFILE", self.dir.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("OWP_SERVER")
            .env_remove("OWP_PROFILE")
            .env_remove("OWP_ADMIN_TOKEN")
            .env_remove("OWP_DB")
            .env_remove("OWP_DATABASE_URL")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Runs a command to its end (at most a minute).
    async fn run(&self, cmd: &mut Command) -> Output {
        let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
            .await
            .expect("the command ended within a minute")
            .expect("owp runs");
        let args: Vec<String> = cmd
            .as_std()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        self.transcript.lock().unwrap().push_str(&format!(
            "$ owp {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
        out
    }

    /// A volunteer who ran `owp worker register` against `server`.
    async fn registered_with(server: &Hostile) -> Volunteer {
        let me = Volunteer::new();
        let out = me
            .run(register(&me, &server.base).args(["--skills", "rust"]))
            .await;
        assert!(out.status.success(), "{}", text(&out));
        me
    }

    fn saved_profile(&self) -> Option<Value> {
        let path = self.config_dir().join("worker.json");
        let saved = std::fs::read_to_string(path).ok()?;
        Some(serde_json::from_str(&saved).unwrap())
    }
}

/// `owp worker register --server URL --name Ada`.
fn register(me: &Volunteer, url: &str) -> Command {
    me.owp(&["worker", "register", "--server", url, "--name", "Ada"])
}

/// `owp worker join URL --no-input --name Ada …`, then `extra`.
fn join(me: &Volunteer, url: &str, extra: &[&str]) -> Command {
    let mut cmd = me.owp(&["worker", "join", url, "--no-input", "--name", "Ada"]);
    cmd.args(["--github-login", "ada-test"]).args(extra);
    cmd
}

/// An address on 127.0.0.1 where nothing listens: a socket bound to it and never listening, so
/// that no other test's server can take the port while it is in use (a connection is refused).
struct ClosedAddress {
    _held: tokio::net::TcpSocket,
    addr: std::net::SocketAddr,
}

impl std::fmt::Display for ClosedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.addr.fmt(f)
    }
}

fn closed_address() -> ClosedAddress {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    ClosedAddress {
        _held: socket,
        addr,
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The error of a command that failed as it should: exactly one line, with no library wording.
fn one_error_line(out: &Output) -> String {
    assert!(!out.status.success(), "{}", text(out));
    let err = stderr(out);
    assert_eq!(err.trim_end().lines().count(), 1, "{}", text(out));
    for library in [
        "builder error",
        "error sending request",
        "tcp connect error",
        "client error (Connect)",
        "(code: 14)",
        "os error",
        "panicked",
    ] {
        assert!(!err.contains(library), "{library:?} in {}", text(out));
    }
    err.trim_end().to_string()
}

fn assert_no_terminal_controls(what: &str, output: &[u8]) {
    let output = String::from_utf8_lossy(output);
    let bad: Vec<char> = output
        .chars()
        .filter(|c| (c.is_control() && *c != '\n' && *c != '\t') || *c == '\u{9b}')
        .collect();
    assert!(bad.is_empty(), "{what} printed {bad:?}:\n{output}");
}

// ---- credentials ------------------------------------------------------------------------------

/// A server that refuses anonymous registration (401) must not receive the volunteer's own
/// admin token, from the environment or from `./env.local`: that is their own pool's master key.
#[tokio::test(flavor = "multi_thread")]
async fn an_admin_token_never_goes_to_a_server_that_asks_for_one() {
    const FROM_ENV: &str = "env-admin-token-of-my-own-pool-0123456789";
    const FROM_FILE: &str = "file-admin-token-of-my-own-pool-0123456789";
    let server = Hostile::start(|req| match req.path.as_str() {
        "/v1/workers/register" => {
            problem(401, "Registration needs the admin token", "unauthorized")
        }
        _ => problem(404, "Not found", "not_found"),
    })
    .await;
    let me = Volunteer::new();
    std::fs::write(
        me.dir.path().join("env.local"),
        format!("OWP_ADMIN_TOKEN={FROM_FILE}\n"),
    )
    .unwrap();
    for mut cmd in [
        join(&me, &server.base, &["--no-run"]),
        register(&me, &server.base),
    ] {
        let out = me.run(cmd.env("OWP_ADMIN_TOKEN", FROM_ENV)).await;
        let line = one_error_line(&out);
        assert!(line.contains("--admin-token"), "{line}");
    }
    let seen = server.seen();
    assert!(seen.len() >= 2, "{seen:?}");
    for req in &seen {
        for (name, value) in &req.headers {
            assert!(
                !value.contains(FROM_ENV) && !value.contains(FROM_FILE),
                "the admin token was sent in {name} of {} {}",
                req.method,
                req.path
            );
        }
        assert_eq!(req.header("x-admin-token"), None, "{req:?}");
    }
    assert!(me.saved_profile().is_none());
}

/// An admin token given with `--admin-token` goes to that command's server when it asks, and
/// not to another host the server redirects to.
#[tokio::test(flavor = "multi_thread")]
async fn an_admin_token_given_for_a_server_stays_with_it() {
    let elsewhere = Hostile::start(|_| problem(404, "Not found", "not_found")).await;
    let target = format!("{}/v1/workers/register", elsewhere.base);
    let server = Hostile::start(move |req| {
        if req.header("x-admin-token").is_some() {
            (
                StatusCode::TEMPORARY_REDIRECT,
                [("location", target.clone())],
            )
                .into_response()
        } else {
            problem(401, "Registration needs the admin token", "unauthorized")
        }
    })
    .await;
    let me = Volunteer::new();
    let out = me
        .run(
            register(&me, &server.base)
                .args(["--admin-token", "given-for-this-server-0123456789abcdef"]),
        )
        .await;
    let line = one_error_line(&out);
    assert!(line.contains("redirected"), "{line}");
    let asked: Vec<Option<String>> = server
        .seen()
        .iter()
        .map(|r| r.header("x-admin-token").map(String::from))
        .collect();
    assert_eq!(
        asked,
        [None, Some("given-for-this-server-0123456789abcdef".into())]
    );
    assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
}

/// The operator's own token, which `owp serve` saved in `env.local`, stays with the server on this
/// machine: `owp admin` pointed elsewhere from that folder refuses before sending anything, and
/// sends it to the local server as before.
#[tokio::test(flavor = "multi_thread")]
async fn the_env_local_token_goes_only_to_the_server_on_this_machine() {
    const TOKEN: &str = "admin-token-of-my-pool-0123456789abcdef";
    let local = Hostile::start(|_| json_answer(200, json!({"repos": [], "tasks": []}))).await;
    let me = Volunteer::new();
    std::fs::write(
        me.dir.path().join("env.local"),
        format!("OWP_ADMIN_TOKEN={TOKEN}\nOWP_SERVER=https://pool.example.org\n"),
    )
    .unwrap();
    let mut cmd = me.owp(&["admin", "state"]);
    let line = one_error_line(&me.run(&mut cmd).await);
    assert!(
        line.contains("env.local") && line.contains("https://pool.example.org"),
        "{line}"
    );
    let mut cmd = me.owp(&["admin", "state", "--server", &local.base]);
    let out = me.run(&mut cmd).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = local.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-admin-token"), Some(TOKEN));
}

/// `owp admin` does not follow a redirect to another origin with its `X-Admin-Token`.
#[tokio::test(flavor = "multi_thread")]
async fn admin_commands_do_not_carry_the_token_to_another_host() {
    const TOKEN: &str = "admin-token-of-my-pool-0123456789abcdef";
    let elsewhere = Hostile::start(|_| json_answer(200, json!({"repos": [], "tasks": []}))).await;
    let target = elsewhere.base.clone();
    let server = Hostile::start(move |req| {
        (
            StatusCode::FOUND,
            [("location", format!("{target}{}", req.path))],
        )
            .into_response()
    })
    .await;
    let me = Volunteer::new();
    for args in [
        vec!["admin", "state"],
        vec!["admin", "task", "t1"],
        vec!["leaderboard"],
    ] {
        let mut cmd = me.owp(&args);
        cmd.args(["--server", &server.base])
            .env("OWP_ADMIN_TOKEN", TOKEN);
        let line = one_error_line(&me.run(&mut cmd).await);
        assert!(
            line.contains("redirected") && line.contains(&elsewhere.base),
            "{line}"
        );
    }
    assert_eq!(server.seen().len(), 3);
    for req in elsewhere.seen() {
        assert_eq!(req.header("x-admin-token"), None, "{req:?}");
    }
    assert!(elsewhere.seen().is_empty());
}

// ---- size limits ------------------------------------------------------------------------------

/// Every client path stops reading an endless answer at the limit, says so in one line, and ends
/// at once; the server could produce only a few MiB before the client hung up.
#[tokio::test(flavor = "multi_thread")]
async fn endless_answers_are_cut_off_at_the_limit() {
    let sent: Arc<AtomicU64> = Arc::default();
    let counter = sent.clone();
    let server = Hostile::start(move |req| match req.path.as_str() {
        "/v1/workers/register" => registration(),
        "/v1/admin/state" => endless(500, counter.clone()),
        _ => endless(200, counter.clone()),
    })
    .await;
    let me = Volunteer::registered_with(&server).await;
    for args in [
        vec!["worker", "status"],
        vec!["worker", "heartbeat"],
        vec!["worker", "link"],
        vec!["worker", "run", "--no-prompt"],
        vec!["admin", "state", "--server", &server.base],
        vec!["admin", "task", "t1", "--server", &server.base],
    ] {
        sent.store(0, Ordering::Relaxed);
        let started = Instant::now();
        let mut cmd = me.owp(&args);
        cmd.env("OWP_ADMIN_TOKEN", "an-admin-token-0123456789abcdef");
        let out = me.run(&mut cmd).await;
        let took = started.elapsed();
        let line = one_error_line(&out);
        assert!(line.contains("more than 4 MiB"), "{args:?}: {line}");
        let produced = sent.load(Ordering::Relaxed);
        assert!(
            produced < 48 * 1024 * 1024,
            "{args:?}: the server produced {} MiB before the client stopped",
            produced / (1024 * 1024)
        );
        assert!(took < Duration::from_secs(20), "{args:?} took {took:?}");
    }
}

/// `owp mcp` answers a tool call whose answer never ends with a tool error naming the limit.
#[tokio::test(flavor = "multi_thread")]
async fn mcp_cuts_off_an_endless_answer() {
    let sent: Arc<AtomicU64> = Arc::default();
    let counter = sent.clone();
    let server = Hostile::start(move |req| match req.path.as_str() {
        "/v1/workers/register" => registration(),
        "/v1/workers/heartbeat" => json_answer(200, json!({"renewed_leases": 0})),
        _ => endless(200, counter.clone()),
    })
    .await;
    let me = Volunteer::registered_with(&server).await;
    let mut mcp = Mcp::start(&me).await;
    let started = Instant::now();
    let answer = mcp.call_tool("owp_current", json!({})).await;
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(answer["isError"], true, "{answer}");
    let line = answer["content"][0]["text"].as_str().unwrap().to_string();
    assert!(line.contains("more than 4 MiB"), "{line}");
    assert!(sent.load(Ordering::Relaxed) < 48 * 1024 * 1024);
}

// ---- terminal escapes -------------------------------------------------------------------------

/// Titles, names and problem texts full of terminal escapes reach the volunteer's terminal (and
/// their AI tool) without them.
#[tokio::test(flavor = "multi_thread")]
async fn server_text_reaches_the_terminal_without_escapes() {
    let server = Hostile::start(|req| match req.path.as_str() {
        "/v1/workers/register" => registration(),
        "/v1/workers/me" => json_answer(
            200,
            json!({"worker": worker_json(HOSTILE_TITLE), "leases": [lease_json(HOSTILE_TITLE)]}),
        ),
        "/v1/workers/heartbeat" if req.method == Method::POST => {
            problem(409, &format!("Refused {HOSTILE_TITLE}"), "conflict")
        }
        "/v1/admin/state" => json_answer(
            200,
            json!({"repos": [], "workers": [worker_json(HOSTILE_TITLE)],
                   "tasks": [task_json(HOSTILE_TITLE)], "events": []}),
        ),
        path if path.starts_with("/v1/tasks/") || path.starts_with("/v1/admin/tasks/") => {
            json_answer(200, task_json(HOSTILE_TITLE))
        }
        _ => problem(404, HOSTILE_TITLE, "not_found"),
    })
    .await;
    let me = Volunteer::registered_with(&server).await;
    for args in [
        vec!["worker", "status"],
        vec!["worker", "heartbeat"],
        vec!["admin", "state", "--server", &server.base],
        vec!["admin", "task", "t_hostile", "--server", &server.base],
        vec!["admin", "state", "--json", "--server", &server.base],
    ] {
        let mut cmd = me.owp(&args);
        cmd.env("OWP_ADMIN_TOKEN", "an-admin-token-0123456789abcdef");
        let out = me.run(&mut cmd).await;
        let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
        assert!(
            String::from_utf8_lossy(&all).contains("parser"),
            "{args:?} did not show the title: {}",
            text(&out)
        );
        assert_no_terminal_controls(&format!("{args:?}"), &all);
    }
    let mut mcp = Mcp::start(&me).await;
    for (tool, arguments) in [
        ("owp_brief", json!({"task_id": "t_hostile"})),
        ("owp_current", json!({})),
    ] {
        let answer = mcp.call_tool(tool, arguments).await;
        for block in answer["content"].as_array().unwrap() {
            let shown = block["text"].as_str().unwrap();
            assert!(shown.contains("parser"), "{tool}: {shown}");
            assert_no_terminal_controls(tool, shown.as_bytes());
        }
    }
}

/// `owp mcp` on stdio, driven line by line.
struct Mcp {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    next_id: u64,
}

impl Mcp {
    async fn start(me: &Volunteer) -> Mcp {
        let mut child = me
            .owp(&["mcp"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut mcp = Mcp {
            child,
            stdin,
            lines,
            next_id: 1,
        };
        mcp.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "worker_hostile", "version": "1"}}),
        )
        .await;
        mcp.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        mcp
    }

    async fn send(&mut self, message: Value) {
        let mut line = message.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
                .await
                .expect("owp mcp answered within 30 s")
                .unwrap()
                .expect("owp mcp is still running");
            let message: Value = serde_json::from_str(&line).unwrap();
            if message["id"] == id {
                return message;
            }
        }
    }

    async fn call_tool(&mut self, name: &str, arguments: Value) -> Value {
        let answer = self
            .request("tools/call", json!({"name": name, "arguments": arguments}))
            .await;
        answer["result"].clone()
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

// ---- a newcomer's first steps -----------------------------------------------------------------

/// A reader that closes the pipe early (`| head -5`) ends the command quietly: no panic, no
/// status 101.
#[tokio::test(flavor = "multi_thread")]
async fn a_closed_pipe_ends_commands_quietly() {
    let server = Hostile::start(|req| match req.path.as_str() {
        "/v1/workers/register" => registration(),
        "/v1/workers/me" => json_answer(
            200,
            json!({"worker": worker_json("Ada"), "leases": [lease_json("Fix the parser")]}),
        ),
        _ => problem(404, "Not found", "not_found"),
    })
    .await;
    let me = Volunteer::registered_with(&server).await;
    for args in [
        vec!["conformance", "--list"],
        vec!["worker", "status"],
        vec!["--help"],
    ] {
        let mut child = me
            .owp(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command writes anything.
        drop(child.stdout.take());
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let err = stderr(&out);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
        assert_ne!(out.status.code(), Some(101), "{args:?}: {err}");
        assert!(err.trim().is_empty(), "{args:?}: {err}");
    }
}

/// `owp worker join --dry-run` registers nothing and saves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_join_changes_nothing() {
    let server = Hostile::registering().await;
    let me = Volunteer::new();
    for extra in [vec![], vec!["--no-run"], vec!["--agent", "echo {brief}"]] {
        let mut cmd = join(&me, &server.base, &["--dry-run"]);
        let out = me.run(cmd.args(&extra)).await;
        assert!(out.status.success(), "{extra:?}: {}", text(&out));
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("dry run"), "{said}");
        assert!(said.contains("would register Ada"), "{said}");
    }
    assert!(server.seen().is_empty(), "{:?}", server.seen());
    assert!(me.saved_profile().is_none());
    assert!(!me.config_dir().exists());
}

/// A URL pasted from the browser (a dashboard page, a trailing slash, a fragment) joins the
/// server at its base URL, and says so.
#[tokio::test(flavor = "multi_thread")]
async fn a_pasted_dashboard_url_joins_the_server() {
    let server = Hostile::registering().await;
    for pasted in [
        format!("{}/", server.base),
        format!("{}/board/state", server.base),
        format!("{}/dashboard", server.base),
        format!("{}/login#tasks", server.base),
    ] {
        let me = Volunteer::new();
        let out = me.run(&mut join(&me, &pasted, &["--no-run"])).await;
        assert!(out.status.success(), "{pasted}: {}", text(&out));
        let said = String::from_utf8_lossy(&out.stdout);
        if pasted.len() > server.base.len() + 1 {
            assert!(
                said.contains(&format!("using the server's base URL {}", server.base)),
                "{said}"
            );
        }
        assert_eq!(me.saved_profile().unwrap()["server"], server.base.as_str());
    }
    // Registering, and asking whether the pool proves GitHub accounts (`GET /v1/meta`).
    assert!(
        server
            .seen()
            .iter()
            .all(|r| r.path == "/v1/workers/register" || r.path == "/v1/meta"),
        "{:?}",
        server.seen()
    );
}

/// A server URL that cannot work is one line saying why, before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn unusable_server_urls_are_one_plain_line() {
    let me = Volunteer::new();
    let out = me
        .run(&mut join(&me, "http://127.0.0.1:99999", &["--no-run"]))
        .await;
    assert_eq!(
        one_error_line(&out),
        "error: http://127.0.0.1:99999 is not a valid server URL: the port must be 1–65535"
    );
    let mut cmd = me.owp(&["admin", "state", "--server", "ftp://127.0.0.1/"]);
    cmd.env("OWP_ADMIN_TOKEN", "an-admin-token-0123456789abcdef");
    assert_eq!(
        one_error_line(&me.run(&mut cmd).await),
        "error: ftp://127.0.0.1/ is not a valid server URL: use http:// or https://"
    );
    let out = me
        .run(&mut me.owp(&["worker", "status", "--server", "http://127.0.0.1:0"]))
        .await;
    // Without a saved profile the profile is what is missing; with one, the URL.
    assert!(one_error_line(&out).contains("no worker registered"));
}

/// A server that is not running is one line naming it, not four nested library causes.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_is_one_plain_line() {
    let server = Hostile::registering().await;
    let me = Volunteer::registered_with(&server).await;
    let held = closed_address();
    let closed = format!("http://{held}");
    for command in ["link", "status", "heartbeat"] {
        let out = me
            .run(&mut me.owp(&["worker", command, "--server", &closed]))
            .await;
        assert_eq!(
            one_error_line(&out),
            format!("error: cannot reach the OWP server at {closed} (is `owp serve` running?)")
        );
    }
}

/// `owp serve --db` in a folder that does not exist says so, in one line, instead of SQLite's
/// "(code: 14) unable to open database file".
#[tokio::test(flavor = "multi_thread")]
async fn a_database_in_a_missing_folder_is_one_plain_line() {
    let me = Volunteer::new();
    let db: PathBuf = me.dir.path().join("no-such-folder").join("owp.db");
    // A port free a moment ago: `owp serve` stops at the database before it would bind it.
    let port = closed_address().addr.port().to_string();
    let mut cmd = me.owp(&["serve", "--port", &port, "--db"]);
    cmd.arg(&db)
        .env("OWP_ADMIN_TOKEN", "an-admin-token-0123456789abcdef")
        .env("OWP_LOG", "off")
        .env("RUST_LOG", "off");
    let out = me.run(&mut cmd).await;
    let line = one_error_line(&out);
    let folder = Path::new(&db).parent().unwrap().display().to_string();
    assert!(
        line.contains(&folder) && line.contains("does not exist"),
        "{line}"
    );
}

/// A server that is not an OWP server (a web site's 404 page) is named as such in one line, not
/// echoed; an `https://` address of a plain-HTTP server says to use `http://`.
#[tokio::test(flavor = "multi_thread")]
async fn the_wrong_kind_of_server_is_one_line_that_says_what_to_check() {
    let site = Hostile::start(|_| {
        (
            StatusCode::NOT_FOUND,
            [("content-type", "text/html")],
            "<html><body><h1>Not Found</h1><p>nginx</p></body></html>",
        )
            .into_response()
    })
    .await;
    let me = Volunteer::new();
    let out = me.run(&mut join(&me, &site.base, &["--no-run"])).await;
    let line = one_error_line(&out);
    assert!(line.contains("is it an OWP server?"), "{line}");
    assert!(
        !line.contains("<html>") && !line.contains("nginx"),
        "{line}"
    );
    assert!(me.saved_profile().is_none());

    // `https://` to a server that speaks plain HTTP.
    let plain = site.base.strip_prefix("http://").unwrap().to_string();
    let out = me
        .run(&mut join(&me, &format!("https://{plain}"), &["--no-run"]))
        .await;
    let line = one_error_line(&out);
    assert!(line.contains(&format!("use http://{plain}")), "{line}");
    assert!(!line.contains("is `owp serve` running?"), "{line}");

    // Nobody there at all is still "cannot reach".
    let closed = closed_address();
    let out = me
        .run(&mut join(&me, &format!("https://{closed}"), &["--no-run"]))
        .await;
    let line = one_error_line(&out);
    assert!(line.contains("cannot reach"), "{line}");
}
