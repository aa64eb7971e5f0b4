//! Plan first (contract section 12, rule 11): a worker proposes a plan for a task, a maintainer
//! approves or declines it (`store::proposals`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Caller, Payload, WorkerAuth};
use super::principal::{Principal, not_maintainer};
use crate::domain::Lease;
use crate::domain::proposals::{OwnProposal, Proposal};
use crate::store::StoreError;
use crate::store::proposals::{ProposalRow, Viewer};

#[derive(Deserialize, ToSchema)]
pub struct ProposeBody {
    /// What the worker means to do, in its own words (at most 4,000 characters).
    pub plan: String,
}

#[derive(Deserialize, ToSchema)]
pub struct DeclineBody {
    /// Why, for the proposer (at most 500 characters).
    pub reason: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ProposalList {
    pub proposals: Vec<Proposal>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct OwnProposalList {
    pub proposals: Vec<OwnProposal>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Approved {
    pub proposal: Proposal,
    /// The proposer's lease: `leased`, to be acknowledged within 24 hours. Absent when the
    /// proposer is a person who proposed by comment: they hold the issue as a comment claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
}

/// Propose a plan for a `ready` task of a repository that takes plans first.
#[utoipa::path(post, path = "/v1/tasks/{task_id}/proposals", tag = "proposals",
    params(("task_id" = String, Path)), request_body = ProposeBody,
    security(("worker_token" = [])),
    responses((status = 201, body = Proposal),
              (status = 404, body = Problem, description = "`task_not_found`"),
              (status = 409, body = Problem, description = "`approval_not_required`: the repository does not take plans first; `task_not_ready`: the task is not `ready`; `already_proposed`: this worker, or the person it is linked to (by comment or through another worker), has an open proposal for it; `too_many_proposals`: 5 open on the task, or 3 open of this person or unlinked worker across the pool"),
              (status = 422, body = Problem, description = "`field_too_long`: `plan` is longer than 4,000 characters")))]
pub async fn propose(
    State(state): State<AppState>,
    WorkerAuth(worker): WorkerAuth,
    Path(task_id): Path<String>,
    body: Payload<ProposeBody>,
) -> ApiResult<(StatusCode, Json<Proposal>)> {
    let row = state
        .store
        .proposals()
        .propose(&worker, &task_id, &body.value.plan)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(row.to_api(crate::store::now_ms(), None)),
    ))
}

/// A task's proposals: all of them, each open one with its scorecard, for the admin and the
/// repository's maintainers; its own for a worker.
#[utoipa::path(get, path = "/v1/tasks/{task_id}/proposals", tag = "proposals",
    params(("task_id" = String, Path)),
    security(("admin_token" = []), ("worker_token" = [])),
    responses((status = 200, body = ProposalList), (status = 403, body = Problem),
              (status = 404, body = Problem, description = "`task_not_found`")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(task_id): Path<String>,
) -> ApiResult<Json<ProposalList>> {
    let task = state.store.tasks().get(&task_id).await?;
    let viewer = match (&caller, task) {
        (Caller::Person(p), None) if !p.is_admin() => return Err(not_maintainer()),
        (_, None) => {
            return Err(ApiError::not_found(
                "task_not_found",
                format!("unknown task `{task_id}`"),
            ));
        }
        (Caller::Person(p), Some(task)) => {
            p.may_steer(&state, &task.repo).await?;
            Viewer::Maintainer
        }
        (Caller::Worker(w), Some(_)) => Viewer::Worker(w.id.clone()),
    };
    let proposals = state.store.proposals().of_task(&task_id, &viewer).await?;
    Ok(Json(ProposalList { proposals }))
}

/// This worker's own proposals across the pool, oldest first (the 100 newest), each with the
/// task it is for and how it ended: what became of a plan the worker no longer waits on. An
/// extension of this server (contract section 12 lists a task's proposals only).
#[utoipa::path(get, path = "/v1/proposals", tag = "proposals",
    security(("worker_token" = [])),
    responses((status = 200, body = OwnProposalList), (status = 401, body = Problem)))]
pub async fn mine(
    State(state): State<AppState>,
    WorkerAuth(worker): WorkerAuth,
) -> ApiResult<Json<OwnProposalList>> {
    let proposals = state.store.proposals().of_worker(&worker.id).await?;
    Ok(Json(OwnProposalList { proposals }))
}

/// Withdraw one's own open proposal.
#[utoipa::path(delete, path = "/v1/proposals/{proposal_id}", tag = "proposals",
    params(("proposal_id" = String, Path)), security(("worker_token" = [])),
    responses((status = 200, body = Proposal),
              (status = 404, body = Problem, description = "`proposal_not_found` (also another worker's)"),
              (status = 409, body = Problem, description = "`proposal_not_open`")))]
