//! Claiming work (`POST /v1/work`, with long polling) and holding leases (ack, nack, renew).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Payload, RECHECK, WorkerAuth, worker_of};
use crate::domain::{Lease, Task};

/// The longest `?wait=` a claim may hold.
pub const MAX_WAIT_SECONDS: u64 = 30;

#[derive(Deserialize, IntoParams)]
pub struct ClaimQuery {
    /// Hold the request up to this many seconds (≤ 30) until work appears.
    pub wait: Option<u64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ClaimReply {
    pub lease: Lease,
}

/// Claim the best eligible task. 204 when nothing is eligible now. A worker holds one long poll
/// at a time, across every replica: a newer one ends the one it held (204; within the recheck
/// of credentials when it is held by another replica). A held poll runs the worker's
/// authentication again every few seconds and ends (401) once its token does.
#[utoipa::path(post, path = "/v1/work", tag = "leases", params(ClaimQuery), security(("worker_token" = [])),
    responses((status = 200, body = ClaimReply), (status = 204, description = "nothing eligible now"),
              (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn claim(
    State(state): State<AppState>,
    WorkerAuth(mut worker): WorkerAuth,
    headers: HeaderMap,
    Query(q): Query<ClaimQuery>,
) -> ApiResult<Response> {
    let wait = q.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECONDS {
        return Err(ApiError::invalid(
            "invalid_wait",
            format!("`wait` must be at most {MAX_WAIT_SECONDS} seconds"),
        ));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let mut held = (wait > 0).then(|| state.long_polls.hold(&worker.id));
    // Across replicas: the poll this worker began last, wherever it runs, is the one it holds.
    let holder = crate::store::new_id("poll");
    if wait > 0 {
        state
            .store
            .shared_limits()
            .hold_poll(&worker.id, &holder)
            .await?;
    }
    let mut changes = state.last_event.clone();
    let mut checked = tokio::time::Instant::now();
    loop {
        if checked.elapsed() >= RECHECK {
            checked = tokio::time::Instant::now();
            worker_of(&state, &headers).await?;
            if wait > 0
                && !state
                    .store
                    .shared_limits()
                    .still_holds_poll(&worker.id, &holder)
                    .await?
            {
                return Ok(StatusCode::NO_CONTENT.into_response());
            }
        }
        changes.mark_unchanged();
        let attempt = std::time::Instant::now();
        state.store.expiry().due().await?;
        let (lease, seen_at) = state.store.worker_ops().claim(&worker).await?;
        // The claim marked the worker seen: a later round of a long poll must not log it as
        // coming back online.
        worker.last_seen_at = Some(seen_at);
        crate::metrics::claim_finished(attempt, lease.is_some());
        if let Some(mut lease) = lease {
            lease.task = state
                .store
                .previews()
                .as_seen_by(&worker, lease.task)
                .await?;
            return Ok(Json(ClaimReply { lease }).into_response());
        }
        // A claim that does not wait (or whose wait is over) answers now: a timer set in the
        // past still fires only at the timer's next tick, a millisecond or two later.
        if tokio::time::Instant::now() >= deadline {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        // Wait for any change in the pool (from this process or another), or the deadline.
        // A task also becomes claimable when a lease expires, which the expiry sweep logs.
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return Ok(StatusCode::NO_CONTENT.into_response()),
                () = superseded(&mut held) => return Ok(StatusCode::NO_CONTENT.into_response()),
                _ = tokio::time::sleep_until(checked + RECHECK) => {
                    checked = tokio::time::Instant::now();
                    worker_of(&state, &headers).await?;
                    if !state.store.shared_limits().still_holds_poll(&worker.id, &holder).await? {
                        return Ok(StatusCode::NO_CONTENT.into_response());
                    }
                }
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Ok(StatusCode::NO_CONTENT.into_response());
                    }
                    break;
                }
            }
        }
    }
}

async fn superseded(held: &mut Option<Held<'_>>) {
    match held {
        Some(h) => h.superseded().await,
        None => std::future::pending().await,
    }
}

/// The long polls being held, one per worker: a newer poll from the same worker ends the one it
/// held, so one worker holding many polls cannot multiply what every change of the pool costs
/// (each held poll claims again on every change).
#[derive(Default)]
pub struct LongPolls(Mutex<HashMap<String, watch::Sender<u64>>>);

/// A long poll being held; it ends when a newer one of the same worker begins.
pub struct Held<'a> {
    polls: &'a LongPolls,
    worker: String,
    mine: u64,
    newest: watch::Receiver<u64>,
}

