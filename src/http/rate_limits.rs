//! Rate limits: registrations, the routes that need no credentials, and wrong credentials (the
//! admin token over the API, worker tokens, dashboard sign-ins) per client address; a signed-in
//! maintainer's requests per person; previews per worker and per address.
//!
//! One mechanism for all of them: `governor`'s keyed GCRA limiters, keyed by the client's
//! address ([`ClientIp`]: the peer address, or the last address of a configured header behind a
//! proxy; IPv6 addresses count per /64) or by the person. The [`layer`] runs in front of every
//! route; a request over a limit is answered `429 rate_limited` with `Retry-After` and reaches no
//! handler.
//!
//! The route decides first, the credential second: a credential never lifts a limit it does not
//! need. Registration, sign-in and every route that needs no credential (as the OpenAPI document
//! declares each route: [`CredentialRoutes`]) keep their per-address limits whoever calls them.
//! On the routes that need a credential the admin (the operator: the right token, or a dashboard
//! session opened with it) is not limited, a maintainer is limited per person, and a worker by
//! the work itself; the webhook has its own bound (see `http::github_webhook`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::hash::Hash;

use super::error::ApiError;
use super::principal::{Principal, Resolved, principal_of};
use crate::config::{AdminTokens, LimitsConfig};
use crate::store::Store;

/// The GitHub App's webhook route (`http::github_webhook` serves it): its requests have their own
/// bound and are not counted here.
pub use crate::github::manifest::WEBHOOK_PATH;

/// The address a request is counted under, set by [`layer`] on every request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

