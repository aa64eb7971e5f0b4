//! HTTP client of the OWP API used by `owp worker` and `owp admin`.
//!
//! One method per endpoint of the OWP v1 contract. Failures become a [`ClientError`] whose message
//! is one line a person can act on: the server is unreachable, a token was refused, or the server's
//! own problem+json `title: detail (code)`.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::domain::model::{Event, Lease, RepoPolicy, Task, Worker};

use super::server_url::{self, BadServerUrl};
use super::transport::{self, MAX_ANSWER_BYTES, ReadError, size_text};

/// Where the clients look for the service when neither `--server` nor `OWP_SERVER` is given.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8787";

/// The longest long-poll the contract allows (`POST /v1/work?wait=N`, N ≤ 30).
pub const MAX_CLAIM_WAIT_SECONDS: u64 = 30;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// An RFC 9457 problem document as the OWP server sends it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type", default)]
    pub problem_type: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub detail: Option<String>,
    /// Stable machine-readable code, e.g. `capacity_exceeded`.
    #[serde(default)]
    pub code: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Problem {
    /// Reads a problem document from an error response body; `None` when the body is not one.
    pub fn parse(body: &str) -> Option<Problem> {
        let problem: Problem = serde_json::from_str(body).ok()?;
        if problem.title.is_none() && problem.detail.is_none() && problem.code.is_none() {
            return None;
        }
        Some(problem)
    }

    /// `title: detail (code)`, leaving out the parts the server did not send.
    pub fn summary(&self) -> String {
        let title = self
            .title
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let detail = self
            .detail
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let mut out = match (title, detail) {
            (Some(t), Some(d)) if t != d => format!("{t}: {d}"),
            (Some(t), _) => t.to_string(),
            (None, Some(d)) => d.to_string(),
            (None, None) => "request failed".to_string(),
        };
        if let Some(code) = self.code.as_deref().filter(|c| !c.is_empty()) {
            out.push_str(&format!(" ({code})"));
        }
        out
    }
}

/// Which credential a request carried; decides how a 401 is explained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    None,
    Admin,
    Worker,
}

/// Everything that can go wrong talking to the OWP server, each with a one-line message.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    BadUrl(#[from] BadServerUrl),
    #[error("cannot reach the OWP server at {base_url} (is `owp serve` running?)")]
    Unreachable { base_url: String },
    #[error("the OWP server at {base_url} did not answer in time")]
    Timeout { base_url: String },
    #[error("request to the OWP server at {base_url} failed: {message}")]
    Transport { base_url: String, message: String },
    #[error(
        "no admin token: pass --admin-token or set OWP_ADMIN_TOKEN (`owp serve` saves it to ./env.local on its first run)"
    )]
    MissingAdminToken,
    #[error(
        "no worker registered here: run `owp worker register --name NAME --skills a,b --capacity 5` first"
    )]
    MissingWorkerToken,
    #[error(
        "the server refused the admin token (401): use the OWP_ADMIN_TOKEN that `owp serve` prints or saves to ./env.local"
    )]
    AdminTokenRefused { problem: Option<Box<Problem>> },
    #[error("the server refused the worker token (401): register again with `owp worker register`")]
    WorkerTokenRefused { problem: Option<Box<Problem>> },
    #[error("{}", .problem.summary())]
    Problem { status: u16, problem: Box<Problem> },
    #[error("the server answered {status} to {method} {path}: {body}")]
    Unexpected {
        status: u16,
        method: String,
        path: String,
        body: String,
    },
    #[error(
        "the server at {base_url} sent more than {} to {method} {path}; stopped reading (an OWP server's answers are smaller)",
        size_text(*limit)
    )]
    TooLarge {
        base_url: String,
        method: String,
        path: String,
        limit: usize,
    },
    #[error(
        "the server at {base_url} redirected {method} {path} to {to}, another address: not followed, so no token goes there (if that is the server, use it as the server URL)"
    )]
    Redirected {
        base_url: String,
        method: String,
        path: String,
        to: String,
    },
    #[error("the server sent an answer to {method} {path} that this client cannot read: {message}")]
    Decode {
        method: String,
        path: String,
        message: String,
    },
}

