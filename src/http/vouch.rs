//! `GET /v1/admin/vouched?repo=OWNER/NAME`: a repository's merged vouch list (contract section
//! 12, rule 12) — its `VOUCHED.td`, the denouncements of the lists it imports, and its
//! maintainers' commands — for the admin and the repository's signed-in maintainers.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::principal::Principal;

#[derive(Deserialize, IntoParams)]
pub struct VouchedQuery {
    /// The repository, `owner/name` (a request without it is refused as `invalid_repo`).
    #[param(required = true)]
    pub repo: Option<String>,
}

/// One login of the merged list, as one source says it.
#[derive(Serialize, ToSchema)]
pub struct VouchedEntry {
    /// GitHub login, lower-case.
    pub login: String,
    pub vouched: bool,
    pub denounced: bool,
    /// What followed the handle in the file, or a denouncement's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// `file` (the repository's own list), `import` (a list `vouch.import` names: only its
    /// denouncements are kept) or `command` (`/owp vouch`, `/owp denounce`).
    pub source: String,
}

impl From<crate::store::github::vouch::VouchRow> for VouchedEntry {
    fn from(r: crate::store::github::vouch::VouchRow) -> VouchedEntry {
        VouchedEntry {
            login: r.login,
            vouched: r.vouched,
            denounced: r.denounced,
            details: r.details,
            source: r.source,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Vouched {
    pub repo: String,
    pub entries: Vec<VouchedEntry>,
    /// Why a list is not applied (too long, unreadable), one sentence each; empty when every
    /// list is in use.
    pub errors: Vec<String>,
}

/// A repository's merged vouch list, by login. The admin sees any repository; a maintainer only
/// one they maintain (`403 not_maintainer` otherwise, whether or not it exists).
#[utoipa::path(get, path = "/v1/admin/vouched", tag = "admin", params(VouchedQuery),
    security(("admin_token" = [])),
    responses((status = 200, body = Vouched), (status = 401, body = Problem),
              (status = 403, body = Problem, description = "`not_maintainer`"),
              (status = 404, body = Problem, description = "`repo_not_found`"),
              (status = 422, body = Problem, description = "`invalid_repo`: missing, or not `owner/name`")))]
pub async fn vouched(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<VouchedQuery>,
) -> ApiResult<Json<Vouched>> {
    let repo = principal.steerable_repo(&state, q.repo.as_deref()).await?;
    let Some((rows, lists)) = state.store.vouch().entries(repo).await? else {
        return Err(ApiError::not_found(
            "repo_not_found",
            "no repository of the pool has this name",
        ));
    };
    let entries = rows.into_iter().map(VouchedEntry::from).collect();
    let errors = lists.into_iter().filter_map(|l| l.error).collect();
    Ok(Json(Vouched {
        repo: repo.to_string(),
        entries,
        errors,
    }))
}
