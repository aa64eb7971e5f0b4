//! HTTP client of the OWP API used by `owp worker` and `owp admin`.
//!
//! One method per endpoint of the OWP v1 contract. Failures become a [`ClientError`] whose message
//! is one line a person can act on: the server is unreachable, a token was refused, or the server's
//! own problem+json `title: detail (code)`.

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

pub use crate::domain::model::{Event, Lease, RepoPolicy, Task, Worker};

use super::server_url::{self};
use super::transport;

mod admin;
mod error;
mod link;
mod proposals;
mod send;
mod wire;

pub use error::{Auth, ClientError, Problem, error_from_response};
pub use link::{DeviceLinkStart, WorkerLinked};
pub use proposals::{OwnProposal, Proposal, ProposalState};
use send::{Body, Retry, decode, root_cause};
pub use wire::{
    BeadsAnswer, BeadsSkipped, Changed, Me, Preview, PreviewReason, PreviewRefusal, PreviewRefused,
    RegisterRequest, Registration, State,
};

/// Where the clients look for the service when neither `--server` nor `OWP_SERVER` is given.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8787";

/// The longest long-poll the contract allows (`POST /v1/work?wait=N`, N ≤ 30).
pub const MAX_CLAIM_WAIT_SECONDS: u64 = 30;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
struct ClaimAnswer {
    lease: Lease,
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