/// The key an address is counted under: IPv4 addresses as they are, IPv6 per /64 (one host
/// usually holds a whole /64), IPv4-mapped IPv6 as IPv4.
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The client address of a request: the last address of `header` when configured and present
/// (the one the nearest proxy added), else the peer address.
pub fn client_address(
    header: Option<&HeaderName>,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> IpAddr {
    let from_header = header.and_then(|name| {
        let last = headers.get_all(name).iter().next_back()?.to_str().ok()?;
        parse_forwarded(last.rsplit(',').next()?.trim())
    });
    from_header.or(peer).unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// One address of a forwarding header: `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]:5678`.
fn parse_forwarded(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    text.parse::<SocketAddr>().ok().map(|a| a.ip())
}

fn keyed_by<K: Hash + Eq + Clone>(per_minute: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

fn wait_of(not_until: &governor::NotUntil<governor::clock::QuantaInstant>) -> Duration {
    not_until.wait_time_from(DefaultClock::default().now())
}

/// Wrong credentials per address. Each wrong one takes a cell of a keyed limiter; once an
/// address is past its rate, every wrong credential it presents is refused (and counted again)
/// until the limiter lets it through; a valid one is served (see [`layer`]).
pub struct AuthFailures {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_minute: u32,
    /// Addresses that must wait, and until when (what the limiter last answered them).
    waiting: Mutex<HashMap<IpAddr, Instant>>,
}

/// How long a limit counted in the database refuses when the database does not answer.
const SHARED_FAILED_WAIT: Duration = Duration::from_secs(5);

/// The most addresses remembered as waiting; past it, those whose wait is over are forgotten.
const MAX_WAITING: usize = 100_000;

impl AuthFailures {
    pub fn new(per_minute: u32) -> AuthFailures {
        AuthFailures {
            limiter: keyed_by(per_minute),
            per_minute,
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// How long `ip` must still wait before presenting a credential, if it must.
    pub fn must_wait(&self, ip: IpAddr) -> Option<Duration> {
        let key = rate_key(ip);
        let mut waiting = self.lock();
        let until = *waiting.get(&key)?;
        let now = Instant::now();
        if until > now {
            Some(until - now)
        } else {
            waiting.remove(&key);
            None
        }
    }

    /// Counts a wrong credential from `ip`.
    pub fn record(&self, ip: IpAddr) {
        let Some(limiter) = &self.limiter else {
            return;
        };
        let key = rate_key(ip);
        if let Err(not_until) = limiter.check_key(&key) {
            self.wait_until(key, Instant::now() + wait_of(&not_until));
        }
    }

    /// Counts a wrong credential from `ip` here ([`AuthFailures::record`]) and where every
    /// replica counts it (the database): past the rate there, the address waits here too, until
    /// the minute ends. When the database does not answer, it waits (fail closed).
    pub async fn record_shared(&self, store: &Store, ip: IpAddr) {
        self.record(ip);
        let key = rate_key(ip);
        let name = format!("auth_failures:{key}");
        match store.shared_limits().take(&name, self.per_minute).await {
            Ok(None) => {}
            Ok(Some(wait)) => self.wait_until(key, Instant::now() + wait),
            Err(e) => {
                tracing::warn!(error = %e, "the shared count of wrong credentials failed");
                self.wait_until(key, Instant::now() + SHARED_FAILED_WAIT);
            }
        }
    }

    /// `key` waits until `until` before presenting any credential.
    fn wait_until(&self, key: IpAddr, until: Instant) {
        let mut waiting = self.lock();
        if waiting.len() >= MAX_WAITING {
            let now = Instant::now();
            waiting.retain(|_, t| *t > now);
        }
        if waiting.len() < MAX_WAITING {
            let at = waiting.entry(key).or_insert(until);
            *at = (*at).max(until);
        }
        tracing::warn!(client = %key, "wrong credentials: this address must wait");
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Instant>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn housekeeping(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
        }
        let now = Instant::now();
        self.lock().retain(|_, t| *t > now);
    }
}

/// A rate per key (a worker id, a person's login, an address): each key has its own cells, so
/// one key's burst makes only that key wait.
pub struct PerKey<K: Hash + Eq + Clone>(Option<DefaultKeyedRateLimiter<K>>);

/// Past this many keys remembered, those that have been quiet a while are forgotten.
const MAX_KEYS_REMEMBERED: usize = 100_000;

impl<K: Hash + Eq + Clone> PerKey<K> {
    pub fn new(per_minute: u32) -> PerKey<K> {
        PerKey(keyed_by(per_minute))
    }

    /// `Err(wait)` when `key` must wait before its next request.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        if limiter.len() > MAX_KEYS_REMEMBERED {
            limiter.retain_recent();
        }
        limiter
            .check_key(key)
            .map_err(|not_until| wait_of(&not_until))
    }

    fn housekeeping(&self) {
        if let Some(l) = &self.0 {
            l.retain_recent();
        }
    }
}

/// How often `GET /v1/work/preview` may be asked: per worker, and per client address whichever
/// of its workers asks (registrations are cheap, so a limit per worker alone is no limit); and
/// how many run at once in this process.
pub struct PreviewLimits {
    per_worker: PerKey<String>,
    per_address: PerKey<IpAddr>,
    per_worker_per_minute: u32,
    per_address_per_minute: u32,
    running: tokio::sync::Semaphore,
}

/// Previews that run at once in one process; the others wait their turn. A preview reads 50
/// tasks with every rule of the claim: previews that arrive together take one core between
/// them, never every core from the claims.
const PREVIEWS_AT_ONCE: usize = 1;

impl PreviewLimits {
    pub fn new(per_worker: u32, per_address: u32) -> PreviewLimits {
        PreviewLimits {
            per_worker: PerKey::new(per_worker),
            per_address: PerKey::new(per_address),
            per_worker_per_minute: per_worker,
            per_address_per_minute: per_address,
            running: tokio::sync::Semaphore::new(PREVIEWS_AT_ONCE),
        }
    }

    /// Waits for a preview's turn; the preview runs while the permit is held.
    pub async fn turn(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.running
            .acquire()
            .await
            .expect("the preview semaphore is never closed")
    }

    /// `Err((wait, why))` when the worker, or the address it asks from, must wait: counted here,
    /// then where every replica counts them (the database).
    pub async fn check(
        &self,
        store: &Store,
        worker: &str,
        ip: Option<IpAddr>,
    ) -> Result<(), (Duration, &'static str)> {
        const ADDRESS: &str = "too many previews from this address";
        const WORKER: &str = "too many previews from this worker";
        if let Some(ip) = ip
            && let Err(wait) = self.per_address.check(&rate_key(ip))
        {
            return Err((wait, ADDRESS));
        }
        self.per_worker
            .check(&worker.to_string())
            .map_err(|wait| (wait, WORKER))?;
        if let Some(ip) = ip {
            let name = format!("previews:{}", rate_key(ip));
            if let Some(refused) = shared(store, &name, self.per_address_per_minute, ADDRESS).await
            {
                return Err(refused);
            }
        }
        let name = format!("previews:{worker}");
        match shared(store, &name, self.per_worker_per_minute, WORKER).await {
            Some(refused) => Err(refused),
            None => Ok(()),
        }
    }
}

/// The routes that need a credential, as the OpenAPI document declares them: an operation every
/// one of whose `security` requirements names a scheme (an empty requirement, `{}`, says it may
/// be called without one), and `GET /metrics`. Every other route, and every unknown path, needs
/// none.
pub struct CredentialRoutes(Vec<(Method, Vec<Option<String>>)>);

impl CredentialRoutes {
    pub fn of(doc: &utoipa::openapi::OpenApi) -> CredentialRoutes {
        // Only the operations' `security` is read: the rest of the document (its schemas) is
        // not turned into JSON at every start.
        let mut paths = serde_json::Map::new();
        for (path, item) in &doc.paths.paths {
            let mut methods = serde_json::Map::new();
            for (name, op) in [
                ("get", &item.get),
                ("post", &item.post),
                ("put", &item.put),
                ("patch", &item.patch),
                ("delete", &item.delete),
            ] {
                if let Some(op) = op {
                    methods.insert(
                        name.to_string(),
                        serde_json::json!({ "security": op.security }),
                    );
                }
            }
            paths.insert(path.clone(), serde_json::Value::Object(methods));
        }
        CredentialRoutes::of_json(&serde_json::json!({ "paths": paths }))
    }

    /// [`CredentialRoutes::of`] the document as JSON.
    pub(crate) fn of_json(doc: &serde_json::Value) -> CredentialRoutes {
        let mut routes = vec![(Method::GET, segments_of("/metrics"))];
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        for (path, item) in paths {
            for (name, method) in [
                ("get", Method::GET),
                ("post", Method::POST),
                ("put", Method::PUT),
                ("patch", Method::PATCH),
                ("delete", Method::DELETE),
            ] {
                let needs = item[name]["security"].as_array().is_some_and(|reqs| {
                    !reqs.is_empty()
                        && reqs
                            .iter()
                            .all(|r| r.as_object().is_some_and(|o| !o.is_empty()))
                });
                if needs {
                    routes.push((method, segments_of(&path)));
                }
            }
        }
        CredentialRoutes(routes)
    }

    /// How many routes need a credential.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether both name the same routes, in any order.
    #[cfg(test)]
    pub(crate) fn same_routes(&self, other: &CredentialRoutes) -> bool {
        self.0.len() == other.0.len() && self.0.iter().all(|route| other.0.contains(route))
    }

    /// Whether `method` on `path` is a route that needs a credential (`HEAD` as `GET`).
    fn need_one(&self, method: &Method, path: &str) -> bool {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let parts: Vec<&str> = path.split('/').collect();
        self.0.iter().any(|(m, template)| {
            m == method
                && template.len() == parts.len()
                && template.iter().zip(&parts).all(|(t, p)| match t {
                    Some(literal) => literal == p,
                    None => !p.is_empty(),
                })
        })
    }
}

/// A path template's segments: `None` for a parameter (`{task_id}`).
fn segments_of(template: &str) -> Vec<Option<String>> {
    template
        .split('/')
        .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_string()))
        .collect()
}

/// Every per-address and per-person limit of the service.
pub struct Limits {
    registrations: PerKey<IpAddr>,
    registrations_per_minute: u32,
    anonymous: PerKey<IpAddr>,
    signin: PerKey<IpAddr>,
    /// A signed-in maintainer's requests, by login.
    maintainers: PerKey<String>,
    pub failures: Arc<AuthFailures>,
    client_ip_header: Option<HeaderName>,
    admin_token: AdminTokens,
    routes: CredentialRoutes,
    /// Where sessions and maintainer tokens are looked up (none: only the admin header counts).
    store: Option<Store>,
}

/// The routes of signing in with GitHub, and of a worker's proof of its person with GitHub's
/// device flow: limited per address on their own (`OWP_RATE_SIGNIN_PER_MINUTE`), since each may
/// cost a call to GitHub.
pub fn is_signin_path(path: &str) -> bool {
    matches!(
        path,
        "/auth/github"
            | "/auth/github/callback"
            | "/v1/auth/device"
            | "/v1/auth/device/token"
            | "/v1/workers/link/device"
            | "/v1/workers/link/device/token"
    )
}

/// What a request is counted as.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// The admin (right token or a live dashboard session) on a route that needs a credential:
    /// never limited.
    Admin,
    /// A signed-in maintainer on a route that needs a credential: limited per person.
    Maintainer(String),
    /// `POST /v1/workers/register`, whoever sends it.
    Registration,
    /// Any other request to a route that needs a credential (a worker's, or a wrong one).
    Credentialed,
    /// A route of signing in with GitHub, whoever calls it.
    SignIn,
    /// A route that needs no credential, whoever calls it.
    Anonymous,
    /// The webhook, bounded by its own semaphore.
    Webhook,
}

