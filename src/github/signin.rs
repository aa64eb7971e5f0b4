//! Maintainers sign in with GitHub (the contract's section 10): the web flow for the dashboard
//! (`GET /auth/github`, `GET /auth/github/callback`: state + PKCE, a session cookie of at most
//! 8 hours), the device flow for the CLI and plugins (`POST /v1/auth/device`,
//! `POST /v1/auth/device/token`: a 30-day `owpm_…` token), and what each person maintains
//! ([`SignIn`] answers `http::principal::RepoAccess`: `admin`, `maintain` or `write` on a
//! repository of the App's installations).
//!
//! What a person maintains is learnt at sign-in from their own installations (`GET /user`,
//! `GET /user/installations` and each installation's repositories, with the person's token, which
//! is then dropped) and kept per person (`signin_repos`). Only the repositories on that list are
//! ever asked about for that person: each is confirmed with the permission route when the person
//! acts on it or lists it, at most every five minutes, once for any number of concurrent
//! requests ([`Permissions`]). A person who maintains nothing costs GitHub nothing after signing
//! in, however many repositories are installed.
//!
//! A web sign-in's `state` belongs to the browser that started it: `GET /auth/github` sets a
//! short-lived cookie whose value, with the state, names the flow; a callback without it opens
//! nothing. States, device codes, sessions and tokens are stored as digests; none of them is
//! logged or echoed.

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::ServeConfig;
use crate::dashboard::Sessions;
use crate::dashboard::session::{MAINTAINER_SESSION_TTL, set_lax_cookie};
use crate::github::manifest::SIGNIN_CALLBACK_PATH;
use crate::github::oauth::{GithubUser, OAuthClient, OAuthError, code_challenge};
use crate::github::permissions::{Permissions, name as permission_name};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Payload;
use crate::http::principal::{
    RepoAccess, RepoGrant, TOKEN_PREFIX, cookie_values, digest, is_random_id, random_hex,
};
use crate::store::signin::{DevicePoll, FlowKind, NewSession, SessionKind};
use crate::store::{Store, format_ts};

/// How long a web sign-in's `state` is accepted back.
pub const FLOW_TTL_MS: i64 = 10 * 60_000;
/// How long a maintainer token lives.
pub const TOKEN_TTL_MS: i64 = 30 * 24 * 3_600_000;
/// The cookie that binds a web sign-in's `state` to the browser that started it.
pub const FLOW_COOKIE: &str = "owp_signin";
/// Pages (of 100) of `GET /user/installations` read at sign-in: the first 100 installations.
pub const MAX_INSTALLATION_PAGES: usize = 1;
/// Pages (of 100) of installation repositories read at sign-in, over all installations.
pub const MAX_REPO_PAGES: usize = 10;

/// Sign-in with GitHub, when `GITHUB_CLIENT_ID` is set.
pub struct SignIn {
    oauth: OAuthClient,
    store: Store,
    /// The one way to ask GitHub what a person may do (while the App runs).
    permissions: Option<Arc<Permissions>>,
    sessions: Sessions,
    base_url: RwLock<String>,
}