impl ClientError {
    /// The HTTP status of an error answer, if the server answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::AdminTokenRefused { .. } | ClientError::WorkerTokenRefused { .. } => {
                Some(401)
            }
            ClientError::Problem { status, .. } | ClientError::Unexpected { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The problem `code` the server sent, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Problem { problem, .. } => problem.code.as_deref(),
            ClientError::AdminTokenRefused { problem }
            | ClientError::WorkerTokenRefused { problem } => {
                problem.as_ref().and_then(|p| p.code.as_deref())
            }
            _ => None,
        }
    }

    /// The server could not be reached or did not answer: trying again later may help.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            ClientError::Unreachable { .. }
                | ClientError::Timeout { .. }
                | ClientError::Transport { .. }
        )
    }

    /// A credential is missing or was refused: retrying will not help.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            ClientError::MissingAdminToken
                | ClientError::MissingWorkerToken
                | ClientError::AdminTokenRefused { .. }
                | ClientError::WorkerTokenRefused { .. }
        )
    }
}

/// Turns an error answer into a [`ClientError`].
pub fn error_from_response(
    status: u16,
    auth: Auth,
    method: &Method,
    path: &str,
    body: &str,
) -> ClientError {
    let problem = Problem::parse(body).map(Box::new);
    if status == 401 {
        match auth {
            Auth::Admin => return ClientError::AdminTokenRefused { problem },
            Auth::Worker => return ClientError::WorkerTokenRefused { problem },
            Auth::None => {}
        }
    }
    match problem {
        Some(problem) => ClientError::Problem { status, problem },
        None => ClientError::Unexpected {
            status,
            method: method.to_string(),
            path: path.to_string(),
            body: one_line(body, 200),
        },
    }
}

/// Shortens a text to one line of at most `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return "(empty body)".into();
    }
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max).collect();
    cut.push('…');
    cut
}

/// `POST /v1/workers/register` body.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RegisterRequest {
    pub name: String,
    pub skills: Vec<String>,
    pub capacity_points: i64,
    pub max_concurrent_tasks: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_login: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Value>,
}

/// `POST /v1/workers/register` answer. The token is shown only once.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Registration {
    pub worker_id: String,
    pub token: String,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub heartbeat_ttl_seconds: Option<u64>,
    #[serde(default)]
    pub lease_ttl_seconds: Option<u64>,
    #[serde(default)]
    pub accept_ttl_seconds: Option<u64>,
}

/// `GET /v1/workers/me` answer.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Me {
    pub worker: Worker,
    #[serde(default)]
    pub leases: Vec<Lease>,
}

/// `GET /v1/admin/state` answer.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct State {
    #[serde(default)]
    pub repos: Vec<RepoPolicy>,
    #[serde(default)]
    pub workers: Vec<Worker>,
    #[serde(default)]
    pub tasks: Vec<Task>,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Deserialize)]
struct ClaimAnswer {
    lease: Lease,
}

#[derive(Deserialize)]
struct ImportAnswer {
    tasks: Vec<Task>,
}

/// The answer of a Beads import.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct BeadsAnswer {
    pub tasks: Vec<Task>,
    #[serde(default)]
    pub ended: Vec<Task>,
    pub skipped: BeadsSkipped,
}

/// What a Beads import skipped, by status and by type.
#[derive(Debug, Clone, Default, serde::Serialize, Deserialize)]
pub struct BeadsSkipped {
    pub total: u64,
    #[serde(default)]
    pub statuses: std::collections::BTreeMap<String, u64>,
    #[serde(default)]
    pub types: std::collections::BTreeMap<String, u64>,
}

/// The answer of `ack`, `nack`, `renew` and status updates: "the changed object". Kept as JSON and
/// read through accessors, so the client works whether the server answers with the lease
/// (`{lease_id, task, expires_at}`), `{lease: …}`, `{task: …}` or the task itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Changed(pub Value);

impl Changed {
    fn lease_part(&self) -> Option<&Value> {
        match self.0.get("lease") {
            Some(lease) if lease.is_object() => Some(lease),
            _ => self.0.get("lease_id").map(|_| &self.0),
        }
    }

