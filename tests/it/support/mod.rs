//! Black-box harness for the OWP HTTP API.
//!
//! Every test starts the real `owp serve` binary as a child process on a free port, with its own
//! database in a temporary directory, and talks to it over HTTP. The child is killed when the
//! [`Server`] is dropped; when a test fails, the tail of the server's log is printed.
//!
//! Database backend: [`TestDatabase::fresh`] is the one place that chooses a server's (the
//! stories choose theirs in `Story::with`, by the same rule). A test of one server answering
//! requests runs on SQLite, the default backend, unless `OWP_TEST_BACKEND` is `postgres`. A test
//! of what several connections or processes do at once (claims racing, two servers on one
//! database) and a test named for PostgreSQL start with [`Server::start_preferring_postgres`]: a
//! fresh database on the server `OWP_TEST_DATABASE_URL` names, when it names one (as in CI), and
//! SQLite otherwise.

use crate::pg_scratch;

mod http;
pub use http::*;

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

/// The per-address rate limits every test server starts with, unless the test sets its own.
pub const GENEROUS_RATES: [(&str, &str); 6] = [
    ("OWP_RATE_REGISTRATIONS_PER_MINUTE", "100000"),
    ("OWP_RATE_ANONYMOUS_PER_MINUTE", "100000"),
    ("OWP_RATE_AUTH_FAILURES_PER_MINUTE", "100000"),
    ("OWP_RATE_PREVIEWS_PER_MINUTE", "100000"),
    ("OWP_RATE_PREVIEWS_PER_ADDRESS_PER_MINUTE", "100000"),
    ("OWP_RATE_MAINTAINER_PER_MINUTE", "100000"),
];

/// The PostgreSQL connections every test server keeps at most, unless the test sets its own
/// `OWP_DATABASE_POOL`: eight test processes at once, some of them with three replicas, stay well
/// within a PostgreSQL server's default 100 connection slots (the product's default is 16). Each
/// connection costs the server a process of its own and its statements prepared again: four (three
/// shared, one for the checked reads) are what a test's handful of clients keep busy.
pub const TEST_PG_POOL: (&str, &str) = ("OWP_DATABASE_POOL", TEST_PG_CONNECTIONS);

/// [`TEST_PG_POOL`]'s number, which in-process services (the GitHub stories) are given too.
pub const TEST_PG_CONNECTIONS: &str = "4";

/// How long a server may take to answer `GET /healthz` after it was spawned.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The database a test server uses.
#[derive(Clone, Debug)]
pub enum TestDatabase {
    /// An SQLite file (a copy of the migrated template, or one the server creates).
    Sqlite(PathBuf),
    /// A fresh PostgreSQL database `name` at `url`, created through `server_url`.
    Postgres {
        url: String,
        server_url: String,
        name: String,
    },
}

impl TestDatabase {
    /// The hook choosing the backend: a fresh PostgreSQL database when `postgres` is asked for
    /// (or `OWP_TEST_BACKEND` is `postgres`) and `OWP_TEST_DATABASE_URL` names a server,
    /// otherwise a migrated SQLite file inside `dir` (`sqlite_scratch`).
    pub async fn fresh(dir: &Path, postgres: bool) -> TestDatabase {
        match crate::services::postgres_url() {
            Some(url) if postgres || crate::services::postgres_by_default() => {
                fresh_postgres_database(&url).await
            }
            _ => {
                let path = dir.join("owp.db");
                crate::sqlite_scratch::migrated_copy(&path).await;
                TestDatabase::Sqlite(path)
            }
        }
    }

    /// The command-line arguments of `owp serve` selecting this database.
    pub fn serve_args(&self) -> Vec<String> {
        match self {
            TestDatabase::Sqlite(path) => vec!["--db".into(), path.display().to_string()],
            TestDatabase::Postgres { url, .. } => vec!["--database-url".into(), url.clone()],
        }
    }

