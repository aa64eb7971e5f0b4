//! How one request goes out and its answer comes back: credentials, the `Idempotency-Key`, tries
//! again after a lost connection or a failed server, and the answer read within its bound.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::one_line;
use super::{Auth, ClientError, OwpClient, REQUEST_TIMEOUT, error_from_response};
use crate::cli::transport::{self, MAX_ANSWER_BYTES, ReadError};

/// How many times in all a request is sent when the connection or the server fails on the way.
pub(super) const RETRY_ATTEMPTS: u32 = 5;
/// The first pause before sending a request again; each next pause doubles (with jitter), so the
/// last try comes 1.5 to 2.3 s after the first: a server whose database connections were cut
/// recovers well within that, and a server that is down is reported without a long wait.
const RETRY_FIRST_PAUSE: Duration = Duration::from_millis(100);

impl OwpClient {
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        auth: Auth,
        body: Body,
        retry: Retry,
    ) -> Result<T, ClientError> {
        let text = self
            .send(method.clone(), path, auth, body, retry, REQUEST_TIMEOUT)
            .await?
            .unwrap_or_default();
        decode(&method, path, &text)
    }

    /// Sends one request; `Ok(None)` for 204. Mutating requests carry an `Idempotency-Key` and,
    /// with [`Retry::Safe`], are sent a second time with the same key after a connection error.
    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        auth: Auth,
        body: Body,
        retry: Retry,
        timeout: Duration,
    ) -> Result<Option<String>, ClientError> {
        let token = match auth {
            Auth::None => None,
            Auth::Admin => Some(
                self.admin_token
                    .clone()
                    .ok_or(ClientError::MissingAdminToken)?,
            ),
            Auth::Worker => Some(
                self.worker_token
                    .clone()
                    .ok_or(ClientError::MissingWorkerToken)?,
            ),
        };
        let idempotency_key = (method == Method::POST).then(|| uuid::Uuid::new_v4().to_string());
        let url = format!("{}{}", self.base_url, path);
        let attempts = match retry {
            Retry::Safe => RETRY_ATTEMPTS,
            Retry::Never => 1,
        };
        let mut attempt = 0;
        let (status, bytes) = loop {
            attempt += 1;
            let mut request: RequestBuilder = self
                .http
                .request(method.clone(), &url)
                .timeout(timeout)
                .header(
                    reqwest::header::ACCEPT,
                    "application/json, application/problem+json",
                );
            if let Some(key) = &idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            match (&auth, &token) {
                // A maintainer's token (`owp login`) goes as a bearer token.
                (Auth::Admin, Some(t)) if t.starts_with("owpm_") => {
                    request = request.bearer_auth(t)
                }
                (Auth::Admin, Some(t)) => {
                    let first = crate::config::admin_token_to_send(t);
                    request = request.header("X-Admin-Token", first)
                }
                (Auth::Worker, Some(t)) => request = request.bearer_auth(t),
                _ => {}
            }
            request = match &body {
                Body::None => request,
                Body::Json(bytes) => request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bytes.clone()),
                Body::Raw {
                    content_type,
                    bytes,
                } => request
                    .header(reqwest::header::CONTENT_TYPE, *content_type)
                    .body(bytes.clone()),
            };
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) if attempt < attempts && is_retryable(&e) => {
                    tokio::time::sleep(retry_pause(attempt)).await;
                    continue;
                }
                Err(e) => return Err(self.transport_error(&e)),
            };
            let status = response.status();
            if status.is_redirection() {
                let to = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("(no Location)");
                return Err(ClientError::Redirected {
                    base_url: self.base_url.clone(),
                    method: method.to_string(),
                    path: path.to_string(),
                    to: one_line(to, 200),
                });
            }
            let read = transport::read_capped(response, MAX_ANSWER_BYTES).await;
            let bytes = match read {
                Ok(bytes) => bytes,
                // The answer was cut off on the way: the request is sent again like one whose
                // connection failed (with the same key, the server replays what it did).
                Err(ReadError::Http(e)) if attempt < attempts && is_retryable(&e) => {
                    tokio::time::sleep(retry_pause(attempt)).await;
                    continue;
                }
                Err(ReadError::TooLarge) => {
                    return Err(ClientError::TooLarge {
                        base_url: self.base_url.clone(),
                        method: method.to_string(),
                        path: path.to_string(),
                        limit: MAX_ANSWER_BYTES,
                    });
                }
                Err(ReadError::Http(e)) => return Err(self.transport_error(&e)),
            };
            if attempt < attempts && worth_again(status, &bytes) {
                tokio::time::sleep(retry_pause(attempt)).await;
                continue;
            }
            break (status, bytes);
        };
        let text = String::from_utf8_lossy(&bytes);
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if status.is_success() {
            return Ok(Some(text.into_owned()));
        }
        Err(error_from_response(
            status.as_u16(),
            auth,
            &method,
            path,
            &text,
        ))
    }

    fn transport_error(&self, e: &reqwest::Error) -> ClientError {
        let base_url = self.base_url.clone();
        if e.is_connect() {
            // A connection made, then no TLS: an https:// address of a plain-HTTP server (or a
            // certificate this machine does not trust). Refused or unresolved: nobody there.
            let cause = root_cause(e);
            let lower = cause.to_ascii_lowercase();
            let nobody = [
                "refused",
                "dns",
                "resolve",
                "unreachable",
                "no route",
                "reset",
            ]
            .iter()
            .any(|w| lower.contains(w));
            if let Some(rest) = base_url.strip_prefix("https://").filter(|_| !nobody) {
                return ClientError::Tls {
                    plain: format!("http://{rest}"),
                    cause: one_line(&cause, 160),
                    base_url,
                };
            }
            ClientError::Unreachable { base_url }
        } else if e.is_timeout() {
            ClientError::Timeout { base_url }
        } else {
            ClientError::Transport {
                base_url,
                message: root_cause(e),
            }
        }
    }
}

