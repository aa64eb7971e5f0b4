//! A worker proves its person with GitHub's device flow through the App's OAuth client (the
//! contract's section 14): `POST /v1/workers/link/device` starts a flow bound to the calling
//! worker, `POST /v1/workers/link/device/token` polls it and, once the person approved on GitHub,
//! reads who they are (`GET /user`), drops their token and links the worker to their account id
//! ([`PersonLinksTx::link_worker`], the step every proof ends
//! in). Served only while both the GitHub App and its OAuth client are configured.
//!
//! A flow is the worker's alone (another worker's poll finds nothing), one at a time, and apart
//! from a maintainer's sign-in: a worker's device code never becomes a maintainer token, and a
//! maintainer's never links a worker. Each route is limited per address (with the sign-in
//! routes) and per worker, and a poll reaches GitHub at most once per the flow's interval. No
//! token or code is logged, stored in the clear, or echoed.
//!
//! [`PersonLinksTx::link_worker`]: crate::store::github::worker_links::PersonLinksTx::link_worker

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem};
use super::extract::{Payload, bearer_of};
use super::principal::digest;
use super::rate_limits::{PerKey, too_many};
use super::signin::{
    DeviceStart, DeviceTokenBody, device_refusal, device_start_error, github_unavailable,
    slow_down, unknown_device_code,
};
use crate::github::oauth::OAuthError;
use crate::github::signin::SignIn;
use crate::store::NewEvent;
use crate::store::github::worker_links::LinkRefusal;
use crate::store::rows::WorkerRow;
use crate::store::signin::DevicePoll;

/// The route that starts a worker's device flow.
pub const START_PATH: &str = "/v1/workers/link/device";
/// The route that polls it.
pub const TOKEN_PATH: &str = "/v1/workers/link/device/token";
/// Flows one worker may start per minute (each asks GitHub for a device code).
const STARTS_PER_MINUTE: u32 = 4;
/// Polls one worker may send per minute (GitHub's interval is 5 s: 12 a minute).
const POLLS_PER_MINUTE: u32 = 30;

/// What the routes hold: the App's OAuth client (with the store) and the per-worker limits.
#[derive(Clone)]
pub struct WorkerLinkRoutes {
    signin: Arc<SignIn>,
    starts: Arc<PerKey<String>>,
    polls: Arc<PerKey<String>>,
}

/// The routes.
pub fn router(signin: Arc<SignIn>) -> Router {
    let (router, _) = api_router().split_for_parts();
    router.with_state(WorkerLinkRoutes {
        signin,
        starts: Arc::new(PerKey::new(STARTS_PER_MINUTE)),
        polls: Arc::new(PerKey::new(POLLS_PER_MINUTE)),
    })
}

fn api_router() -> OpenApiRouter<WorkerLinkRoutes> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(token))
}

/// The routes' part of the OpenAPI document (merged into the service's document).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}

/// The worker is linked: it speaks for this GitHub account from now on.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkerLinked {
    pub worker_id: String,
    /// The account's login now (how it is shown; the account id is who it is).
    pub github_login: String,
    pub github_account_id: i64,
    /// The worker that spoke for the account until now and no longer does (absent when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_worker: Option<String>,
    /// The tasks whose claims moved from that worker to this one (each issue is told).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved_tasks: Vec<String>,
}

/// The calling worker (`Authorization: Bearer <token>`), marked online, within its `limit`.
async fn caller(
    s: &WorkerLinkRoutes,
    headers: &HeaderMap,
    limit: &PerKey<String>,
) -> Result<WorkerRow, Response> {
    let Some(token) = bearer_of(headers) else {
        return Err(ApiError::unauthorized(
            "this endpoint needs a worker token: `Authorization: Bearer <token>`",
        )
        .into_response());
    };
    let worker = s
        .signin
        .store
        .workers()
        .authenticate(token)
        .await
        .map_err(|e| ApiError::from(e).into_response())?
        .ok_or_else(|| {
            ApiError::unauthorized(
                "the worker token is not valid (register again to get a new one)",
            )
            .into_response()
        })?;
    limit
        .check(&worker.id)
        .map_err(|wait| too_many(wait, "too many link requests from this worker"))?;
    Ok(worker)
}

