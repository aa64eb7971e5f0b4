//! Browser sign-in sessions (the dashboard's, and GitHub sign-in's) and their CSRF tokens.
//!
//! Signing in with the admin token (or with GitHub, see `http::signin`) creates a server-side
//! session: the browser keeps only a random 256-bit session id in the `owp_session` cookie
//! (HttpOnly; SameSite=Strict for the admin, Lax for a maintainer who comes back from GitHub),
//! never a token. The database keeps a digest of that id with the session's expiry and its own
//! random CSRF token, which the dashboard page carries in a `<meta>` tag and sends back as
//! `X-CSRF-Token` on every write. Every replica sharing the database knows every session, and
//! signing out ends it everywhere at once.
//!
//! Wrong tokens are counted per client address with the API's wrong credentials
//! ([`AuthFailures`]): a stranger's guesses make only the stranger's address wait.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;

use super::principal::{self, CSRF_HEADER as CSRF, digest, random_hex};
use super::rate_limits::AuthFailures;
use crate::config::AdminTokens;
#[cfg(test)]
use crate::domain::secret::Secret;
use crate::store::signin::{NewSession as NewRow, SessionKind, SessionRow};
use crate::store::{Store, StoreError};

pub use super::principal::{COOKIE_NAME, CSRF_HEADER, session_cookie};

/// How long a session opened with the admin token lives.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// How long a maintainer's session (signed in with GitHub) lives: at most 8 hours.
pub const MAINTAINER_SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);
/// Wrong sign-ins a minute from one address before that address must wait (when the sessions
/// do not share the API's count, see [`Sessions::with_failures`]).
pub const MAX_FAILURES_PER_MINUTE: u32 = 10;

/// The dashboard's sessions, kept in the database. Cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

struct Inner {
    admin_token: AdminTokens,
    ttl: Duration,
    failures: Arc<AuthFailures>,
    store: Store,
    /// The service's public URL is https: every cookie is `Secure`, whatever the request says.
    public_https: std::sync::atomic::AtomicBool,
}

/// A session just created.
#[derive(Debug)]
pub struct NewSession {
    /// The cookie value.
    pub id: String,
    pub csrf: String,
}

/// Why a sign-in was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SignInError {
    /// The token is not the admin token (or no admin token is configured).
    WrongToken,
    /// Too many wrong tokens lately; try again after this long.
    TooManyAttempts { retry_after: Duration },
    /// The database could not keep the session.
    Unavailable,
}

impl Sessions {
    pub fn new(admin_token: impl Into<AdminTokens>, store: Store) -> Sessions {
        Sessions::with_ttl(admin_token, store, SESSION_TTL)
    }

    pub fn with_ttl(admin_token: impl Into<AdminTokens>, store: Store, ttl: Duration) -> Sessions {
        Sessions::build(
            admin_token,
            store,
            ttl,
            Arc::new(AuthFailures::new(MAX_FAILURES_PER_MINUTE)),
        )
    }

    /// Sessions whose wrong sign-ins count with the API's wrong credentials (`failures`).
    pub fn with_failures(
        admin_token: impl Into<AdminTokens>,
        store: Store,
        failures: Arc<AuthFailures>,
    ) -> Sessions {
        Sessions::build(admin_token, store, SESSION_TTL, failures)
    }

