//! `POST /github/webhook`: the receiving end of GitHub's deliveries.
//!
//! The signature is checked on the raw body before anything is parsed or stored
//! (`github::webhook::receive`); a bad or missing one is answered 401 and changes nothing. A
//! verified delivery is stored in the inbox and answered at once (202, or 200 for a delivery id
//! seen before); the inbox consumer applies it afterwards. The answer never waits on GitHub or on
//! applying the event.
//!
//! Bodies are bounded before they are read: a request without a well-formed signature header, or
//! whose `Content-Length` is past GitHub's 25 MB, is refused unread; only
//! `OWP_WEBHOOK_CONCURRENCY` bodies are read at once (past it `503 webhook_busy` with
//! `Retry-After`; the App redelivers failed deliveries itself), each within
//! `WEBHOOK_READ_TIMEOUT`.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header as http_header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::Instrument;

use super::error::{ApiError, Problem};
use super::rate_limits::WEBHOOK_PATH;
use crate::github::events::{DELIVERY_HEADER, EVENT_HEADER};
use crate::github::service::Github;
use crate::github::signature::{SIGNATURE_HEADER, WebhookSecrets};
use crate::github::webhook::{
    Received, Refused, WEBHOOK_BODY_LIMIT, WEBHOOK_READ_TIMEOUT, WEBHOOK_ROOM_WAIT, room_for,
};

/// The webhook route.
pub fn router(github: Arc<Github>) -> Router {
    Router::new()
        .route(WEBHOOK_PATH, axum::routing::post(receive))
        .with_state(github)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A delivery from GitHub: verified with `X-Hub-Signature-256` on the raw body before anything is
/// read or stored, then stored and answered at once. Not rate-limited by address (GitHub delivers
/// from shared addresses); bodies are bounded instead. Served only while a GitHub App is
/// configured (404 otherwise).
#[utoipa::path(post, path = "/github/webhook", tag = "github", security(()),
    responses((status = 202, description = "stored (`queued`), or of an event the App does not \
                  act on (`ignored`): `{status}`"),
              (status = 200, description = "a delivery id seen before (`duplicate`): `{status}`"),
              (status = 400, body = Problem, description = "`missing_delivery_id`, \
                  `missing_event`, `malformed_body`"),
              (status = 401, body = Problem, description = "`invalid_signature`: a missing, \
                  malformed or wrong `X-Hub-Signature-256`, refused before the body is read"),
              (status = 404, body = Problem, description = "no GitHub App is configured"),
              (status = 408, body = Problem, description = "the body did not arrive within 20 s"),
              (status = 413, body = Problem, description = "a `Content-Length` past GitHub's \
                  25 MB, refused unread"),
              (status = 503, body = Problem, description = "`webhook_busy` (with \
                  `Retry-After`): no room to read the body within 2 s")))]
async fn receive(State(github): State<Arc<Github>>, headers: HeaderMap, body: Body) -> Response {
    let delivery = header(&headers, DELIVERY_HEADER).unwrap_or("").to_string();
    let event = header(&headers, EVENT_HEADER).unwrap_or("").to_string();
    let span = tracing::info_span!("webhook", delivery = %delivery, event = %event);
    async move {
        let result = match read_bounded(&github, &headers, body).await {
            Ok((body, _permit)) => accept(&github, &headers, &delivery, &event, &body).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(response) => response,
            Err(e) if e.code == "webhook_busy" => {
                let mut res = e.into_response();
                res.headers_mut()
                    .insert(http_header::RETRY_AFTER, HeaderValue::from_static("5"));
                res
            }
            Err(e) => e.into_response(),
        }
    }
    .instrument(span)
    .await
}

/// Reads a delivery's body within the bounds: refused unread without a well-formed signature
/// header or past the size limit, and only while one of the body permits is free (held until the
/// delivery is stored).
async fn read_bounded(
    github: &Github,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, Option<tokio::sync::OwnedSemaphorePermit>), ApiError> {
    if github.secrets.is_none() {
        // `accept` answers it; nothing can be verified, so nothing is read.
        return Ok((Bytes::new(), None));
    }
    if let Err(e) = WebhookSecrets::precheck(header(headers, SIGNATURE_HEADER)) {
        tracing::warn!(error = %e, "webhook refused unread: bad signature header");
        crate::metrics::webhook_delivery("unknown", "bad_signature");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            e.to_string(),
        ));
    }
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "a webhook delivery is at most 25 MB",
        )
    };
    let declared = header(headers, "content-length").and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > WEBHOOK_BODY_LIMIT as u64) {
        return Err(too_large());
    }
    let room = Arc::clone(&github.webhook_bodies).acquire_many_owned(room_for(declared));
    let Ok(Ok(permit)) = tokio::time::timeout(WEBHOOK_ROOM_WAIT, room).await else {
        tracing::warn!("webhook refused: too many deliveries are being read at once");
        crate::metrics::webhook_delivery("unknown", "busy");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhook_busy",
            "too many webhook deliveries are being read at once; retry shortly",
        ));
    };
    match tokio::time::timeout(
        WEBHOOK_READ_TIMEOUT,
        axum::body::to_bytes(body, WEBHOOK_BODY_LIMIT),
    )
    .await
    {
        Ok(Ok(bytes)) => Ok((bytes, Some(permit))),
        Ok(Err(_)) => Err(too_large()),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the webhook body did not arrive in time",
        )),
    }
}

async fn accept(
    github: &Github,
    headers: &HeaderMap,
    delivery: &str,
    event: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let received = crate::github::webhook::receive(
        github,
        header(headers, SIGNATURE_HEADER),
        delivery,
        event,
        body,
    )
    .await;
    match received {
        Ok(Received::Ignored) => Ok(answer(StatusCode::ACCEPTED, "ignored")),
        Ok(Received::Queued) => Ok(answer(StatusCode::ACCEPTED, "queued")),
        Ok(Received::Duplicate) => Ok(answer(StatusCode::OK, "duplicate")),
        Err(Refused::NoSecret) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "this service has no webhook secret configured, so no delivery can be verified",
        )),
        Err(Refused::BadSignature(why)) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            why,
        )),
        Err(Refused::MissingDelivery) => Err(ApiError::bad_request(
            "missing_delivery_id",
            "the X-GitHub-Delivery header is missing",
        )),
        Err(Refused::MissingEvent) => Err(ApiError::bad_request(
            "missing_event",
            "the X-GitHub-Event header is missing",
        )),
        Err(Refused::Malformed) => Err(ApiError::bad_request(
            "malformed_body",
            "the delivery is not JSON",
        )),
        Err(Refused::Store(e)) => Err(e.into()),
    }
}

fn answer(status: StatusCode, what: &str) -> Response {
    (status, axum::Json(json!({ "status": what }))).into_response()
}
