//! The runner's HTTP side: one [`Ctx`] per run (the server, its `/v1/meta`, a fresh name prefix)
//! and, per case, what the case created, so that it can be cleaned up afterwards.
//!
//! Every name a run creates starts with its prefix (`owpc-<random>`): repositories
//! (`owpc-<random>-<case>-<n>`), workers and the skills its tasks require. A case's tasks each
//! require a skill of that case, so no worker outside the case can take them; its workers register
//! as `specialist` (offered only tasks that require one of their skills), so they are never offered
//! a task the run did not create; and a lease on such a task, from a server that does not know
//! `specialist`, is given back at once, whichever request received it (see [`Ctx::send`]).
//!
//! What the runner reads from the server is bounded: every answer at most [`MAX_ANSWER_BYTES`]
//! (a larger one fails the case), and the clean-up after a case at most [`MAX_REMEMBERED`]
//! objects of each kind and [`CLEAN_UP_TIME`] in all. Redirects are followed only to the same
//! origin, so the admin token never goes to another host.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use reqwest::Method;
use serde_json::{Value, json};

use super::{CaseResult, Outcome};

/// The largest answer the runner reads (4 MiB): a server's answers to its small requests are far
/// smaller, and a larger one fails the case instead of filling the runner's memory.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// The most tasks, workers and repositories of each kind one case remembers for clean-up; a
/// case creates a few dozen, so more can only come from an answer listing objects it did not
/// create.
pub const MAX_REMEMBERED: usize = 500;

/// The longest the clean-up after one case (or the end of a run) may take.
pub const CLEAN_UP_TIME: Duration = Duration::from_secs(20);

/// The longest id the runner puts into a path; ids are short, and a hostile one is not followed.
const MAX_ID_CHARS: usize = 128;

/// One answer, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// The `Content-Type` header without parameters, lower case (empty when absent).
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    /// The body parsed as JSON (`Value::Null` when it is empty or not JSON).
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// A short description for failure messages: status, and the problem's code and detail or
    /// the start of the body.
    pub fn describe(&self) -> String {
        let code = self.body.get("code").and_then(Value::as_str);
        let detail = self.body.get("detail").and_then(Value::as_str);
        let text = match (code, detail) {
            (Some(c), Some(d)) => format!("{} {c} ({d})", self.status),
            (Some(c), None) => format!("{} {c}", self.status),
            _ => {
                let mut body: String = self.text.chars().take(200).collect();
                if self.text.chars().nth(200).is_some() {
                    body.push('…');
                }
                if body.is_empty() {
                    format!("{}", self.status)
                } else {
                    format!("{} {body}", self.status)
                }
            }
        };
        // One line, whatever the server sent: control characters become spaces.
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }

    /// Fails unless the status is one of `wanted`.
    pub fn expect(&self, wanted: &[u16], what: &str) -> Result<&Self, Outcome> {
        if wanted.contains(&self.status) {
            Ok(self)
        } else {
            let list: Vec<String> = wanted.iter().map(u16::to_string).collect();
            Err(Outcome::Failed(format!(
                "{what}: expected {}, got {}",
                list.join(" or "),
                self.describe()
            )))
        }
    }

    /// Fails unless this is an RFC 9457 problem with one of `wanted` statuses (and `code`, when
    /// given): `application/problem+json` with `type`, `title`, `status`, `detail` and `code`.
    pub fn expect_problem(
        &self,
        wanted: &[u16],
        code: Option<&str>,
        what: &str,
    ) -> Result<&Self, Outcome> {
        self.expect(wanted, what)?;
        if self.content_type != "application/problem+json" {
            return Err(Outcome::Failed(format!(
                "{what}: expected Content-Type application/problem+json, got `{}`",
                self.content_type
            )));
        }
        for field in ["type", "title", "detail", "code"] {
            if !self.body.get(field).is_some_and(Value::is_string) {
                return Err(Outcome::Failed(format!(
                    "{what}: the problem has no string `{field}`: {}",
                    self.text
                )));
            }
        }
        if self.body.get("status").and_then(Value::as_u64) != Some(u64::from(self.status)) {
            return Err(Outcome::Failed(format!(
                "{what}: the problem's `status` is not {}: {}",
                self.status, self.text
            )));
        }
        if let Some(code) = code {
            let got = self.body["code"].as_str().unwrap_or_default();
            if got != code {
                return Err(Outcome::Failed(format!(
                    "{what}: expected code `{code}`, got `{got}` ({})",
                    self.describe()
                )));
            }
        }
        Ok(self)
    }
}

