//! Linking a registered worker to a GitHub login, so that its owner can claim issues by comment
//! as that worker: `POST /v1/workers/link-code` (with the worker's token) returns a one-time code;
//! the owner comments `/owp link CODE` on any issue of an installed repository, which proves the
//! login. Nobody can claim in someone else's name: a worker's self-declared `github_login` is
//! shown but never trusted for comment claims.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::github::commands::COMMAND_PREFIX;
use crate::github::service::Github;
use crate::http::error::ApiError;

/// How long a link code can be used.
pub const CODE_TTL_MS: i64 = 3_600_000;

/// Letters that cannot be mistaken for each other.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// The route.
pub fn router(github: Arc<Github>) -> Router {
    Router::new()
        .route("/v1/workers/link-code", axum::routing::post(create))
        .with_state(github)
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

async fn create(State(github): State<Arc<Github>>, headers: HeaderMap) -> Response {
    match issue_code(&github, &headers).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn issue_code(github: &Github, headers: &HeaderMap) -> Result<Response, ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
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
    let expires = tx.now + CODE_TTL_MS;
    tx.gh_create_link_code(&worker.id, &code_hash(&code), expires)
        .await?;
    tx.commit().await?;
    let body = json!({
        "worker_id": worker.id,
        "code": code,
        "comment": format!("{COMMAND_PREFIX} link {code}"),
        "expires_at": crate::store::format_ts(expires),
    });
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
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