/// Whether a request is sent again after a failure that says nothing about the request itself.
#[derive(Clone, Copy)]
pub(super) enum Retry {
    /// Up to [`RETRY_ATTEMPTS`] times in all, after a lost connection, a 5xx answer or a
    /// `409 idempotency_in_progress` (the first try is still running): every such request is
    /// either a read or a POST carrying its `Idempotency-Key`, which the server runs at most once
    /// (a 5xx is not stored, so the same key runs it again).
    Safe,
    Never,
}

pub(super) enum Body {
    None,
    Json(Vec<u8>),
    Raw {
        content_type: &'static str,
        bytes: Vec<u8>,
    },
}

impl Body {
    pub(super) fn json<T: Serialize + ?Sized>(value: &T) -> Body {
        // Serializing our own request types cannot fail.
        Body::Json(serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()))
    }
}

fn is_retryable(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_request() || e.is_timeout() || e.is_body()
}

/// An answer that says the server failed, not the request: a 5xx (never stored under the
/// request's key), or the key's first request still running.
fn worth_again(status: StatusCode, body: &[u8]) -> bool {
    if status.is_server_error() {
        return true;
    }
    status == StatusCode::CONFLICT
        && serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("code").and_then(Value::as_str).map(String::from))
            .is_some_and(|code| code == "idempotency_in_progress")
}

/// The pause before try `attempt + 1`: [`RETRY_FIRST_PAUSE`] doubled each time, with up to half
/// again of jitter, so that clients cut off together do not all come back at once.
fn retry_pause(attempt: u32) -> Duration {
    let base = RETRY_FIRST_PAUSE * 2u32.pow(attempt.saturating_sub(1).min(4));
    let jitter = base.mul_f64(rand::random::<f64>() / 2.0);
    base + jitter
}

pub(super) fn decode<T: DeserializeOwned>(
    method: &Method,
    path: &str,
    text: &str,
) -> Result<T, ClientError> {
    let text = if text.trim().is_empty() { "null" } else { text };
    serde_json::from_str(text).map_err(|e| ClientError::Decode {
        method: method.to_string(),
        path: path.to_string(),
        message: e.to_string(),
    })
}

/// The innermost cause of an error: the one that says what happened (`invalid peer
/// certificate: UnknownIssuer`), without the library's wrappers around it.
pub(super) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
