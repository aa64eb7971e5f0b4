//! Request extractors: bodies (JSON or YAML, size-limited, `x_*` kept) and credentials.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::AppState;
use super::error::ApiError;
use super::principal::Principal;
use crate::domain::model::extension_fields;
use crate::store::rows::WorkerRow;

/// How often a held request (a long poll, an event stream) runs the authentication step that
/// admitted it again: a credential that ended (signed out, revoked, an archived worker, a lost
/// permission) ends what it holds within 5 seconds.
pub const RECHECK: std::time::Duration = std::time::Duration::from_secs(4);

/// The largest request body the OWP API accepts.
pub const BODY_LIMIT: usize = 1 << 20;

/// A request body: JSON, or YAML with `Content-Type: application/yaml`. Unknown fields are
/// ignored; `x_*` fields are kept in `extensions`. An empty body reads as `{}`.
pub struct Payload<T> {
    pub value: T,
    pub extensions: Map<String, Value>,
}

/// Reads a body up to [`BODY_LIMIT`] bytes.
pub async fn read_body(req: Request) -> Result<(Parts, axum::body::Bytes), ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| ApiError::too_large())?;
    Ok((parts, bytes))
}

/// Parses a body as a JSON object (from JSON or YAML).
pub fn parse_document(parts: &Parts, bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let value: Value = match content_type.as_str() {
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
            super::yaml::from_slice(bytes, super::yaml::MAX_EXPANDED_BYTES).map_err(|e| {
                if e.to_string().contains(super::yaml::TOO_LARGE) {
                    ApiError::new(
                        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!(
                            "the YAML body expands to more than {} MiB (aliases are followed)",
                            super::yaml::MAX_EXPANDED_BYTES >> 20
                        ),
                    )
                } else {
                    ApiError::bad_request(
                        "malformed_body",
                        format!("the body is not valid YAML: {e}"),
                    )
                }
            })?
        }
        // A missing type is read as JSON; any other type (`text/plain` included, which is
        // what a browser's form or a bare `fetch` sends) is not guessed at: 415.
        ct if ct == "application/json" || ct.ends_with("+json") || ct.is_empty() => {
            serde_json::from_slice(bytes).map_err(|e| {
                ApiError::bad_request("malformed_body", format!("the body is not valid JSON: {e}"))
            })?
        }
        other => {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!(
                    "unsupported content type `{other}`: send application/json or application/yaml"
                ),
            ));
        }
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "malformed_body",
            "the body must be a JSON object",
        ));
    }
    if has_nul(&value) {
        return Err(ApiError::invalid(
            "invalid_characters",
            "text must not contain NUL characters",
        ));
    }
    Ok(value)
}

/// Whether any string (or key) of a document holds a NUL character.
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Turns a parsed document into `T`; wrong types or missing fields are 422, naming the field
/// that holds the wrong value (`approval: unknown variant ...`).
pub fn typed<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let detail = if path.is_empty() || path == "." {
            format!("invalid request: {inner}")
        } else {
            format!("invalid request: `{path}`: {inner}")
        };
        ApiError::invalid(code_of_path(&path), detail)
    })
}

/// The code of a body that does not deserialize, by the field at fault: inside a repository's
/// `contract` (an unknown field, a value that is not a string, a `disclosure` other than
/// `required` or `optional`) it is `invalid_contract`, as every other fault of a contract is;
/// anywhere else `validation_failed`.
fn code_of_path(path: &str) -> &'static str {
    if path == "contract" || path.starts_with("contract.") {
        "invalid_contract"
    } else {
        "validation_failed"
    }
}

impl<S, T> FromRequest<S> for Payload<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        use axum::body::HttpBody;
        if req.body().size_hint().exact() == Some(0) {
            // No body (a heartbeat's, most often): read as `{}` without reading or parsing.
            return Ok(Payload {
                value: typed(Value::Object(Map::new()))?,
                extensions: Map::new(),
            });
        }
        let (parts, bytes) = read_body(req).await?;
        let doc = parse_document(&parts, &bytes)?;
        let extensions = extension_fields(&doc);
        crate::domain::limits::extensions("", &extensions)?;
        Ok(Payload {
            value: typed(doc)?,
            extensions,
        })
    }
}

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    bearer_of(&parts.headers)
}

