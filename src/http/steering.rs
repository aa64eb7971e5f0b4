//! `GET /v1/admin/steering?repo=OWNER/NAME`: what a maintainer decides on in one repository, in
//! one request (the dashboard's view of it): the open proposals with their scorecards (contract
//! section 12, rule 11) and the merged vouch list (rule 12), each bounded, with how many more
//! there are. Reviewers' load is on the repository itself (`GET /v1/admin/state`), and pull
//! requests waiting for verified commits on their tasks (`artifact.commits`).

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::principal::Principal;
use super::vouch::VouchedEntry;
use crate::domain::proposals::Proposal;

/// The most open proposals one answer carries (the oldest first).
pub const MAX_PROPOSALS: i64 = 50;
/// The most vouch entries one answer carries (denouncements first).
pub const MAX_VOUCH_ENTRIES: i64 = 500;

#[derive(Deserialize, IntoParams)]
pub struct SteeringQuery {
    /// The repository, `owner/name` (a request without it is refused as `invalid_repo`).
    #[param(required = true)]
    pub repo: Option<String>,
}

/// An open proposal with the task it is for.
#[derive(Serialize, ToSchema)]
pub struct SteeringProposal {
    /// The task's key (`owner/name#N` for an issue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_key: Option<String>,
    pub task_title: String,
    #[serde(flatten)]
    pub proposal: Proposal,
}

#[derive(Serialize, ToSchema)]
pub struct Steering {
    pub repo: String,
    /// The open proposals, oldest first, each with its scorecard (at most 50).
    pub proposals: Vec<SteeringProposal>,
    /// Open proposals left out past the first 50.
    pub proposals_more: i64,
    /// The merged vouch list, denouncements first, then by login (at most 500 entries).
    pub vouched: Vec<VouchedEntry>,
    /// Vouch entries left out past the first 500.
    pub vouched_more: i64,
    /// Why a vouch list is not applied (too long, unreadable), one sentence each.
    pub vouch_errors: Vec<String>,
}

/// A repository's open proposals and vouch list, bounded. The admin sees any repository; a
/// maintainer only one they maintain (`403 not_maintainer` otherwise, whether or not it exists).
#[utoipa::path(get, path = "/v1/admin/steering", tag = "admin", params(SteeringQuery),
    security(("admin_token" = [])),
    responses((status = 200, body = Steering), (status = 401, body = Problem),
              (status = 403, body = Problem, description = "`not_maintainer`"),
              (status = 404, body = Problem, description = "`repo_not_found`"),
              (status = 422, body = Problem, description = "`invalid_repo`: missing, or not `owner/name`")))]
pub async fn steering(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<SteeringQuery>,
) -> ApiResult<Json<Steering>> {
    let repo = principal.steerable_repo(&state, q.repo.as_deref()).await?;
    let missing =
        || ApiError::not_found("repo_not_found", "no repository of the pool has this name");
    let Some((proposals, open)) = state
        .store
        .proposals()
        .open_in_repo(repo, MAX_PROPOSALS)
        .await?
    else {
        return Err(missing());
    };
    let Some((rows, entries, lists)) = state
        .store
        .vouch()
        .entries_first(repo, MAX_VOUCH_ENTRIES)
        .await?
    else {
        return Err(missing());
    };
    let proposals_more = (open - proposals.len() as i64).max(0);
    let vouched_more = (entries - rows.len() as i64).max(0);
    Ok(Json(Steering {
        repo: repo.to_string(),
        proposals: proposals
            .into_iter()
            .map(|p| SteeringProposal {
                task_key: p.task_key,
                task_title: p.task_title,
                proposal: p.proposal,
            })
            .collect(),
        proposals_more,
        vouched: rows.into_iter().map(VouchedEntry::from).collect(),
        vouched_more,
        vouch_errors: lists.into_iter().filter_map(|l| l.error).collect(),
    }))
}