impl Limits {
    pub fn new(
        config: &LimitsConfig,
        admin_token: AdminTokens,
        store: Option<Store>,
        failures: Arc<AuthFailures>,
        routes: CredentialRoutes,
    ) -> anyhow::Result<Limits> {
        let client_ip_header = match &config.client_ip_header {
            Some(name) if !name.trim().is_empty() => {
                Some(HeaderName::try_from(name.trim()).map_err(|_| {
                    anyhow::anyhow!("OWP_CLIENT_IP_HEADER `{name}` is not a header name")
                })?)
            }
            _ => None,
        };
        Ok(Limits {
            registrations: PerKey::new(config.rate_registrations_per_minute),
            registrations_per_minute: config.rate_registrations_per_minute,
            anonymous: PerKey::new(config.rate_anonymous_per_minute),
            signin: PerKey::new(config.rate_signin_per_minute),
            maintainers: PerKey::new(config.rate_maintainer_per_minute),
            failures,
            client_ip_header,
            admin_token,
            routes,
            store,
        })
    }

    /// Forgets addresses and people that have not been seen for a while (run every minute or
    /// so).
    pub fn housekeeping(&self) {
        for l in [&self.registrations, &self.anonymous, &self.signin] {
            l.housekeeping();
        }
        self.maintainers.housekeeping();
        self.failures.housekeeping();
    }

