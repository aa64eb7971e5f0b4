//! RFC 9457 problem+json errors with a stable machine-readable `code`.
//!
//! Internal errors are logged with their detail and answered with a generic 500: internal text
//! never reaches a client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`https://owp.dev/problems/<code>`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable snake_case code, e.g. `capacity_exceeded`, `invalid_transition`.
    pub code: String,
}

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// `Retry-After` (whole seconds) of a `429`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            retry_after: None,
        }
    }
    /// `429 rate_limited` with `Retry-After` (whole seconds, at least 1); `detail` says what was
    /// limited, and the answer when to ask again.
    pub fn rate_limited(wait: std::time::Duration, detail: &str) -> Self {
        let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        ApiError {
            retry_after: Some(secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("{detail}; retry in {secs} s"),
            )
        }
    }
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than 1 MiB",
        )
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server failed to process this request; it has been logged",
        )
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("https://owp.dev/problems/{}", self.code.replace('_', "-")),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut res = (self.status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        // Every 503 is a refusal for now (GitHub or the database did not answer): say when to
        // ask again.
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<crate::domain::limits::OutOfBounds> for ApiError {
    fn from(e: crate::domain::limits::OutOfBounds) -> Self {
        ApiError::invalid(e.code, e.detail)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { code, detail } => ApiError::not_found(code, detail),
            StoreError::Conflict { code, detail } => ApiError::conflict(code, detail),
            StoreError::Forbidden { code, detail } => ApiError::forbidden(code, detail),
            StoreError::Invalid { code, detail } => ApiError::invalid(code, detail),
            StoreError::Gone { code, detail } => ApiError::new(StatusCode::GONE, code, detail),
            StoreError::Refused(refusals) => match refusals.first() {
                Some(first) => ApiError::conflict(first.code(), first.to_string()),
                None => ApiError::conflict("task_not_ready", "the task cannot be claimed now"),
            },
            StoreError::StorageFull => {
                tracing::error!("the database storage is full");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_full",
                    "the service's storage is full; nothing was changed, retry later",
                )
            }
            other if other.is_connection_lost() || matches!(other, StoreError::CommitLost(_)) => {
                tracing::warn!(error = %other, "database connection lost");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_busy",
                    "the connection to the database was lost; retry shortly (with the same \
                     Idempotency-Key: an answer of 5xx is never stored under it)",
                )
            }
            other if other.is_retryable() => {
                tracing::warn!(error = %other, "database busy");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_busy",
                    "the database is busy; retry shortly",
                )
            }
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::internal()
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn problem_json_shape() {
        let res = ApiError::invalid("missing_pr_url", "needs a PR").into_response();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(res.into_body(), 10_000).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["status"], 422);
        assert_eq!(v["code"], "missing_pr_url");
        assert_eq!(v["detail"], "needs a PR");
        assert!(v["type"].as_str().unwrap().ends_with("missing-pr-url"));
        assert!(v["title"].is_string());
    }

    #[test]
    fn store_errors_keep_their_codes() {
        let e: ApiError = StoreError::conflict("lease_not_held", "gone").into();
        assert_eq!((e.status, e.code), (StatusCode::CONFLICT, "lease_not_held"));
        let e: ApiError = StoreError::Config("x".into()).into();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.detail.contains('x'));
    }

    #[test]
    fn a_full_disk_is_503_storage_full() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("database or disk is full".into()),
        );
        let e: ApiError = StoreError::from(full).into();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::SERVICE_UNAVAILABLE, "storage_full")
        );
    }
}
