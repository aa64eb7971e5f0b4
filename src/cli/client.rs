//! HTTP client of the OWP API used by `owp worker` and `owp admin`.
//!
//! One method per endpoint of the OWP v1 contract. Failures become a [`ClientError`] whose message
//! is one line a person can act on: the server is unreachable, a token was refused, or the server's
//! own problem+json `title: detail (code)`.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::domain::model::{Event, Lease, RepoPolicy, Task, Worker};

use super::server_url::{self};
use super::transport::{self, MAX_ANSWER_BYTES, ReadError};

mod error;
mod link;
mod proposals;

use error::one_line;
pub use error::{Auth, ClientError, Problem, error_from_response};
pub use link::{DeviceLinkStart, WorkerLinked};
pub use proposals::{OwnProposal, Proposal, ProposalState};

/// Where the clients look for the service when neither `--server` nor `OWP_SERVER` is given.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8787";

/// The longest long-poll the contract allows (`POST /v1/work?wait=N`, N ≤ 30).
pub const MAX_CLAIM_WAIT_SECONDS: u64 = 30;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times in all a request is sent when the connection or the server fails on the way.
const RETRY_ATTEMPTS: u32 = 5;
/// The first pause before sending a request again; each next pause doubles (with jitter), so the
/// last try comes 1.5 to 2.3 s after the first: a server whose database connections were cut
/// recovers well within that, and a server that is down is reported without a long wait.
const RETRY_FIRST_PAUSE: Duration = Duration::from_millis(100);

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

/// `GET /v1/work/preview` answer: why not me.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Preview {
    /// Tasks a claim would offer now, best first.
    #[serde(default)]
    pub eligible: Vec<String>,
    #[serde(default)]
    pub refused: Vec<PreviewRefusal>,
}

/// An element of a preview's `refused`: a task, or the count of those the worker may not see.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum PreviewRefusal {
    Task(PreviewRefused),
    Hidden { hidden: u64 },
}

/// A ready task the worker would not be offered now.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PreviewRefused {
    pub task_id: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub reasons: Vec<PreviewReason>,
}