impl LongPolls {
    pub fn hold(&self, worker: &str) -> Held<'_> {
        let mut polls = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let newest = polls
            .entry(worker.to_string())
            .or_insert_with(|| watch::channel(0).0);
        let mine = *newest.borrow() + 1;
        newest.send_replace(mine);
        Held {
            polls: self,
            worker: worker.to_string(),
            mine,
            newest: newest.subscribe(),
        }
    }
}

impl Held<'_> {
    /// Resolves once a newer long poll of the same worker began.
    async fn superseded(&mut self) {
        loop {
            if *self.newest.borrow_and_update() != self.mine {
                return;
            }
            if self.newest.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut polls = self.polls.0.lock().unwrap_or_else(|p| p.into_inner());
        if polls
            .get(&self.worker)
            .is_some_and(|newest| *newest.borrow() == self.mine)
        {
            polls.remove(&self.worker);
        }
    }
}

/// One rule that keeps a task from the worker.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct PreviewReason {
    /// The rule of the scheduling rules (1–9) that refuses.
    pub rule: u8,
    /// A stable code, as in a refused claim.
    pub code: String,
    /// The rule's figures in words.
    pub detail: String,
}

/// A ready task the worker would not be offered now, and every rule that refuses it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct PreviewRefused {
    pub task_id: String,
    pub key: Option<String>,
    pub reasons: Vec<PreviewReason>,
}

/// The refused tasks the worker may not see (a private repository's, or above its trust),
/// counted: never named, never given reasons.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct PreviewHidden {
    pub hidden: u64,
}

/// One element of `refused`: a task the worker may see, or (last, and only when there are any)
/// the count of those it may not.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PreviewRefusal {
    Task(PreviewRefused),
    Hidden(PreviewHidden),
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PreviewReply {
    /// The tasks a claim would offer this worker now, best first: `POST /v1/work` grants the first.
    pub eligible: Vec<String>,
    /// The other ready tasks looked at, with their reasons; the ones the worker may not see (in
    /// a private repository, or above its trust) only as a count, one last element
    /// `{hidden: N}`. A reason names another task only when the worker may see it ("another
    /// task" otherwise).
    pub refused: Vec<PreviewRefusal>,
}

/// Why not me: the first 50 ready tasks in offer order, which of them a claim would offer this
/// worker now, and every rule that refuses each of the others, showing only what the worker may
/// see (a refused task in a private repository or above its trust is only counted: `{hidden:
/// N}`). Changes nothing; each worker may ask 30 times a minute (`OWP_RATE_PREVIEWS_PER_MINUTE`),
/// and all the workers of one client address together 60 times
/// (`OWP_RATE_PREVIEWS_PER_ADDRESS_PER_MINUTE`).
#[utoipa::path(get, path = "/v1/work/preview", tag = "leases", security(("worker_token" = [])),
    responses((status = 200, body = PreviewReply), (status = 401, body = Problem),
              (status = 429, body = Problem)))]
pub async fn preview(
    State(state): State<AppState>,
    WorkerAuth(worker): WorkerAuth,
    client: Option<axum::Extension<super::rate_limits::ClientIp>>,
) -> ApiResult<Response> {
    let ip = client.map(|axum::Extension(c)| c.0);
    if let Err((wait, why)) = state
        .preview_limit
        .check(&state.store, &worker.id, ip)
        .await
    {
        return Ok(super::rate_limits::too_many(wait, why));
    }
    // As a claim does first: a lease that has run out is ended before anything is read.
    state.store.expiry().due().await?;
    let mut reply = PreviewReply {
        eligible: Vec::new(),
        refused: Vec::new(),
    };
    let turn = state.preview_limit.turn().await;
    let preview = state.store.previews().of(&worker).await?;
    drop(turn);
    for entry in preview.entries {
        if entry.refusals.is_empty() {
            reply.eligible.push(entry.task.id);
            continue;
        }
        reply.refused.push(PreviewRefusal::Task(PreviewRefused {
            task_id: entry.task.id,
            key: entry.task.key,
            reasons: entry
                .refusals
                .iter()
                .map(|r| PreviewReason {
                    rule: r.rule(),
                    code: r.code().to_string(),
                    detail: r.to_string(),
                })
                .collect(),
        }));
    }
    if preview.hidden > 0 {
        reply.refused.push(PreviewRefusal::Hidden(PreviewHidden {
            hidden: preview.hidden as u64,
        }));
    }
    Ok(Json(reply).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct NackBody {
    pub reason: Option<String>,
}

/// Accept a lease: the task moves to `in_progress` and the lease lives a full TTL from now.
#[utoipa::path(post, path = "/v1/leases/{lease_id}/ack", tag = "leases", params(("lease_id" = String, Path)),
    security(("worker_token" = [])),
    responses((status = 200, body = Task), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "the lease has ended")))]
