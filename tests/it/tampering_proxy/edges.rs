//! The faults that give one of the specification's edges (its appendix "Edges", the moves of
//! section 6, the profiles) another answer than the one it decides: each is what a server
//! written from another reading of the text could answer, so that the conformance case of that
//! edge is seen to fail, naming the section.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{Value, json};

use super::{Inner, header, send};

/// One edge answered otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeFault {
    /// A query value of the wrong type (`?wait=abc`) is `400 invalid_request`.
    QueryValuesAs400,
    /// A fault inside a repository's `contract` is `422 validation_failed`.
    ContractAsValidation,
    /// Unknown keys inside `artifact.disclosure` are dropped, and the report taken.
    DisclosureOpen,
    /// A task's `paths` come back in the reverse of the stored order.
    PathsUnsorted,
    /// Any worker reads any task.
    OthersReadTasks,
    /// A lone surrogate escape is read as U+FFFD.
    SurrogatesReplaced,
    /// Problems have an empty `title`.
    TitlesEmpty,
    /// Problems have another wording in `title` (not a fault: another HTTP library).
    TitlesReworded,
    /// A body of another media type is refused (`415`) before the credentials are checked.
    MediaTypeBeforeCredentials,
    /// A task in `pr_opened` still shows a `lease_expires_at`.
    ExpiryAfterPrOpened,
    /// A task its holder reported `blocked` keeps its `lease_id` and `assigned_worker_id`.
    BlockedKeepsLease,
    /// An admin's move with a reason keeps the reason in `status_reason`, whatever the move.
    ReasonKept,
    /// A lease never acknowledged ends at its lease TTL, before its `accept_by`.
    UnackedEndsAtLeaseTtl,
    /// The lease of an approved plan has an accept window of two minutes.
    ApprovalWindowShort,
    /// Registering a worker also emits `worker.online`.
    OnlineOnRegister,
    /// The Beads import loses `acceptance_criteria`.
    DropAcceptanceCriteria,
    /// A value beyond its limit is refused without naming the field.
    LimitsWithoutField,
    /// A repository's `outcomes` count no pull request closed unmerged.
    OutcomesWithoutClosed,
    /// `GET /metrics` leaves out `owp_repo_acceptance_ratio`.
    MetricsWithoutRatio,
}

/// What these faults remember between requests.
#[derive(Default)]
pub struct Memory {
    /// The lease TTL `/v1/meta` states.
    lease_ttl: Mutex<Option<u64>>,
    /// When each task was last claimed.
    claimed: Mutex<HashMap<String, Instant>>,
}

impl Memory {
    pub fn clear(&self) {
        self.claimed.lock().unwrap().clear();
    }
}