    /// Forgets the counts in the database of minutes that have ended.
    pub async fn forget_shared(&self) {
        if let Some(store) = &self.store
            && let Err(e) = store.shared_limits().forget().await
        {
            tracing::warn!(error = %e, "old shared rate counts could not be removed");
        }
        if let Some(store) = &self.store
            && let Err(e) = store.known_answers().forget_old().await
        {
            tracing::warn!(error = %e, "GitHub's old answers could not be removed");
        }
    }

    /// What a request is counted as: by its route first, then, on a route that needs a
    /// credential, by who its credentials name (`signed_in`: the admin, or a maintainer).
    fn kind(&self, method: &Method, path: &str, signed_in: Option<&Principal>) -> Kind {
        if path == WEBHOOK_PATH {
            return Kind::Webhook;
        }
        if is_signin_path(path) {
            return Kind::SignIn;
        }
        if method == Method::POST && path == "/v1/workers/register" {
            return Kind::Registration;
        }
        if !self.routes.need_one(method, path) {
            return Kind::Anonymous;
        }
        match signed_in {
            Some(Principal::Admin) => Kind::Admin,
            Some(Principal::Maintainer(m)) => Kind::Maintainer(m.login.to_lowercase()),
            None => Kind::Credentialed,
        }
    }
}

/// Whether a request presents a credential that can be wrong (counted by [`AuthFailures`]).
fn presents_credential(headers: &HeaderMap) -> bool {
    headers.contains_key("x-admin-token") || headers.contains_key(header::AUTHORIZATION)
}

/// `429 rate_limited` with `Retry-After` (whole seconds, at least 1).
pub fn too_many(wait: Duration, detail: &str) -> Response {
    ApiError::rate_limited(wait, detail).into_response()
}

