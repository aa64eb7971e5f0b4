//! Dashboard sign-in sessions and their CSRF tokens.
//!
//! Signing in with the admin token creates a server-side session: the browser keeps only a random
//! 256-bit session id in the `owp_session` cookie (HttpOnly, SameSite=Strict), never the token.
//! The server keeps a digest of that id with the session's expiry and its own random CSRF token,
//! which the dashboard page carries in a `<meta>` tag and sends back as `X-CSRF-Token` on every
//! write. Signing out forgets the session at once. Sessions live in this process only: a restart
//! signs everybody out, which is the safe direction.
//!
//! Wrong tokens are counted per client address with the API's wrong credentials
//! ([`AuthFailures`]): a stranger's guesses make only the stranger's address wait.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, header};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Secret;
use crate::http::rate_limits::AuthFailures;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "owp_session";
/// Header that carries the CSRF token on cookie-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lives after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// Wrong sign-ins a minute from one address before that address must wait (when the sessions
/// do not share the API's count, see [`Sessions::with_failures`]).
pub const MAX_FAILURES_PER_MINUTE: u32 = 10;
/// At most this many live sessions; the oldest is dropped to make room.
const MAX_SESSIONS: usize = 1024;

/// The dashboard's sessions. Cheap to clone: clones share the same sessions.
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

struct Inner {
    admin_token: Secret,
    ttl: Duration,
    failures: Arc<AuthFailures>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Keyed by the SHA-256 of the session id, so the map never holds a usable cookie value.
    sessions: HashMap<[u8; 32], Session>,
}

struct Session {
    csrf: String,
    expires_at: Instant,
}

/// A session just created by [`Sessions::sign_in`].
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
}

impl Sessions {
    pub fn new(admin_token: Secret) -> Sessions {
        Sessions::with_ttl(admin_token, SESSION_TTL)
    }

    pub fn with_ttl(admin_token: Secret, ttl: Duration) -> Sessions {
        Sessions::build(
            admin_token,
            ttl,
            Arc::new(AuthFailures::new(MAX_FAILURES_PER_MINUTE)),
        )
    }

    /// Sessions whose wrong sign-ins count with the API's wrong credentials (`failures`).
    pub fn with_failures(admin_token: Secret, failures: Arc<AuthFailures>) -> Sessions {
        Sessions::build(admin_token, SESSION_TTL, failures)
    }

