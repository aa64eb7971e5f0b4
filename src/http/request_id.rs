//! `X-Request-Id`: every request has an id, echoed in its answer and named on every log line
//! written while it is served (the request's tracing span also names its method and route), so
//! that an answer a person reports, a 500 among them, leads to its log lines.
//!
//! The id a client (or a proxy in front) sends is kept when it is sane: 1 to [`MAX_LEN`]
//! characters of letters, digits and `-_.:`; anything else (too long, spaces, control
//! characters that could forge log lines) is replaced by an id of the server's own.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The header, in requests and answers.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The longest id taken from a request.
pub const MAX_LEN: usize = 64;

/// The request's id, in its extensions.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The outermost layer: gives the request its id and echoes it in the answer.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, value);
    }
    res
}

/// Whether a client's id may be kept as it is.
fn sane(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// The span every log line of a request is written in: its id, method, route (the matched
/// pattern, such as `/v1/leases/{lease_id}/ack`) and path (never the query, which may hold a
/// sign-in's code or state).
pub fn span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let id = req
        .extensions()
        .get::<RequestId>()
        .map_or("", |r| r.0.as_str());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route = %route,
        path = %req.uri().path()
    )
}

#[cfg(test)]
mod tests {
    use super::sane;

    #[test]
    fn only_short_plain_ids_are_kept() {
        assert!(sane("3f2a-19:web.1_x"));
        assert!(sane(&"a".repeat(64)));
        assert!(!sane(&"a".repeat(65)));
        assert!(!sane(""));
        assert!(!sane("a b"));
        assert!(!sane("a\nlevel=error"));
        assert!(!sane("ü"));
    }
}