/// Prove this worker's person with GitHub's device flow: show `user_code` and `verification_uri`
/// to the person (they enter the code at GitHub's device page, signed in as the account to link),
/// then poll `POST /v1/workers/link/device/token` with `device_code` every `interval` seconds. A
/// new flow ends the worker's earlier one. Served only while the GitHub App and its OAuth client
/// are configured (404 otherwise: link with `POST /v1/workers/link-code` and `/owp link CODE`).
#[utoipa::path(post, path = "/v1/workers/link/device", tag = "workers",
    security(("worker_token" = [])),
    responses((status = 200, body = DeviceStart),
              (status = 401, body = Problem),
              (status = 404, body = Problem, description = "no GitHub App with an OAuth client is configured"),
              (status = 429, body = Problem, description = "`rate_limited`"),
              (status = 503, body = Problem, description = "`signin_unavailable` (the App's device flow is off) or `github_unavailable`")))]
async fn start(State(s): State<WorkerLinkRoutes>, headers: HeaderMap) -> Response {
    match start_flow(&s, &headers).await {
        Ok(started) => axum::Json(started).into_response(),
        Err(res) => res,
    }
}

async fn start_flow(s: &WorkerLinkRoutes, headers: &HeaderMap) -> Result<DeviceStart, Response> {
    let worker = caller(s, headers, &s.starts).await?;
    let dc = s
        .signin
        .oauth
        .device_code()
        .await
        .map_err(|e| device_start_error(e).into_response())?;
    let expires_in = dc.expires_in.clamp(60, 3600);
    let interval = dc.interval.clamp(1, 60);
    s.signin
        .store
        .device_links()
        .start(
            &worker.id,
            &digest(&dc.device_code),
            i64::try_from(interval * 1000).unwrap_or(5000),
            i64::try_from(expires_in * 1000).unwrap_or(900_000),
        )
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    tracing::info!(worker = %worker.id, "a worker started to prove its person (device flow)");
    Ok(DeviceStart {
        device_code: dc.device_code,
        user_code: dc.user_code,
        verification_uri: dc.verification_uri,
        interval,
        expires_in,
    })
}

/// Poll this worker's device flow once: `428 authorization_pending` until the person approves on
/// GitHub, then the worker is linked to their GitHub account (their GitHub token is used once to
/// read who they are, and never kept).
#[utoipa::path(post, path = "/v1/workers/link/device/token", tag = "workers",
    security(("worker_token" = [])),
    request_body = DeviceTokenBody,
    responses((status = 200, body = WorkerLinked),
              (status = 428, body = Problem, description = "`authorization_pending`: not approved yet; poll again after `interval`"),
              (status = 429, body = Problem, description = "`slow_down`: polled too often (see `Retry-After`), or `rate_limited`"),
              (status = 400, body = Problem, description = "`invalid_device_code` (not this worker's, used or expired) or `expired_token`: start again"),
              (status = 401, body = Problem),
              (status = 403, body = Problem, description = "`access_denied`: the person declined"),
              (status = 404, body = Problem, description = "no GitHub App with an OAuth client is configured"),
              (status = 409, body = Problem, description = "`linked_elsewhere`: the worker speaks for another GitHub account"),
              (status = 422, body = Problem, description = "`invalid_device_code`: not a device code"),
              (status = 503, body = Problem, description = "`github_unavailable`")))]
async fn token(
    State(s): State<WorkerLinkRoutes>,
    headers: HeaderMap,
    body: Payload<DeviceTokenBody>,
) -> Response {
    match finish_flow(&s, &headers, &body.value.device_code).await {
        Ok(linked) => axum::Json(linked).into_response(),
        Err(res) => res,
    }
}