/// The bearer token of a request's headers, if any.
pub fn bearer_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Whether the request carries admin credentials: the `X-Admin-Token` header, or a dashboard
/// session opened with it (cookie plus CSRF token for writes). A maintainer is not the admin.
pub async fn is_admin(parts: &mut Parts, state: &AppState) -> bool {
    matches!(
        super::principal::principal(parts, state).await,
        Ok(Some(Principal::Admin))
    )
}

/// An admin request (the operator's routes: a maintainer is refused with `403 not_allowed`).
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state).await?;
        principal.operator_only()?;
        Ok(Admin)
    }
}

/// A request of a registered worker (`Authorization: Bearer <token>`).
pub struct WorkerAuth(pub WorkerRow);

impl FromRequestParts<AppState> for WorkerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        worker_of(state, &parts.headers).await.map(WorkerAuth)
    }
}

/// The one authentication step of a worker: the worker the request's bearer token belongs to
/// (an archived worker's never does), marked online (see [`crate::store::workers::Workers::contact`]). A
/// long poll runs it again while it waits.
pub async fn worker_of(state: &AppState, headers: &HeaderMap) -> Result<WorkerRow, ApiError> {
    let Some(token) = bearer_of(headers) else {
        return Err(ApiError::unauthorized(
            "this endpoint needs a worker token: `Authorization: Bearer <token>`",
        ));
    };
    match state.store.workers().authenticate(token).await? {
        Some(worker) => Ok(worker),
        None => Err(ApiError::unauthorized(
            "the worker token is not valid (register again to get a new one)",
        )),
    }
}

/// The admin, a signed-in maintainer, or a worker.
pub enum Caller {
    /// The admin or a maintainer (see [`Principal`]).
    Person(Principal),
    Worker(Box<WorkerRow>),
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(p) = super::principal::principal(parts, state).await? {
            return Ok(Caller::Person(p));
        }
        if bearer(parts).is_some() {
            let WorkerAuth(w) = WorkerAuth::from_request_parts(parts, state).await?;
            return Ok(Caller::Worker(Box::new(w)));
        }
        Err(ApiError::unauthorized(
            "this endpoint needs the admin token, a maintainer's credentials or a worker token",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(ct: Option<&str>) -> Parts {
        let mut b = axum::http::Request::builder();
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn documents_parse_from_json_and_yaml() {
        let v = parse_document(&parts(None), br#"{"a": 1}"#).unwrap();
        assert_eq!(v["a"], 1);
        let v = parse_document(&parts(Some("application/yaml")), b"a: 1\nb: [x]").unwrap();
        assert_eq!(v["b"][0], "x");
        let v = parse_document(&parts(None), b"  ").unwrap();
        assert!(v.as_object().unwrap().is_empty());
        let e = parse_document(&parts(None), b"{nope").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "malformed_body"));
        let e = parse_document(&parts(None), b"[1]").unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        let e = parse_document(&parts(Some("application/xml")), b"<a/>").unwrap_err();
        assert_eq!(e.status.as_u16(), 415);
        let e = parse_document(&parts(Some("text/plain")), br#"{"a": 1}"#).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (415, "unsupported_media_type"));
        let e = parse_document(&parts(Some("text/plain; charset=utf-8")), b"{}").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (415, "unsupported_media_type"));
        let v = parse_document(&parts(Some("application/merge-patch+json")), br#"{"a": 1}"#);
        assert_eq!(v.unwrap()["a"], 1);
    }

    #[test]
    fn a_contract_that_does_not_deserialize_is_invalid_contract() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Body {
            n: Option<i64>,
            contract: Option<crate::domain::contract::RepoContract>,
        }
        for (doc, code) in [
            (
                serde_json::json!({"contract": {"disclosure": "maybe"}}),
                "invalid_contract",
            ),
            (
                serde_json::json!({"contract": {"tests": "cargo test"}}),
                "invalid_contract",
            ),
            (
                serde_json::json!({"contract": {"test": 3}}),
                "invalid_contract",
            ),
            (serde_json::json!({"n": "three"}), "validation_failed"),
        ] {
            let e = typed::<Body>(doc.clone()).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (422, code), "{doc}");
        }
    }
}