/// One rule that refuses a task.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PreviewReason {
    pub rule: u8,
    pub code: String,
    pub detail: String,
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

    /// `POST /v1/workers/register`. Retried on a lost connection or a 5xx with the same
    /// `Idempotency-Key`, so a lost answer never registers the worker twice.
    pub async fn register(&self, req: &RegisterRequest) -> Result<Registration, ClientError> {
        self.call(
            Method::POST,
            "/v1/workers/register",
            Auth::None,
            Body::json(req),
            Retry::Safe,
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
            Retry::Safe,
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
            Retry::Safe,
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
                Retry::Safe,
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
            Retry::Safe,
        )
        .await
    }

    /// `POST /v1/leases/{id}/nack`: give the task back.
    pub async fn nack(&self, lease_id: &str, reason: Option<&str>) -> Result<Changed, ClientError> {
        let path = format!("/v1/leases/{}/nack", segment(lease_id));
        let body = reason_body(reason);
        self.call(
            Method::POST,
            &path,
            Auth::Worker,
            Body::json(&body),
            Retry::Safe,
        )
        .await
    }

    /// `POST /v1/leases/{id}/renew`.
    pub async fn renew(&self, lease_id: &str) -> Result<Changed, ClientError> {
        self.renew_with(lease_id, None).await
    }

    /// `renew`, saying what the agent working on the lease does now (one line).
    pub async fn renew_with(
        &self,
        lease_id: &str,
        progress: Option<&str>,
    ) -> Result<Changed, ClientError> {
        let path = format!("/v1/leases/{}/renew", segment(lease_id));
        let body = match progress {
            Some(line) => serde_json::json!({ "progress": line }),
            None => serde_json::json!({}),
        };
        self.call(
            Method::POST,
            &path,
            Auth::Worker,
            Body::json(&body),
            Retry::Safe,
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
            Retry::Safe,
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
            Retry::Safe,
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
            Retry::Safe,
        )
        .await
    }

    /// `GET /v1/work/preview`: which ready tasks a claim would offer now, and why not the others.
    pub async fn preview(&self) -> Result<Preview, ClientError> {
        self.call(
            Method::GET,
            "/v1/work/preview",
            Auth::Worker,
            Body::None,
            Retry::Safe,
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
        self.call(Method::GET, &path, auth, Body::None, Retry::Safe)
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
            Retry::Safe,
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
            Retry::Safe,
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
                Retry::Safe,
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
            Retry::Safe,
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
                Retry::Safe,
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
            .call(Method::GET, &path, Auth::Admin, Body::None, Retry::Safe)
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
            Retry::Safe,
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
                Retry::Safe,
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
        self.call(Method::GET, &path, auth, Body::None, Retry::Safe)
            .await
    }

    /// `GET /v1/admin/vouched?repo=`: a repository's merged vouch list.
    pub async fn admin_vouched(&self, repo: &str) -> Result<Value, ClientError> {
        let path = format!("/v1/admin/vouched?repo={}", query_value(repo));
        self.call(Method::GET, &path, Auth::Admin, Body::None, Retry::Safe)
            .await
    }

    /// `GET /v1/meta`: the protocol versions and optional features the server implements.
    pub async fn meta(&self) -> Result<Value, ClientError> {
        self.call(Method::GET, "/v1/meta", Auth::None, Body::None, Retry::Safe)
            .await
    }

    /// `POST path` with the admin's (or a signed-in maintainer's) credentials; the answer as JSON.
    pub async fn admin_post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.call(
            Method::POST,
            path,
            Auth::Admin,
            Body::json(body),
            Retry::Safe,
        )
        .await
    }

    /// `GET /healthz`.
    pub async fn health(&self) -> Result<(), ClientError> {
        self.send(
            Method::GET,
            "/healthz",
            Auth::None,
            Body::None,
            Retry::Safe,
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
    /// with [`Retry::Safe`], are sent a second time with the same key after a connection error.
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
            Retry::Safe => RETRY_ATTEMPTS,
            Retry::Never => 1,
        };
        let mut attempt = 0;
        let (status, bytes) = loop {
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
                // A maintainer's token (`owp login`) goes as a bearer token.
                (Auth::Admin, Some(t)) if t.starts_with("owpm_") => {
                    request = request.bearer_auth(t)
                }
                (Auth::Admin, Some(t)) => {
                    let first = crate::config::admin_token_to_send(t);
                    request = request.header("X-Admin-Token", first)
                }
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
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) if attempt < attempts && is_retryable(&e) => {
                    tokio::time::sleep(retry_pause(attempt)).await;
                    continue;
                }
                Err(e) => return Err(self.transport_error(&e)),
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
            let read = transport::read_capped(response, MAX_ANSWER_BYTES).await;
            let bytes = match read {
                Ok(bytes) => bytes,
                // The answer was cut off on the way: the request is sent again like one whose
                // connection failed (with the same key, the server replays what it did).
                Err(ReadError::Http(e)) if attempt < attempts && is_retryable(&e) => {
                    tokio::time::sleep(retry_pause(attempt)).await;
                    continue;
                }
                Err(ReadError::TooLarge) => {
                    return Err(ClientError::TooLarge {
                        base_url: self.base_url.clone(),
                        method: method.to_string(),
                        path: path.to_string(),
                        limit: MAX_ANSWER_BYTES,
                    });
                }
                Err(ReadError::Http(e)) => return Err(self.transport_error(&e)),
            };
            if attempt < attempts && worth_again(status, &bytes) {
                tokio::time::sleep(retry_pause(attempt)).await;
                continue;
            }
            break (status, bytes);
        };
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
            // A connection made, then no TLS: an https:// address of a plain-HTTP server (or a
            // certificate this machine does not trust). Refused or unresolved: nobody there.
            let cause = root_cause(e);
            let lower = cause.to_ascii_lowercase();
            let nobody = [
                "refused",
                "dns",
                "resolve",
                "unreachable",
                "no route",
                "reset",
            ]
            .iter()
            .any(|w| lower.contains(w));
            if let Some(rest) = base_url.strip_prefix("https://").filter(|_| !nobody) {
                return ClientError::Tls {
                    plain: format!("http://{rest}"),
                    cause: one_line(&cause, 160),
                    base_url,
                };
            }
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

/// Whether a request is sent again after a failure that says nothing about the request itself.
#[derive(Clone, Copy)]
enum Retry {
    /// Up to [`RETRY_ATTEMPTS`] times in all, after a lost connection, a 5xx answer or a
    /// `409 idempotency_in_progress` (the first try is still running): every such request is
    /// either a read or a POST carrying its `Idempotency-Key`, which the server runs at most once
    /// (a 5xx is not stored, so the same key runs it again).
    Safe,
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
    e.is_connect() || e.is_request() || e.is_timeout() || e.is_body()
}

/// An answer that says the server failed, not the request: a 5xx (never stored under the
/// request's key), or the key's first request still running.
fn worth_again(status: StatusCode, body: &[u8]) -> bool {
    if status.is_server_error() {
        return true;
    }
    status == StatusCode::CONFLICT
        && serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("code").and_then(Value::as_str).map(String::from))
            .is_some_and(|code| code == "idempotency_in_progress")
}

/// The pause before try `attempt + 1`: [`RETRY_FIRST_PAUSE`] doubled each time, with up to half
/// again of jitter, so that clients cut off together do not all come back at once.
fn retry_pause(attempt: u32) -> Duration {
    let base = RETRY_FIRST_PAUSE * 2u32.pow(attempt.saturating_sub(1).min(4));
    let jitter = base.mul_f64(rand::random::<f64>() / 2.0);
    base + jitter
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

/// The body of a request that takes an optional `reason`: `{"reason": …}`, or `{}` without one.
fn reason_body(reason: Option<&str>) -> serde_json::Value {
    match reason {
        Some(r) => serde_json::json!({ "reason": r }),
        None => serde_json::json!({}),
    }
}

#[cfg(test)]
mod tests;
