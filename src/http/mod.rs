//! The OWP REST API over HTTP (axum): one module per resource, problem+json errors, credentials,
//! idempotency keys and the SSE event stream. The OpenAPI document is derived from the handlers.

pub mod admin;
pub mod auth;
pub mod error;
pub mod events;
pub mod extract;
pub mod github_setup;
pub mod github_webhook;
pub mod idempotency;
pub mod import;
pub mod leaderboard;
pub mod leases;
pub mod link_code;
pub mod meta;
pub mod metrics;
pub mod openapi;
pub mod principal;
pub mod proposals;
pub mod rate_limits;
pub mod request_id;
pub mod session;
pub mod signin;
pub mod steering;
pub mod tasks;
pub mod vouch;
pub mod worker_link;
pub mod workers;
pub mod yaml;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use tokio::sync::watch;
use utoipa::openapi::OpenApi;

use crate::config::{AdminTokens, RegistrationPolicy};
use crate::store::Store;

/// Everything a handler may use, behind one shared pointer: the router clones its state for
/// every request (once per layer), and one reference count touched by the request threads costs
/// less than one per field.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    pub fn new(parts: AppParts) -> AppState {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;
    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct AppParts {
    pub store: Store,
    pub admin_token: AdminTokens,
    pub registration: RegistrationPolicy,
    /// The id of the newest event seen in the database (by any process); changes wake long polls
    /// and SSE streams.
    pub last_event: watch::Receiver<i64>,
    /// Anyone may read what public repositories show (`OWP_PUBLIC_BOARDS`): their boards and
    /// their part of the leaderboard.
    pub public_boards: bool,
    /// The GitHub App, when it runs in this process (`github` in `GET /v1/meta`): an approval
    /// of a plan proposed by comment is its own.
    pub github: Option<Arc<crate::github::service::Github>>,
    /// How often each worker, and each address, may ask `GET /v1/work/preview`.
    pub preview_limit: Arc<rate_limits::PreviewLimits>,
    /// The long polls of `POST /v1/work` being held, one per worker.
    pub long_polls: leases::LongPolls,
    /// Maintainers sign in with GitHub (`GITHUB_CLIENT_ID`; `signin` in `GET /v1/meta`): what
    /// they maintain, as GitHub says.
    pub signin: Option<Arc<dyn principal::RepoAccess>>,
}

/// The OWP API router (`/healthz`, `/v1/...`), with its OpenAPI document served at
/// `/v1/openapi.json`; `more_docs` documents the API routes other routers serve.
pub fn router(state: AppState, more_docs: Vec<utoipa::openapi::OpenApi>) -> Router {
    let (api, doc) = api(more_docs);
    router_of(state, api, doc)
}

/// The API's routes and their completed OpenAPI document, made once: [`router_of`] serves both,
/// and the rate limits read from the document which routes need a credential.
pub fn api(more_docs: Vec<utoipa::openapi::OpenApi>) -> (Router<AppState>, Arc<OpenApi>) {
    let (api, mut doc) = openapi::api_router(more_docs).split_for_parts();
    openapi::complete(&mut doc);
    (api, Arc::new(doc))
}

/// [`router`] of routes and a document [`api`] made.
pub fn router_of(state: AppState, api: Router<AppState>, doc: Arc<OpenApi>) -> Router {
    api.route(
        "/v1/openapi.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    )
    .fallback(not_found)
    .method_not_allowed_fallback(method_not_allowed)
    .layer(axum::middleware::from_fn(refuse_nul))
    .layer(axum::middleware::map_response(client_errors_as_problems))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        idempotency::layer,
    ))
    .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
    .with_state(state)
}

/// Liveness: 200 while the process accepts requests. It reads nothing (not the database): a
/// restart would not mend what it cannot see. `/readyz` tells whether requests can be served.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "the process accepts requests (the database is not \
        asked: see /readyz); the body names the protocol and this build's version")))]
pub async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "ok", "protocol": "owp/1", "version": crate::VERSION}))
}

/// Readiness: 200 when this process can use its database now (a query of the schema answered
/// within two seconds and, on SQLite, the file is still the one opened) and, in GitHub mode,
/// GitHub has not refused the App's key; 503 `not_ready` or `app_key_refused` otherwise.
/// Health checks of containers and load balancers ask this.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "the database answers: requests can be served"),
              (status = 503, body = error::Problem, description = "`not_ready`: the database \
                  cannot be used now (unreachable, dropped, moved, or slower than two seconds); \
                  `app_key_refused`: GitHub refuses every private key the App was given")))]