impl SignIn {
    /// Sign-in as configured: `None` (off) without a client id.
    pub fn new(
        config: &ServeConfig,
        store: &Store,
        permissions: Option<Arc<Permissions>>,
        sessions: Sessions,
    ) -> anyhow::Result<Option<Arc<SignIn>>> {
        let gh = &config.github;
        let Some(client_id) = gh.signin_client_id() else {
            return Ok(None);
        };
        let secret = gh.github_client_secret.clone().unwrap_or_default();
        if secret.expose().trim().is_empty() {
            tracing::error!(
                "GITHUB_CLIENT_ID is set but GITHUB_CLIENT_SECRET is not: every web sign-in will fail"
            );
        }
        let oauth = OAuthClient::new(client_id, secret, &gh.web_url(), &gh.github_api_url)?;
        let base_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}:{}", config.host, config.port))
            .trim_end_matches('/')
            .to_string();
        Ok(Some(Arc::new(SignIn {
            oauth,
            store: store.clone(),
            permissions,
            sessions,
            base_url: RwLock::new(base_url),
        })))
    }

    /// The service's address, when no public URL is configured (the port is known only once
    /// bound).
    pub fn set_base_url(&self, url: String) {
        if let Ok(mut base) = self.base_url.write() {
            *base = url.trim_end_matches('/').to_string();
        }
    }

    fn base_url(&self) -> String {
        self.base_url.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Where GitHub sends the person back: `{OWP_PUBLIC_URL}/auth/github/callback`.
    fn redirect_uri(&self) -> String {
        format!("{}{SIGNIN_CALLBACK_PATH}", self.base_url())
    }

    /// The session cookie is `Secure` when the service is reached over https.
    fn secure(&self) -> bool {
        self.base_url().starts_with("https://")
    }

    /// The routes of signing in.
    pub fn router(self: &Arc<Self>) -> Router {
        let (api, _) = api_router().split_for_parts();
        Router::new()
            .route("/auth/github", axum::routing::get(web_start))
            .route(SIGNIN_CALLBACK_PATH, axum::routing::get(web_callback))
            .merge(api)
            .with_state(Arc::clone(self))
    }

    /// What GitHub says `login` may do on `repo`, when `repo` is on the person's sign-in list
    /// (no other repository is ever asked about for them): confirmed with the permission route
    /// at most every five minutes, once for concurrent asks; no answer → `503`, never a grant.
    async fn permission_of(
        &self,
        login: &str,
        repo: &str,
        installation: i64,
    ) -> Result<Option<String>, ApiError> {
        let Some(permissions) = &self.permissions else {
            return Ok(None);
        };
        let permission = permissions
            .of(installation, repo, login)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, repo, "cannot read a maintainer's permission from GitHub");
                github_unavailable()
            })?;
        Ok(permission
            .is_maintainer()
            .then(|| permission_name(permission).to_string()))
    }

    /// The person's sign-in list: repositories still of the App's installations.
    async fn listed(&self, login: &str) -> Result<Vec<(String, i64)>, ApiError> {
        Ok(self.store.signin_repos_of(&login.to_lowercase()).await?)
    }

    /// Who the person's token names and what they maintain, read with that token (which the
    /// caller drops): the repositories of this App's installations known here on which GitHub
    /// grants them admin, maintain or write. Reads at most [`MAX_INSTALLATION_PAGES`] of
    /// installations and [`MAX_REPO_PAGES`] of repositories, and says so when it stops there.
    async fn person(&self, token: &crate::config::Secret) -> Result<Person, OAuthError> {
        let user = self.oauth.user(token).await?;
        let known = self
            .store
            .signin_known_installations()
            .await
            .map_err(|e| OAuthError::Unavailable(e.to_string()))?;
        let installations = self
            .oauth
            .user_installations(token, MAX_INSTALLATION_PAGES)
            .await?;
        if installations.cut {
            tracing::warn!(
                login = %user.login,
                read = installations.items.len(),
                "a person sees more installations than are read at sign-in; the rest are left out"
            );
        }
        let mut pages_left = MAX_REPO_PAGES;
        let mut repos = Vec::new();
        for id in installations
            .items
            .into_iter()
            .filter(|i| known.contains(i))
        {
            if pages_left == 0 {
                tracing::warn!(login = %user.login, installation = id, "the repository pages read at sign-in are used up; this installation is left out");
                continue;
            }
            let listed = self
                .oauth
                .user_installation_repos(token, id, pages_left)
                .await?;
            pages_left = pages_left.saturating_sub(listed.pages);
            if listed.cut {
                tracing::warn!(login = %user.login, installation = id, "a person sees more repositories than are read at sign-in; the rest are left out");
            }
            repos.extend(
                listed
                    .items
                    .into_iter()
                    .filter(|(_, p)| p.is_maintainer())
                    .map(|(repo, p)| (repo, id, p)),
            );
        }
        let installed: std::collections::HashMap<String, i64> = self
            .store
            .signin_installed_repos()
            .await
            .map_err(|e| OAuthError::Unavailable(e.to_string()))?
            .into_iter()
            .collect();
        let grants = repos
            .into_iter()
            .filter(|(repo, id, _)| installed.get(repo) == Some(id))
            .map(|(repo, _, p)| (repo, permission_name(p).to_string()))
            .collect();
        Ok(Person { user, grants })
    }

    /// Keeps what the person maintains (their sign-in list) for every replica.
    async fn remember(&self, person: &Person) -> Result<(), ApiError> {
        self.store
            .signin_repos_replace(&person.user.login.to_lowercase(), &person.grants)
            .await?;
        Ok(())
    }
}