pub async fn ack(
    State(state): State<AppState>,
    WorkerAuth(worker): WorkerAuth,
    Path(lease_id): Path<String>,
) -> ApiResult<Json<Task>> {
    // On SQLite the ack joins the next write group (see `store::leases::write_groups`).
    let task = state.store.worker_ops().ack(&worker, &lease_id).await?;
    Ok(Json(
        state
            .store
            .previews()
            .as_seen_by(&worker, task.to_holder_api())
            .await?,
    ))
}

/// Give a task back; it is not offered to this worker again for an hour.
#[utoipa::path(post, path = "/v1/leases/{lease_id}/nack", tag = "leases", params(("lease_id" = String, Path)),
    request_body(content = Option<NackBody>), security(("worker_token" = [])),
    responses((status = 200, body = Task), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem, description = "reason too long")))]
pub async fn nack(
    State(state): State<AppState>,
    WorkerAuth(worker): WorkerAuth,
    Path(lease_id): Path<String>,
    body: Payload<NackBody>,
) -> ApiResult<Json<Task>> {
    use crate::domain::limits;
    limits::opt_free_text(
        "reason",
        body.value.reason.as_deref(),
        limits::MAX_REASON_CHARS,
    )?;
    lease_op(&state, &worker, &lease_id, Op::Nack(body.value.reason)).await
}

#[derive(Deserialize, ToSchema)]
pub struct RenewBody {
    /// What the agent working on the lease does now, in one line of at most 200 characters
    /// (`owp worker run --acp` sends the agent's latest tool call, plan or message, summarised):
    /// kept on the lease as its `lease_progress`, shown to its holder and on the dashboard.
    pub progress: Option<String>,
}

/// Extend a lease by its TTL (and say what its agent does: `progress`).
#[utoipa::path(post, path = "/v1/leases/{lease_id}/renew", tag = "leases", params(("lease_id" = String, Path)),
    request_body(content = Option<RenewBody>), security(("worker_token" = [])),
    responses((status = 200, body = Task), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem, description = "progress not one line of at most 200 characters")))]
pub async fn renew(
    State(state): State<AppState>,
    WorkerAuth(worker): WorkerAuth,
    Path(lease_id): Path<String>,
    body: Payload<RenewBody>,
) -> ApiResult<Json<Task>> {
    use crate::domain::limits;
    let progress = body.value.progress.filter(|p| !p.trim().is_empty());
    limits::opt_text("progress", progress.as_deref(), limits::MAX_PROGRESS_CHARS)?;
    lease_op(&state, &worker, &lease_id, Op::Renew(progress)).await
}

enum Op {
    Nack(Option<String>),
    Renew(Option<String>),
}

async fn lease_op(
    state: &AppState,
    worker: &crate::store::rows::WorkerRow,
    lease_id: &str,
    op: Op,
) -> ApiResult<Json<Task>> {
    let holder = worker;
    let worker = worker.clone();
    let lease_id = lease_id.to_string();
    let task = state
        .store
        .on_writer(move |store| async move {
            // One transaction, run again on a transient failure (see `Store::write`).
            store
                .write(|mut tx| {
                    let (worker, lease_id, op) = (&worker, &lease_id, &op);
                    async move {
                        let result = async {
                            tx.workers().mark_seen(worker).await?;
                            match op {
                                Op::Nack(reason) => {
                                    tx.leases().nack(&worker.id, lease_id, reason.clone()).await
                                }
                                Op::Renew(progress) => {
                                    tx.leases()
                                        .renew_saying(&worker.id, lease_id, progress.as_deref())
                                        .await
                                }
                            }
                        }
                        .await;
                        (tx, result)
                    }
                })
                .await
        })
        .await?;
    Ok(Json(
        state
            .store
            .previews()
            .as_seen_by(holder, task.to_api())
            .await?,
    ))
}