/// A task read: `GET /v1/tasks/{id}`.
fn is_task_read(method: &Method, path: &str) -> bool {
    method == Method::GET
        && path
            .strip_prefix("/v1/tasks/")
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// A problem document answering `status` with `code`.
fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = json!({"type": "about:blank", "title": status.canonical_reason(),
                      "status": status.as_u16(), "detail": detail, "code": code});
    (
        status,
        [("content-type", "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

pub(super) async fn tamper(
    p: &Inner,
    fault: EdgeFault,
    mut parts: Parts,
    mut body: Bytes,
) -> anyhow::Result<Response> {
    use EdgeFault::*;
    let path = parts.uri.path().to_string();
    let has_query = parts.uri.query().is_some();
    let method = parts.method.clone();
    let post = method == Method::POST;
    let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match fault {
        MediaTypeBeforeCredentials
            if post && header(&parts, "content-type").starts_with("text/plain") =>
        {
            return Ok(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "JSON or YAML only",
            ));
        }
        DisclosureOpen if post && path.ends_with("/status") => {
            let mut doc = sent.clone();
            if let Some(d) = doc["artifact"]["disclosure"].as_object_mut() {
                d.retain(|k, _| k == "tool" || k == "model");
                body = Bytes::from(doc.to_string());
            }
        }
        OthersReadTasks if is_task_read(&method, &path) => {
            parts.headers.remove("authorization");
            parts
                .headers
                .insert("x-admin-token", p.admin_token.parse().unwrap());
        }
        SurrogatesReplaced => {
            let text = String::from_utf8_lossy(&body).replace("\\ud800", "\\ufffd");
            body = Bytes::from(text);
        }
        DropAcceptanceCriteria if post && path == "/v1/admin/tasks/beads" => {
            let lines: Vec<String> = String::from_utf8_lossy(&body)
                .lines()
                .map(|l| match serde_json::from_str::<Value>(l) {
                    Ok(mut bead) => {
                        if let Some(o) = bead.as_object_mut() {
                            o.remove("acceptance_criteria");
                        }
                        bead.to_string()
                    }
                    Err(_) => l.to_string(),
                })
                .collect();
            body = Bytes::from(lines.join("\n"));
        }
        _ => {}
    }
    let res = send(p, parts, body).await?;
    let (mut parts, incoming) = res.into_parts();
    if header_of(&parts.headers, "content-type").starts_with("text/event-stream") {
        return Ok(Response::from_parts(parts, Body::new(incoming)));
    }
    let bytes = incoming.collect().await?.to_bytes();
    let is_problem = header_of(&parts.headers, "content-type").starts_with("application/problem");
    let status = parts.status.as_u16();
    let mut doc: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let before = doc.clone();
    match fault {
        QueryValuesAs400 if has_query && status == 422 && doc["code"] == "validation_failed" => {
            parts.status = StatusCode::BAD_REQUEST;
            doc["status"] = json!(400);
            doc["code"] = json!("invalid_request");
        }
        ContractAsValidation if path == "/v1/admin/repos" && doc["code"] == "invalid_contract" => {
            doc["code"] = json!("validation_failed");
        }
        PathsUnsorted if post && path == "/v1/admin/tasks" => {
            for task in doc["tasks"].as_array_mut().into_iter().flatten() {
                reverse(&mut task["paths"]);
            }
        }
        PathsUnsorted if is_task_read(&method, &path) => reverse(&mut doc["paths"]),
        TitlesEmpty if is_problem => doc["title"] = json!(""),
        TitlesReworded if is_problem => doc["title"] = json!("Something Else Entirely"),
        ExpiryAfterPrOpened
            if is_task_read(&method, &path)
                && doc["status"] == "pr_opened"
                && doc["lease_expires_at"].is_null() =>
        {
            doc["lease_expires_at"] = json!("2099-01-01T00:00:00.000Z");
        }
        BlockedKeepsLease
            if is_task_read(&method, &path)
                && doc["status"] == "blocked"
                && doc["lease_id"].is_null() =>
        {
            doc["lease_id"] = json!("l_kept");
            doc["assigned_worker_id"] = json!("w_kept");
        }
        ReasonKept
            if post
                && path.starts_with("/v1/admin/tasks/")
                && status == 200
                && doc["status_reason"].is_null()
                && sent["reason"].is_string() =>
        {
            doc["status_reason"] = sent["reason"].clone();
        }
        UnackedEndsAtLeaseTtl if path == "/v1/meta" => {
            *p.edges.lease_ttl.lock().unwrap() = doc["lease_ttl_seconds"].as_u64();
        }
        UnackedEndsAtLeaseTtl if post && path == "/v1/work" && status == 200 => {
            if let Some(task) = doc["lease"]["task"]["task_id"].as_str() {
                p.edges
                    .claimed
                    .lock()
                    .unwrap()
                    .insert(task.to_string(), Instant::now());
            }
        }
        UnackedEndsAtLeaseTtl if is_task_read(&method, &path) && doc["status"] == "leased" => {
            let ttl = Duration::from_secs(p.edges.lease_ttl.lock().unwrap().unwrap_or(0));
            let task = doc["task_id"].as_str().unwrap_or("").to_string();
            let claimed = p.edges.claimed.lock().unwrap().get(&task).copied();
            if claimed.is_some_and(|at| at.elapsed() > ttl) {
                doc["status"] = json!("ready");
                doc["lease_id"] = Value::Null;
                doc["assigned_worker_id"] = Value::Null;
            }
        }
        ApprovalWindowShort if post && path.ends_with("/approve") && doc["lease"].is_object() => {
            let soon = chrono::Utc::now() + chrono::Duration::minutes(2);
            doc["lease"]["accept_by"] = json!(soon.to_rfc3339());
        }
        OnlineOnRegister if path == "/v1/admin/state" => {
            if let Some(events) = doc["events"].as_array_mut() {
                let mut with = Vec::new();
                for e in events.drain(..) {
                    let registered = e["kind"] == "worker.registered";
                    with.push(e.clone());
                    if registered {
                        let mut online = e;
                        online["kind"] = json!("worker.online");
                        with.push(online);
                    }
                }
                *events = with;
            }
        }
        LimitsWithoutField if status == 422 && path == "/v1/admin/tasks" => {
            doc["detail"] = json!("a value is beyond its limit");
        }
        OutcomesWithoutClosed if path == "/v1/admin/state" => {
            for repo in doc["repos"].as_array_mut().into_iter().flatten() {
                if repo["outcomes"].is_object() {
                    repo["outcomes"]["closed_unmerged"] = json!(0);
                    repo["outcomes"]["acceptance_rate"] = json!(1.0);
                }
            }
        }
        MetricsWithoutRatio if path == "/metrics" => {
            let text = String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.contains("owp_repo_acceptance_ratio"))
                .map(|l| format!("{l}\n"))
                .collect::<String>();
            parts.headers.remove("content-length");
            return Ok(Response::from_parts(parts, Body::from(text)));
        }
        _ => {}
    }
    parts.headers.remove("content-length");
    let out = if doc != before {
        Bytes::from(doc.to_string())
    } else {
        bytes
    };
    Ok(Response::from_parts(parts, Body::from(out)))
}

fn header_of(headers: &axum::http::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn reverse(list: &mut Value) {
    if let Some(l) = list.as_array_mut() {
        l.reverse();
    }
}