/// Who signed in, and the repositories they maintain (with their permission).
struct Person {
    user: GithubUser,
    grants: Vec<(String, String)>,
}

impl RepoAccess for SignIn {
    fn permission<'a>(
        &'a self,
        login: &'a str,
        repo: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, ApiError>> {
        Box::pin(async move {
            let listed = self.listed(login).await?;
            let Some((repo, installation)) = listed
                .into_iter()
                .find(|(r, _)| r.eq_ignore_ascii_case(repo))
            else {
                return Ok(None);
            };
            self.permission_of(login, &repo, installation).await
        })
    }

    fn repos<'a>(&'a self, login: &'a str) -> BoxFuture<'a, Result<Vec<RepoGrant>, ApiError>> {
        Box::pin(async move {
            let mut grants = Vec::new();
            for (repo, installation) in self.listed(login).await? {
                if let Some(permission) = self.permission_of(login, &repo, installation).await? {
                    grants.push(RepoGrant { repo, permission });
                }
            }
            Ok(grants)
        })
    }
}

fn github_unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "github_unavailable",
        "GitHub could not be asked right now; try again in a moment",
    )
}

// ---- the web flow ----------------------------------------------------------------------------

/// The key a web sign-in is kept under: the digest of its `state` together with the value of
/// the browser's [`FLOW_COOKIE`], so that only the browser that started it can finish it.
fn flow_key(state: &str, binding: &str) -> String {
    digest(&format!("{state}:{binding}"))
}

/// `GET /auth/github`: off to GitHub with a new state and PKCE challenge; the browser keeps the
/// state's other half in a cookie for ten minutes.
async fn web_start(State(s): State<Arc<SignIn>>) -> Response {
    let state = random_hex();
    let binding = random_hex();
    let verifier = random_hex();
    if let Err(e) = s
        .store
        .signin_flow_start(
            &flow_key(&state, &binding),
            FlowKind::Web,
            Some(&verifier),
            0,
            FLOW_TTL_MS,
        )
        .await
    {
        tracing::error!(error = %e, "cannot record a sign-in");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service cannot start a sign-in right now; try again in a moment.",
        );
    }
    let url = s
        .oauth
        .authorize_url(&s.redirect_uri(), &state, &code_challenge(&verifier));
    let cookie = flow_cookie(&binding, s.secure(), FLOW_TTL_MS / 1000);
    redirect(&url, &[&cookie])
}