    /// The task after the change.
    pub fn task(&self) -> Option<Task> {
        let candidate = if self.0.get("task_id").is_some() {
            Some(&self.0)
        } else if let Some(task) = self.0.get("task").filter(|t| t.is_object()) {
            Some(task)
        } else {
            self.lease_part().and_then(|l| l.get("task"))
        };
        candidate.and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// When the lease now expires, if the answer says.
    pub fn expires_at(&self) -> Option<String> {
        let from_lease = self
            .lease_part()
            .and_then(|l| l.get("expires_at"))
            .and_then(Value::as_str);
        let from_task = || {
            self.task()
                .and_then(|t| t.lease_expires_at)
                .or_else(|| self.0.get("lease_expires_at")?.as_str().map(String::from))
        };
        from_lease.map(String::from).or_else(from_task)
    }
}

/// A typed client of one OWP server.
#[derive(Clone, Debug)]
pub struct OwpClient {
    pub base_url: String,
    pub http: reqwest::Client,
    pub admin_token: Option<String>,
    pub worker_token: Option<String>,
}

impl OwpClient {
    /// A client of the server at `base_url` (checked and brought to its base, see
    /// [`server_url::parse`]), with no credentials.
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let base_url = server_url::parse(base_url)?.base;
        let http = transport::http_client(CONNECT_TIMEOUT).map_err(|e| ClientError::Transport {
            base_url: base_url.clone(),
            message: root_cause(&e),
        })?;
        Ok(OwpClient {
            base_url,
            http,
            admin_token: None,
            worker_token: None,
        })
    }

    pub fn with_admin_token(mut self, token: Option<String>) -> Self {
        self.admin_token = token.filter(|t| !t.is_empty());
        self
    }

    pub fn with_worker_token(mut self, token: Option<String>) -> Self {
        self.worker_token = token.filter(|t| !t.is_empty());
        self
    }

    // ---- worker endpoints -------------------------------------------------------------------

    /// `POST /v1/workers/register`. Retried once on a connection error with the same
    /// `Idempotency-Key`, so a lost answer never registers the worker twice.
    pub async fn register(&self, req: &RegisterRequest) -> Result<Registration, ClientError> {
        self.call(
            Method::POST,
            "/v1/workers/register",
            Auth::None,
            Body::json(req),
            Retry::Once,
        )
        .await
    }

    /// `POST /v1/workers/register` with the admin token, for servers that only let admins
    /// register workers.
    pub async fn register_as_admin(
        &self,
        req: &RegisterRequest,
    ) -> Result<Registration, ClientError> {
        self.call(
            Method::POST,
            "/v1/workers/register",
            Auth::Admin,
            Body::json(req),
            Retry::Once,
        )
        .await
    }

    /// `POST /v1/workers/heartbeat`, optionally setting `idle` or `paused`.
    pub async fn heartbeat(&self, status: Option<&str>) -> Result<Value, ClientError> {
        let body = match status {
            Some(s) => Body::json(&serde_json::json!({ "status": s })),
            None => Body::json(&serde_json::json!({})),
        };
        self.call(
            Method::POST,
            "/v1/workers/heartbeat",
            Auth::Worker,
            body,
            Retry::Once,
        )
        .await
    }

    /// `POST /v1/work[?wait=N]`: a lease, or `None` when nothing is eligible.
    pub async fn claim(&self, wait_seconds: Option<u64>) -> Result<Option<Lease>, ClientError> {
        let wait = wait_seconds.map(|w| w.min(MAX_CLAIM_WAIT_SECONDS));
        let path = match wait {
            Some(w) if w > 0 => format!("/v1/work?wait={w}"),
            _ => "/v1/work".to_string(),
        };
        let timeout = REQUEST_TIMEOUT + Duration::from_secs(wait.unwrap_or(0));
        let raw = self
            .send(
                Method::POST,
                &path,
                Auth::Worker,
                Body::json(&serde_json::json!({})),
                Retry::Once,
                timeout,
            )
            .await?;
        match raw {
            None => Ok(None),
            Some(text) => {
                let answer: ClaimAnswer = decode(&Method::POST, &path, &text)?;
                Ok(Some(answer.lease))
            }
        }
    }

    /// `POST /v1/leases/{id}/ack`.
    pub async fn ack(&self, lease_id: &str) -> Result<Changed, ClientError> {
        let path = format!("/v1/leases/{}/ack", segment(lease_id));
        self.call(
            Method::POST,
            &path,
            Auth::Worker,
            Body::json(&serde_json::json!({})),
            Retry::Once,
        )
        .await
    }