/// A worker this run registered.
#[derive(Debug, Clone)]
pub struct Worker {
    pub id: String,
    pub token: String,
    /// The registration answer.
    pub registered: Value,
}

struct Shared {
    http: reqwest::Client,
    base: String,
    admin_token: String,
    prefix: String,
    meta: Value,
    max_wait: Duration,
}

#[derive(Default)]
struct Created {
    tasks: Vec<String>,
    workers: Vec<String>,
    repos: Vec<String>,
}

/// Whether `id` can go into a path as it is: short, and only letters, digits and `-_.:~`.
fn path_safe(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:~".contains(c))
}

/// Adds `id` to `list` when it can go into a path and the list is not full.
fn remember(list: &mut Vec<String>, id: &str) {
    if list.len() < MAX_REMEMBERED && path_safe(id) && !list.iter().any(|x| x == id) {
        list.push(id.to_string());
    }
}

/// What a case works with: the server, the run's prefix and this case's own names.
#[derive(Clone)]
pub struct Ctx {
    shared: Arc<Shared>,
    case: Arc<str>,
    counter: Arc<AtomicU64>,
    created: Arc<Mutex<Created>>,
}

impl Ctx {
    /// Checks the server and the admin token with one request each, then reads `/v1/meta` (a
    /// server without it is still checked: discovery's own case fails, and every optional feature
    /// is skipped). A server that is not answering, does not answer as an OWP server, or refuses
    /// the token is an error of one line, and no case runs.
    pub async fn connect(base: &str, admin_token: &str, max_wait: Duration) -> anyhow::Result<Ctx> {
        let base = base.trim_end_matches('/').to_string();
        let parsed = url::Url::parse(&base).with_context(|| format!("`{base}` is not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            anyhow::bail!("`{base}` is not an http:// or https:// URL");
        }
        if admin_token.trim().is_empty() {
            anyhow::bail!(
                "no admin token: give --admin-token or OWP_ADMIN_TOKEN (`owp serve` saves the one it \
                 generates in env.local in its working directory, which `owp conformance` reads \
                 when run there against a server on this machine)"
            );
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(45))
            .connect_timeout(Duration::from_secs(5))
            .redirect(same_origin_redirects())
            .user_agent(concat!("owp-conformance/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let health = http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{base} is not answering ({})", error_kind(&e)))?;
        if !health.status().is_success() {
            anyhow::bail!(
                "{base}/healthz answered {}: is this an OWP server?",
                health.status()
            );
        }
        // The admin token, with one request that changes nothing: an unknown task is `404` for
        // the admin and `401` for anyone else.
        let probe = http
            .get(format!("{base}/v1/tasks/owpc-credential-check"))
            .header("X-Admin-Token", admin_token)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{base} is not answering ({})", error_kind(&e)))?;
        let probe = read(probe).await.map_err(|o| match o {
            Outcome::Failed(d) | Outcome::Skipped(d) => anyhow::anyhow!("{base}: {d}"),
        })?;
        match probe.status {
            // Whether it is a problem as well is the wire cases' to judge.
            404 => {}
            429 => anyhow::bail!(
                "{base} is limiting this address's requests (429): try again in a minute"
            ),
            401 | 403 => anyhow::bail!(
                "{base} refused the admin token ({}): give the server's own with --admin-token or \
                 OWP_ADMIN_TOKEN",
                probe.status
            ),
            _ => anyhow::bail!(
                "{base} does not answer as an OWP server: GET /v1/tasks/UNKNOWN as the admin \
                 should be 404, got {}",
                probe.describe()
            ),
        }
        let meta = match http.get(format!("{base}/v1/meta")).send().await {
            Ok(r) if r.status().is_success() => match read(r).await {
                Ok(reply) => reply.body,
                Err(_) => Value::Null,
            },
            _ => Value::Null,
        };
        let prefix = format!("owpc-{:08x}", rand::random::<u32>());
        Ok(Ctx {
            shared: Arc::new(Shared {
                http,
                base,
                admin_token: admin_token.to_string(),
                prefix,
                meta,
                max_wait,
            }),
            case: Arc::from("run"),
            counter: Arc::new(AtomicU64::new(0)),
            created: Arc::default(),
        })
    }

    /// A context for one case: its names carry the case's name.
    pub fn for_case(&self, case: &str) -> Ctx {
        Ctx {
            shared: self.shared.clone(),
            case: Arc::from(case.replace(['.', '_'], "-")),
            counter: Arc::new(AtomicU64::new(0)),
            created: Arc::default(),
        }
    }

    /// `/v1/meta` as the server answered it at the start of the run (`Null` when it did not).
    pub fn meta(&self) -> &Value {
        &self.shared.meta
    }

    /// Whether `/v1/meta` lists this optional feature.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.shared.meta["features"]
            .as_array()
            .is_some_and(|f| f.iter().any(|v| v.as_str() == Some(feature)))
    }