/// The `Set-Cookie` of [`FLOW_COOKIE`]: only the sign-in routes see it (`Path=/auth/github`),
/// `SameSite=Lax` so that it comes back with GitHub's redirect, `max_age` 0 removes it.
fn flow_cookie(value: &str, secure: bool, max_age: i64) -> String {
    format!(
        "{FLOW_COOKIE}={value}; Path=/auth/github; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The browser's [`FLOW_COOKIE`], when it presents a well-formed one.
fn flow_binding(headers: &HeaderMap) -> Option<String> {
    cookie_values(headers, FLOW_COOKIE)
        .find(|v| is_random_id(v))
        .map(str::to_string)
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// A value GitHub sends back in the callback's query: short printable ASCII.
fn plain(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty() && v.len() <= 512 && v.bytes().all(|b| b.is_ascii_graphic()))
}

/// `GET /auth/github/callback`: the state must be one of this service's, live, unused and
/// started in this browser (its cookie); the code is exchanged with its verifier; the person and
/// what they maintain are read; a session opens; back to the dashboard (always `/`, whatever the
/// request carries). The flow's cookie is removed whatever the outcome.
async fn web_callback(
    State(s): State<Arc<SignIn>>,
    headers: HeaderMap,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let clear = flow_cookie("", s.secure(), 0);
    let mut res = finish_web(&s, &headers, query).await;
    if let Ok(v) = HeaderValue::from_str(&clear) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

async fn finish_web(
    s: &SignIn,
    headers: &HeaderMap,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    const START_AGAIN: &str = " Start again from the dashboard's \"Sign in with GitHub\".";
    let Ok(Query(q)) = query else {
        return page(
            StatusCode::BAD_REQUEST,
            &format!("This sign-in link is not valid.{START_AGAIN}"),
        );
    };
    let Some(state) = plain(q.state) else {
        return page(
            StatusCode::BAD_REQUEST,
            &format!("This sign-in link is not valid.{START_AGAIN}"),
        );
    };
    let Some(binding) = flow_binding(headers) else {
        tracing::info!("sign-in refused: the state's cookie is missing (another browser)");
        return page(
            StatusCode::BAD_REQUEST,
            &format!(
                "This sign-in was not started in this browser: finish it where it started.{START_AGAIN}"
            ),
        );
    };
    let verifier = match s.store.signin_flow_take(&flow_key(&state, &binding)).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            tracing::info!("sign-in refused: unknown, expired, reused or another browser's state");
            return page(
                StatusCode::BAD_REQUEST,
                &format!(
                    "This sign-in is not one of this service's, was started in another browser, \
                     has expired or was used already.{START_AGAIN}"
                ),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read a sign-in");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service cannot finish a sign-in right now.",
            );
        }
    };
    if q.error.is_some() {
        return page(
            StatusCode::BAD_REQUEST,
            &format!("GitHub did not sign you in (the App was not authorized).{START_AGAIN}"),
        );
    }
    let Some(code) = plain(q.code) else {
        return page(
            StatusCode::BAD_REQUEST,
            &format!("GitHub sent no code back.{START_AGAIN}"),
        );
    };
    let token = match s
        .oauth
        .exchange_code(&code, &s.redirect_uri(), &verifier)
        .await
    {
        Ok(token) => token,
        Err(e) => {
            tracing::info!(error = %e, "sign-in refused: the code exchange failed");
            return page(
                StatusCode::BAD_REQUEST,
                &format!("GitHub did not confirm this sign-in.{START_AGAIN}"),
            );
        }
    };
    let person = s.person(&token).await;
    drop(token);
    let person = match person {
        Ok(person) => person,
        Err(e) => {
            tracing::warn!(error = %e, "sign-in refused: GitHub did not say who signed in or what they maintain");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("GitHub could not be asked who you are right now.{START_AGAIN}"),
            );
        }
    };
    if let Err(e) = s.remember(&person).await {
        tracing::error!(code = e.code, "cannot keep what a maintainer maintains");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service cannot keep sessions right now.",
        );
    }
    let user = person.user;
    let new = match s
        .sessions
        .open(
            SessionKind::Web,
            Some(&user.login),
            Some(user.id),
            MAINTAINER_SESSION_TTL,
        )
        .await
    {
        Ok(new) => new,
        Err(e) => {
            tracing::error!(error = %e, "cannot keep a maintainer's session");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service cannot keep sessions right now.",
            );
        }
    };
    tracing::info!(login = %user.login, repos = person.grants.len(), "a maintainer signed in with GitHub");
    let cookie = set_lax_cookie(&new.id, s.secure(), MAINTAINER_SESSION_TTL);
    redirect("/", &[&cookie])
}