    /// Renames a table under the servers using this database, as a damaged database would look
    /// to them (and back again, for a repaired one).
    pub async fn rename_table(&self, from: &str, to: &str) {
        use sqlx::Connection;
        let sql = format!("ALTER TABLE {from} RENAME TO {to}");
        match self {
            TestDatabase::Sqlite(path) => {
                let url = format!("sqlite:{}", path.display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            TestDatabase::Postgres { url, .. } => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
        }
    }

    /// Removes a PostgreSQL test database (SQLite files go with their temporary directory).
    fn discard(&self) {
        let TestDatabase::Postgres {
            server_url, name, ..
        } = self
        else {
            return;
        };
        pg_scratch::drop_blocking(server_url, name);
    }
}

/// An admin token of the test's own, for a server it starts.
fn fresh_admin_token() -> String {
    format!("admin-{}", uuid::Uuid::new_v4().simple())
}

/// Creates a database named `owp_test_<random>` holding the schema on the PostgreSQL server of
/// `base_url`.
async fn fresh_postgres_database(base_url: &str) -> TestDatabase {
    let name = pg_scratch::create_migrated(base_url, "owp_test").await;
    TestDatabase::Postgres {
        url: owp::store::database_url::url_with_database(base_url, &name),
        server_url: base_url.to_string(),
        name,
    }
}

/// A running `owp serve` child process.
pub struct Server {
    pub base: String,
    pub admin_token: String,
    pub client: reqwest::Client,
    pub database: TestDatabase,
    /// This server created the database (and removes it when dropped).
    owns_database: bool,
    child: Option<Child>,
    log_path: PathBuf,
    dir: Arc<tempfile::TempDir>,
}

impl Server {
    /// A server with default settings.
    pub async fn start() -> Server {
        Server::start_with_env(&[]).await
    }

    /// A server with extra environment variables (e.g. short TTLs).
    pub async fn start_with_env(env: &[(&str, &str)]) -> Server {
        Server::start_with_files(&[], env).await
    }

    /// A server whose working directory holds these files (`env.local`, `.env`, …) at start.
    pub async fn start_with_files(files: &[(&str, &str)], env: &[(&str, &str)]) -> Server {
        Server::start_fresh(files, Some(fresh_admin_token()), env, false).await
    }

    /// A server started without `OWP_ADMIN_TOKEN` (a newcomer's first run). Its `admin_token`
    /// is empty until the test finds out the token the server chose.
    pub async fn start_without_admin_token(files: &[(&str, &str)]) -> Server {
        Server::start_fresh(files, None, &[], false).await
    }

    /// A server with these environment variables on a fresh PostgreSQL database when
    /// `OWP_TEST_DATABASE_URL` names a server, and on SQLite otherwise: for the tests of claims
    /// racing and of servers sharing a database, and the tests named for PostgreSQL (which check
    /// `services::postgres_enabled` first).
    pub async fn start_preferring_postgres(env: &[(&str, &str)]) -> Server {
        Server::start_fresh(&[], Some(fresh_admin_token()), env, true).await
    }

    /// [`Server::start_preferring_postgres`], started without `OWP_ADMIN_TOKEN`.
    pub async fn start_preferring_postgres_without_admin_token() -> Server {
        Server::start_fresh(&[], None, &[], true).await
    }

    async fn start_fresh(
        files: &[(&str, &str)],
        admin_token: Option<String>,
        env: &[(&str, &str)],
        postgres: bool,
    ) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).expect("write a start-up file");
        }
        let database = TestDatabase::fresh(dir.path(), postgres).await;
        let mut server = Server::spawn(dir, database, admin_token, env).await;
        server.owns_database = true;
        server
    }

    /// A server on the SQLite file `db` (which may live on a file system of the test's own),
    /// whatever `OWP_TEST_DATABASE_URL` says.
    pub async fn start_on_sqlite(db: &Path) -> Server {
        Server::start_on_sqlite_with_env(db, &[]).await
    }

    /// A server with these environment variables on a fresh SQLite file `db`, whatever
    /// `OWP_TEST_DATABASE_URL` says.
    pub async fn start_on_sqlite_with_env(db: &Path, env: &[(&str, &str)]) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        Server::spawn(
            dir,
            TestDatabase::Sqlite(db.to_path_buf()),
            Some(fresh_admin_token()),
            env,
        )
        .await
    }

    /// A server process on a database another harness made and keeps (a story's), with its
    /// admin token.
    pub async fn start_on(
        database: TestDatabase,
        admin_token: &str,
        env: &[(&str, &str)],
    ) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        Server::spawn(dir, database, Some(admin_token.to_string()), env).await
    }

    /// A second server process on the same database (and admin token) as `self`.
    pub async fn start_sharing(&self, env: &[(&str, &str)]) -> Server {
        Server::spawn(
            self.dir.clone(),
            self.database.clone(),
            Some(self.admin_token.clone()),
            env,
        )
        .await
    }

    /// Another server process in the same directory and database, started without
    /// `OWP_ADMIN_TOKEN` (as after a restart by hand).
    pub async fn start_sharing_without_admin_token(&self) -> Server {
        Server::spawn(self.dir.clone(), self.database.clone(), None, &[]).await
    }

    /// Another replica on the same database, in a directory of its own (another machine's),
    /// with `admin_token` (none: a first start without `OWP_ADMIN_TOKEN`) and `env`.
    pub async fn start_replica(&self, admin_token: Option<&str>, env: &[(&str, &str)]) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        Server::spawn(
            dir,
            self.database.clone(),
            admin_token.map(str::to_string),
            env,
        )
        .await
    }

    /// The temporary directory (the server's working directory).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    async fn spawn(
        dir: Arc<tempfile::TempDir>,
        database: TestDatabase,
        admin_token: Option<String>,
        env: &[(&str, &str)],
    ) -> Server {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        let mut last_log = String::new();
        for attempt in 0..6 {
            let port = free_port();
            let log_path = dir.path().join(format!(
                "server-{port}-{attempt}-{}.log",
                std::process::id()
            ));
            let log = std::fs::File::create(&log_path).expect("log file");
            let log_err = log.try_clone().expect("log file");
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_owp"));
            cmd.arg("serve")
                .args(database.serve_args())
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::from(log))
                .stderr(Stdio::from(log_err));
            // The test decides the whole configuration: nothing leaks in from the caller's shell.
            for (key, _) in std::env::vars() {
                if key.starts_with("OWP_") || key.starts_with("GITHUB_") {
                    cmd.env_remove(key);
                }
            }
            if let Some(token) = &admin_token {
                cmd.env("OWP_ADMIN_TOKEN", token);
            }
            // Every test talks from 127.0.0.1, and most send bursts that have nothing to do
            // with the per-address rate limits; the tests of those limits (api_load.rs) set
            // their own values, which win. The same for the PostgreSQL pool ([`TEST_PG_POOL`]).
            for (k, v) in GENEROUS_RATES.into_iter().chain([TEST_PG_POOL]) {
                cmd.env(k, v);
            }
            for (k, v) in env {
                cmd.env(k, v);
            }
            let child = cmd.spawn().expect("spawn owp serve");
            let mut server = Server {
                base: format!("http://127.0.0.1:{port}"),
                // A list (a rotation) is sent as clients send it: its first token.
                admin_token: admin_token
                    .as_deref()
                    .map(owp::config::admin_token_to_send)
                    .unwrap_or_default()
                    .to_string(),
                client: client.clone(),
                database: database.clone(),
                owns_database: false,
                child: Some(child),
                log_path: log_path.clone(),
                dir: dir.clone(),
            };
            match server.wait_ready().await {
                Ok(()) => return server,
                Err(why) => {
                    last_log = format!("{why}\n{}", server.log_tail(80));
                    server.stop();
                }
            }
        }
        panic!("owp serve did not start after several attempts; last log:\n{last_log}");
    }

    /// Waits until our child answers `GET /healthz`, and checks the answering process is ours (the
    /// admin token is unique to this server).
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("owp serve exited early with {status}"));
            }
            if Instant::now() > deadline {
                return Err("owp serve did not answer /healthz in time".into());
            }
            let ok = self
                .client
                .get(self.url("/healthz"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .map(|r| r.status().as_u16() == 200)
                .unwrap_or(false);
            if ok && self.admin_token.is_empty() {
                return Ok(());
            }
            if ok {
                let state = self.admin_get("/v1/admin/state").await;
                if state.status == 200 {
                    return Ok(());
                }
                if state.status == 401 {
                    // Another test's server holds this port; ours will fail to bind.
                    return Err("port taken by another server".into());
                }
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Kills the child at once, as a crash would (SIGKILL: no shutdown, no transaction ends
    /// cleanly), without waiting for it; [`Server::stop`] reaps it later.
    #[cfg(unix)]
    pub fn kill_now(&self) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .args(["-9", &child.id().to_string()])
                .status()
                .expect("run kill");
            assert!(status.success(), "kill -9 failed: {status}");
        }
    }

    /// Kills the child and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The whole log of the server so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log_path) {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
            let _ = f.read_to_string(&mut text);
        }
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request builder for `path`.
    pub fn req(&self, method: Method, path: &str) -> Req {
        Req {
            inner: self.client.request(method.clone(), self.url(path)),
            method,
            path: path.to_string(),
        }
    }

    // ----- admin -------------------------------------------------------------------------

    pub async fn admin_get(&self, path: &str) -> Resp {
        self.req(Method::GET, path).admin(self).send().await
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> Resp {
        self.req(Method::POST, path)
            .admin(self)
            .json(&body)
            .send()
            .await
    }

    /// Upserts a repo policy; panics unless the answer is 200 or 201.
    pub async fn upsert_repo(&self, repo: &str, max_open_prs: i64, area_locks: bool) -> Value {
        let r = self
            .admin_post(
                "/v1/admin/repos",
                json!({"repo": repo, "max_open_prs": max_open_prs, "area_locks_enabled": area_locks}),
            )
            .await;
        assert!(
            r.status == 200 || r.status == 201,
            "upsert repo {repo}: {}",
            r.describe()
        );
        r.json
    }

    /// Imports tasks into `repo`; returns the created/updated tasks (in the order given).
    pub async fn import(&self, repo: &str, tasks: Value) -> Vec<Value> {
        let r = self
            .admin_post("/v1/admin/tasks", json!({"repo": repo, "tasks": tasks}))
            .await;
        let body = r.expect(201);
        body["tasks"]
            .as_array()
            .unwrap_or_else(|| panic!("import answer has no tasks array: {body}"))
            .clone()
    }

    /// Imports tasks and returns their ids.
    pub async fn import_ids(&self, repo: &str, tasks: Value) -> Vec<String> {
        self.import(repo, tasks)
            .await
            .iter()
            .map(|t| str_field(t, "task_id"))
            .collect()
    }

    /// `GET /v1/admin/state`, expecting 200.
    pub async fn state(&self) -> Value {
        self.admin_get("/v1/admin/state").await.expect(200)
    }

    /// One task as the admin sees it (`GET /v1/tasks/{id}`).
    pub async fn task(&self, task_id: &str) -> Value {
        self.admin_get(&format!("/v1/tasks/{task_id}"))
            .await
            .expect(200)
    }

    /// One worker, as listed by the admin state.
    pub async fn worker(&self, worker_id: &str) -> Value {
        let state = self.state().await;
        find(&state["workers"], "worker_id", worker_id)
            .unwrap_or_else(|| panic!("worker {worker_id} not in admin state"))
            .clone()
    }

    /// One repo policy, as listed by the admin state.
    pub async fn repo(&self, repo: &str) -> Value {
        let state = self.state().await;
        find(&state["repos"], "repo", repo)
            .unwrap_or_else(|| panic!("repo {repo} not in admin state"))
            .clone()
    }

    pub async fn admin_set_status(&self, task_id: &str, status: &str) -> Resp {
        self.admin_post(
            &format!("/v1/admin/tasks/{task_id}/status"),
            json!({"status": status, "reason": "test"}),
        )
        .await
    }

    pub async fn admin_update_worker(&self, worker_id: &str, body: Value) -> Resp {
        self.admin_post(&format!("/v1/admin/workers/{worker_id}"), body)
            .await
    }

    // ----- workers -----------------------------------------------------------------------

    pub async fn worker_get(&self, token: &str, path: &str) -> Resp {
        self.req(Method::GET, path).bearer(token).send().await
    }

    pub async fn worker_post(&self, token: &str, path: &str, body: Value) -> Resp {
        self.req(Method::POST, path)
            .bearer(token)
            .json(&body)
            .send()
            .await
    }

    /// `POST /v1/workers/register` with any body.
    pub async fn register(&self, body: Value) -> Resp {
        self.req(Method::POST, "/v1/workers/register")
            .json(&body)
            .send()
            .await
    }

    /// Registers a worker; returns `(worker_id, token)`.
    pub async fn register_worker(
        &self,
        name: &str,
        skills: &[&str],
        capacity_points: i64,
        max_concurrent_tasks: i64,
    ) -> (String, String) {
        let body = self
            .register(json!({
                "name": name,
                "skills": skills,
                "capacity_points": capacity_points,
                "max_concurrent_tasks": max_concurrent_tasks,
            }))
            .await
            .expect(201);
        (str_field(&body, "worker_id"), str_field(&body, "token"))
    }

    /// `POST /v1/work` (no wait).
    pub async fn claim(&self, token: &str) -> Resp {
        self.req(Method::POST, "/v1/work")
            .bearer(token)
            .send()
            .await
    }

    /// Claims and returns the lease (`Some`) or `None` on 204; panics on anything else.
    pub async fn claim_lease(&self, token: &str) -> Option<Value> {
        let r = self.claim(token).await;
        match r.status {
            200 => Some(r.json["lease"].clone()),
            204 => None,
            _ => panic!("claim: {}", r.describe()),
        }
    }

    /// Claims and expects a lease; returns `(lease_id, task_id, lease)`.
    pub async fn claim_ok(&self, token: &str) -> (String, String, Value) {
        let lease = self
            .claim_lease(token)
            .await
            .expect("expected a lease, got 204");
        let lease_id = str_field(&lease, "lease_id");
        let task_id = str_field(&lease["task"], "task_id");
        (lease_id, task_id, lease)
    }

    /// Claims and expects 204.
    pub async fn claim_none(&self, token: &str) {
        let r = self.claim(token).await;
        assert_eq!(
            r.status,
            204,
            "expected no work (204), got {}",
            r.describe()
        );
    }

    pub async fn ack(&self, token: &str, lease_id: &str) -> Resp {
        self.worker_post(token, &format!("/v1/leases/{lease_id}/ack"), json!({}))
            .await
    }

    pub async fn nack(&self, token: &str, lease_id: &str) -> Resp {
        self.worker_post(
            token,
            &format!("/v1/leases/{lease_id}/nack"),
            json!({"reason": "test"}),
        )
        .await
    }

    pub async fn renew(&self, token: &str, lease_id: &str) -> Resp {
        self.worker_post(token, &format!("/v1/leases/{lease_id}/renew"), json!({}))
            .await
    }

    pub async fn heartbeat(&self, token: &str, body: Value) -> Resp {
        self.worker_post(token, "/v1/workers/heartbeat", body).await
    }

    /// `POST /v1/tasks/{id}/status` as a worker.
    pub async fn set_status(&self, token: &str, task_id: &str, body: Value) -> Resp {
        self.worker_post(token, &format!("/v1/tasks/{task_id}/status"), body)
            .await
    }

    /// Moves a held task to `pr_opened` with a pull request URL; expects 200.
    pub async fn open_pr(&self, token: &str, task_id: &str) {
        self.set_status(
            token,
            task_id,
            json!({"status": "pr_opened", "artifact": {"pr_url": format!("https://example.test/pr/{task_id}")}}),
        )
        .await
        .expect(200);
    }

    /// The maintainer merges the pull request of a task in `pr_opened` (only an admin or GitHub
    /// decide `merged`); expects 200 and checks the holder `token` could not have done it.
    pub async fn merge(&self, token: &str, task_id: &str) {
        self.set_status(token, task_id, json!({"status": "merged"}))
            .await
            .expect_problem(403);
        self.admin_set_status(task_id, "merged").await.expect(200);
    }

    /// Opens `GET /v1/events` with the admin token.
    pub async fn events(&self) -> EventStream {
        let resp = self
            .client
            .get(self.url("/v1/events"))
            .header("X-Admin-Token", &self.admin_token)
            .header("Accept", "text/event-stream")
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .expect("GET /v1/events");
        assert_eq!(resp.status().as_u16(), 200, "GET /v1/events status");
        let ct = content_type(&resp);
        assert!(
            ct.starts_with("text/event-stream"),
            "events content-type is {ct:?}"
        );
        EventStream::new(resp)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- owp serve log ({}) -----\n{}\n-----",
                self.base,
                self.log_tail(60)
            );
        }
        self.stop();
        if self.owns_database {
            self.database.discard();
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// True when `v` (at any depth) holds `key` with the string value `want`.
pub fn mentions(v: &Value, key: &str, want: &str) -> bool {
    match v {
        Value::Object(map) => map
            .iter()
            .any(|(k, val)| (k == key && val.as_str() == Some(want)) || mentions(val, key, want)),
        Value::Array(items) => items.iter().any(|i| mentions(i, key, want)),
        _ => false,
    }
}

// ----- JSON helpers --------------------------------------------------------------------------

/// The element of the array `list` whose `key` equals `value`.
pub fn find<'a>(list: &'a Value, key: &str, value: &str) -> Option<&'a Value> {
    list.as_array()?
        .iter()
        .find(|item| item[key].as_str() == Some(value))
}