    /// A TTL from `/v1/meta` (`heartbeat`, `lease` or `accept`), or a skip when the server does
    /// not say it or waiting it out would take longer than `--max-wait`.
    pub fn ttl_within_max_wait(&self, which: &str) -> Result<Duration, Outcome> {
        let field = format!("{which}_ttl_seconds");
        let Some(seconds) = self.shared.meta[&field].as_u64() else {
            return Err(Outcome::Skipped(format!(
                "/v1/meta does not give `{field}`"
            )));
        };
        let ttl = Duration::from_secs(seconds);
        if ttl > self.shared.max_wait {
            return Err(Outcome::Skipped(format!(
                "{field} is {seconds}, longer than --max-wait {} s",
                self.shared.max_wait.as_secs()
            )));
        }
        Ok(ttl)
    }

    /// The run's prefix (`owpc-<random>`).
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// A name no other case or run uses: `<prefix>-<case>-<n>-<what>`.
    pub fn unique(&self, what: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{}-{}-{n}-{what}", self.shared.prefix, self.case)
    }

    /// Whether a repository name is one this run created.
    pub fn is_ours(&self, repo: &str) -> bool {
        repo.starts_with(&self.shared.prefix)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shared.base)
    }

    /// Sends a request and reads the whole answer. `auth` is the credential to send: `Admin`,
    /// a worker's bearer token, or nothing.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, Outcome> {
        let mut req = self.request_as(method.clone(), path, auth);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let is_registration = method == Method::POST && path == "/v1/workers/register";
        match body {
            // Every worker of the run is a specialist (see the module docs).
            Some(Value::Object(fields)) if is_registration => {
                let mut fields = fields.clone();
                fields.entry("specialist").or_insert(Value::Bool(true));
                req = req.json(&Value::Object(fields));
            }
            Some(body) => req = req.json(body),
            None => {}
        }
        let reply = dispatch(&method, path, req).await?;
        if is_claim(&method, path) {
            self.give_back_foreign(&reply, auth).await;
        }
        self.note_created(&method, path, body, &reply);
        Ok(reply)
    }

    /// Whether `reply` is a lease on a task of a repository this run did not create; if so, it
    /// is given back (`nack`) at once, whatever the case does with the answer.
    async fn give_back_foreign(&self, reply: &Reply, auth: Auth<'_>) -> bool {
        if reply.status != 200 {
            return false;
        }
        let lease = &reply.body["lease"];
        let repo = lease["task"]["repo"].as_str().unwrap_or("");
        if self.is_ours(repo) {
            return false;
        }
        if let Some(id) = lease["lease_id"].as_str().filter(|id| path_safe(id)) {
            let req = self
                .request_as(Method::POST, &format!("/v1/leases/{id}/nack"), auth)
                .json(&json!({"reason": "conformance run: not this run's task"}));
            let _ = dispatch(&Method::POST, "/v1/leases/{id}/nack", req).await;
        }
        true
    }

    /// Sends a raw body with a content type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Reply, Outcome> {
        let req = self
            .request_as(method.clone(), path, auth)
            .header("Content-Type", content_type)
            .body(body);
        let reply = dispatch(&method, path, req).await?;
        if is_claim(&method, path) {
            self.give_back_foreign(&reply, auth).await;
        }
        self.note_created(&method, path, None, &reply);
        Ok(reply)
    }

    /// A request builder on the shared client carrying `auth`'s credential, for what
    /// [`Ctx::send`] does not cover (streams).
    pub fn request_as(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
    ) -> reqwest::RequestBuilder {
        let req = self.shared.http.request(method, self.url(path));
        match auth {
            Auth::Admin => req.header("X-Admin-Token", &self.shared.admin_token),
            Auth::Worker(w) => req.bearer_auth(&w.token),
            Auth::Token(t) => req.bearer_auth(t),
            Auth::None => req,
        }
    }

    pub fn admin_token(&self) -> &str {
        &self.shared.admin_token
    }

    pub async fn admin_get(&self, path: &str) -> Result<Reply, Outcome> {
        self.send(Method::GET, path, Auth::Admin, None, &[]).await
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> Result<Reply, Outcome> {
        self.send(Method::POST, path, Auth::Admin, Some(&body), &[])
            .await
    }

    pub async fn worker_post(
        &self,
        worker: &Worker,
        path: &str,
        body: Value,
    ) -> Result<Reply, Outcome> {
        self.send(Method::POST, path, Auth::Worker(worker), Some(&body), &[])
            .await
    }

    pub async fn worker_get(&self, worker: &Worker, path: &str) -> Result<Reply, Outcome> {
        self.send(Method::GET, path, Auth::Worker(worker), None, &[])
            .await
    }

    /// `POST /v1/workers/heartbeat` with no body, as the worker.
    pub async fn heartbeat(&self, worker: &Worker) -> Result<Reply, Outcome> {
        self.send(
            Method::POST,
            "/v1/workers/heartbeat",
            Auth::Worker(worker),
            None,
            &[],
        )
        .await
    }

    /// Creates a repository of this case (`POST /v1/admin/repos`) with the given budget and area
    /// locks, and returns its name. `extra` fields are merged into the body.
    pub async fn repo_with(
        &self,
        max_open_prs: i64,
        area_locks: bool,
        extra: Value,
    ) -> Result<String, Outcome> {
        let repo = self.unique("repo");
        let mut body = json!({
            "repo": repo, "max_open_prs": max_open_prs, "area_locks_enabled": area_locks,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.create_repo(&repo, body).await?;
        Ok(repo)
    }

    /// A repository with a budget of 100 and area locks off.
    pub async fn repo(&self) -> Result<String, Outcome> {
        self.repo_with(100, false, json!({})).await
    }

    /// A repository of this case named as GitHub names them, `owner/name` (the owner is this
    /// run's prefix), with a budget of 1 and area locks off: for the cases that read what a
    /// server keeps of a GitHub repository.
    pub async fn github_repo(&self, what: &str) -> Result<String, Outcome> {
        let repo = format!("{}/{}", self.prefix(), self.unique(what).replace('.', "-"));
        let body = json!({"repo": repo, "max_open_prs": 1, "area_locks_enabled": false});
        self.create_repo(&repo, body).await?;
        Ok(repo)
    }

    /// `POST /v1/admin/repos` of `body`, creating `repo`, which the clean-up then removes.
    async fn create_repo(&self, repo: &str, body: Value) -> Result<(), Outcome> {
        self.admin_post("/v1/admin/repos", body)
            .await?
            .expect(&[200, 201], "POST /v1/admin/repos")?;
        self.remember_repo(repo);
        Ok(())
    }

    /// A skill no worker outside this case has.
    pub fn skill(&self) -> String {
        self.unique("skill")
    }

    /// Imports tasks (`POST /v1/admin/tasks`) and returns them as the server answered. Each task
    /// that names no `required_skills` gets `skill`, so only this case's workers can take it.
    pub async fn import(
        &self,
        repo: &str,
        skill: &str,
        tasks: Value,
    ) -> Result<Vec<Value>, Outcome> {
        let mut tasks = tasks;
        if let Some(list) = tasks.as_array_mut() {
            for t in list {
                if let Some(o) = t.as_object_mut() {
                    o.entry("required_skills").or_insert_with(|| json!([skill]));
                }
            }
        }
        let reply = self
            .admin_post("/v1/admin/tasks", json!({"repo": repo, "tasks": tasks}))
            .await?;
        reply.expect(&[200, 201], "POST /v1/admin/tasks")?;
        let Some(list) = reply.body["tasks"].as_array().cloned() else {
            return Err(Outcome::Failed(format!(
                "POST /v1/admin/tasks: no `tasks` array in {}",
                reply.describe()
            )));
        };
        self.remember_tasks(&list);
        Ok(list)
    }

    /// Notes tasks to clean up after the case (tasks created otherwise than by [`Ctx::import`]).
    pub fn remember_tasks(&self, tasks: &[Value]) {
        let mut created = self.created.lock().unwrap();
        for t in tasks.iter().take(MAX_REMEMBERED) {
            if let Some(id) = t["task_id"].as_str() {
                remember(&mut created.tasks, id);
            }
        }
    }

    /// Registers a worker with these skills, capacity 100 and 10 concurrent tasks; `extra` fields
    /// are merged into (and override) that body.
    pub async fn worker(&self, skills: &[&str], extra: Value) -> Result<Worker, Outcome> {
        let mut body = json!({
            "name": self.unique("worker"),
            "skills": skills,
            "capacity_points": 100,
            "max_concurrent_tasks": 10,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        // Registrations are rate-limited per address (contract section 9: at least 100 a minute
        // get through); a run that registers many workers waits as `Retry-After` says, for up
        // to 40 s.
        let mut reply = self
            .send(
                Method::POST,
                "/v1/workers/register",
                Auth::None,
                Some(&body),
                &[],
            )
            .await?;
        let give_up = std::time::Instant::now() + Duration::from_secs(40);
        while reply.status == 429 && std::time::Instant::now() < give_up {
            let seconds = reply
                .headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(5)
                .clamp(1, 30);
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            reply = self
                .send(
                    Method::POST,
                    "/v1/workers/register",
                    Auth::None,
                    Some(&body),
                    &[],
                )
                .await?;
        }
        reply.expect(&[201], "POST /v1/workers/register")?;
        let (Some(id), Some(token)) = (
            reply.body["worker_id"].as_str(),
            reply.body["token"].as_str(),
        ) else {
            return Err(Outcome::Failed(format!(
                "POST /v1/workers/register: no worker_id and token in {}",
                reply.describe()
            )));
        };
        remember(&mut self.created.lock().unwrap().workers, id);
        Ok(Worker {
            id: id.to_string(),
            token: token.to_string(),
            registered: reply.body.clone(),
        })
    }

    /// `POST /v1/work` (with `?wait=N` when `wait` is given). A lease on a task of a repository
    /// this run did not create is given back at once (by [`Ctx::send`]) and the claim repeated,
    /// so the run never keeps anyone else's work.
    pub async fn claim(&self, worker: &Worker, wait: Option<u64>) -> Result<Reply, Outcome> {
        let path = match wait {
            Some(w) => format!("/v1/work?wait={w}"),
            None => "/v1/work".to_string(),
        };
        for _ in 0..20 {
            let reply = self
                .send(Method::POST, &path, Auth::Worker(worker), None, &[])
                .await?;
            // `send` gave a foreign lease back already; claim again.
            let foreign = reply.status == 200
                && !self.is_ours(reply.body["lease"]["task"]["repo"].as_str().unwrap_or(""));
            if !foreign {
                return Ok(reply);
            }
        }
        Err(Outcome::Failed(
            "every claim returned a task of a repository this run did not create".into(),
        ))
    }

    /// A claim that must return a lease: the `lease` object.
    pub async fn claim_lease(&self, worker: &Worker) -> Result<Value, Outcome> {
        let reply = self.claim(worker, None).await?;
        reply.expect(&[200], "POST /v1/work")?;
        let lease = reply.body["lease"].clone();
        if !lease["lease_id"].is_string() || !lease["task"].is_object() {
            return Err(Outcome::Failed(format!(
                "POST /v1/work: 200 without lease.lease_id and lease.task: {}",
                reply.text
            )));
        }
        Ok(lease)
    }

    /// A claim that must find nothing (204).
    pub async fn claim_none(&self, worker: &Worker, why: &str) -> CaseResult {
        let reply = self.claim(worker, None).await?;
        if reply.status == 204 {
            return Ok(());
        }
        let task = &reply.body["lease"]["task"];
        Err(Outcome::Failed(format!(
            "POST /v1/work should find nothing ({why}); got {} {}",
            reply.status,
            if task.is_object() {
                format!(
                    "task {} `{}`",
                    task["task_id"],
                    task["title"].as_str().unwrap_or("")
                )
            } else {
                reply.describe()
            }
        )))
    }

    /// The task as the admin sees it (`GET /v1/tasks/{id}`).
    pub async fn task(&self, task_id: &str) -> Result<Value, Outcome> {
        let reply = self.admin_get(&format!("/v1/tasks/{task_id}")).await?;
        reply.expect(&[200], "GET /v1/tasks/{id} as admin")?;
        Ok(reply.body.clone())
    }

    /// Ends what the case left open, within [`CLEAN_UP_TIME`]: its tasks not yet `merged` or
    /// `cancelled` are cancelled, then its workers and repositories archived (`POST
    /// /v1/admin/workers/{id}/archive`, `POST /v1/admin/repos/archive`), so that neither shows
    /// on the server's boards any more. A server without those routes gets its workers paused
    /// instead. Best effort: what a server refuses stays as it is.
    pub async fn clean_up(&self) {
        let created = std::mem::take(&mut *self.created.lock().unwrap());
        let work = async {
            let cancel = |id: String| async move {
                let Ok(reply) = self.admin_get(&format!("/v1/tasks/{id}")).await else {
                    return;
                };
                let status = reply.body["status"].as_str().unwrap_or("");
                if reply.status == 200 && status != "merged" && status != "cancelled" {
                    let _ = self
                        .admin_post(
                            &format!("/v1/admin/tasks/{id}/status"),
                            json!({"status": "cancelled", "reason": "conformance run: clean-up"}),
                        )
                        .await;
                }
            };
            in_parallel(created.tasks, cancel).await;
            let archive_worker = |id: String| async move {
                let archived = self
                    .admin_post(&format!("/v1/admin/workers/{id}/archive"), json!({}))
                    .await;
                if !archived.is_ok_and(|r| r.status == 200) {
                    let _ = self
                        .admin_post(
                            &format!("/v1/admin/workers/{id}"),
                            json!({"status": "paused"}),
                        )
                        .await;
                }
            };
            in_parallel(created.workers, archive_worker).await;
            let archive_repo = |repo: String| async move {
                let _ = self
                    .admin_post("/v1/admin/repos/archive", json!({"repo": repo}))
                    .await;
            };
            in_parallel(created.repos, archive_repo).await;
        };
        let _ = tokio::time::timeout(CLEAN_UP_TIME, work).await;
    }

    /// Notes a repository to archive after the case (repositories created otherwise than by
    /// [`Ctx::repo_with`]); only names of this run are kept.
    pub fn remember_repo(&self, repo: &str) {
        if self.is_ours(repo) {
            let repos = &mut self.created.lock().unwrap().repos;
            if repos.len() < MAX_REMEMBERED && !repos.iter().any(|r| r == repo) {
                repos.push(repo.to_string());
            }
        }
    }

    /// Notes what a request created, whichever case method sent it: a repository policy, a
    /// worker, imported tasks.
    fn note_created(&self, method: &Method, path: &str, sent: Option<&Value>, reply: &Reply) {
        if *method != Method::POST || !(200..300).contains(&reply.status) {
            return;
        }
        let path = path.split('?').next().unwrap_or(path);
        match path {
            "/v1/admin/repos" => {
                if let Some(repo) = sent.and_then(|b| b["repo"].as_str()) {
                    self.remember_repo(repo.trim());
                }
            }
            "/v1/workers/register" => {
                if let Some(id) = reply.body["worker_id"].as_str() {
                    self.remember_worker(id);
                }
            }
            "/v1/admin/tasks" | "/v1/admin/tasks/beads" => {
                if let Some(tasks) = reply.body["tasks"].as_array() {
                    self.remember_tasks(tasks);
                }
            }
            _ => {}
        }
    }
}

/// Runs `f` on every item, a few at a time.
async fn in_parallel<F, Fut>(items: Vec<String>, f: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = ()>,
{
    use futures_util::StreamExt as _;
    futures_util::stream::iter(items)
        .map(f)
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
}

/// Whether a request is a claim (`POST /v1/work`, with or without a query).
fn is_claim(method: &Method, path: &str) -> bool {
    *method == Method::POST && (path == "/v1/work" || path.starts_with("/v1/work?"))
}

/// Follows a redirect only to the origin (scheme, host and port) of the request's own URL, at
/// most 5 times: the admin token and worker tokens never go to another host.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt
            .previous()
            .first()
            .map(|u| u.origin())
            .unwrap_or_else(|| attempt.url().origin());
        if attempt.url().origin() != first || attempt.previous().len() > 5 {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// A short reason for a request that got no answer, without the library's error chain.
fn error_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "no answer in time"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_redirect() {
        "too many redirects"
    } else {
        "the connection failed"
    }
}

/// The credential a request carries.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    Admin,
    Worker(&'a Worker),
    /// Any bearer token (a wrong one, for the auth cases).
    Token(&'a str),
    None,
}

/// Sends a built request and reads the whole answer; no answer at all fails the case.
async fn dispatch(
    method: &Method,
    path: &str,
    req: reqwest::RequestBuilder,
) -> Result<Reply, Outcome> {
    let res = req
        .send()
        .await
        .map_err(|e| Outcome::Failed(format!("{method} {path}: no answer: {e}")))?;
    read(res).await
}

async fn read(res: reqwest::Response) -> Result<Reply, Outcome> {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let bytes = read_capped(res).await?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        content_type,
        headers,
        body,
        text,
    })
}

/// Reads a body of at most [`MAX_ANSWER_BYTES`]; a larger one fails the case, read no further.
pub async fn read_capped(mut res: reqwest::Response) -> Result<Vec<u8>, Outcome> {
    if res
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    loop {
        let chunk = res.chunk().await.map_err(|e| {
            Outcome::Failed(format!(
                "the answer's body could not be read ({})",
                error_kind(&e)
            ))
        })?;
        let Some(chunk) = chunk else { break };
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn too_large() -> Outcome {
    Outcome::Failed(format!(
        "the answer is larger than {} MiB, the most the runner reads",
        MAX_ANSWER_BYTES >> 20
    ))
}

/// Reads a field as a string, failing the case with the object shown when it is missing.
pub fn str_field<'a>(object: &'a Value, field: &str, what: &str) -> Result<&'a str, Outcome> {
    object[field]
        .as_str()
        .with_context(|| format!("{what}: no string `{field}` in {object}"))
        .map_err(Outcome::from)
}

impl Ctx {
    /// Notes a worker to pause after the case (workers registered otherwise than by
    /// [`Ctx::worker`]).
    pub fn remember_worker(&self, worker_id: &str) {
        remember(&mut self.created.lock().unwrap().workers, worker_id);
    }

    /// `GET /v1/admin/state`, which must answer 200.
    pub async fn admin_state(&self) -> Result<Value, Outcome> {
        let reply = self.admin_get("/v1/admin/state").await?;
        reply.expect(&[200], "GET /v1/admin/state")?;
        Ok(reply.body.clone())
    }

    /// One object of `GET /v1/admin/state`'s `list` (`repos`, `workers`, `tasks`) whose `field`
    /// is `value`; fails the case when it is not there.
    pub async fn state_object(
        &self,
        list: &str,
        field: &str,
        value: &str,
    ) -> Result<Value, Outcome> {
        let state = self.admin_state().await?;
        Ok(find(&state, list, field, value)?.clone())
    }
}

/// Reads a field as an RFC 3339 timestamp in UTC (offset `Z` or `+00:00`), failing the case when
/// it is not one.
pub fn utc_field(
    object: &Value,
    field: &str,
    what: &str,
) -> Result<chrono::DateTime<chrono::Utc>, Outcome> {
    let text = str_field(object, field, what)?;
    let parsed = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
        Outcome::Failed(format!(
            "{what}: `{field}` is not an RFC 3339 timestamp: `{text}` ({e})"
        ))
    })?;
    if parsed.offset().local_minus_utc() != 0 {
        return Err(Outcome::Failed(format!(
            "{what}: `{field}` is not in UTC: `{text}`"
        )));
    }
    Ok(parsed.with_timezone(&chrono::Utc))
}

/// One object of a list of `GET /v1/admin/state` (`workers`, `repos`, `tasks`) by its id field.
pub fn find<'a>(
    state: &'a Value,
    list: &str,
    field: &str,
    want: &str,
) -> Result<&'a Value, Outcome> {
    state[list]
        .as_array()
        .and_then(|l| l.iter().find(|o| o[field] == want))
        .ok_or_else(|| {
            Outcome::Failed(format!(
                "GET /v1/admin/state: no entry of `{list}` with {field} {want}"
            ))
        })
}