fn redirect(location: &str, cookies: &[&str]) -> Response {
    let mut res = StatusCode::FOUND.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    for v in cookies.iter().filter_map(|c| HeaderValue::from_str(c).ok()) {
        h.append(header::SET_COOKIE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// A small page saying why a sign-in did not happen (never echoing what was sent).
fn page(status: StatusCode, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in · OWP \
         Pool</title></head><body><main><h1>Not signed in</h1><p>{}</p><p><a href=\"/\">Back to \
         the dashboard</a></p></main></body></html>\n",
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    );
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    res
}

// ---- the device flow -------------------------------------------------------------------------

/// A device flow just started: show `user_code` and `verification_uri` to the person, then poll
/// `POST /v1/auth/device/token` with `device_code` every `interval` seconds.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct DeviceStart {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    /// Seconds between two polls.
    pub interval: u64,
    /// Seconds until the codes expire.
    pub expires_in: u64,
}

#[derive(Deserialize, ToSchema)]
pub struct DeviceTokenBody {
    pub device_code: String,
}

/// A maintainer token: shown once, valid 30 days (`Authorization: Bearer owpm_…`).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct MaintainerToken {
    pub token: String,
    pub login: String,
    pub expires_at: String,
}

fn api_router() -> OpenApiRouter<Arc<SignIn>> {
    OpenApiRouter::new()
        .routes(routes!(device_start))
        .routes(routes!(device_token))
}

/// The routes' part of the OpenAPI document (served only while sign-in is on).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}

/// Start signing in from a CLI or a plugin (GitHub's device flow).
#[utoipa::path(post, path = "/v1/auth/device", tag = "auth", security(()),
    responses((status = 200, body = DeviceStart),
              (status = 404, body = Problem, description = "sign-in with GitHub is off"),
              (status = 503, body = Problem, description = "`github_unavailable`")))]
async fn device_start(State(s): State<Arc<SignIn>>) -> Result<axum::Json<DeviceStart>, ApiError> {
    let dc = s.oauth.device_code().await.map_err(|e| {
        tracing::warn!(error = %e, "GitHub did not start a device flow");
        match e {
            OAuthError::Refused { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "signin_unavailable",
                "GitHub refused to start a device sign-in (is the device flow enabled in the App's settings?)",
            ),
            OAuthError::Unavailable(_) => github_unavailable(),
        }
    })?;
    let expires_in = dc.expires_in.clamp(60, 3600);
    let interval = dc.interval.clamp(1, 60);
    s.store
        .signin_flow_start(
            &digest(&dc.device_code),
            FlowKind::Device,
            None,
            i64::try_from(interval * 1000).unwrap_or(5000),
            i64::try_from(expires_in * 1000).unwrap_or(900_000),
        )
        .await?;
    Ok(axum::Json(DeviceStart {
        device_code: dc.device_code,
        user_code: dc.user_code,
        verification_uri: dc.verification_uri,
        interval,
        expires_in,
    }))
}

/// `429 slow_down` with `Retry-After`.
fn slow_down(wait_ms: i64) -> Response {
    let secs = u64::try_from((wait_ms + 999) / 1000).unwrap_or(5).max(1);
    let mut res = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "slow_down",
        format!("polled too often: wait {secs} s between polls"),
    )
    .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    res
}

fn unknown_device_code() -> ApiError {
    ApiError::bad_request(
        "invalid_device_code",
        "this device code is not one of this service's, has expired or was used already: start \
         again with POST /v1/auth/device",
    )
}

/// Poll a device sign-in: `428 authorization_pending` until the person approves on GitHub, then
/// a maintainer token (shown once).
#[utoipa::path(post, path = "/v1/auth/device/token", tag = "auth", security(()),
    request_body = DeviceTokenBody,
    responses((status = 201, body = MaintainerToken),
              (status = 428, body = Problem, description = "`authorization_pending`: not approved yet; poll again after `interval`"),
              (status = 429, body = Problem, description = "`slow_down`: polled too often (see `Retry-After`)"),
              (status = 400, body = Problem, description = "`invalid_device_code` or `expired_token`: start again"),
              (status = 403, body = Problem, description = "`access_denied`: the person declined"),
              (status = 404, body = Problem, description = "sign-in with GitHub is off"),
              (status = 503, body = Problem, description = "`github_unavailable`")))]