    fn build(admin_token: Secret, ttl: Duration, failures: Arc<AuthFailures>) -> Sessions {
        Sessions {
            inner: Arc::new(Inner {
                admin_token,
                ttl,
                failures,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The count of wrong credentials these sessions share.
    pub fn failures(&self) -> Arc<AuthFailures> {
        Arc::clone(&self.inner.failures)
    }

    /// Checks `token` from `client` against the admin token (in constant time) and opens a
    /// session. An address past its rate of wrong tokens waits, whatever token it sends.
    pub fn sign_in(&self, token: &str, client: IpAddr) -> Result<NewSession, SignInError> {
        self.sign_in_at(token, client, Instant::now())
    }

    fn sign_in_at(
        &self,
        token: &str,
        client: IpAddr,
        now: Instant,
    ) -> Result<NewSession, SignInError> {
        if let Some(retry_after) = self.inner.failures.must_wait(client) {
            return Err(SignInError::TooManyAttempts {
                retry_after: retry_after.max(Duration::from_secs(1)),
            });
        }
        if !token_matches(self.inner.admin_token.expose(), token) {
            self.inner.failures.record(client);
            return Err(SignInError::WrongToken);
        }

        let mut state = self.lock();
        state.sessions.retain(|_, s| s.expires_at > now);
        if state.sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = state
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.expires_at)
                .map(|(k, _)| *k)
        {
            state.sessions.remove(&oldest);
        }
        let id = random_hex();
        let csrf = random_hex();
        state.sessions.insert(
            digest(&id),
            Session {
                csrf: csrf.clone(),
                expires_at: now + self.inner.ttl,
            },
        );
        Ok(NewSession { id, csrf })
    }

    /// True when the request carries the cookie of a live session.
    pub fn is_admin(&self, headers: &HeaderMap) -> bool {
        self.csrf_token(headers).is_some()
    }

    /// True when the request carries the cookie of a live session *and* that session's CSRF token
    /// in the `X-CSRF-Token` header.
    pub fn csrf_ok(&self, headers: &HeaderMap) -> bool {
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        self.csrf_matches(headers, sent)
    }

    /// The rule for the API's admin endpoints when no `X-Admin-Token` header is sent: a live
    /// session suffices to read (`GET`, `HEAD`); any other method also needs the CSRF token.
    pub fn admin_by_cookie(&self, method: &Method, headers: &HeaderMap) -> bool {
        if method == Method::GET || method == Method::HEAD {
            self.is_admin(headers)
        } else {
            self.csrf_ok(headers)
        }
    }

    /// The check the API's credential extractor calls for requests without `X-Admin-Token`
    /// (`AppState::cookie_admin`): [`Sessions::admin_by_cookie`] over these sessions.
    pub fn cookie_admin_check(&self) -> crate::http::CookieAdminCheck {
        let sessions = self.clone();
        Arc::new(move |method: &Method, headers: &HeaderMap| {
            sessions.admin_by_cookie(method, headers)
        })
    }

    /// Like [`Sessions::csrf_ok`] with the token taken from elsewhere (a form field).
    pub fn csrf_matches(&self, headers: &HeaderMap, sent: &str) -> bool {
        match self.csrf_token(headers) {
            Some(expected) => {
                !sent.is_empty() && bool::from(expected.as_bytes().ct_eq(sent.as_bytes()))
            }
            None => false,
        }
    }

    /// The CSRF token of the request's live session, if it has one.
    pub fn csrf_token(&self, headers: &HeaderMap) -> Option<String> {
        self.csrf_token_at(headers, Instant::now())
    }

    fn csrf_token_at(&self, headers: &HeaderMap, now: Instant) -> Option<String> {
        let key = digest(session_cookie(headers)?);
        let mut state = self.lock();
        match state.sessions.get(&key) {
            Some(s) if s.expires_at > now => Some(s.csrf.clone()),
            Some(_) => {
                state.sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Forgets the request's session, if any.
    pub fn sign_out(&self, headers: &HeaderMap) {
        if let Some(id) = session_cookie(headers) {
            self.lock().sessions.remove(&digest(id));
        }
    }

    /// Number of live sessions (for tests and metrics).
    pub fn live(&self) -> usize {
        let now = Instant::now();
        self.lock()
            .sessions
            .values()
            .filter(|s| s.expires_at > now)
            .count()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the map inconsistent: keep serving.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Constant-time comparison of a presented token with the configured one; an empty configured
/// token never matches.
fn token_matches(expected: &str, presented: &str) -> bool {
    if expected.is_empty() {
        return false;
    }
    // Compare digests so the comparison time does not depend on the lengths either.
    bool::from(digest(expected).ct_eq(&digest(presented)))
}

fn digest(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The `owp_session` cookie's value, if the request has a well-formed one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value that stores a session id.
pub fn set_cookie(id: &str, secure: bool, ttl: Duration) -> String {
    format!(
        "{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn sessions() -> Sessions {
        Sessions::new(Secret::new("s3cret-admin-token"))
    }

    fn with_cookie(id: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("theme=dark; {COOKIE_NAME}={id}; other=1")).unwrap(),
        );
        h
    }

    #[test]
    fn wrong_token_opens_no_session() {
        let s = sessions();
        assert_eq!(
            s.sign_in("nope", HERE).unwrap_err(),
            SignInError::WrongToken
        );
        assert_eq!(s.sign_in("", HERE).unwrap_err(), SignInError::WrongToken);
        assert_eq!(
            s.sign_in("s3cret-admin-token ", HERE).unwrap_err(),
            SignInError::WrongToken
        );
        assert_eq!(s.live(), 0);
    }

    #[test]
    fn empty_admin_token_never_signs_in() {
        let s = Sessions::new(Secret::new(""));
        assert_eq!(s.sign_in("", HERE).unwrap_err(), SignInError::WrongToken);
    }

    #[test]
    fn right_token_opens_a_session_that_the_cookie_proves() {
        let s = sessions();
        let new = s.sign_in("s3cret-admin-token", HERE).unwrap();
        assert_eq!(new.id.len(), 64);
        assert_ne!(new.id, new.csrf);
        assert!(!new.id.contains("s3cret"));
        assert!(s.is_admin(&with_cookie(&new.id)));
        assert_eq!(s.csrf_token(&with_cookie(&new.id)), Some(new.csrf.clone()));
        // Another, made-up id is not a session.
        assert!(!s.is_admin(&with_cookie(&"a".repeat(64))));
        assert!(!s.is_admin(&HeaderMap::new()));
        // Each sign-in gets its own id and CSRF token.
        let second = s.sign_in("s3cret-admin-token", HERE).unwrap();
        assert_ne!(second.id, new.id);
        assert_ne!(second.csrf, new.csrf);
        assert_eq!(s.live(), 2);
    }

    #[test]
    fn csrf_must_match_the_session() {
        let s = sessions();
        let a = s.sign_in("s3cret-admin-token", HERE).unwrap();
        let b = s.sign_in("s3cret-admin-token", HERE).unwrap();
        let mut h = with_cookie(&a.id);
        assert!(!s.csrf_ok(&h), "no header");
        h.insert(CSRF_HEADER, HeaderValue::from_str(&b.csrf).unwrap());
        assert!(!s.csrf_ok(&h), "another session's token");
        h.insert(CSRF_HEADER, HeaderValue::from_static(""));
        assert!(!s.csrf_ok(&h), "empty token");
        h.insert(CSRF_HEADER, HeaderValue::from_str(&a.csrf).unwrap());
        assert!(s.csrf_ok(&h));
        // A CSRF token without the cookie proves nothing.
        let mut only_header = HeaderMap::new();
        only_header.insert(CSRF_HEADER, HeaderValue::from_str(&a.csrf).unwrap());
        assert!(!s.csrf_ok(&only_header));
    }

    #[test]
    fn reads_need_the_session_and_writes_need_csrf_too() {
        let s = sessions();
        let a = s.sign_in("s3cret-admin-token", HERE).unwrap();
        let mut h = with_cookie(&a.id);
        assert!(s.admin_by_cookie(&Method::GET, &h));
        assert!(s.admin_by_cookie(&Method::HEAD, &h));
        assert!(!s.admin_by_cookie(&Method::POST, &h));
        assert!(!s.admin_by_cookie(&Method::DELETE, &h));
        h.insert(CSRF_HEADER, HeaderValue::from_str(&a.csrf).unwrap());
        assert!(s.admin_by_cookie(&Method::POST, &h));
        assert!(!s.admin_by_cookie(&Method::GET, &HeaderMap::new()));
    }

    #[test]
    fn sign_out_forgets_the_session() {
        let s = sessions();
        let a = s.sign_in("s3cret-admin-token", HERE).unwrap();
        let b = s.sign_in("s3cret-admin-token", HERE).unwrap();
        s.sign_out(&with_cookie(&a.id));
        assert!(!s.is_admin(&with_cookie(&a.id)));
        assert!(s.is_admin(&with_cookie(&b.id)), "other sessions stay");
    }

    #[test]
    fn sessions_expire() {
        let s = Sessions::with_ttl(Secret::new("t"), Duration::from_secs(60));
        let start = Instant::now();
        let a = s.sign_in_at("t", HERE, start).unwrap();
        let h = with_cookie(&a.id);
        assert!(
            s.csrf_token_at(&h, start + Duration::from_secs(59))
                .is_some()
        );
        assert!(
            s.csrf_token_at(&h, start + Duration::from_secs(60))
                .is_none()
        );
        // Once seen expired, it is gone for good.
        assert!(s.csrf_token_at(&h, start).is_none());
    }

    #[test]
    fn repeated_failures_hold_only_their_address() {
        let s = sessions();
        let stranger: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..MAX_FAILURES_PER_MINUTE {
            assert_eq!(
                s.sign_in("guess", stranger).unwrap_err(),
                SignInError::WrongToken
            );
        }
        assert_eq!(
            s.sign_in("guess", stranger).unwrap_err(),
            SignInError::WrongToken,
            "the failure past the rate is still counted"
        );
        // Now even the right token waits at that address…
        match s.sign_in("s3cret-admin-token", stranger) {
            Err(SignInError::TooManyAttempts { retry_after }) => {
                assert!(
                    retry_after >= Duration::from_secs(1) && retry_after <= Duration::from_secs(60)
                );
            }
            other => panic!("expected throttling, got {other:?}"),
        }
        // …while the admin elsewhere signs in.
        assert!(s.sign_in("s3cret-admin-token", HERE).is_ok());
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
        // Several Cookie headers (HTTP/2 style) are all looked at.
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1"));
        h.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("{COOKIE_NAME}={id}")).unwrap(),
        );
        assert_eq!(session_cookie(&h), Some(id.as_str()));
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let c = set_cookie("abc", false, SESSION_TTL);
        assert!(c.starts_with("owp_session=abc;"));
        for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
            assert!(c.contains(part), "{c} lacks {part}");
        }
        assert!(!c.contains("Secure"));
        assert!(set_cookie("abc", true, SESSION_TTL).ends_with("; Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }
}