pub async fn withdraw(
    State(state): State<AppState>,
    WorkerAuth(worker): WorkerAuth,
    Path(id): Path<String>,
) -> ApiResult<Json<Proposal>> {
    let row = state.store.proposals().withdraw(&worker.id, &id).await?;
    Ok(Json(row.to_api(crate::store::now_ms(), None)))
}

/// The proposal's repository, when `principal` may steer it (a maintainer learns nothing of a
/// proposal outside their repositories).
async fn steered(state: &AppState, principal: &Principal, id: &str) -> ApiResult<ProposalRow> {
    match state.store.proposals().get(id).await {
        Ok(p) => {
            principal.may_steer(state, &p.repo).await?;
            Ok(p)
        }
        Err(StoreError::NotFound { .. }) if !principal.is_admin() => Err(not_maintainer()),
        Err(e) => Err(e.into()),
    }
}

/// Approve a proposal: in one transaction it becomes `approved`, every other open proposal of
/// the task `not_chosen`, and the proposer holds the task: a worker with a lease in `leased`, to
/// be acknowledged within 24 hours; a person who proposed by comment as a comment claim on the
/// issue, exactly as `/owp approve @login` makes it (its time limit, its reminder, the replies on
/// the issue). When another rule refuses, `409` names each refusing rule and the proposal stays
/// open.
#[utoipa::path(post, path = "/v1/admin/proposals/{proposal_id}/approve", tag = "proposals",
    params(("proposal_id" = String, Path)), security(("admin_token" = [])),
    responses((status = 200, body = Approved),
              (status = 403, body = Problem, description = "`not_maintainer`"),
              (status = 404, body = Problem, description = "`proposal_not_found`"),
              (status = 409, body = Problem, description = "`proposal_not_open`; `task_not_ready`; `github_app_not_running` (a plan proposed by comment, on a server running without its GitHub App); or the code of the first rule of section 5 that refuses, the detail naming each")))]
pub async fn approve(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Approved>> {
    let proposal = steered(&state, &principal, &id).await?;
    state.store.expiry().due().await?;
    let actor = principal.actor();
    let approved = match &state.github {
        // The App's approval, `/owp approve @login`'s own: a plan proposed by comment becomes its
        // author's comment claim in the same transaction.
        Some(github) => {
            crate::github::apply::approve_over_api(github, &proposal.repo, &id, &actor).await
        }
        // A plan proposed by comment is held as a comment claim, which only the App makes (and
        // keeps: its time limit, its reminder); without it, an approval would be a lease nobody
        // acknowledges.
        None if state
            .store
            .workers()
            .get(&proposal.worker_id)
            .await?
            .is_some_and(|w| w.claims_by_comment()) =>
        {
            return Err(ApiError::conflict(
                "github_app_not_running",
                "this plan was proposed by comment on GitHub, and its author would hold the \
                 issue as a comment claim, which only the GitHub App makes: approve it while \
                 the server runs with its GitHub App (declining works here)",
            ));
        }
        None => state
            .store
            .proposals()
            .approve(&id, &actor)
            .await
            .map(|(row, lease)| (row, Some(lease))),
    };
    match approved {
        Ok((row, lease)) => Ok(Json(Approved {
            proposal: row.to_api(crate::store::now_ms(), None),
            lease,
        })),
        Err(StoreError::Refused(refusals)) if !refusals.is_empty() => {
            let each: Vec<String> = refusals
                .iter()
                .map(|r| format!("rule {} ({}): {r}", r.rule(), r.code()))
                .collect();
            Err(ApiError::conflict(
                refusals[0].code(),
                format!(
                    "the proposal stays open; the claim is refused by {}",
                    each.join("; ")
                ),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Decline a proposal.
#[utoipa::path(post, path = "/v1/admin/proposals/{proposal_id}/decline", tag = "proposals",
    params(("proposal_id" = String, Path)), request_body = DeclineBody,
    security(("admin_token" = [])),
    responses((status = 200, body = Proposal),
              (status = 403, body = Problem, description = "`not_maintainer`"),
              (status = 404, body = Problem, description = "`proposal_not_found`"),
              (status = 409, body = Problem, description = "`proposal_not_open`")))]
pub async fn decline(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Payload<DeclineBody>,
) -> ApiResult<Json<Proposal>> {
    steered(&state, &principal, &id).await?;
    let row = state
        .store
        .proposals()
        .decline(&id, body.value.reason.as_deref(), &principal.actor())
        .await?;
    Ok(Json(row.to_api(crate::store::now_ms(), None)))
}