async fn device_token(
    State(s): State<Arc<SignIn>>,
    body: Payload<DeviceTokenBody>,
) -> Result<(StatusCode, axum::Json<MaintainerToken>), Response> {
    let code = body.value.device_code.trim().to_string();
    let valid = !code.is_empty() && code.len() <= 200 && code.bytes().all(|b| b.is_ascii_graphic());
    if !valid {
        return Err(ApiError::invalid(
            "invalid_device_code",
            "`device_code` must be the code POST /v1/auth/device returned",
        )
        .into_response());
    }
    let key = digest(&code);
    let fail = |e: ApiError| e.into_response();
    match s
        .store
        .signin_device_poll(&key)
        .await
        .map_err(|e| fail(e.into()))?
    {
        DevicePoll::Go => {}
        DevicePoll::TooSoon(ms) => return Err(slow_down(ms)),
        DevicePoll::Unknown => return Err(fail(unknown_device_code())),
    }
    let token = match s.oauth.device_token(&code).await {
        Ok(token) => token,
        Err(OAuthError::Refused {
            code: why,
            interval,
        }) => {
            return Err(match why.as_str() {
                "authorization_pending" => fail(ApiError::new(
                    StatusCode::PRECONDITION_REQUIRED,
                    "authorization_pending",
                    "not approved yet: enter the code on GitHub, then poll again",
                )),
                "slow_down" => {
                    let secs = interval.unwrap_or(10).clamp(1, 120);
                    let ms = i64::try_from(secs * 1000).unwrap_or(10_000);
                    let _ = s.store.signin_device_interval(&key, ms).await;
                    slow_down(ms)
                }
                "expired_token" => {
                    let _ = s.store.signin_flow_finish(&key).await;
                    fail(ApiError::bad_request(
                        "expired_token",
                        "the codes expired before they were approved: start again",
                    ))
                }
                "access_denied" => {
                    let _ = s.store.signin_flow_finish(&key).await;
                    fail(ApiError::forbidden(
                        "access_denied",
                        "the sign-in was declined on GitHub",
                    ))
                }
                _ => fail(unknown_device_code()),
            });
        }
        Err(e @ OAuthError::Unavailable(_)) => {
            tracing::warn!(error = %e, "a device sign-in could not be polled");
            return Err(fail(github_unavailable()));
        }
    };
    let person = s.person(&token).await;
    drop(token);
    let person = person.map_err(|e| {
        tracing::warn!(error = %e, "cannot read who signed in or what they maintain");
        fail(github_unavailable())
    })?;
    s.remember(&person).await.map_err(fail)?;
    let user = person.user;
    if !s
        .store
        .signin_flow_finish(&key)
        .await
        .map_err(|e| fail(e.into()))?
    {
        return Err(fail(unknown_device_code()));
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_hex());
    let expires_at = s
        .store
        .signin_session_create(&NewSession {
            digest: &digest(&secret),
            kind: SessionKind::Token,
            login: Some(&user.login),
            github_id: Some(user.id),
            csrf: None,
            ttl_ms: TOKEN_TTL_MS,
        })
        .await
        .map_err(|e| fail(e.into()))?;
    tracing::info!(login = %user.login, "a maintainer token was made (device sign-in)");
    Ok((
        StatusCode::CREATED,
        axum::Json(MaintainerToken {
            token: secret,
            login: user.login,
            expires_at: format_ts(expires_at),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_values_are_plain() {
        assert_eq!(plain(Some("abc123".into())).as_deref(), Some("abc123"));
        assert_eq!(plain(Some(String::new())), None);
        assert_eq!(plain(Some("a b".into())), None);
        assert_eq!(plain(Some("x".repeat(513))), None);
    }
}
