//! `GET /metrics`: what `metrics::render` renders, served to whoever holds the credentials.
//!
//! The scrape shows repository names, which may be private, so it needs the admin token as
//! `Authorization: Bearer …` or `X-Admin-Token`, or a separate scrape-only token when one is
//! configured (see [`MetricsAuth`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::config::AdminTokens;
use crate::domain::secret::Secret;
use crate::http::error::ApiError;
use crate::metrics::render;
use crate::store::Store;

/// Who may scrape: the admin token, and optionally a scrape-only token (so the scraper does not
/// hold admin rights).
#[derive(Clone)]
pub struct MetricsAuth {
    admin: AdminTokens,
    tokens: Arc<Vec<Secret>>,
}

impl MetricsAuth {
    pub fn new(admin_token: impl Into<AdminTokens>, metrics_token: Option<Secret>) -> MetricsAuth {
        let tokens = metrics_token
            .into_iter()
            .filter(|t| !t.expose().is_empty())
            .collect();
        MetricsAuth {
            admin: admin_token.into(),
            tokens: Arc::new(tokens),
        }
    }

    /// True when the request carries one of the tokens, as `Authorization: Bearer …` or
    /// `X-Admin-Token`. Compared in constant time.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let admin = headers.get("x-admin-token").and_then(|v| v.to_str().ok());
        // Every pair is compared (no early return), so the time says nothing of which matched.
        let mut ok = false;
        for s in bearer.into_iter().chain(admin) {
            ok |= self.admin.matches(s);
            for t in self.tokens.iter() {
                ok |= t.matches(s);
            }
        }
        ok
    }
}

#[derive(Clone)]
struct MetricsState {
    store: Store,
    auth: MetricsAuth,
}

/// `GET /metrics`, ready to be merged into the service's router.
pub fn router<S>(store: Store, auth: MetricsAuth) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(MetricsState { store, auth })
}

/// The service's figures in Prometheus' text format (`text/plain; version=0.0.4`), among them
/// each repository's `owp_repo_acceptance_ratio` and `owp_repo_lead_time_seconds`. It names
/// repositories, which may be private: it needs the admin token (`X-Admin-Token` or
/// `Authorization: Bearer …`) or the scrape-only token. Not part of any profile of the protocol.
#[utoipa::path(get, path = "/metrics", tag = "health", security(("admin_token" = [])),
    responses((status = 200, content_type = "text/plain", body = String,
               description = "Prometheus text exposition format 0.0.4")))]
async fn scrape(State(state): State<MetricsState>, headers: HeaderMap) -> Response {
    if !state.auth.allows(&headers) {
        let mut resp = ApiError::unauthorized(
            "scraping /metrics needs the admin token (or the metrics token) as `Authorization: Bearer …`",
        )
        .into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"owp-metrics\""),
        );
        return resp;
    }
    match render(&state.store).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics scrape failed");
            ApiError::internal().into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_credentials() {
        let auth = MetricsAuth::new(Secret::new("admin-1"), Some(Secret::new("scrape-2")));
        let with = |name: &str, value: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
            h
        };
        assert!(auth.allows(&with("authorization", "Bearer admin-1")));
        assert!(auth.allows(&with("authorization", "Bearer scrape-2")));
        assert!(auth.allows(&with("x-admin-token", "admin-1")));
        assert!(!auth.allows(&with("authorization", "Bearer admin-")));
        assert!(!auth.allows(&with("authorization", "Basic admin-1")));
        assert!(!auth.allows(&HeaderMap::new()));
        let no_extra = MetricsAuth::new(Secret::new("admin-1"), Some(Secret::new("")));
        assert!(!no_extra.allows(&with("authorization", "Bearer ")));
    }
}
