//! Worker endpoints: registration, heartbeats, and the worker's own view.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Payload, WorkerAuth, is_admin, parse_document, read_body, typed};
use crate::config::RegistrationPolicy;
use crate::domain::model::extension_fields;
use crate::domain::{Lease, Worker, WorkerStatus};
use crate::store::workers::WorkerInput;

#[derive(Deserialize, ToSchema)]
pub struct RegisterBody {
    pub name: String,
    /// Skills, matched case-insensitively against tasks' `required_skills`.
    #[serde(default)]
    pub skills: Vec<String>,
    /// How many estimate points this worker takes on at once.
    pub capacity_points: i64,
    /// At most this many tasks at once (default 1).
    pub max_concurrent_tasks: Option<i64>,
    pub github_login: Option<String>,
    /// Free-form capability flags, e.g. `{"can_run_tests": true, "tool": "aider"}`.
    #[schema(value_type = Option<Object>)]
    pub capabilities: Option<Value>,
    /// Count this worker's task outcomes (`reputation`, trust progression). Default false.
    #[serde(default)]
    pub reputation_opt_in: bool,
    /// List this worker on the leaderboard. Default false.
    #[serde(default)]
    pub leaderboard_opt_in: bool,
    /// Offer this worker only tasks that require at least one of its skills (a task that
    /// requires none is not offered to it). Default false.
    #[serde(default)]
    pub specialist: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Registration {
    pub worker_id: String,
    /// The bearer token; shown once, stored only as a hash.
    pub token: String,
    /// Always `owp/1`.
    pub protocol: String,
    pub heartbeat_ttl_seconds: i64,
    pub lease_ttl_seconds: i64,
    pub accept_ttl_seconds: i64,
}

impl Registration {
    pub fn new(state: &AppState, worker_id: String, token: String) -> Registration {
        let t = &state.store.timing;
        Registration {
            worker_id,
            token,
            protocol: "owp/1".into(),
            heartbeat_ttl_seconds: t.heartbeat_ttl_ms / 1000,
            lease_ttl_seconds: t.lease_ttl_ms / 1000,
            accept_ttl_seconds: t.accept_ttl_ms / 1000,
        }
    }
}

/// Register a worker.
#[utoipa::path(post, path = "/v1/workers/register", tag = "workers", request_body = RegisterBody,
    responses((status = 201, body = Registration), (status = 422, body = Problem),
              (status = 401, body = Problem, description = "registration needs the admin token on this server"),
              (status = 410, body = Problem, description = "`archived`: a replayed registration (same `Idempotency-Key`) of a worker the operator has archived; no token is issued")))]