    /// `POST /v1/leases/{id}/nack`: give the task back.
    pub async fn nack(&self, lease_id: &str, reason: Option<&str>) -> Result<Changed, ClientError> {
        let path = format!("/v1/leases/{}/nack", segment(lease_id));
        let body = match reason {
            Some(r) => serde_json::json!({ "reason": r }),
            None => serde_json::json!({}),
        };
        self.call(
            Method::POST,
            &path,
            Auth::Worker,
            Body::json(&body),
            Retry::Once,
        )
        .await
    }

    /// `POST /v1/leases/{id}/renew`.
    pub async fn renew(&self, lease_id: &str) -> Result<Changed, ClientError> {
        let path = format!("/v1/leases/{}/renew", segment(lease_id));
        self.call(
            Method::POST,
            &path,
            Auth::Worker,
            Body::json(&serde_json::json!({})),
            Retry::Once,
        )
        .await
    }

    /// `POST /v1/tasks/{id}/status` by the lease holder.
    pub async fn task_status(
        &self,
        task_id: &str,
        status: &str,
        artifact: Option<Value>,
        note: Option<&str>,
    ) -> Result<Changed, ClientError> {
        let path = format!("/v1/tasks/{}/status", segment(task_id));
        let mut body = serde_json::json!({ "status": status });
        if let Some(artifact) = artifact {
            body["artifact"] = artifact;
        }
        if let Some(note) = note {
            body["note"] = Value::String(note.to_string());
        }
        self.call(
            Method::POST,
            &path,
            Auth::Worker,
            Body::json(&body),
            Retry::Once,
        )
        .await
    }

    /// `POST /v1/workers/link-code`: a one-time code linking this worker to a GitHub login.
    pub async fn link_code(&self) -> Result<Value, ClientError> {
        self.call(
            Method::POST,
            "/v1/workers/link-code",
            Auth::Worker,
            Body::json(&serde_json::json!({})),
            Retry::Once,
        )
        .await
    }

    /// `GET /v1/workers/me`: this worker and the leases it holds.
    pub async fn me(&self) -> Result<Me, ClientError> {
        self.call(
            Method::GET,
            "/v1/workers/me",
            Auth::Worker,
            Body::None,
            Retry::Once,
        )
        .await
    }

    /// `GET /v1/tasks/{id}`, as the worker holding it (or as admin when only the admin token is set).
    pub async fn get_task(&self, task_id: &str) -> Result<Task, ClientError> {
        let path = format!("/v1/tasks/{}", segment(task_id));
        let auth = if self.worker_token.is_some() {
            Auth::Worker
        } else {
            Auth::Admin
        };
        self.call(Method::GET, &path, auth, Body::None, Retry::Once)
            .await
    }

    // ---- admin endpoints --------------------------------------------------------------------

    /// `POST /v1/admin/repos`: create or update a repo policy.
    pub async fn upsert_repo(
        &self,
        repo: &str,
        max_open_prs: i64,
        area_locks_enabled: Option<bool>,
    ) -> Result<RepoPolicy, ClientError> {
        self.upsert_repo_with(repo, max_open_prs, area_locks_enabled, None)
            .await
    }

    /// [`OwpClient::upsert_repo`] that also sets who may read the repository's board.
    pub async fn upsert_repo_with(
        &self,
        repo: &str,
        max_open_prs: i64,
        area_locks_enabled: Option<bool>,
        visibility: Option<crate::domain::Visibility>,
    ) -> Result<RepoPolicy, ClientError> {
        let mut body = serde_json::json!({ "repo": repo, "max_open_prs": max_open_prs });
        if let Some(locks) = area_locks_enabled {
            body["area_locks_enabled"] = Value::Bool(locks);
        }
        if let Some(v) = visibility {
            body["visibility"] = Value::String(v.as_str().to_string());
        }
        self.call(
            Method::POST,
            "/v1/admin/repos",
            Auth::Admin,
            Body::json(&body),
            Retry::Once,
        )
        .await
    }

    /// `POST /v1/admin/repos` with a whole body (`contract`, `clone_url`, …).
    pub async fn upsert_repo_body(&self, body: &Value) -> Result<RepoPolicy, ClientError> {
        self.call(
            Method::POST,
            "/v1/admin/repos",
            Auth::Admin,
            Body::json(body),
            Retry::Once,
        )
        .await
    }

