//! `POST /github/webhook`: the receiving end of GitHub's deliveries.
//!
//! The signature (`X-Hub-Signature-256`, any of the configured secrets) is checked on the raw body
//! before anything is parsed or stored; a bad or missing one is answered 401 and changes nothing.
//! A verified delivery is stored in the inbox under its `X-GitHub-Delivery` id and answered at
//! once (202, or 200 for a delivery id seen before); the inbox consumer applies it afterwards.
//! The answer never waits on GitHub or on applying the event.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::Instrument;

use crate::github::events::{DELIVERY_HEADER, EVENT_HEADER};
use crate::github::manifest::WEBHOOK_PATH;
use crate::github::service::Github;
use crate::github::signature::SIGNATURE_HEADER;
use crate::http::error::ApiError;

/// GitHub caps payloads at 25 MB.
pub const WEBHOOK_BODY_LIMIT: usize = 26 * 1024 * 1024;

/// The events the App stores; others are acknowledged and dropped at once.
pub const STORED_EVENTS: [&str; 6] = [
    "ping",
    "installation",
    "installation_repositories",
    "issues",
    "issue_comment",
    "pull_request",
];

/// The webhook route.
pub fn router(github: Arc<Github>) -> Router {
    Router::new()
        .route(WEBHOOK_PATH, axum::routing::post(receive))
        .layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT))
        .with_state(github)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn receive(State(github): State<Arc<Github>>, headers: HeaderMap, body: Bytes) -> Response {
    let delivery = header(&headers, DELIVERY_HEADER).unwrap_or("").to_string();
    let event = header(&headers, EVENT_HEADER).unwrap_or("").to_string();
    let span = tracing::info_span!("webhook", delivery = %delivery, event = %event);
    async move {
        match accept(&github, &headers, &delivery, &event, &body).await {
            Ok(response) => response,
            Err(e) => e.into_response(),
        }
    }
    .instrument(span)
    .await
}

async fn accept(
    github: &Github,
    headers: &HeaderMap,
    delivery: &str,
    event: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let Some(secrets) = &github.secrets else {
        tracing::warn!("webhook refused: no GITHUB_WEBHOOK_SECRET is configured");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "this service has no webhook secret configured, so no delivery can be verified",
        ));
    };
    if let Err(e) = secrets.verify(header(headers, SIGNATURE_HEADER), body) {
        tracing::warn!(error = %e, "webhook refused: bad signature");
        crate::metrics::webhook_delivery(event, "bad_signature");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            e.to_string(),
        ));
    }
    if delivery.is_empty() || delivery.len() > 200 {
        return Err(ApiError::bad_request(
            "missing_delivery_id",
            "the X-GitHub-Delivery header is missing",
        ));
    }
    if event.is_empty() {
        return Err(ApiError::bad_request(
            "missing_event",
            "the X-GitHub-Event header is missing",
        ));
    }
    if !STORED_EVENTS.contains(&event) {
        tracing::debug!("event not used; acknowledged");
        crate::metrics::webhook_delivery("other", "ignored");
        return Ok(answer(StatusCode::ACCEPTED, "ignored"));
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(ApiError::bad_request(
            "malformed_body",
            "the delivery is not UTF-8 JSON",
        ));
    };
    let now = crate::store::now_ms();
    github.receiving.fetch_add(1, Ordering::SeqCst);
    let stored = github
        .store
        .gh_insert_delivery(delivery, event, text, now)
        .await;
    github.receiving.fetch_sub(1, Ordering::SeqCst);
    let stored = stored?;
    if stored {
        github.inbox_wake.notify_one();
        crate::metrics::webhook_delivery(event, "queued");
        tracing::debug!("delivery stored");
        Ok(answer(StatusCode::ACCEPTED, "queued"))
    } else {
        tracing::info!("delivery seen before; acknowledged, not applied again");
        crate::metrics::webhook_delivery(event, "duplicate");
        Ok(answer(StatusCode::OK, "duplicate"))
    }
}

fn answer(status: StatusCode, what: &str) -> Response {
    (status, axum::Json(json!({ "status": what }))).into_response()
}