/// The middleware in front of every route.
pub async fn layer(State(limits): State<Arc<Limits>>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = client_address(limits.client_ip_header.as_ref(), req.headers(), peer);
    req.extensions_mut().insert(ClientIp(ip));
    // Sessions and maintainer tokens are read here once; the handlers find them on the request.
    let signed_in = match &limits.store {
        Some(store) if req.uri().path() != WEBHOOK_PATH => {
            match principal_of(req.method(), req.headers(), store, &limits.admin_token).await {
                Ok(p) => {
                    req.extensions_mut().insert(Resolved(p.clone()));
                    p
                }
                Err(_) => None,
            }
        }
        _ => None,
    };
    let kind = limits.kind(req.method(), req.uri().path(), signed_in.as_ref());
    if kind == Kind::Webhook {
        return next.run(req).await;
    }
    let credential = presents_credential(req.headers());
    // Past its rate of wrong credentials an address waits, but only for wrong ones: a valid
    // credential (the admin token, a maintainer's, a worker's) is never refused for the wrong
    // tries of someone else behind the same address (a NAT, a CI runner, a rotation's old
    // token). A guess made while waiting is answered 429 and counted again, so a guesser stays
    // at the rate; that a right guess would pass tells nothing usable, since every credential
    // is 256 random bits.
    if credential
        && let Some(wait) = limits.failures.must_wait(ip)
        && !valid_credential(limits.store.as_ref(), signed_in.as_ref(), req.headers()).await
    {
        limits.failures.record(ip);
        return too_many(wait, "too many wrong credentials from this address");
    }
    let key = rate_key(ip);
    let checked = match &kind {
        Kind::Registration => limits
            .registrations
            .check(&key)
            .map_err(|wait| (wait, "too many registrations from this address")),
        Kind::Anonymous => limits
            .anonymous
            .check(&key)
            .map_err(|wait| (wait, "too many requests from this address")),
        Kind::SignIn => limits
            .signin
            .check(&key)
            .map_err(|wait| (wait, "too many sign-in requests from this address")),
        Kind::Maintainer(login) => limits
            .maintainers
            .check(login)
            .map_err(|wait| (wait, "too many requests from this person")),
        Kind::Admin | Kind::Credentialed | Kind::Webhook => Ok(()),
    };
    if let Err((wait, what)) = checked {
        return too_many(wait, what);
    }
    // Registrations per address are counted where every replica sees them as well.
    if kind == Kind::Registration
        && let Some(store) = &limits.store
        && let Some((wait, what)) = shared(
            store,
            &format!("registrations:{key}"),
            limits.registrations_per_minute,
            "too many registrations from this address",
        )
        .await
    {
        return too_many(wait, what);
    }
    let res = next.run(req).await;
    if credential && res.status() == axum::http::StatusCode::UNAUTHORIZED {
        match &limits.store {
            Some(store) => limits.failures.record_shared(store, ip).await,
            None => limits.failures.record(ip),
        }
    }
    res
}

/// Whether the request's credential is valid: it named the admin or a maintainer
/// (`signed_in`), or its bearer token is a worker's.
async fn valid_credential(
    store: Option<&Store>,
    signed_in: Option<&Principal>,
    headers: &HeaderMap,
) -> bool {
    if signed_in.is_some() {
        return true;
    }
    if headers.contains_key("x-admin-token") {
        return false;
    }
    match (store, crate::http::extract::bearer_of(headers)) {
        (Some(store), Some(token)) => {
            matches!(store.workers().authenticate(token).await, Ok(Some(_)))
        }
        _ => false,
    }
}