    /// `POST /v1/admin/tasks` with a JSON document `{repo, tasks: [...]}`.
    pub async fn import_tasks(
        &self,
        repo: &str,
        tasks: &[Value],
    ) -> Result<Vec<Task>, ClientError> {
        let body = serde_json::json!({ "repo": repo, "tasks": tasks });
        let answer: ImportAnswer = self
            .call(
                Method::POST,
                "/v1/admin/tasks",
                Auth::Admin,
                Body::json(&body),
                Retry::Once,
            )
            .await?;
        Ok(answer.tasks)
    }

    /// `POST /v1/admin/tasks/beads?repo=R` with a Beads `issues.jsonl` sent as it is.
    pub async fn import_beads(
        &self,
        repo: &str,
        jsonl: String,
    ) -> Result<BeadsAnswer, ClientError> {
        let body = Body::Raw {
            content_type: "application/x-ndjson",
            bytes: jsonl.into_bytes(),
        };
        self.call(
            Method::POST,
            &format!("/v1/admin/tasks/beads?repo={}", query_value(repo)),
            Auth::Admin,
            body,
            Retry::Once,
        )
        .await
    }

    /// `POST /v1/admin/tasks` with a YAML document sent as it is (`Content-Type: application/yaml`).
    pub async fn import_tasks_yaml(&self, yaml: String) -> Result<Vec<Task>, ClientError> {
        let body = Body::Raw {
            content_type: "application/yaml",
            bytes: yaml.into_bytes(),
        };
        let answer: ImportAnswer = self
            .call(
                Method::POST,
                "/v1/admin/tasks",
                Auth::Admin,
                body,
                Retry::Once,
            )
            .await?;
        Ok(answer.tasks)
    }

    /// `GET /v1/admin/state[?repo=R]`. The repo filter is also applied here, so the answer is
    /// right whether or not the server knows that parameter.
    pub async fn admin_state(&self, repo: Option<&str>) -> Result<State, ClientError> {
        let path = match repo {
            Some(r) => format!("/v1/admin/state?repo={}", query_value(r)),
            None => "/v1/admin/state".to_string(),
        };
        let mut state: State = self
            .call(Method::GET, &path, Auth::Admin, Body::None, Retry::Once)
            .await?;
        if let Some(repo) = repo {
            state.repos.retain(|p| p.repo == repo);
            state.tasks.retain(|t| t.repo == repo);
            state
                .events
                .retain(|e| e.repo.as_deref().is_none_or(|r| r == repo));
        }
        Ok(state)
    }

    /// `POST /v1/admin/tasks/{id}/status`: force a status.
    pub async fn admin_task_status(
        &self,
        task_id: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Result<Changed, ClientError> {
        let path = format!("/v1/admin/tasks/{}/status", segment(task_id));
        let mut body = serde_json::json!({ "status": status });
        if let Some(reason) = reason {
            body["reason"] = Value::String(reason.to_string());
        }
        self.call(
            Method::POST,
            &path,
            Auth::Admin,
            Body::json(&body),
            Retry::Once,
        )
        .await
    }

    /// `POST /v1/admin/workers/{id}`: change trust level and/or status.
    pub async fn admin_update_worker(
        &self,
        worker_id: &str,
        trust_level: Option<i64>,
        status: Option<&str>,
    ) -> Result<Worker, ClientError> {
        let path = format!("/v1/admin/workers/{}", segment(worker_id));
        let mut body = serde_json::json!({});
        if let Some(trust) = trust_level {
            body["trust_level"] = Value::from(trust);
        }
        if let Some(status) = status {
            body["status"] = Value::String(status.to_string());
        }
        let changed: Changed = self
            .call(
                Method::POST,
                &path,
                Auth::Admin,
                Body::json(&body),
                Retry::Once,
            )
            .await?;
        // The worker itself, or `{worker: …}`.
        let value = match changed.0.get("worker") {
            Some(w) if w.is_object() => w.clone(),
            _ => changed.0,
        };
        serde_json::from_value(value).map_err(|e| ClientError::Decode {
            method: "POST".into(),
            path,
            message: e.to_string(),
        })
    }

    /// `GET /v1/leaderboard[?repo=R][&days=N]`, with the admin token when one is set (every
    /// repository) or without (public repositories, when the server has public boards).
    pub async fn leaderboard(
        &self,
        repo: Option<&str>,
        days: Option<i64>,
    ) -> Result<Value, ClientError> {
        let mut query = Vec::new();
        if let Some(r) = repo {
            query.push(format!("repo={}", query_value(r)));
        }
        if let Some(d) = days {
            query.push(format!("days={d}"));
        }
        let path = if query.is_empty() {
            "/v1/leaderboard".to_string()
        } else {
            format!("/v1/leaderboard?{}", query.join("&"))
        };
        let auth = if self.admin_token.is_some() {
            Auth::Admin
        } else {
            Auth::None
        };
        self.call(Method::GET, &path, auth, Body::None, Retry::Once)
            .await
    }

    /// `GET /healthz`.
    pub async fn health(&self) -> Result<(), ClientError> {
        self.send(
            Method::GET,
            "/healthz",
            Auth::None,
            Body::None,
            Retry::Once,
            REQUEST_TIMEOUT,
        )
        .await
        .map(|_| ())
    }

    // ---- plumbing ---------------------------------------------------------------------------

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        auth: Auth,
        body: Body,
        retry: Retry,
    ) -> Result<T, ClientError> {
        let text = self
            .send(method.clone(), path, auth, body, retry, REQUEST_TIMEOUT)
            .await?
            .unwrap_or_default();
        decode(&method, path, &text)
    }

