//! `Idempotency-Key` on every POST: the same key with the same body from the same caller within
//! 24 hours replays the first response; the same key with another body is a 422.
//!
//! A replayed registration is the one exception: it answers the same `worker_id` with a newly
//! issued token (the earlier token stops working), so no token is ever stored in clear. An
//! anonymous registration's key is bound to the client's address: a replay from anywhere else is
//! a registration of its own, never a new token for the first caller's worker.
//!
//! Keys are kept only for callers the server knows (the admin, a worker whose token is valid) and
//! for registrations; other unauthenticated requests run without one (they change nothing).
//!
//! A request runs at most once per key. The key is reserved before the request runs and its
//! response stored after; a process that stops between the two (a crash) leaves the reservation
//! without a response, and it is never run again under that key: a retry answers `409
//! idempotency_outcome_unknown` (the caller looks at the state and goes on with a new key).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;
use super::extract::{BODY_LIMIT, bearer, is_admin};
use crate::store::idempotency::Idempotency;

const REGISTER_PATH: &str = "/v1/workers/register";

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return next.run(req).await;
    };
    match keyed(state, key, req, next).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    }
}

async fn keyed(
    state: AppState,
    key: String,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::invalid(
            "invalid_idempotency_key",
            "`Idempotency-Key` must be 1 to 255 characters",
        ));
    }
    let (mut parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| ApiError::too_large())?;
    let is_register = parts.uri.path() == REGISTER_PATH;
    // Who is asking: the admin, a worker (by its credential), or an anonymous registration (by
    // its client address). Anyone else keeps no key.
    let caller = if is_admin(&mut parts, &state).await {
        "admin".to_string()
    } else if let Some(token) = bearer(&parts) {
        if state.store.workers().by_token(token).await?.is_none() {
            return Ok(next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await);
        }
        format!("worker:{}", crate::store::workers::hash_token(token))
    } else if is_register {
        // The address the rate limits count (the forwarded one behind a configured proxy),
        // else the connection's peer.
        let address = parts
            .extensions
            .get::<crate::http::rate_limits::ClientIp>()
            .map(|c| c.0.to_string())
            .or_else(|| {
                parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|c| c.0.ip().to_string())
            })
            .unwrap_or_default();
        format!("anonymous:{address}")
    } else {
        return Ok(next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await);
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(parts.uri.to_string().as_bytes());
    hasher.update([0]);
    hasher.update(&bytes);
    let hash = hex::encode(hasher.finalize());

    match state
        .store
        .idempotency_keys()
        .begin(&caller, &key, &hash)
        .await?
    {
        Idempotency::Mismatch => Err(ApiError::invalid(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request",
        )),
        Idempotency::InFlight => Err(ApiError::conflict(
            "idempotency_in_progress",
            "a request with this Idempotency-Key is still being processed",
        )),
        Idempotency::Interrupted => Err(ApiError::conflict(
            "idempotency_outcome_unknown",
            "the first request with this Idempotency-Key was interrupted before its answer was \
             stored, and it may have taken effect: it is not run again; check the state and send \
             any further request with a new key",
        )),
        Idempotency::Replay {
            status,
            content_type,
            body,
        } => {
            let body = if is_register && status == 201 {
                reissue_token(&state, &body).await?
            } else {
                body
            };
            Ok(replayed(status, &content_type, body))
        }
        Idempotency::Run => {
            let res = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            let status = res.status();
            if status.is_server_error() {
                // A 5xx is not stored: the key is released, so that a retry runs the request
                // again (not `409 idempotency_in_progress` for a minute).
                if let Err(e) = state.store.idempotency_keys().abort(&caller, &key).await {
                    tracing::error!(error = %e, "an idempotency key could not be released");
                }
                return Ok(res);
            }
            let (res_parts, res_body) = res.into_parts();
            let res_bytes = axum::body::to_bytes(res_body, usize::MAX)
                .await
                .map_err(|_| ApiError::internal())?;
            crash_point();
            let content_type = res_parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_string();
            let mut stored = String::from_utf8_lossy(&res_bytes).into_owned();
            if is_register && status == StatusCode::CREATED {
                stored = strip_token(&stored);
            }
            // The request took effect: its answer goes out even if it cannot be stored (a retry
            // then finds the key reserved, and at most once holds).
            if let Err(e) = state
                .store
                .idempotency_keys()
                .finish(&caller, &key, status.as_u16(), &content_type, &stored)
                .await
            {
                tracing::error!(error = %e, "an idempotent answer could not be stored");
            }
            Ok(Response::from_parts(res_parts, Body::from(res_bytes)))
        }
    }
}

fn replayed(status: u16, content_type: &str, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut res = (status, body).into_response();
    if let Ok(ct) = HeaderValue::from_str(content_type) {
        res.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    res.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    res
}

/// Removes the token from a stored registration response.
fn strip_token(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(mut v) => {
            if let Some(obj) = v.as_object_mut() {
                obj.remove("token");
            }
            v.to_string()
        }
        Err(_) => String::new(),
    }
}

/// A replayed registration: the same worker, a new token.
async fn reissue_token(state: &AppState, stored: &str) -> Result<String, ApiError> {
    let mut v: serde_json::Value =
        serde_json::from_str(stored).map_err(|_| ApiError::internal())?;
    let worker_id = v
        .get("worker_id")
        .and_then(|w| w.as_str())
        .ok_or_else(ApiError::internal)?
        .to_string();
    let mut tx = state.store.begin().await?;
    let token = tx.workers().rotate_token(&worker_id).await?;
    tx.commit().await?;
    v["token"] = serde_json::Value::String(token);
    Ok(v.to_string())
}

/// Set (to anything) only by the crash test: the process aborts after a keyed request ran and
/// before its response is stored, as a crash at the worst moment would. Read once; it changes
/// nothing else.
pub const CRASH_POINT_VAR: &str = "OWP_TEST_CRASH_BEFORE_IDEMPOTENCY_RECORD";

fn crash_point() {
    static CRASH: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var_os(CRASH_POINT_VAR).is_some());
    if *CRASH {
        std::process::abort();
    }
}
