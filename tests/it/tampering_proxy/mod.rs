//! A tampering proxy: it stands in front of a real `owp serve` and breaks one rule of the protocol
//! on purpose, so that the conformance runner's tests can show each kind of fault makes a named
//! case fail. With [`Fault::None`] it forwards every request and answer unchanged (streams too).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;

pub mod edges;

/// The one rule the proxy breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything unchanged.
    None,
    /// Errors go out as `application/json` instead of `application/problem+json`.
    PlainJsonErrors,
    /// The `Idempotency-Key` header never reaches the server.
    DropIdempotencyKey,
    /// A claim's answer is the previous successful claim's answer, given to another worker.
    SharedClaims,
    /// `POST /v1/work?wait=N` loses its `wait`: a long poll answers at once.
    IgnoreWait,
    /// The event stream sends its headers and then nothing.
    SilentEvents,
    /// Admin requests without the right token get it added.
    OpenAdmin,
    /// Imported tasks lose their `required_skills`.
    DropRequiredSkills,
    /// Imported tasks lose their `priority`.
    DropPriority,
    /// A worker's `merged` report is forwarded as the admin's.
    WorkersMerge,
    /// A repository policy gets one more pull request of budget than asked.
    LooseBudget,
    /// A worker's status report loses its `artifact.disclosure`.
    DropDisclosure,
    /// A worker's status report loses its `artifact.evidence` (malformed evidence goes through).
    DropEvidence,
    /// A proposal's `plan` is cut to 4,000 characters on its way to the server.
    TruncatePlans,
    /// The admin's approval of a proposal reaches the server as a decline.
    ApprovalsDecline,
    /// A repository policy loses its `approval` (plan first) on its way to the server.
    DropApproval,
    /// `GET /v1/admin/vouched` loses its query: the server is never told the repository.
    VouchedWithoutRepo,
    /// `/v1/meta` leaves out version `1.2`.
    MetaWithoutV12,
    /// `/v1/meta` lists no optional feature (not a fault: a smaller server).
    MetaWithoutFeatures,
    /// `GET /v1/work/preview` names only the first rule that refuses each task.
    PreviewFirstReasonOnly,
    /// Imported tasks lose their `paths`, and the import's answer shows them as sent: the
    /// server hands out a task whose paths overlap a task in flight.
    IgnorePaths,
    /// A task read with `GET /v1/tasks/{id}` shows no `waiting_on_paths`.
    HidePathWaits,
    /// `GET /v1/admin/state` shows a repository's reviewers in `.github/owp.yml`'s form, a map of
    /// login to number, instead of the list of their load and away state.
    ReviewersAsSettings,
    /// After a worker's nack, its claims find nothing (204): a cool-down nobody configured.
    CoolDownAfterNack,
    /// A body sent as `text/plain` reaches the server as `application/json`: the server guesses.
    TextAsJson,
    /// A report on a task after the worker's lease of it ended answers `403 not_lease_holder`
    /// instead of `409 lease_not_held`.
    EndedAsForbidden,
    /// The faults of [`edges`]: each gives one of the specification's edges another answer.
    Edge(edges::EdgeFault),
}

struct Inner {
    upstream: SocketAddr,
    admin_token: String,
    fault: Mutex<Fault>,
    /// The last successful claim: who made it and its answer.
    last_claim: Mutex<Option<(String, Bytes)>>,
    /// The workers (their `Authorization`) that gave a lease back (for
    /// [`Fault::CoolDownAfterNack`]).
    nacked: Mutex<Vec<String>>,
    /// What the faults of [`edges`] remember.
    edges: edges::Memory,
}

/// A running proxy; it stops when the test's runtime ends.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
    pub base: String,
}

