//! `POST /v1/workers/link-code`: a one-time code that links a registered worker to the GitHub
//! login that comments `/owp link CODE` (see `github::login_link`).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use crate::github::commands::COMMAND_PREFIX;
use crate::github::login_link::{CODE_TTL_MS, code_hash, new_code};
use crate::github::service::Github;

/// The route with its documentation.
fn api_router() -> OpenApiRouter<Arc<Github>> {
    OpenApiRouter::new().routes(routes!(create))
}

/// The route.
pub fn router(github: Arc<Github>) -> Router {
    let (router, _) = api_router().split_for_parts();
    router.with_state(github)
}

/// The route's part of the OpenAPI document (merged into the service's document).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}

/// A one-time code that links a worker to the GitHub login that comments it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkCode {
    pub worker_id: String,
    /// `XXXX-XXXX`; usable once, until `expires_at`.
    pub code: String,
    /// The comment to write on an issue of an installed repository: `/owp link CODE`.
    pub comment: String,
    pub expires_at: String,
}

/// A one-time code for `/owp link CODE`: whoever comments it on an issue of a repository the
/// GitHub App is installed on can claim issues by comment as this worker. Earlier unused codes of
/// the worker stop working. Served only while a GitHub App is configured (404 otherwise).
#[utoipa::path(post, path = "/v1/workers/link-code", tag = "workers",
    security(("worker_token" = [])),
    responses((status = 201, body = LinkCode), (status = 401, body = Problem),
              (status = 404, body = Problem, description = "no GitHub App is configured")))]
async fn create(State(github): State<Arc<Github>>, parts: Parts) -> Response {
    match issue_code(&github, &parts).await {
        Ok(code) => (StatusCode::CREATED, axum::Json(code)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn issue_code(github: &Github, parts: &Parts) -> Result<LinkCode, ApiError> {
    let token = super::extract::bearer(parts).ok_or_else(|| {
        ApiError::unauthorized(
            "this endpoint needs a worker token: `Authorization: Bearer <token>`",
        )
    })?;
    let worker = github
        .store
        .workers()
        .by_token(token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the worker token is not valid"))?;
    let code = new_code();
    let mut tx = github.store.begin().await?;
    // Like every authenticated worker request, this one marks the worker seen.
    tx.workers().mark_seen(&worker).await?;
    let expires = tx.now + CODE_TTL_MS;
    tx.person_links()
        .create_code(&worker.id, &code_hash(&code), expires)
        .await?;
    tx.commit().await?;
    Ok(LinkCode {
        worker_id: worker.id,
        comment: format!("{COMMAND_PREFIX} link {code}"),
        code,
        expires_at: crate::store::format_ts(expires),
    })
}