    /// Sends one request; `Ok(None)` for 204. Mutating requests carry an `Idempotency-Key` and,
    /// with [`Retry::Once`], are sent a second time with the same key after a connection error.
    async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Auth,
        body: Body,
        retry: Retry,
        timeout: Duration,
    ) -> Result<Option<String>, ClientError> {
        let token = match auth {
            Auth::None => None,
            Auth::Admin => Some(
                self.admin_token
                    .clone()
                    .ok_or(ClientError::MissingAdminToken)?,
            ),
            Auth::Worker => Some(
                self.worker_token
                    .clone()
                    .ok_or(ClientError::MissingWorkerToken)?,
            ),
        };
        let idempotency_key = (method == Method::POST).then(|| uuid::Uuid::new_v4().to_string());
        let url = format!("{}{}", self.base_url, path);
        let attempts = match retry {
            Retry::Once => 2,
            Retry::Never => 1,
        };
        let mut attempt = 0;
        let response = loop {
            attempt += 1;
            let mut request: RequestBuilder = self
                .http
                .request(method.clone(), &url)
                .timeout(timeout)
                .header(
                    reqwest::header::ACCEPT,
                    "application/json, application/problem+json",
                );
            if let Some(key) = &idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            match (&auth, &token) {
                (Auth::Admin, Some(t)) => request = request.header("X-Admin-Token", t),
                (Auth::Worker, Some(t)) => request = request.bearer_auth(t),
                _ => {}
            }
            request = match &body {
                Body::None => request,
                Body::Json(bytes) => request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bytes.clone()),
                Body::Raw {
                    content_type,
                    bytes,
                } => request
                    .header(reqwest::header::CONTENT_TYPE, *content_type)
                    .body(bytes.clone()),
            };
            match request.send().await {
                Ok(response) => break response,
                Err(e) if attempt < attempts && is_retryable(&e) => {
                    tokio::time::sleep(RETRY_DELAY).await;
                }
                Err(e) => return Err(self.transport_error(&e)),
            }
        };
        let status = response.status();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no Location)");
            return Err(ClientError::Redirected {
                base_url: self.base_url.clone(),
                method: method.to_string(),
                path: path.to_string(),
                to: one_line(to, 200),
            });
        }
        let bytes = transport::read_capped(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge => ClientError::TooLarge {
                    base_url: self.base_url.clone(),
                    method: method.to_string(),
                    path: path.to_string(),
                    limit: MAX_ANSWER_BYTES,
                },
                ReadError::Http(e) => self.transport_error(&e),
            })?;
        let text = String::from_utf8_lossy(&bytes);
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if status.is_success() {
            return Ok(Some(text.into_owned()));
        }
        Err(error_from_response(
            status.as_u16(),
            auth,
            &method,
            path,
            &text,
        ))
    }

    fn transport_error(&self, e: &reqwest::Error) -> ClientError {
        let base_url = self.base_url.clone();
        if e.is_connect() {
            ClientError::Unreachable { base_url }
        } else if e.is_timeout() {
            ClientError::Timeout { base_url }
        } else {
            ClientError::Transport {
                base_url,
                message: root_cause(e),
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Retry {
    Once,
    #[allow(dead_code)]
    Never,
}

enum Body {
    None,
    Json(Vec<u8>),
    Raw {
        content_type: &'static str,
        bytes: Vec<u8>,
    },
}

impl Body {
    fn json<T: Serialize + ?Sized>(value: &T) -> Body {
        // Serializing our own request types cannot fail.
        Body::Json(serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()))
    }
}

fn is_retryable(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_request() || e.is_timeout()
}

fn decode<T: DeserializeOwned>(method: &Method, path: &str, text: &str) -> Result<T, ClientError> {
    let text = if text.trim().is_empty() { "null" } else { text };
    serde_json::from_str(text).map_err(|e| ClientError::Decode {
        method: method.to_string(),
        path: path.to_string(),
        message: e.to_string(),
    })
}

/// The innermost cause of an error: the one that says what happened (`invalid peer
/// certificate: UnknownIssuer`), without the library's wrappers around it.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// A server URL brought to its base (`http://host:port/` → `http://host:port`, a bare
/// `host:port` gets `http://`); a URL that cannot be used is returned trimmed, for the client to
/// refuse.
pub fn normalize_base_url(url: &str) -> String {
    match server_url::parse(url) {
        Ok(parsed) => parsed.base,
        Err(_) => url.trim().trim_end_matches('/').to_string(),
    }
}

/// Percent-encodes one path segment (task and lease ids are normally URL-safe already).
fn segment(id: &str) -> String {
    encode(id, |b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
}

fn query_value(v: &str) -> String {
    encode(v, |b| b.is_ascii_alphanumeric() || b"-_.~/".contains(&b))
}

fn encode(s: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `println!` for the `owp` clients: the line is made [`present::plain`] (no terminal escapes from
/// server text), and a closed stdout (`owp admin state --json | head`) ends the process quietly.
macro_rules! say {
    () => {
        $crate::cli::present::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::present::write_line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// `eprintln!` for the `owp` clients, made [`present::plain`] like [`say!`].
macro_rules! say_err {
    ($($arg:tt)*) => {
        $crate::cli::present::write_err_line(format_args!($($arg)*))
    };
}
pub(crate) use say_err;

/// Presentation helpers, kept under this path for the modules that use it from here.
pub use super::present;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_summary_is_title_detail_code() {
        let body = r#"{"type":"https://owp.dev/problems/capacity_exceeded","title":"Capacity exceeded",
            "status":409,"detail":"worker w1 has 4 of 5 points in use","code":"capacity_exceeded"}"#;
        let p = Problem::parse(body).expect("a problem document");
        assert_eq!(p.status, Some(409));
        assert_eq!(
            p.summary(),
            "Capacity exceeded: worker w1 has 4 of 5 points in use (capacity_exceeded)"
        );
        let err = error_from_response(409, Auth::Worker, &Method::POST, "/v1/work", body);
        assert_eq!(
            err.to_string(),
            "Capacity exceeded: worker w1 has 4 of 5 points in use (capacity_exceeded)"
        );
        assert_eq!(err.status(), Some(409));
        assert_eq!(err.code(), Some("capacity_exceeded"));
    }

    #[test]
    fn problem_without_detail_or_code() {
        let p = Problem::parse(r#"{"title":"Not found","status":404}"#).unwrap();
        assert_eq!(p.summary(), "Not found");
        let p = Problem::parse(r#"{"title":"Gone","detail":"Gone","code":"gone"}"#).unwrap();
        assert_eq!(p.summary(), "Gone (gone)");
        // Not a problem document.
        assert!(Problem::parse(r#"{"tasks":[]}"#).is_none());
        assert!(Problem::parse("<html>oops</html>").is_none());
    }

    #[test]
    fn unauthorized_names_the_credential() {
        let body =
            r#"{"title":"Unauthorized","status":401,"detail":"bad token","code":"unauthorized"}"#;
        let worker = error_from_response(401, Auth::Worker, &Method::POST, "/v1/work", body);
        assert!(
            worker
                .to_string()
                .starts_with("the server refused the worker token (401)")
        );
        assert!(worker.to_string().contains("owp worker register"));
        assert!(worker.is_auth());
        let admin = error_from_response(401, Auth::Admin, &Method::GET, "/v1/admin/state", body);
        assert!(
            admin
                .to_string()
                .starts_with("the server refused the admin token (401)")
        );
        assert_eq!(admin.code(), Some("unauthorized"));
        let anon =
            error_from_response(401, Auth::None, &Method::POST, "/v1/workers/register", body);
        assert_eq!(anon.to_string(), "Unauthorized: bad token (unauthorized)");
    }

    #[test]
    fn non_problem_errors_are_one_line() {
        let err = error_from_response(
            502,
            Auth::None,
            &Method::GET,
            "/healthz",
            "<html>\n<body>Bad\n gateway</body>\n</html>",
        );
        let msg = err.to_string();
        assert!(!msg.contains('\n'));
        assert_eq!(
            msg,
            "the server answered 502 to GET /healthz: <html> <body>Bad gateway</body> </html>"
        );
        let long = "x".repeat(500);
        let msg = error_from_response(500, Auth::None, &Method::GET, "/", &long).to_string();
        assert!(msg.ends_with('…') && msg.len() < 300);
    }

    #[test]
    fn base_urls_are_normalized() {
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8787/"),
            "http://127.0.0.1:8787"
        );
        assert_eq!(
            normalize_base_url(" localhost:9000 "),
            "http://localhost:9000"
        );
        assert_eq!(
            normalize_base_url("https://owp.example.org"),
            "https://owp.example.org"
        );
    }

    #[test]
    fn ids_are_encoded_in_paths() {
        assert_eq!(segment("t_01H9-x"), "t_01H9-x");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
        assert_eq!(query_value("owner/name"), "owner/name");
        assert_eq!(query_value("a&b"), "a%26b");
    }

    fn task_json(status: &str) -> Value {
        serde_json::json!({
            "task_id": "t1", "repo": "demo", "key": "DEMO-1", "title": "Fix", "description": "",
            "estimate_points": 2, "priority": "high", "required_skills": ["rust"], "area": "cli",
            "tier": 0, "status": status, "assigned_worker_id": "w1", "lease_id": "l1",
            "lease_expires_at": "2030-01-01T00:30:00Z", "artifact": null, "attempts": 0,
            "created_at": "2030-01-01T00:00:00Z", "updated_at": "2030-01-01T00:00:00Z"
        })
    }

    #[test]
    fn changed_reads_every_answer_shape() {
        let lease = serde_json::json!({"lease_id": "l1", "task": task_json("in_progress"),
            "expires_at": "2030-01-01T01:00:00Z", "accept_by": "2030-01-01T00:02:00Z"});
        let shapes = [
            (lease.clone(), "2030-01-01T01:00:00Z"),
            (
                serde_json::json!({ "lease": lease }),
                "2030-01-01T01:00:00Z",
            ),
            (task_json("in_progress"), "2030-01-01T00:30:00Z"),
            (
                serde_json::json!({ "task": task_json("in_progress") }),
                "2030-01-01T00:30:00Z",
            ),
        ];
        for (value, expires) in shapes {
            let changed = Changed(value);
            let task = changed.task().expect("a task");
            assert_eq!(task.task_id, "t1");
            assert_eq!(task.status.as_str(), "in_progress");
            assert_eq!(changed.expires_at().as_deref(), Some(expires));
        }
        assert!(Changed(serde_json::json!({"ok": true})).task().is_none());
    }

    #[test]
    fn missing_tokens_fail_before_sending() {
        let client = OwpClient::new("http://127.0.0.1:9").unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt.block_on(client.claim(None)).unwrap_err();
        assert!(matches!(err, ClientError::MissingWorkerToken));
        let err = rt.block_on(client.admin_state(None)).unwrap_err();
        assert!(matches!(err, ClientError::MissingAdminToken));
    }

    #[test]
    fn unreachable_server_is_one_clear_line() {
        // A port that was free a moment ago: the connection is refused.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let base = format!("http://127.0.0.1:{port}");
        let client = OwpClient::new(&base)
            .unwrap()
            .with_admin_token(Some("t".into()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt.block_on(client.admin_state(None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot reach the OWP server at {base} (is `owp serve` running?)")
        );
        assert!(err.is_transport());
    }
}