    fn build(
        admin_token: impl Into<AdminTokens>,
        store: Store,
        ttl: Duration,
        failures: Arc<AuthFailures>,
    ) -> Sessions {
        Sessions {
            inner: Arc::new(Inner {
                admin_token: admin_token.into(),
                ttl,
                failures,
                store,
                public_https: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// The service's public URL (`OWP_PUBLIC_URL`): when it is https, cookies are `Secure`.
    pub fn set_public_url(&self, url: Option<&str>) {
        let https = url.is_some_and(|u| u.trim().to_ascii_lowercase().starts_with("https://"));
        self.inner
            .public_https
            .store(https, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether this request's cookies must be `Secure`: the public URL is https, or the request
    /// came over https (directly or through a proxy that says so).
    pub fn secure_cookies(&self, headers: &HeaderMap) -> bool {
        self.inner
            .public_https
            .load(std::sync::atomic::Ordering::Relaxed)
            || is_https(headers)
    }

    /// The count of wrong credentials these sessions share.
    pub fn failures(&self) -> Arc<AuthFailures> {
        Arc::clone(&self.inner.failures)
    }

    /// Checks `token` from `client` against the admin token (in constant time) and opens a
    /// session. An address past its rate of wrong tokens waits for its wrong ones (each counted
    /// again); the right token is never refused for someone else's wrong tries.
    pub async fn sign_in(&self, token: &str, client: IpAddr) -> Result<NewSession, SignInError> {
        if !self.inner.admin_token.matches(token) {
            let waiting = self.inner.failures.must_wait(client);
            self.inner.failures.record(client);
            return Err(match waiting {
                Some(retry_after) => SignInError::TooManyAttempts {
                    retry_after: retry_after.max(Duration::from_secs(1)),
                },
                None => SignInError::WrongToken,
            });
        }
        self.open(SessionKind::Admin, None, None, self.inner.ttl)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot keep a dashboard session");
                SignInError::Unavailable
            })
    }

    /// Opens a session of `kind` (a maintainer's names its GitHub login) that lives `ttl`.
    pub async fn open(
        &self,
        kind: SessionKind,
        login: Option<&str>,
        github_id: Option<i64>,
        ttl: Duration,
    ) -> Result<NewSession, StoreError> {
        let id = random_hex();
        let csrf = random_hex();
        self.inner
            .store
            .signin()
            .session_create(&NewRow {
                digest: &digest(&id),
                kind,
                login,
                github_id,
                csrf: Some(&csrf),
                ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            })
            .await?;
        Ok(NewSession { id, csrf })
    }

    /// The live session of the request's cookie (the admin's or a maintainer's).
    pub async fn session(&self, headers: &HeaderMap) -> Option<SessionRow> {
        match principal::cookie_session(&self.inner.store, headers).await {
            Ok(found) => found.map(|(_, row)| row),
            Err(e) => {
                tracing::warn!(detail = %e.detail, "cannot read a dashboard session");
                None
            }
        }
    }

    /// True when the request carries the cookie of a live session.
    pub async fn is_signed_in(&self, headers: &HeaderMap) -> bool {
        self.session(headers).await.is_some()
    }

    /// True when the request carries the cookie of a live session *and* that session's CSRF token
    /// in the `X-CSRF-Token` header.
    pub async fn csrf_ok(&self, headers: &HeaderMap) -> bool {
        let sent = headers
            .get(CSRF)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        self.csrf_matches(headers, &sent).await
    }

    /// Like [`Sessions::csrf_ok`] with the token taken from elsewhere (a form field).
    pub async fn csrf_matches(&self, headers: &HeaderMap, sent: &str) -> bool {
        match self.session(headers).await {
            Some(row) => principal::csrf_matches(&row, sent),
            None => false,
        }
    }

    /// The CSRF token of the request's live session, if it has one.
    pub async fn csrf_token(&self, headers: &HeaderMap) -> Option<String> {
        self.session(headers).await.and_then(|r| r.csrf)
    }

    /// Ends the request's session, if any.
    pub async fn sign_out(&self, headers: &HeaderMap) {
        if let Some(id) = session_cookie(headers)
            && let Err(e) = self.inner.store.signin().session_end(&digest(id)).await
        {
            tracing::warn!(error = %e, "cannot end a dashboard session");
        }
    }

    /// Number of live sessions (for tests and metrics).
    pub async fn live(&self) -> usize {
        self.inner.store.signin().live_sessions().await.unwrap_or(0)
    }
}

/// The `Set-Cookie` value that stores a session id (`SameSite=Strict`).
pub fn set_cookie(id: &str, secure: bool, ttl: Duration) -> String {
    cookie_with(id, "Strict", secure, ttl)
}

/// The `Set-Cookie` value of a session opened on the way back from GitHub: `SameSite=Lax`, so
/// that the browser sends it on the redirect chain that started on GitHub's page.
pub fn set_lax_cookie(id: &str, secure: bool, ttl: Duration) -> String {
    cookie_with(id, "Lax", secure, ttl)
}

fn cookie_with(id: &str, same_site: &str, secure: bool, ttl: Duration) -> String {
    format!(
        "{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={}{}",
        ttl.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// True when the request was sent over HTTPS (directly or through a proxy that says so).
pub fn is_https(headers: &HeaderMap) -> bool {
    static FORWARDED_PROTO: axum::http::HeaderName =
        axum::http::HeaderName::from_static("x-forwarded-proto");
    headers
        .get(&FORWARDED_PROTO)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("https")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderValue, header};

    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
        let store = Store::open(&url, crate::store::Timing::default())
            .await
            .unwrap();
        (dir, store)
    }

    async fn sessions() -> (tempfile::TempDir, Sessions) {
        let (dir, store) = store().await;
        (dir, Sessions::new(Secret::new("s3cret-admin-token"), store))
    }

    fn with_cookie(id: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("theme=dark; {COOKIE_NAME}={id}; other=1")).unwrap(),
        );
        h
    }

    #[tokio::test]
    async fn wrong_token_opens_no_session() {
        let (_dir, s) = sessions().await;
        assert_eq!(
            s.sign_in("nope", HERE).await.unwrap_err(),
            SignInError::WrongToken
        );
        assert_eq!(
            s.sign_in("", HERE).await.unwrap_err(),
            SignInError::WrongToken
        );
        assert_eq!(
            s.sign_in("s3cret-admin-token ", HERE).await.unwrap_err(),
            SignInError::WrongToken
        );
        assert_eq!(s.live().await, 0);
    }

    #[tokio::test]
    async fn empty_admin_token_never_signs_in() {
        let (_dir, store) = store().await;
        let s = Sessions::new(Secret::new(""), store);
        assert_eq!(
            s.sign_in("", HERE).await.unwrap_err(),
            SignInError::WrongToken
        );
    }

    #[tokio::test]
    async fn right_token_opens_a_session_that_the_cookie_proves() {
        let (_dir, s) = sessions().await;
        let new = s.sign_in("s3cret-admin-token", HERE).await.unwrap();
        assert_eq!(new.id.len(), 64);
        assert_ne!(new.id, new.csrf);
        assert!(s.is_signed_in(&with_cookie(&new.id)).await);
        assert_eq!(
            s.csrf_token(&with_cookie(&new.id)).await,
            Some(new.csrf.clone())
        );
        assert!(!s.is_signed_in(&with_cookie(&"a".repeat(64))).await);
        assert!(!s.is_signed_in(&HeaderMap::new()).await);
        let second = s.sign_in("s3cret-admin-token", HERE).await.unwrap();
        assert_ne!(second.id, new.id);
        assert_ne!(second.csrf, new.csrf);
        assert_eq!(s.live().await, 2);
    }

    #[tokio::test]
    async fn a_second_replica_knows_the_session() {
        let (dir, s) = sessions().await;
        let new = s.sign_in("s3cret-admin-token", HERE).await.unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
        let other = Store::open(&url, crate::store::Timing::default())
            .await
            .unwrap();
        let replica = Sessions::new(Secret::new("s3cret-admin-token"), other);
        assert!(replica.is_signed_in(&with_cookie(&new.id)).await);
        replica.sign_out(&with_cookie(&new.id)).await;
        assert!(
            !s.is_signed_in(&with_cookie(&new.id)).await,
            "ended everywhere"
        );
    }

    #[tokio::test]
    async fn csrf_must_match_the_session() {
        let (_dir, s) = sessions().await;
        let a = s.sign_in("s3cret-admin-token", HERE).await.unwrap();
        let b = s.sign_in("s3cret-admin-token", HERE).await.unwrap();
        let mut h = with_cookie(&a.id);
        assert!(!s.csrf_ok(&h).await, "no header");
        h.insert(CSRF_HEADER, HeaderValue::from_str(&b.csrf).unwrap());
        assert!(!s.csrf_ok(&h).await, "another session's token");
        h.insert(CSRF_HEADER, HeaderValue::from_static(""));
        assert!(!s.csrf_ok(&h).await, "empty token");
        h.insert(CSRF_HEADER, HeaderValue::from_str(&a.csrf).unwrap());
        assert!(s.csrf_ok(&h).await);
        let mut only_header = HeaderMap::new();
        only_header.insert(CSRF_HEADER, HeaderValue::from_str(&a.csrf).unwrap());
        assert!(!s.csrf_ok(&only_header).await);
    }

    #[tokio::test]
    async fn sign_out_forgets_the_session() {
        let (_dir, s) = sessions().await;
        let a = s.sign_in("s3cret-admin-token", HERE).await.unwrap();
        let b = s.sign_in("s3cret-admin-token", HERE).await.unwrap();
        s.sign_out(&with_cookie(&a.id)).await;
        assert!(!s.is_signed_in(&with_cookie(&a.id)).await);
        assert!(
            s.is_signed_in(&with_cookie(&b.id)).await,
            "other sessions stay"
        );
    }

    #[tokio::test]
    async fn sessions_expire() {
        let (_dir, store) = store().await;
        let s = Sessions::with_ttl(Secret::new("t"), store, Duration::from_millis(300));
        let a = s.sign_in("t", HERE).await.unwrap();
        let h = with_cookie(&a.id);
        assert!(s.csrf_token(&h).await.is_some());
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(s.csrf_token(&h).await.is_none());
    }

    #[tokio::test]
    async fn repeated_failures_hold_only_their_address() {
        let (_dir, s) = sessions().await;
        let stranger: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..=MAX_FAILURES_PER_MINUTE {
            assert_eq!(
                s.sign_in("guess", stranger).await.unwrap_err(),
                SignInError::WrongToken
            );
        }
        // The right token is never refused for the guesses of its address; another guess is.
        assert!(s.sign_in("s3cret-admin-token", stranger).await.is_ok());
        match s.sign_in("guess", stranger).await {
            Err(SignInError::TooManyAttempts { retry_after }) => {
                assert!(
                    retry_after >= Duration::from_secs(1) && retry_after <= Duration::from_secs(60)
                );
            }
            other => panic!("expected throttling, got {other:?}"),
        }
        assert!(s.sign_in("s3cret-admin-token", HERE).await.is_ok());
    }

    #[test]
    fn cookie_parsing_is_strict() {
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(session_cookie(&with_cookie(&id)), Some(id.as_str()));
        assert_eq!(session_cookie(&with_cookie("short")), None);
        assert_eq!(session_cookie(&with_cookie(&"z".repeat(64))), None);
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("xowp_session=1"));
        assert_eq!(session_cookie(&h), None);
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1"));
        h.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("{COOKIE_NAME}={id}")).unwrap(),
        );
        assert_eq!(session_cookie(&h), Some(id.as_str()));
    }

    #[test]
    fn cookies_are_http_only_and_strict_or_lax() {
        let c = set_cookie("abc", false, SESSION_TTL);
        assert!(c.starts_with("owp_session=abc;"));
        for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
            assert!(c.contains(part), "{c} lacks {part}");
        }
        assert!(!c.contains("Secure"));
        assert!(set_cookie("abc", true, SESSION_TTL).ends_with("; Secure"));
        let lax = set_lax_cookie("abc", true, MAINTAINER_SESSION_TTL);
        for part in ["HttpOnly", "SameSite=Lax", "Max-Age=28800", "Secure"] {
            assert!(lax.contains(part), "{lax} lacks {part}");
        }
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }
}
