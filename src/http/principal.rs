//! Who is asking on the `/v1/admin/…` routes: the operator (the admin token, or a dashboard
//! session opened with it) or a maintainer who signed in with GitHub (a web session or an
//! `owpm_…` token), limited to the repositories GitHub says they maintain.
//!
//! What a maintainer maintains is asked of GitHub by the GitHub App ([`RepoAccess`], which the
//! App provides when sign-in is on); this module only knows the answer's shape.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use crate::config::AdminTokens;
use crate::store::Store;
use crate::store::signin::{SessionKind, SessionRow};

/// A maintainer's access to a repository, as GitHub names it: `admin`, `maintain` or `write`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoGrant {
    pub repo: String,
    pub permission: String,
}

/// What GitHub says a person may do, read with the App's installation tokens (and cached in the
/// database for at most five minutes).
pub trait RepoAccess: Send + Sync {
    /// The permission `login` has on `repo` when it makes them a maintainer (`admin`,
    /// `maintain` or `write`), `None` otherwise, and for every repository that is not one of
    /// the App's installations.
    fn permission<'a>(
        &'a self,
        login: &'a str,
        repo: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, ApiError>>;

    /// Every repository of the pool that `login` maintains.
    fn repos<'a>(&'a self, login: &'a str) -> BoxFuture<'a, Result<Vec<RepoGrant>, ApiError>>;
}

/// Every maintainer token starts with this.
pub const TOKEN_PREFIX: &str = "owpm_";
/// Name of the session cookie (the admin's dashboard session and a maintainer's alike).
pub const COOKIE_NAME: &str = "owp_session";
/// Header that carries the CSRF token on cookie-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Who is asking on an admin route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The operator: the admin token, or a dashboard session opened with it.
    Admin,
    /// A person signed in with GitHub.
    Maintainer(Maintainer),
}

/// A person signed in with GitHub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Maintainer {
    pub login: String,
    pub github_id: Option<i64>,
    /// `Web` (a dashboard session) or `Token` (`owpm_…`).
    pub kind: SessionKind,
    /// The digest of the session id or token (what `POST /v1/auth/logout` ends).
    pub digest: String,
    pub expires_at: i64,
}

impl Principal {
    /// The `actor` of the events this person's changes write: `admin` or `github:LOGIN`.
    pub fn actor(&self) -> String {
        match self {
            Principal::Admin => "admin".to_string(),
            Principal::Maintainer(m) => format!("github:{}", m.login),
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::Admin)
    }

    /// The operator only (worker trust, archives, repositories that are not GitHub's):
    /// `403 not_allowed` for a maintainer.
    pub fn operator_only(&self) -> Result<(), ApiError> {
        match self {
            Principal::Admin => Ok(()),
            Principal::Maintainer(_) => Err(ApiError::forbidden(
                "not_allowed",
                "only the operator (the admin token) may do this",
            )),
        }
    }

    /// May this person act on `repo`? The admin may act on any; a maintainer only on a
    /// repository GitHub says they maintain. Any other repository (whether or not it exists)
    /// is `403 not_maintainer`; a name that is not `owner/name` is an operator's repository,
    /// `403 not_allowed`.
    pub async fn may_steer(&self, state: &AppState, repo: &str) -> Result<(), ApiError> {
        let Principal::Maintainer(m) = self else {
            return Ok(());
        };
        if !is_github_name(repo) {
            return self.operator_only();
        }
        let granted = match &state.signin {
            Some(access) => access.permission(&m.login, repo).await?,
            None => None,
        };
        match granted {
            Some(_) => Ok(()),
            None => Err(not_maintainer()),
        }
    }

    /// The GitHub repository named by a maintainer's query (`?repo=owner/name`), once this
    /// person may steer it ([`Principal::may_steer`]): missing or not `owner/name` is
    /// `422 invalid_repo`.
    pub async fn steerable_repo<'q>(
        &self,
        state: &AppState,
        repo: Option<&'q str>,
    ) -> Result<&'q str, ApiError> {
        let repo = repo.unwrap_or_default().trim();
        if !is_github_name(repo) {
            return Err(ApiError::invalid(
                "invalid_repo",
                "`repo` must be a GitHub repository, `owner/name`",
            ));
        }
        self.may_steer(state, repo).await?;
        Ok(repo)
    }

    /// The repositories this person may see: `None` for all (the admin).
    pub async fn visible_repos(
        &self,
        state: &AppState,
    ) -> Result<Option<std::collections::HashSet<String>>, ApiError> {
        match self {
            Principal::Admin => Ok(None),
            Principal::Maintainer(m) => {
                let repos = match &state.signin {
                    Some(access) => access.repos(&m.login).await?,
                    None => Vec::new(),
                };
                Ok(Some(repos.into_iter().map(|g| g.repo).collect()))
            }
        }
    }
}

/// `403 not_maintainer`: the same answer for a repository that exists and one that does not.
pub fn not_maintainer() -> ApiError {
    ApiError::forbidden(
        "not_maintainer",
        "you do not maintain this repository (GitHub grants you neither admin, maintain nor \
         write on it, or it is not one of this pool's)",
    )
}

/// Whether `repo` is written as a GitHub repository is (`owner/name`).
pub fn is_github_name(repo: &str) -> bool {
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    matches!(repo.split_once('/'), Some((o, n)) if ok(o) && ok(n))
}

/// The SHA-256 of a secret, in hex: how sessions, tokens, states and device codes are stored.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new random secret: 256 bits in hex.
pub fn random_hex() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The values of the cookies named `name` the request carries, in order, unquoted.
pub fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(n, _)| *n == name)
        .map(|(_, value)| value.trim_matches('"'))
}