impl Proxy {
    /// Starts a proxy to the server at `upstream` (`http://127.0.0.1:PORT`).
    pub async fn start(upstream: &str, admin_token: &str) -> Proxy {
        let addr: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("upstream address");
        let inner = Arc::new(Inner {
            upstream: addr,
            admin_token: admin_token.to_string(),
            fault: Mutex::new(Fault::None),
            last_claim: Mutex::new(None),
            nacked: Mutex::new(Vec::new()),
            edges: edges::Memory::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy { inner, base }
    }

    pub fn set(&self, fault: Fault) {
        *self.inner.fault.lock().unwrap() = fault;
        *self.inner.last_claim.lock().unwrap() = None;
        self.inner.nacked.lock().unwrap().clear();
        self.inner.edges.clear();
    }
}

async fn forward(State(p): State<Arc<Inner>>, req: Request) -> Response {
    match tamper(&p, req).await {
        Ok(res) => res,
        Err(e) => (
            axum::http::StatusCode::BAD_GATEWAY,
            format!("tampering proxy: {e}"),
        )
            .into_response(),
    }
}

fn header(parts: &axum::http::request::Parts, name: &str) -> String {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Rewrites every task of an import body with `f`.
fn rewrite_tasks(body: &Bytes, f: impl Fn(&mut serde_json::Map<String, Value>)) -> Bytes {
    let Ok(mut doc) = serde_json::from_slice::<Value>(body) else {
        return body.clone();
    };
    if let Some(tasks) = doc["tasks"].as_array_mut() {
        for t in tasks {
            if let Some(o) = t.as_object_mut() {
                f(o);
            }
        }
    }
    Bytes::from(serde_json::to_vec(&doc).unwrap())
}

/// Sends the request upstream as it now is.
async fn send(
    p: &Inner,
    mut parts: axum::http::request::Parts,
    body: Bytes,
) -> anyhow::Result<axum::http::Response<hyper::body::Incoming>> {
    parts.headers.remove("content-length");
    parts.headers.remove("transfer-encoding");
    parts
        .headers
        .insert("host", p.upstream.to_string().parse().unwrap());
    let upstream_req = axum::http::Request::from_parts(parts, Full::new(body));
    let stream = tokio::net::TcpStream::connect(p.upstream).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender.send_request(upstream_req).await?)
}

async fn tamper(p: &Inner, req: Request) -> anyhow::Result<Response> {
    let fault = *p.fault.lock().unwrap();
    let (mut parts, body) = req.into_parts();
    let mut body = body.collect().await?.to_bytes();
    let path = parts.uri.path().to_string();
    let mut path_and_query = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let post = parts.method == axum::http::Method::POST;
    // The `paths` of each imported task, as sent (for [`Fault::IgnorePaths`]).
    let mut sent_paths: Vec<Value> = Vec::new();
    let caller = header(&parts, "authorization");
    if let Fault::Edge(edge) = fault {
        return edges::tamper(p, edge, parts, body).await;
    }
    if fault == Fault::CoolDownAfterNack
        && post
        && path == "/v1/work"
        && p.nacked.lock().unwrap().contains(&caller)
    {
        return Ok(axum::http::StatusCode::NO_CONTENT.into_response());
    }
    match fault {
        Fault::TextAsJson if header(&parts, "content-type").starts_with("text/plain") => {
            parts
                .headers
                .insert("content-type", "application/json".parse().unwrap());
        }
        Fault::DropIdempotencyKey => {
            parts.headers.remove("idempotency-key");
        }
        Fault::IgnoreWait if path == "/v1/work" => {
            path_and_query = path.clone();
        }
        Fault::OpenAdmin if path.starts_with("/v1/admin") => {
            parts
                .headers
                .insert("x-admin-token", p.admin_token.parse().unwrap());
        }
        Fault::DropRequiredSkills if post && path == "/v1/admin/tasks" => {
            body = rewrite_tasks(&body, |t| {
                t.remove("required_skills");
            });
        }
        Fault::IgnorePaths if post && path == "/v1/admin/tasks" => {
            let seen = Mutex::new(Vec::new());
            body = rewrite_tasks(&body, |t| {
                seen.lock()
                    .unwrap()
                    .push(t.remove("paths").unwrap_or(Value::Null));
            });
            sent_paths = seen.into_inner().unwrap();
        }
        Fault::DropPriority if post && path == "/v1/admin/tasks" => {
            body = rewrite_tasks(&body, |t| {
                t.remove("priority");
            });
        }
        Fault::DropDisclosure if post && path.ends_with("/status") => {
            if let Ok(mut doc) = serde_json::from_slice::<Value>(&body)
                && let Some(artifact) = doc["artifact"].as_object_mut()
            {
                artifact.remove("disclosure");
                body = Bytes::from(serde_json::to_vec(&doc).unwrap());
            }
        }
        Fault::DropEvidence if post && path.ends_with("/status") => {
            if let Ok(mut doc) = serde_json::from_slice::<Value>(&body)
                && let Some(artifact) = doc["artifact"].as_object_mut()
            {
                artifact.remove("evidence");
                body = Bytes::from(serde_json::to_vec(&doc).unwrap());
            }
        }
        Fault::TruncatePlans if post && path.ends_with("/proposals") => {
            if let Ok(mut doc) = serde_json::from_slice::<Value>(&body)
                && let Some(plan) = doc["plan"].as_str()
            {
                doc["plan"] = Value::from(plan.chars().take(4_000).collect::<String>());
                body = Bytes::from(serde_json::to_vec(&doc).unwrap());
            }
        }
        Fault::ApprovalsDecline
            if post && path.starts_with("/v1/admin/proposals/") && path.ends_with("/approve") =>
        {
            path_and_query = format!("{}/decline", path.trim_end_matches("/approve"));
        }
        Fault::VouchedWithoutRepo if path == "/v1/admin/vouched" => {
            path_and_query = path.clone();
        }
        Fault::DropApproval if post && path == "/v1/admin/repos" => {
            if let Ok(mut doc) = serde_json::from_slice::<Value>(&body)
                && let Some(o) = doc.as_object_mut()
            {
                o.remove("approval");
                body = Bytes::from(serde_json::to_vec(&doc).unwrap());
            }
        }
        Fault::LooseBudget if post && path == "/v1/admin/repos" => {
            if let Ok(mut doc) = serde_json::from_slice::<Value>(&body)
                && let Some(n) = doc["max_open_prs"].as_i64()
            {
                doc["max_open_prs"] = Value::from(n + 1);
                body = Bytes::from(serde_json::to_vec(&doc).unwrap());
            }
        }
        Fault::WorkersMerge
            if post
                && path.starts_with("/v1/tasks/")
                && path.ends_with("/status")
                && parts.headers.contains_key("authorization") =>
        {
            let merged =
                serde_json::from_slice::<Value>(&body).is_ok_and(|doc| doc["status"] == "merged");
            if merged {
                path_and_query = path.replacen("/v1/tasks/", "/v1/admin/tasks/", 1);
                parts.headers.remove("authorization");
                parts
                    .headers
                    .insert("x-admin-token", p.admin_token.parse().unwrap());
            }
        }
        _ => {}
    }
    parts.uri = path_and_query.parse()?;
    let (mut parts, incoming) = send(p, parts, body).await?.into_parts();
    match fault {
        Fault::PlainJsonErrors => {
            let problem = parts
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/problem+json"));
            if problem {
                parts
                    .headers
                    .insert("content-type", "application/json".parse().unwrap());
            }
        }
        Fault::SilentEvents if path == "/v1/events" && parts.status.is_success() => {
            drop(incoming);
            parts.headers.remove("content-length");
            return Ok(Response::from_parts(
                parts,
                Body::from_stream(futures_util::stream::pending::<Result<Bytes, std::io::Error>>()),
            ));
        }
        Fault::SharedClaims if path == "/v1/work" && parts.status.as_u16() == 200 => {
            let bytes = incoming.collect().await?.to_bytes();
            let mut last = p.last_claim.lock().unwrap();
            let answer = match last.as_ref() {
                Some((who, earlier)) if *who != caller => earlier.clone(),
                _ => {
                    *last = Some((caller, bytes.clone()));
                    bytes
                }
            };
            parts.headers.remove("content-length");
            return Ok(Response::from_parts(parts, Body::from(answer)));
        }
        Fault::PreviewFirstReasonOnly if path == "/v1/work/preview" => {
            let bytes = incoming.collect().await?.to_bytes();
            let mut doc: Value = serde_json::from_slice(&bytes)?;
            for refused in doc["refused"].as_array_mut().into_iter().flatten() {
                if let Some(reasons) = refused["reasons"].as_array_mut() {
                    reasons.truncate(1);
                }
            }
            parts.headers.remove("content-length");
            return Ok(Response::from_parts(
                parts,
                Body::from(serde_json::to_vec(&doc)?),
            ));
        }
        Fault::IgnorePaths if post && path == "/v1/admin/tasks" && parts.status.is_success() => {
            let bytes = incoming.collect().await?.to_bytes();
            let mut doc: Value = serde_json::from_slice(&bytes)?;
            let tasks = doc["tasks"].as_array_mut().into_iter().flatten();
            for (task, paths) in tasks.zip(sent_paths) {
                if !paths.is_null() {
                    task["paths"] = paths;
                }
            }
            parts.headers.remove("content-length");
            return Ok(Response::from_parts(
                parts,
                Body::from(serde_json::to_vec(&doc)?),
            ));
        }
        Fault::HidePathWaits if !post && path.starts_with("/v1/tasks/") => {
            let bytes = incoming.collect().await?.to_bytes();
            let mut doc: Value = serde_json::from_slice(&bytes)?;
            if doc["waiting_on_paths"].is_array() {
                doc["waiting_on_paths"] = Value::Array(vec![]);
            }
            parts.headers.remove("content-length");
            return Ok(Response::from_parts(
                parts,
                Body::from(serde_json::to_vec(&doc)?),
            ));
        }
        Fault::EndedAsForbidden
            if post && path.ends_with("/status") && parts.status.as_u16() == 409 =>
        {
            let bytes = incoming.collect().await?.to_bytes();
            let mut doc: Value = serde_json::from_slice(&bytes)?;
            if doc["code"] == "lease_not_held" {
                doc["code"] = Value::from("not_lease_holder");
                doc["status"] = Value::from(403);
                parts.status = axum::http::StatusCode::FORBIDDEN;
            }
            parts.headers.remove("content-length");
            return Ok(Response::from_parts(
                parts,
                Body::from(serde_json::to_vec(&doc)?),
            ));
        }
        Fault::CoolDownAfterNack
            if post
                && path.starts_with("/v1/leases/")
                && path.ends_with("/nack")
                && parts.status.is_success() =>
        {
            p.nacked.lock().unwrap().push(caller);
        }
        Fault::ReviewersAsSettings if !post && path == "/v1/admin/state" => {
            let bytes = incoming.collect().await?.to_bytes();
            let mut doc: Value = serde_json::from_slice(&bytes)?;
            let repos = doc["repos"].as_array_mut().into_iter().flatten();
            for repo in repos.filter(|r| r["reviewers"].is_array()) {
                let settings: serde_json::Map<String, Value> = repo["reviewers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        let login = r["login"].as_str().unwrap_or("").to_string();
                        (login, r["capacity"].clone())
                    })
                    .collect();
                repo["reviewers"] = Value::Object(settings);
            }
            parts.headers.remove("content-length");
            return Ok(Response::from_parts(
                parts,
                Body::from(serde_json::to_vec(&doc)?),
            ));
        }
        Fault::MetaWithoutV12 | Fault::MetaWithoutFeatures if path == "/v1/meta" => {
            let bytes = incoming.collect().await?.to_bytes();
            let mut doc: Value = serde_json::from_slice(&bytes)?;
            if fault == Fault::MetaWithoutV12 {
                if let Some(v) = doc["versions"].as_array_mut() {
                    v.retain(|v| v != "1.2");
                }
            } else {
                doc["features"] = Value::Array(vec![]);
            }
            parts.headers.remove("content-length");
            return Ok(Response::from_parts(
                parts,
                Body::from(serde_json::to_vec(&doc)?),
            ));
        }
        _ => {}
    }
    Ok(Response::from_parts(parts, Body::new(incoming)))
}