async fn finish_flow(
    s: &WorkerLinkRoutes,
    headers: &HeaderMap,
    device_code: &str,
) -> Result<WorkerLinked, Response> {
    let worker = caller(s, headers, &s.polls).await?;
    let code = device_code.trim();
    let valid = !code.is_empty() && code.len() <= 200 && code.bytes().all(|b| b.is_ascii_graphic());
    if !valid {
        return Err(ApiError::invalid(
            "invalid_device_code",
            "`device_code` must be the code POST /v1/workers/link/device returned",
        )
        .into_response());
    }
    let store = &s.signin.store;
    let fail = |e: ApiError| e.into_response();
    let key = digest(code);
    match store
        .device_links()
        .poll(&worker.id, &key)
        .await
        .map_err(|e| fail(e.into()))?
    {
        DevicePoll::Go => {}
        DevicePoll::TooSoon(ms) => return Err(slow_down(ms)),
        DevicePoll::Unknown => return Err(fail(unknown_device_code(START_PATH))),
    }
    let token = match s.signin.oauth.device_token(code).await {
        Ok(token) => token,
        Err(OAuthError::Refused {
            code: why,
            interval,
        }) => {
            let refusal = device_refusal(&why, interval, START_PATH);
            if let Some(ms) = refusal.interval_ms {
                let _ = store.device_links().interval(&worker.id, &key, ms).await;
            }
            if refusal.ends {
                let _ = store.device_links().end(&worker.id, &key).await;
            }
            return Err(refusal.answer);
        }
        Err(e @ OAuthError::Unavailable(_)) => {
            tracing::warn!(error = %e, "a worker's device flow could not be polled");
            return Err(fail(github_unavailable()));
        }
    };
    let user = s.signin.oauth.user(&token).await;
    drop(token);
    let user = user.map_err(|e| {
        tracing::warn!(error = %e, "cannot read who approved a worker's link");
        fail(github_unavailable())
    })?;
    let mut tx = store.begin().await.map_err(|e| fail(e.into()))?;
    if !tx
        .device_links()
        .finish(&worker.id, &key)
        .await
        .map_err(|e| fail(e.into()))?
    {
        return Err(fail(unknown_device_code(START_PATH)));
    }
    let moved = match tx
        .person_links()
        .link_worker(&worker.id, &user.login, user.id)
        .await
        .map_err(|e| fail(e.into()))?
    {
        Ok(moved) => moved,
        Err(LinkRefusal::LinkedElsewhere | LinkRefusal::UnknownCode) => {
            drop(tx);
            let _ = store.device_links().end(&worker.id, &key).await;
            return Err(fail(ApiError::conflict(
                "linked_elsewhere",
                "this worker already speaks for another GitHub account; register a new worker \
                 for this one",
            )));
        }
    };
    tx.event(
        NewEvent::new("github.worker_linked", format!("github:{}", user.login))
            .worker(Some(&worker.id))
            .data(
                json!({"login": user.login, "account_id": user.id, "proof": "device_flow",
                         "left": moved.left}),
            ),
    );
    crate::github::login_link::tell_moved(&mut tx, &user.login, &worker.id, &moved)
        .await
        .map_err(|e| fail(e.into()))?;
    tx.commit().await.map_err(|e| fail(e.into()))?;
    tracing::info!(worker = %worker.id, login = %user.login, "a worker was linked to its person (device flow)");
    Ok(WorkerLinked {
        worker_id: worker.id,
        github_login: user.login,
        github_account_id: user.id,
        replaced_worker: moved.left,
        moved_tasks: moved.moved_tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn a_refusal_is_answered_as_the_maintainers_is_but_starts_here_again() {
        let unknown = device_refusal("bad_code", None, START_PATH);
        assert_eq!(unknown.answer.status(), StatusCode::BAD_REQUEST);
        assert!(!unknown.ends);
        let slow = device_refusal("slow_down", Some(15), START_PATH);
        assert_eq!(slow.answer.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(slow.interval_ms, Some(15_000));
        assert!(device_refusal("access_denied", None, START_PATH).ends);
        assert!(device_refusal("expired_token", None, START_PATH).ends);
    }
}
