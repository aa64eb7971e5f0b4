//! The runner's HTTP side: one [`Ctx`] per run (the server, its `/v1/meta`, a fresh name prefix)
//! and, per case, what the case created, so that it can be cleaned up afterwards.
//!
//! Every name a run creates starts with its prefix (`owpc-<random>`): repositories
//! (`owpc-<random>-<case>-<n>`), workers and the skills its tasks require. A case's tasks each
//! require a skill of that case, so no worker outside the case can take them; a lease on a task the
//! run did not create is given back at once (see [`Ctx::claim`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use reqwest::Method;
use serde_json::{Value, json};

use super::{CaseResult, Outcome};

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
        match (code, detail) {
            (Some(c), Some(d)) => format!("{} {c} ({d})", self.status),
            (Some(c), None) => format!("{} {c}", self.status),
            _ => {
                let mut body: String = self.text.chars().take(200).collect();
                if body.len() < self.text.len() {
                    body.push('…');
                }
                if body.is_empty() {
                    format!("{}", self.status)
                } else {
                    format!("{} {body}", self.status)
                }
            }
        }
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
    /// Reads the server's `/v1/meta` (a server without it is still checked: discovery's own case
    /// fails, and every optional feature is skipped).
    pub async fn connect(base: &str, admin_token: &str, max_wait: Duration) -> anyhow::Result<Ctx> {
        let base = base.trim_end_matches('/').to_string();
        url::Url::parse(&base).with_context(|| format!("`{base}` is not a URL"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(45))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("owp-conformance/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let health = http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .with_context(|| format!("{base} is not answering"))?;
        if !health.status().is_success() {
            anyhow::bail!("{base}/healthz answered {}", health.status());
        }
        let meta = match http.get(format!("{base}/v1/meta")).send().await {
            Ok(r) if r.status().is_success() => r.json::<Value>().await.unwrap_or(Value::Null),
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
        if let Some(body) = body {
            req = req.json(body);
        }
        dispatch(&method, path, req).await
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
        dispatch(&method, path, req).await
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
        self.admin_post("/v1/admin/repos", body)
            .await?
            .expect(&[200, 201], "POST /v1/admin/repos")?;
        Ok(repo)
    }

    /// A repository with a budget of 100 and area locks off.
    pub async fn repo(&self) -> Result<String, Outcome> {
        self.repo_with(100, false, json!({})).await
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
        for t in tasks {
            if let Some(id) = t["task_id"].as_str() {
                created.tasks.push(id.to_string());
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
        self.created.lock().unwrap().workers.push(id.to_string());
        Ok(Worker {
            id: id.to_string(),
            token: token.to_string(),
            registered: reply.body.clone(),
        })
    }

    /// `POST /v1/work` (with `?wait=N` when `wait` is given). A lease on a task of a repository
    /// this run did not create is given back at once (`nack`) and the claim repeated, so the run
    /// never keeps anyone else's work.
    pub async fn claim(&self, worker: &Worker, wait: Option<u64>) -> Result<Reply, Outcome> {
        let path = match wait {
            Some(w) => format!("/v1/work?wait={w}"),
            None => "/v1/work".to_string(),
        };
        for _ in 0..20 {
            let reply = self
                .send(Method::POST, &path, Auth::Worker(worker), None, &[])
                .await?;
            if reply.status == 200 {
                let repo = reply.body["lease"]["task"]["repo"].as_str().unwrap_or("");
                if !self.is_ours(repo)
                    && let Some(lease) = reply.body["lease"]["lease_id"].as_str()
                {
                    let _ = self
                        .worker_post(
                            worker,
                            &format!("/v1/leases/{lease}/nack"),
                            json!({"reason": "conformance run: not this run's task"}),
                        )
                        .await;
                    continue;
                }
            }
            return Ok(reply);
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

    /// Ends what the case left open: its tasks not yet `merged` or `cancelled` are cancelled and
    /// its workers paused (the protocol deletes neither). Best effort: a server that refuses
    /// leaves them as they are.
    pub async fn clean_up(&self) {
        let (tasks, workers) = {
            let mut created = self.created.lock().unwrap();
            (
                std::mem::take(&mut created.tasks),
                std::mem::take(&mut created.workers),
            )
        };
        for id in tasks {
            let Ok(reply) = self.admin_get(&format!("/v1/tasks/{id}")).await else {
                continue;
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
        }
        for id in workers {
            let _ = self
                .admin_post(
                    &format!("/v1/admin/workers/{id}"),
                    json!({"status": "paused"}),
                )
                .await;
        }
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
    let bytes = res
        .bytes()
        .await
        .map_err(|e| Outcome::Failed(format!("the answer's body could not be read: {e}")))?;
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
        self.created
            .lock()
            .unwrap()
            .workers
            .push(worker_id.to_string());
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