pub async fn readyz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<axum::Json<serde_json::Value>, error::ApiError> {
    if let Err(why) = state.store.ready().await {
        // The reason names files and hosts: the log has it, an anonymous caller does not.
        tracing::warn!(reason = %why, "not ready");
        return Err(error::ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the database cannot be used now; the server log says why",
        ));
    }
    if let Some(github) = &state.github
        && let crate::github::app_auth::KeyState::Refused { reason } = github.app.key_state()
    {
        // No secret in it: the App's id is public, the key is never named.
        tracing::warn!(reason = %reason, "not ready: GitHub refuses the App's key");
        return Err(error::ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "app_key_refused",
            format!(
                "GitHub refuses the App's key: {reason}. Set GITHUB_PRIVATE_KEY (or the file of \
                 GITHUB_PRIVATE_KEY_PATH) to one of the App's active private keys; `owp doctor` \
                 shows the fix"
            ),
        ));
    }
    Ok(axum::Json(
        serde_json::json!({"status": "ready", "version": crate::VERSION}),
    ))
}

/// Rejections produced by axum's own extractors (a path or query string that does not parse) are
/// plain text; every error of the OWP API is problem+json, so they are rewritten here.
async fn client_errors_as_problems(res: axum::response::Response) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/problem+json"));
    if !status.is_client_error() || is_problem {
        return res;
    }
    let bytes = axum::body::to_bytes(res.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let detail = String::from_utf8_lossy(&bytes).trim().to_string();
    // A query value of the wrong type (`?wait=abc`) is a value the request got wrong, like a
    // body field of the wrong type: 422 `validation_failed`. Any other 400 of axum's is a path
    // segment that does not decode (`%FF`): it names no object.
    if status == StatusCode::BAD_REQUEST {
        return match detail.strip_prefix("Failed to deserialize query string") {
            Some(rest) => {
                let why = rest.trim_start_matches(':').trim();
                error::ApiError::invalid(
                    "validation_failed",
                    format!("a query value does not have its type: {why}"),
                )
                .into_response()
            }
            None => error::ApiError::not_found("not_found", format!("no such object: {detail}"))
                .into_response(),
        };
    }
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "validation_failed",
        _ => "client_error",
    };
    let detail = if detail.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("client error")
            .to_string()
    } else {
        detail
    };
    error::ApiError::new(status, code, detail).into_response()
}

/// A NUL character can be neither an identifier nor stored text (PostgreSQL refuses it), so a
/// path or query that carries one is answered before it reaches a handler.
async fn refuse_nul(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let uri = req.uri();
    if uri.path().to_ascii_lowercase().contains("%00") {
        return error::ApiError::not_found("not_found", "no object has a NUL character in its id")
            .into_response();
    }
    if uri
        .query()
        .is_some_and(|q| q.to_ascii_lowercase().contains("%00"))
    {
        return error::ApiError::invalid(
            "invalid_characters",
            "query parameters must not contain NUL characters",
        )
        .into_response();
    }
    next.run(req).await
}

async fn not_found(uri: axum::http::Uri) -> error::ApiError {
    error::ApiError::not_found("not_found", format!("no such endpoint: {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> error::ApiError {
    error::ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// The GitHub App's routes: the webhook, link codes and the help page while the App runs; the
/// setup flow and the help page while no App is configured.
pub fn github_router(github: &crate::github::GithubParts) -> Router {
    let help = github_setup::help_router();
    match (github.app(), github.setup()) {
        (Some(app), _) => github_webhook::router(Arc::clone(&app))
            .merge(link_code::router(app))
            .merge(help),
        (None, Some(setup)) => github_setup::router(setup).merge(help),
        (None, None) => help,
    }
}

/// A `200` JSON answer serialized into a buffer of `capacity` bytes from the start (axum's
/// `Json` starts at 128 and grows), for answers sent very often whose size is known.
pub fn json_sized<T: serde::Serialize>(value: &T, capacity: usize) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot write an answer");
            error::ApiError::internal().into_response()
        }
    }
}
