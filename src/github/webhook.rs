//! `POST /github/webhook`: the receiving end of GitHub's deliveries.
//!
//! The signature (`X-Hub-Signature-256`, any of the configured secrets) is checked on the raw body
//! before anything is parsed or stored; a bad or missing one is answered 401 and changes nothing.
//! A verified delivery is stored in the inbox under its `X-GitHub-Delivery` id (without the parts
//! the App never reads, see [`slim`]) and answered at once (202, or 200 for a delivery id seen
//! before); the inbox consumer applies it afterwards.
//! The answer never waits on GitHub or on applying the event.
//!
//! Bodies are bounded before they are read: a request without a well-formed signature header, or
//! whose `Content-Length` is past GitHub's 25 MB, is refused unread; only
//! `OWP_WEBHOOK_CONCURRENCY` bodies are read at once (past it `503 webhook_busy` with
//! `Retry-After`; the App redelivers failed deliveries itself), each within
//! [`WEBHOOK_READ_TIMEOUT`].

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header as http_header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::Instrument;

use crate::github::events::{DELIVERY_HEADER, EVENT_HEADER};
use crate::github::service::Github;
use crate::github::signature::{SIGNATURE_HEADER, WebhookSecrets};
use crate::http::error::ApiError;
use crate::http::rate_limits::WEBHOOK_PATH;

/// GitHub caps payloads at 25 MB.
pub const WEBHOOK_BODY_LIMIT: usize = 26 * 1024 * 1024;
/// How long one webhook body may take to arrive (GitHub gives a delivery 10 s in all).
pub const WEBHOOK_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// How long a delivery waits for room to read its body before it is refused.
pub const WEBHOOK_ROOM_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
const MIB: u64 = 1 << 20;

/// The room, in MiB, for `bodies` webhook bodies of the largest size.
pub fn body_room(bodies: u32) -> usize {
    bodies as usize * WEBHOOK_BODY_LIMIT.div_ceil(MIB as usize)
}

/// The room a body takes, in MiB: its declared length, or the most when none is declared.
fn room_for(declared: Option<u64>) -> u32 {
    let most = WEBHOOK_BODY_LIMIT as u64;
    let bytes = declared.unwrap_or(most).clamp(1, most);
    u32::try_from(bytes.div_ceil(MIB)).unwrap_or(u32::MAX)
}

/// The events the App stores; others are acknowledged and dropped at once.
pub const STORED_EVENTS: [&str; 11] = [
    "ping",
    "installation",
    "installation_repositories",
    "issues",
    "issue_comment",
    "pull_request",
    "check_suite",
    "check_run",
    "status",
    "repository",
    "issue_dependencies",
];

/// The events an App subscribes to in its settings: every stored event but those GitHub sends
/// every App (`ping`, `installation`, `installation_repositories`).
pub fn subscribed_events() -> impl Iterator<Item = &'static str> {
    STORED_EVENTS
        .into_iter()
        .filter(|e| !matches!(*e, "ping" | "installation" | "installation_repositories"))
}

/// The webhook route.
pub fn router(github: Arc<Github>) -> Router {
    Router::new()
        .route(WEBHOOK_PATH, axum::routing::post(receive))
        .with_state(github)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

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
    let Ok(mut payload) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Err(ApiError::bad_request(
            "malformed_body",
            "the delivery is not JSON",
        ));
    };
    slim(&mut payload);
    let text = payload.to_string();
    let body_sha256 = replay_key(event, body);
    let now = crate::store::now_ms();
    github.receiving.fetch_add(1, Ordering::SeqCst);
    let stored = github
        .store
        .gh_insert_delivery(delivery, event, &text, body_sha256.as_deref(), now)
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

/// Drops what the App never reads from a payload before it is stored: links to other API
/// resources (`*_url` other than `html_url`, `_links`), node ids, reaction counts and the copies
/// of whole repositories inside a pull request's `head` and `base`. GitHub's payloads are mostly
/// these; the inbox stays small and quick to read, and every field [`crate::github::events`]
/// reads is kept (a test parses every fixture both ways).
pub fn slim(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|key, _| {
                !(key == "node_id"
                    || key == "_links"
                    || key == "reactions"
                    || key == "repo"
                    || key == "gravatar_id"
                    || (key.ends_with("_url") && key != "html_url"))
            });
            for v in map.values_mut() {
                slim(v);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(slim),
        _ => {}
    }
}

/// What finds a replay: the SHA-256 of the event name and the signed body. The same signed body
/// under a new delivery id is acknowledged and not applied again. Not for `ping` (nothing to
/// apply) nor `issues`: an issue's events carry its whole state and may repeat byte for byte within
/// one second (a label added, removed and added again); replaying one restores an earlier state
/// of the issue only until the next reconciliation.
pub fn replay_key(event: &str, body: &[u8]) -> Option<String> {
    use sha2::Digest;
    if matches!(event, "ping" | "issues") {
        return None;
    }
    let mut hash = sha2::Sha256::new();
    hash.update(event.as_bytes());
    hash.update([0]);
    hash.update(body);
    Some(hex::encode(hash.finalize()))
}

fn answer(status: StatusCode, what: &str) -> Response {
    (status, axum::Json(json!({ "status": what }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::events::parse_event;

    #[test]
    fn bodies_take_room_by_their_declared_length() {
        assert_eq!(room_for(Some(0)), 1);
        assert_eq!(room_for(Some(7_000)), 1);
        assert_eq!(room_for(Some(MIB + 1)), 2);
        assert_eq!(room_for(Some(25_000_000)), 24);
        assert_eq!(room_for(None), 26, "unknown length: the most");
        assert_eq!(room_for(Some(u64::MAX)), 26);
        assert_eq!(body_room(4), 4 * 26);
        // A body of the largest size always fits in the room of one.
        assert!(room_for(None) as usize <= body_room(1));
    }

    #[test]
    fn slimmed_payloads_parse_into_the_same_events() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/github");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let Some(stem) = name.strip_suffix(".json") else {
                continue;
            };
            let event = stem.split('.').next().unwrap();
            let full = std::fs::read(&path).unwrap();
            let mut value: serde_json::Value = serde_json::from_slice(&full).unwrap();
            slim(&mut value);
            let slimmed = value.to_string();
            assert!(slimmed.len() < full.len(), "{name}");
            assert_eq!(
                format!("{:?}", parse_event(event, &full).unwrap()),
                format!("{:?}", parse_event(event, slimmed.as_bytes()).unwrap()),
                "{name}"
            );
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} fixtures");
    }
}