/// Whether a cookie's value has the shape of the ids this service gives (64 hex digits).
pub fn is_random_id(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The session cookie's value, if the request has a well-formed one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie_values(headers, COOKIE_NAME)
        .next()
        .filter(|v| is_random_id(v))
}

/// The live session of the request's cookie, if any (whatever the method).
pub async fn cookie_session(
    store: &Store,
    headers: &HeaderMap,
) -> Result<Option<(String, SessionRow)>, ApiError> {
    let Some(id) = session_cookie(headers) else {
        return Ok(None);
    };
    let key = digest(id);
    let row = store.signin().session(&key).await?;
    Ok(row
        .filter(|r| r.kind != SessionKind::Token)
        .map(|r| (key, r)))
}

/// Whether `sent` is the session's CSRF token (compared in constant time; empty never is).
pub fn csrf_matches(row: &SessionRow, sent: &str) -> bool {
    match &row.csrf {
        Some(expected) => {
            !sent.is_empty() && bool::from(expected.as_bytes().ct_eq(sent.as_bytes()))
        }
        None => false,
    }
}

/// A cookie session proves who asks on reads (`GET`, `HEAD`); any other method also needs the
/// session's CSRF token in `X-CSRF-Token`.
fn cookie_proves(method: &Method, headers: &HeaderMap, row: &SessionRow) -> bool {
    if method == Method::GET || method == Method::HEAD {
        return true;
    }
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    csrf_matches(row, sent)
}

fn maintainer_of(digest: String, row: SessionRow) -> Option<Principal> {
    match row.kind {
        SessionKind::Admin => Some(Principal::Admin),
        SessionKind::Web | SessionKind::Token => Some(Principal::Maintainer(Maintainer {
            login: row.login?,
            github_id: row.github_id,
            kind: row.kind,
            digest,
            expires_at: row.expires_at,
        })),
    }
}

/// Who the request's credentials name: the admin token (`X-Admin-Token`), a maintainer token
/// (`Authorization: Bearer owpm_…`) or a session cookie (with the CSRF token on writes).
/// `Ok(None)` when it presents none of them (a worker's token is not looked at here); `401`
/// for a wrong admin token or a maintainer token that is unknown, expired or revoked.
pub async fn principal_of(
    method: &Method,
    headers: &HeaderMap,
    store: &Store,
    admin_token: &AdminTokens,
) -> Result<Option<Principal>, ApiError> {
    if let Some(token) = headers.get("x-admin-token").and_then(|v| v.to_str().ok()) {
        return if admin_token.matches(token) {
            Ok(Some(Principal::Admin))
        } else {
            Err(ApiError::unauthorized("the admin token is wrong"))
        };
    }
    let bearer_token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    if let Some(token) = bearer_token.filter(|t| t.starts_with(TOKEN_PREFIX)) {
        let key = digest(token);
        let row = store
            .signin()
            .session(&key)
            .await?
            .filter(|r| r.kind == SessionKind::Token);
        return match row.and_then(|r| maintainer_of(key, r)) {
            Some(p) => Ok(Some(p)),
            None => Err(ApiError::unauthorized(
                "the maintainer token is not valid (expired, revoked or signed out): run \
                 `owp login` again",
            )),
        };
    }
    match cookie_session(store, headers).await? {
        Some((key, row)) if cookie_proves(method, headers, &row) => Ok(maintainer_of(key, row)),
        _ => Ok(None),
    }
}

/// The credentials of a request, read once and kept on it (the rate limits read them first).
#[derive(Clone)]
pub struct Resolved(pub Option<Principal>);

/// [`principal_of`] for a request, read once: kept in the request's extensions.
pub async fn principal(parts: &mut Parts, state: &AppState) -> Result<Option<Principal>, ApiError> {
    if let Some(Resolved(p)) = parts.extensions.get::<Resolved>() {
        return Ok(p.clone());
    }
    let p = principal_of(
        &parts.method,
        &parts.headers,
        &state.store,
        &state.admin_token,
    )
    .await?;
    parts.extensions.insert(Resolved(p.clone()));
    Ok(p)
}

/// The admin or a signed-in maintainer: what every `/v1/admin/…` route accepts.
impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match principal(parts, state).await? {
            Some(p) => Ok(p),
            None if parts.headers.contains_key(header::AUTHORIZATION) => {
                Err(ApiError::unauthorized(
                    "this endpoint needs the admin token (X-Admin-Token) or a maintainer's \
                 credentials; a worker token is not enough",
                ))
            }
            None => Err(ApiError::unauthorized(
                "this endpoint needs the admin token in the X-Admin-Token header, or a \
                 maintainer signed in with GitHub (`owp login`)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_names() {
        assert!(is_github_name("octo-org/repo.js"));
        assert!(!is_github_name("local-pool"));
        assert!(!is_github_name("a/b/c"));
        assert!(!is_github_name("/b"));
        assert!(!is_github_name("a/"));
    }

    #[test]
    fn actors_name_the_person() {
        let m = Principal::Maintainer(Maintainer {
            login: "octocat".into(),
            github_id: Some(1),
            kind: SessionKind::Token,
            digest: "d".into(),
            expires_at: 0,
        });
        assert_eq!(m.actor(), "github:octocat");
        assert_eq!(Principal::Admin.actor(), "admin");
        assert_eq!(m.operator_only().unwrap_err().code, "not_allowed");
    }
}
