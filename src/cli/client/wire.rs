//! The bodies the client sends and the answers it reads, as the OWP v1 contract shapes them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Event, Lease, RepoPolicy, Task, Worker};

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
