//! Linking a registered worker to a GitHub login, so that its owner can claim issues by comment
//! as that worker: `POST /v1/workers/link-code` (with the worker's token) returns a one-time code;
//! the owner comments `/owp link CODE` on any issue of an installed repository, which proves the
//! login. Nobody can claim in someone else's name: a worker's self-declared `github_login` is
//! shown but never trusted for comment claims.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::github::commands::COMMAND_PREFIX;
use crate::github::service::Github;
use crate::http::error::{ApiError, Problem};

/// How long a link code can be used.
pub const CODE_TTL_MS: i64 = 3_600_000;

/// Letters that cannot be mistaken for each other.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

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

/// A new code, `XXXX-XXXX`.
pub fn new_code() -> String {
    let mut rng = rand::rng();
    let mut code = String::with_capacity(9);
    for i in 0..8 {
        if i == 4 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
    }
    code
}

/// How a code is stored: its SHA-256, ignoring letter case.
pub fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_uppercase().as_bytes()))
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
    let token = crate::http::extract::bearer(parts).ok_or_else(|| {
        ApiError::unauthorized(
            "this endpoint needs a worker token: `Authorization: Bearer <token>`",
        )
    })?;
    let worker = github
        .store
        .worker_by_token(token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the worker token is not valid"))?;
    let code = new_code();
    let mut tx = github.store.begin().await?;
    // Like every authenticated worker request, this one marks the worker seen.
    tx.mark_seen(&worker).await?;
    let expires = tx.now + CODE_TTL_MS;
    tx.gh_create_link_code(&worker.id, &code_hash(&code), expires)
        .await?;
    tx.commit().await?;
    Ok(LinkCode {
        worker_id: worker.id,
        comment: format!("{COMMAND_PREFIX} link {code}"),
        code,
        expires_at: crate::store::format_ts(expires),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_look_right_and_parse_as_commands() {
        let code = new_code();
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        let parsed = crate::github::commands::parse_commands(&format!("/owp link {code}"));
        assert_eq!(
            parsed,
            vec![Ok(crate::github::commands::Command::Link {
                code: code.clone()
            })]
        );
        assert_eq!(code_hash(&code), code_hash(&code.to_lowercase()));
    }
}