/// One use of the limit `name` counted in the database ([`SharedLimits::take`]): `Some`
/// (how long to wait, and why) when it is refused, or when the database does not answer (fail
/// closed).
///
/// [`SharedLimits::take`]: crate::store::shared_limits::SharedLimits::take
async fn shared(
    store: &Store,
    name: &str,
    per_minute: u32,
    why: &'static str,
) -> Option<(Duration, &'static str)> {
    match store.shared_limits().take(name, per_minute).await {
        Ok(None) => None,
        Ok(Some(wait)) => Some((wait, why)),
        Err(e) => {
            tracing::warn!(error = %e, limit = name, "a shared limit could not be counted");
            Some((SHARED_FAILED_WAIT, why))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn ipv6_counts_per_slash_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(rate_key(a), rate_key(b));
        assert_ne!(rate_key(a), rate_key(c));
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        assert_eq!(rate_key(mapped), "10.0.0.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_configured_header_names_the_client_by_its_last_address() {
        let name = HeaderName::from_static("x-forwarded-for");
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let peer = Some(local);
        let mut h = HeaderMap::new();
        assert_eq!(client_address(Some(&name), &h, peer), local);
        h.insert(&name, HeaderValue::from_static("6.6.6.6, 10.1.2.3"));
        assert_eq!(
            client_address(Some(&name), &h, peer),
            "10.1.2.3".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_address(None, &h, peer), local, "not configured");
        h.insert(&name, HeaderValue::from_static("[2001:db8::1]:443"));
        assert_eq!(
            client_address(Some(&name), &h, peer),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        h.insert(&name, HeaderValue::from_static("garbage"));
        assert_eq!(client_address(Some(&name), &h, peer), local);
    }

    #[test]
    fn wrong_credentials_make_only_their_address_wait() {
        let f = AuthFailures::new(3);
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let admin: IpAddr = "198.51.100.1".parse().unwrap();
        for _ in 0..3 {
            f.record(stranger);
            assert_eq!(f.must_wait(stranger), None, "within the rate");
        }
        f.record(stranger);
        let wait = f.must_wait(stranger).expect("past the rate");
        assert!(
            wait <= Duration::from_secs(20) && wait > Duration::ZERO,
            "{wait:?}"
        );
        assert_eq!(f.must_wait(admin), None, "another address is not held");
        let off = AuthFailures::new(0);
        for _ in 0..100 {
            off.record(stranger);
        }
        assert_eq!(off.must_wait(stranger), None, "0 turns it off");
    }

    #[test]
    fn the_route_decides_before_the_credential() {
        let limits = Limits::new(
            &LimitsConfig::default(),
            crate::config::AdminTokens::parse("right-token"),
            None,
            Arc::new(AuthFailures::new(10)),
            // As the handlers' annotations declare them (see `docs/openapi.json`).
            CredentialRoutes::of_json(&serde_json::json!({"paths": {
                "/healthz": {"get": {}},
                "/v1/meta": {"get": {"security": [{}]}},
                "/v1/leaderboard": {"get": {"security": [{}, {"admin_token": []}]}},
                "/v1/workers/register": {"post": {}},
                "/v1/workers/me": {"get": {"security": [{"worker_token": []}]}},
                "/v1/work": {"post": {"security": [{"worker_token": []}]}},
                "/v1/tasks/{task_id}": {"get": {"security": [{"admin_token": []}, {"worker_token": []}]}},
                "/v1/admin/state": {"get": {"security": [{"admin_token": []}]}},
                "/v1/events": {"get": {"security": [{"admin_token": []}]}},
            }})),
        )
        .unwrap();
        let mona = Principal::Maintainer(crate::http::principal::Maintainer {
            login: "Mona".into(),
            github_id: Some(1),
            kind: crate::store::signin::SessionKind::Token,
            digest: "d".into(),
            expires_at: 0,
        });
        let kind = |m: Method, p: &str, who: Option<&Principal>| limits.kind(&m, p, who);
        for who in [None, Some(&Principal::Admin), Some(&mona)] {
            assert_eq!(kind(Method::GET, "/healthz", who), Kind::Anonymous);
            assert_eq!(kind(Method::GET, "/v1/meta", who), Kind::Anonymous);
            assert_eq!(kind(Method::GET, "/v1/openapi.json", who), Kind::Anonymous);
            assert_eq!(kind(Method::GET, "/v1/leaderboard", who), Kind::Anonymous);
            assert_eq!(kind(Method::GET, "/v1/no/such/route", who), Kind::Anonymous);
            assert_eq!(kind(Method::GET, "/board/state", who), Kind::Anonymous);
            assert_eq!(
                kind(Method::POST, "/v1/workers/register", who),
                Kind::Registration
            );
            assert_eq!(kind(Method::POST, "/v1/auth/device", who), Kind::SignIn);
            assert_eq!(
                kind(Method::POST, "/v1/workers/link/device/token", who),
                Kind::SignIn
            );
            assert_eq!(kind(Method::POST, "/github/webhook", who), Kind::Webhook);
        }
        assert_eq!(
            kind(Method::GET, "/v1/workers/me", None),
            Kind::Credentialed
        );
        assert_eq!(kind(Method::POST, "/v1/work", None), Kind::Credentialed);
        assert_eq!(kind(Method::GET, "/v1/tasks/t_1", None), Kind::Credentialed);
        assert_eq!(kind(Method::GET, "/v1/tasks/", None), Kind::Anonymous);
        assert_eq!(kind(Method::GET, "/metrics", None), Kind::Credentialed);
        assert_eq!(
            kind(Method::GET, "/v1/admin/state", Some(&Principal::Admin)),
            Kind::Admin
        );
        assert_eq!(
            kind(Method::GET, "/v1/events", Some(&mona)),
            Kind::Maintainer("mona".into())
        );
    }
}
