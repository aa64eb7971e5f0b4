//! Who am I, signing out, and the operator's revocation: `GET /v1/me`, `POST /v1/auth/logout`,
//! `POST /v1/admin/signin/revoke`. Signing in with GitHub is the GitHub App's
//! (`http::signin`); these routes only read and end what it made.

use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Admin, Payload, WorkerAuth, bearer};
use super::principal::{Principal, RepoGrant, cookie_session, principal};
use crate::store::format_ts;

/// A repository a maintainer steers, and what GitHub grants them on it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct MeRepo {
    pub repo: String,
    /// `admin`, `maintain` or `write`.
    pub permission: String,
}

/// Who the credentials name.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// `admin`, `maintainer` or `worker`.
    pub kind: String,
    /// The GitHub login (a maintainer's; a worker's linked login).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// The repositories a maintainer steers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repos: Option<Vec<MeRepo>>,
    /// When a maintainer's session or token ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

fn repos_view(grants: Vec<RepoGrant>) -> Vec<MeRepo> {
    grants
        .into_iter()
        .map(|g| MeRepo {
            repo: g.repo,
            permission: g.permission,
        })
        .collect()
}

/// Who am I: the admin, a maintainer (with the repositories they steer) or a worker.
#[utoipa::path(get, path = "/v1/me", tag = "auth",
    security(("admin_token" = []), ("worker_token" = [])),
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(State(state): State<AppState>, req: Request) -> ApiResult<Json<Me>> {
    let (mut parts, _) = req.into_parts();
    match principal(&mut parts, &state).await? {
        Some(Principal::Admin) => Ok(Json(Me {
            kind: "admin".into(),
            login: None,
            repos: None,
            expires_at: None,
        })),
        Some(Principal::Maintainer(m)) => {
            let repos = match &state.signin {
                Some(access) => access.repos(&m.login).await?,
                None => Vec::new(),
            };
            Ok(Json(Me {
                kind: "maintainer".into(),
                login: Some(m.login),
                repos: Some(repos_view(repos)),
                expires_at: Some(format_ts(m.expires_at)),
            }))
        }
        None if bearer(&parts).is_some() => {
            let WorkerAuth(w) = WorkerAuth::from_request_parts(&mut parts, &state).await?;
            Ok(Json(Me {
                kind: "worker".into(),
                login: w.github_login,
                repos: None,
                expires_at: None,
            }))
        }
        None => Err(ApiError::unauthorized(
            "this endpoint needs credentials: the admin token, a maintainer's or a worker's",
        )),
    }
}

/// Sign out: the session (cookie, with the CSRF token) or the maintainer token of this request
/// ends at once, on every replica.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    security(("admin_token" = []), ("worker_token" = [])),
    responses((status = 204, description = "signed out"), (status = 401, body = Problem)))]
pub async fn logout(State(state): State<AppState>, req: Request) -> ApiResult<StatusCode> {
    let (mut parts, _) = req.into_parts();
    match principal(&mut parts, &state).await? {
        Some(Principal::Maintainer(m)) => {
            state.store.signin().session_end(&m.digest).await?;
        }
        Some(Principal::Admin) => {
            // The admin token itself cannot end; a dashboard session opened with it does.
            if !parts.headers.contains_key("x-admin-token")
                && let Some((digest, _)) = cookie_session(&state.store, &parts.headers).await?
            {
                state.store.signin().session_end(&digest).await?;
            }
        }
        None => {
            return Err(ApiError::unauthorized(
                "nothing to sign out of: this request carries no session or maintainer token \
                 (a write with the session cookie needs the X-CSRF-Token header)",
            ));
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct RevokeBody {
    /// The GitHub login whose sessions and tokens end.
    pub login: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Revoked {
    pub login: String,
    /// How many live sessions and tokens ended.
    pub ended: u64,
}

/// End every session and maintainer token of a person (the operator only).
#[utoipa::path(post, path = "/v1/admin/signin/revoke", tag = "auth", request_body = RevokeBody,
    security(("admin_token" = [])),
    responses((status = 200, body = Revoked), (status = 401, body = Problem),
              (status = 403, body = Problem, description = "`not_allowed`: a maintainer"),
              (status = 422, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    _admin: Admin,
    body: Payload<RevokeBody>,
) -> ApiResult<Json<Revoked>> {
    let login = body.value.login.trim().trim_start_matches('@').to_string();
    let valid = !login.is_empty()
        && login.len() <= 39
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid {
        return Err(ApiError::invalid(
            "invalid_login",
            "`login` must be a GitHub login (letters, digits and hyphens, at most 39)",
        ));
    }
    let ended = state.store.signin().revoke_login(&login).await?;
    Ok(Json(Revoked { login, ended }))
}