/// A string field, panicking with the object when absent.
pub fn str_field(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("field {key:?} missing or not a string in {v}"))
        .to_string()
}

/// An integer field, panicking with the object when absent.
pub fn int_field(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("field {key:?} missing or not an integer in {v}"))
}

/// Parses an RFC 3339 timestamp field.
pub fn ts(v: &Value, key: &str) -> DateTime<Utc> {
    let s = str_field(v, key);
    DateTime::parse_from_rfc3339(&s)
        .unwrap_or_else(|e| panic!("field {key:?} = {s:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// The `Instant` corresponding to a wall-clock timestamp (server and tests share a clock).
pub fn instant_of(at: DateTime<Utc>) -> Instant {
    let now_wall = Utc::now();
    let now = Instant::now();
    let delta = at - now_wall;
    match delta.to_std() {
        Ok(ahead) => now + ahead,
        Err(_) => now
            .checked_sub((-delta).to_std().unwrap_or_default())
            .unwrap_or(now),
    }
}

/// Sleeps until `at` plus `extra`.
pub async fn sleep_until_after(at: DateTime<Utc>, extra: Duration) {
    let target = instant_of(at) + extra;
    tokio::time::sleep_until(tokio::time::Instant::from_std(target)).await;
}

/// Lower-cased skills of a JSON array.
pub fn skill_set(v: &Value) -> HashSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str())
                .map(|s| s.to_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A task document for import with the given title and extra fields.
pub fn task_doc(title: &str, extra: Value) -> Value {
    let mut t = json!({"title": title});
    if let (Some(obj), Value::Object(more)) = (t.as_object_mut(), extra) {
        obj.extend(more);
    }
    t
}

/// The reason to skip a test that runs Node.js code from `dir` (relative to the repository), when
/// `node` is not installed or the package `module` is not installed under `dir`; `None` when it
/// can run.
pub fn node_package_missing(dir: &str, module: &str) -> Option<String> {
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.map(|s| s.success()).unwrap_or(false) {
        return Some("`node` is not installed".into());
    }
    let installed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(dir)
        .join("node_modules")
        .join(module);
    if !installed.is_dir() {
        return Some(format!(
            "{} is missing: run `npm ci --prefix {dir}`",
            installed.display()
        ));
    }
    None
}

/// Runs `owp ARGS` in `dir` with only `PATH` and `env` set; returns whether it succeeded and
/// what it printed (stdout, then stderr).
pub async fn run_owp(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), cmd.output())
        .await
        .expect("owp exits within 60 s")
        .expect("owp runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

impl Server {
    /// Runs `owp ARGS` in `dir` as this server's admin (`OWP_SERVER`, `OWP_ADMIN_TOKEN`).
    pub async fn run_owp_admin(&self, dir: &std::path::Path, args: &[&str]) -> (bool, String) {
        let server = self.url("");
        let env = [
            ("OWP_SERVER", server.trim_end_matches('/')),
            ("OWP_ADMIN_TOKEN", self.admin_token.as_str()),
        ];
        run_owp(dir, args, &env).await
    }
}
