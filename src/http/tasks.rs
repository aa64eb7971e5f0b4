//! Task reads and the holder's status updates.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Caller, Payload, WorkerAuth};
use super::principal::not_maintainer;
use crate::domain::{Task, TaskStatus};

/// A task, for an admin, a maintainer of its repository, or the worker holding it; for any
/// worker, a `ready` task it may plan (a public repository that takes plans first, the task at or
/// below its trust): its text and policy, to write the plan it proposes.
#[utoipa::path(get, path = "/v1/tasks/{task_id}", tag = "tasks", params(("task_id" = String, Path)),
    security(("admin_token" = []), ("worker_token" = [])),
    responses((status = 200, body = Task), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem)))]
pub async fn get_task(
    State(state): State<AppState>,
    caller: Caller,
    Path(task_id): Path<String>,
) -> ApiResult<Json<Task>> {
    state.store.expire_due().await?;
    let task = state.store.task(&task_id).await?;
    let task = match (task, &caller) {
        (Some(task), _) => task,
        // A maintainer learns nothing of a task outside their repositories, nor whether an id
        // names one.
        (None, Caller::Person(p)) if !p.is_admin() => return Err(not_maintainer()),
        (None, _) => {
            return Err(ApiError::not_found(
                "task_not_found",
                format!("unknown task `{task_id}`"),
            ));
        }
    };
    match caller {
        Caller::Person(p) => {
            p.may_steer(&state, &task.repo).await?;
            Ok(Json(task.to_holder_api()))
        }
        Caller::Worker(w) if task.worker_id.as_deref() == Some(w.id.as_str()) => {
            Ok(Json(task.to_holder_api()))
        }
        Caller::Worker(w) => match state.store.task_to_plan(&task_id, &w).await? {
            // A task it may plan: what a plan needs, without a past attempt's artifact.
            Some(task) => Ok(Json(Task {
                artifact: None,
                ..task.to_holder_api()
            })),
            None => Err(ApiError::forbidden(
                "not_lease_holder",
                "this task is not held by you, nor one you may plan (a `ready` task of a public \
                 repository that takes plans first, at or below your trust)",
            )),
        },
    }
}

#[derive(Deserialize, ToSchema)]
pub struct StatusBody {
    /// `in_progress` (acts as ack), `pr_opened` (needs `artifact.pr_url`; on a task in
    /// `pr_opened` already, as when GitHub's webhook came first, it must name the task's pull
    /// request and adds the rest of `artifact`, such as `disclosure`) or `blocked` (its `note`
    /// is the reason; the task keeps a review slot until a maintainer moves it on).
    /// `merged` is 403: only an admin or GitHub decide it.
    pub status: String,
    /// `pr_url`, `commit_sha`, … and `disclosure: {tool, model?}` (each at most 100
    /// characters): which tool made the pull request. A repository whose contract says
    /// `disclosure: required` refuses `pr_opened` without it (`disclosure_required`). `evidence:
    /// {head_sha, commands: [{name, command, exit_code, seconds}]}`: what the worker ran before
    /// it opened its pull request, shown as its own report (`invalid_evidence` when malformed).
    #[schema(value_type = Option<Object>)]
    pub artifact: Option<Value>,
    pub note: Option<String>,
}

/// The holder moves its task.
#[utoipa::path(post, path = "/v1/tasks/{task_id}/status", tag = "tasks", params(("task_id" = String, Path)),
    request_body = StatusBody, security(("worker_token" = [])),
    responses((status = 200, body = Task),
              (status = 403, body = Problem, description = "not the holder, or `merged` (not_allowed)"),
              (status = 404, body = Problem),
              (status = 409, body = Problem, description = "illegal transition, lease ended, or a \
                  later pr_opened naming another pull request than the task's"),
              (status = 422, body = Problem, description = "unknown status, missing pr_url, \
                  a malformed `artifact.disclosure` (invalid_disclosure) or none where the \
                  repository requires it (disclosure_required), a malformed \
                  `artifact.evidence` (invalid_evidence)")))]
pub async fn update_status(
    State(state): State<AppState>,
    WorkerAuth(worker): WorkerAuth,
    Path(task_id): Path<String>,
    body: Payload<StatusBody>,
) -> ApiResult<Json<Task>> {
    let body = body.value;
    let to = TaskStatus::parse(&body.status).ok_or_else(|| {
        ApiError::invalid(
            "unknown_status",
            format!("unknown task status `{}`", body.status),
        )
    })?;
    if let Some(a) = &body.artifact
        && !a.is_object()
    {
        return Err(ApiError::invalid(
            "validation_failed",
            "`artifact` must be an object",
        ));
    }
    let request = crate::store::StatusRequest {
        task_id,
        to,
        artifact: body.artifact,
        note: body.note,
    };
    let task = state.store.status_for(&worker, request).await?;
    Ok(Json(task.to_api()))
}