pub async fn register(
    State(state): State<AppState>,
    req: Request,
) -> ApiResult<(StatusCode, Json<Registration>)> {
    let (mut parts, bytes) = read_body(req).await?;
    if state.registration == RegistrationPolicy::Admin && !is_admin(&mut parts, &state).await {
        return Err(ApiError::unauthorized(
            "this server registers workers only with the admin token",
        ));
    }
    let doc = parse_document(&parts, &bytes)?;
    let extensions = extension_fields(&doc);
    let body: RegisterBody = typed(doc)?;
    let input = WorkerInput {
        name: body.name,
        skills: body.skills,
        capacity_points: body.capacity_points,
        max_concurrent_tasks: body.max_concurrent_tasks.unwrap_or(1),
        github_login: body.github_login.filter(|l| !l.trim().is_empty()),
        capabilities: body
            .capabilities
            .unwrap_or_else(|| Value::Object(Default::default())),
        extensions,
        reputation_opt_in: body.reputation_opt_in,
        leaderboard_opt_in: body.leaderboard_opt_in,
        specialist: body.specialist,
    };
    let (worker, token) = state.store.workers().register(&input).await?;
    Ok((
        StatusCode::CREATED,
        Json(Registration::new(&state, worker.id, token)),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct HeartbeatBody {
    /// `idle` or `paused`.
    pub status: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct HeartbeatReply {
    pub worker: Worker,
    /// How many leases this heartbeat renewed.
    pub renewed_leases: u64,
}

/// Heartbeat: marks the worker online and renews every lease it holds.
#[utoipa::path(post, path = "/v1/workers/heartbeat", tag = "workers", request_body(content = Option<HeartbeatBody>),
    security(("worker_token" = [])),
    responses((status = 200, body = HeartbeatReply), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn heartbeat(
    State(state): State<AppState>,
    WorkerAuth(worker): WorkerAuth,
    body: Payload<HeartbeatBody>,
) -> ApiResult<axum::response::Response> {
    let status = match body.value.status.as_deref() {
        None => None,
        Some(s) => Some(WorkerStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "unknown_status",
                format!("unknown worker status `{s}` (idle or paused)"),
            )
        })?),
    };
    let (fresh, renewed) = state.store.workers().heartbeat(worker, status).await?;
    let now = crate::store::now_ms();
    let reply = HeartbeatReply {
        worker: with_reputation(
            &state,
            fresh.into_api(now, state.store.timing.heartbeat_ttl_ms),
        )
        .await?,
        renewed_leases: renewed,
    };
    // The most frequent answer of the service: written into a buffer of its usual size at once.
    Ok(super::json_sized(&reply, HEARTBEAT_REPLY_BYTES))
}

/// About the size of a heartbeat's answer (a worker object without its reputation).
const HEARTBEAT_REPLY_BYTES: usize = 640;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct WorkerSelf {
    pub worker: Worker,
    /// The leases this worker holds now.
    pub leases: Vec<Lease>,
}

/// The calling worker and its live leases.
#[utoipa::path(get, path = "/v1/workers/me", tag = "workers", security(("worker_token" = [])),
    responses((status = 200, body = WorkerSelf), (status = 401, body = Problem)))]
pub async fn me(
    State(state): State<AppState>,
    WorkerAuth(worker): WorkerAuth,
) -> ApiResult<Json<WorkerSelf>> {
    state.store.expiry().due().await?;
    worker_self(&state, &worker.id).await
}

/// The worker `id` as it sees itself: its object (with its reputation when it opted in) and its
/// live leases.
async fn worker_self(state: &AppState, id: &str) -> ApiResult<Json<WorkerSelf>> {
    let fresh = state
        .store
        .workers()
        .get(id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the worker no longer exists"))?;
    let leases = state.store.worker_leases(id).await?;
    let api = fresh.into_api(crate::store::now_ms(), state.store.timing.heartbeat_ttl_ms);
    Ok(Json(WorkerSelf {
        worker: with_reputation(state, api).await?,
        leases,
    }))
}

/// Fills `reputation` of a worker object that opted in.
pub async fn with_reputation(state: &AppState, mut worker: Worker) -> ApiResult<Worker> {
    if worker.reputation_opt_in {
        worker.reputation = Some(state.store.reputations().of(&worker.worker_id).await?);
    }
    Ok(worker)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptInBody {
    /// Count this worker's task outcomes (`reputation`, trust progression).
    pub reputation_opt_in: Option<bool>,
    /// List this worker on the leaderboard.
    pub leaderboard_opt_in: Option<bool>,
}

/// The calling worker changes its own settings: opting in or out of reputation and the
/// leaderboard. Answers the worker as `GET /v1/workers/me` does.
#[utoipa::path(post, path = "/v1/workers/me", tag = "workers", request_body = OptInBody,
    security(("worker_token" = [])),
    responses((status = 200, body = WorkerSelf), (status = 401, body = Problem),
              (status = 422, body = Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    WorkerAuth(worker): WorkerAuth,
    body: Payload<OptInBody>,
) -> ApiResult<Json<WorkerSelf>> {
    let OptInBody {
        reputation_opt_in,
        leaderboard_opt_in,
    } = body.value;
    state
        .store
        .reputations()
        .set_opt_in(&worker.id, reputation_opt_in, leaderboard_opt_in)
        .await?;
    worker_self(&state, &worker.id).await
}
