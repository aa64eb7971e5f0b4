//! Task reads and the holder's status updates.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Caller, Payload, WorkerAuth};
use super::principal::not_maintainer;
use crate::domain::{Task, TaskStatus, limits};
use crate::github::pr_reports::{self, PrReportRefusal};

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
    state.store.expiry().due().await?;
    let task = state.store.tasks().get(&task_id).await?;
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
        Caller::Worker(w) if task.worker_id.as_deref() == Some(w.id.as_str()) => Ok(Json(
            state
                .store
                .previews()
                .as_seen_by(&w, task.to_holder_api())
                .await?,
        )),
        Caller::Worker(w) => match state.store.tasks().to_plan(&task_id, &w).await? {
            // A task it may plan: what a plan needs, without a past attempt's artifact, and no
            // blocker it may not see named.
            Some(task) => Ok(Json(
                state
                    .store
                    .previews()
                    .as_seen_by(
                        &w,
                        Task {
                            artifact: None,
                            ..task.to_holder_api()
                        },
                    )
                    .await?,
            )),
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
    /// Never what GitHub decides of the pull request (`checks`, `commits`, `credit`, `merged`,
    /// …): `not_reported_by_workers`.
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
                  later pr_opened naming another pull request than the task's; for a GitHub \
                  task, a pull request that is closed (pr_not_open) or neither the holder's \
                  person's nor a maintainer's (pr_not_yours)"),
              (status = 422, body = Problem, description = "unknown status, missing pr_url, \
                  a malformed `artifact.disclosure` (invalid_disclosure) or none where the \
                  repository requires it (disclosure_required), a malformed \
                  `artifact.evidence` (invalid_evidence), a key only GitHub decides \
                  (not_reported_by_workers), or for a GitHub task a pull request GitHub does \
                  not know in its repository (pr_not_found)"),
              (status = 429, body = Problem, description = "`rate_limited`: too many requests from \
                  this address, or checking a GitHub task's pull request would ask GitHub and \
                  the reads this task, this person or this installation may cause are spent; \
                  the task did not move (`Retry-After`)"),
              (status = 503, body = Problem, description = "`github_unavailable`: GitHub did not \
                  answer about a GitHub task's pull request; the task did not move (`Retry-After`)")))]
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
    if to == TaskStatus::PrOpened {
        pr_known_to_github(&state, &worker.id, &task_id, body.artifact.as_ref()).await?;
    }
    let request = crate::store::StatusRequest {
        task_id,
        to,
        artifact: body.artifact,
        note: body.note,
    };
    let task = state.store.worker_ops().status(&worker, request).await?;
    Ok(Json(
        state
            .store
            .previews()
            .as_seen_by(&worker, task.to_api())
            .await?,
    ))
}

/// A `pr_opened` report that moves a GitHub task (one of a repository the App is installed on)
/// names an open pull request of that repository whose author is the holder's person or a
/// maintainer, as GitHub answers (contract section 14); until GitHub answers, the task does not
/// move (`503 github_unavailable`), nor while the GitHub reads it may cause are spent (`429
/// rate_limited`: `github::volunteer_reads`). Whatever else is wrong with the report (not the holder, no
/// lease, a malformed `pr_url`) the store refuses as for any task.
async fn pr_known_to_github(
    state: &AppState,
    worker_id: &str,
    task_id: &str,
    artifact: Option<&Value>,
) -> ApiResult<()> {
    let Some(task) = state.store.tasks().get(task_id).await? else {
        return Ok(());
    };
    let moves = matches!(task.status, TaskStatus::Leased | TaskStatus::InProgress);
    if !task.github_app || !moves || task.worker_id.as_deref() != Some(worker_id) {
        return Ok(());
    }
    // What the store refuses on every path, refused before GitHub is asked about it.
    crate::domain::github_facts::not_reported(artifact)?;
    let Some(url) = artifact
        .and_then(|a| a.get("pr_url"))
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    let Ok(number) = limits::github_pr_number(&task.repo, url) else {
        return Ok(());
    };
    let number = i64::try_from(number).unwrap_or(i64::MAX);
    let Some(github) = &state.github else {
        return Err(github_unavailable());
    };
    let repo = &task.repo;
    match pr_reports::check(github, &task, worker_id, number).await? {
        Ok(()) => Ok(()),
        Err(PrReportRefusal::NotFound { number }) => Err(ApiError::invalid(
            "pr_not_found",
            format!("GitHub knows no pull request #{number} in {repo}"),
        )),
        Err(PrReportRefusal::NotOpen { number }) => Err(ApiError::conflict(
            "pr_not_open",
            format!("pull request #{number} of {repo} is not open"),
        )),
        Err(PrReportRefusal::NotYours { number, author }) => Err(ApiError::conflict(
            "pr_not_yours",
            format!(
                "pull request #{number} of {repo} was opened by `{author}`, who is neither the \
                 person this worker speaks for nor a maintainer: report your own pull request \
                 (a worker speaks for a person once linked: `owp worker link`, or comment \
                 `/owp link CODE` on GitHub)"
            ),
        )),
        Err(PrReportRefusal::Unavailable) => Err(github_unavailable()),
        Err(PrReportRefusal::Limited { retry_after }) => Err(ApiError::rate_limited(
            retry_after,
            "checking this report would ask GitHub again, and the GitHub reads this task, this \
             person or this installation may cause are spent for now; the task did not move",
        )),
    }
}

fn github_unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "github_unavailable",
        "GitHub did not answer about the pull request; the task did not move: report it again \
         in a moment",
    )
}
