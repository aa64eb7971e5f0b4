//! Maintainers sign in with GitHub (the contract's section 10): the web flow for the dashboard
//! (`GET /auth/github`, `GET /auth/github/callback`: state + PKCE, a session cookie of at most
//! 8 hours), the device flow for the CLI and plugins (`POST /v1/auth/device`,
//! `POST /v1/auth/device/token`: a 30-day `owpm_…` token), and what each person maintains
//! ([`SignIn`] answers `http::principal::RepoAccess`: `admin`, `maintain` or `write` on a
//! repository of the App's installations, read with the installation's token and trusted for
//! at most five minutes).
//!
//! Nothing of GitHub's person token is kept: it reads `GET /user` once and is dropped. States,
//! device codes, sessions and tokens are stored as digests; none of them is logged or echoed.

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::ServeConfig;
use crate::dashboard::Sessions;
use crate::dashboard::session::{MAINTAINER_SESSION_TTL, set_lax_cookie};
use crate::github::api;
use crate::github::app_auth::GithubApp;
use crate::github::manifest::SIGNIN_CALLBACK_PATH;
use crate::github::oauth::{OAuthClient, OAuthError, code_challenge};
use crate::github::raw_calls::RepoPermission;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Payload;
use crate::http::principal::{RepoAccess, RepoGrant, TOKEN_PREFIX, digest, random_hex};
use crate::store::signin::{DevicePoll, FlowKind, NewSession, SessionKind};
use crate::store::{Store, format_ts};

/// How long a web sign-in's `state` is accepted back.
pub const FLOW_TTL_MS: i64 = 10 * 60_000;
/// How long a maintainer token lives.
pub const TOKEN_TTL_MS: i64 = 30 * 24 * 3_600_000;
/// How long what GitHub said about a person's access is trusted.
pub const PERMISSION_MAX_AGE_MS: i64 = 5 * 60_000;

/// Sign-in with GitHub, when `GITHUB_CLIENT_ID` is set.
pub struct SignIn {
    oauth: OAuthClient,
    store: Store,
    app: Option<Arc<GithubApp>>,
    sessions: Sessions,
    base_url: RwLock<String>,
    permission_max_age_ms: i64,
}

impl SignIn {
    /// Sign-in as configured: `None` (off) without a client id.
    pub fn new(
        config: &ServeConfig,
        store: &Store,
        app: Option<Arc<GithubApp>>,
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
            app,
            sessions,
            base_url: RwLock::new(base_url),
            permission_max_age_ms: gh
                .github_permission_max_age_ms
                .map_or(PERMISSION_MAX_AGE_MS, |ms| {
                    i64::try_from(ms).unwrap_or(PERMISSION_MAX_AGE_MS)
                }),
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

    /// What GitHub says `login` may do on `repo` (cached in the database).
    async fn permission_of(&self, login: &str, repo: &str) -> Result<Option<String>, ApiError> {
        let Some(installation) = self.store.signin_installation_of(repo).await? else {
            return Ok(None);
        };
        let cached = self
            .store
            .signin_permission(login, repo, self.permission_max_age_ms)
            .await?;
        let permission = match cached {
            Some(p) => p,
            None => {
                let fresh = self.fetch_permission(installation, repo, login).await?;
                self.store
                    .signin_permission_save(login, repo, &fresh)
                    .await?;
                fresh
            }
        };
        Ok(maintains(&permission).then_some(permission))
    }

    async fn fetch_permission(
        &self,
        installation: i64,
        repo: &str,
        login: &str,
    ) -> Result<String, ApiError> {
        let Some(app) = &self.app else {
            return Ok("none".into());
        };
        let unavailable = |e: api::CallError| {
            tracing::warn!(error = %e, repo, "cannot read a maintainer's permission from GitHub");
            github_unavailable()
        };
        let client = api::installation(app, installation)
            .await
            .map_err(unavailable)?;
        let permission = api::permission(&client, repo, login)
            .await
            .map_err(unavailable)?;
        Ok(permission_name(permission).to_string())
    }
}

impl RepoAccess for SignIn {
    fn permission<'a>(
        &'a self,
        login: &'a str,
        repo: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, ApiError>> {
        Box::pin(self.permission_of(login, repo))
    }

    fn repos<'a>(&'a self, login: &'a str) -> BoxFuture<'a, Result<Vec<RepoGrant>, ApiError>> {
        Box::pin(async move {
            let mut grants = Vec::new();
            for (repo, _) in self.store.signin_installed_repos().await? {
                if let Some(permission) = self.permission_of(login, &repo).await? {
                    grants.push(RepoGrant { repo, permission });
                }
            }
            Ok(grants)
        })
    }
}

/// Whether a permission makes its holder a maintainer.
fn maintains(permission: &str) -> bool {
    matches!(permission, "admin" | "maintain" | "write")
}

fn permission_name(p: RepoPermission) -> &'static str {
    match p {
        RepoPermission::None => "none",
        RepoPermission::Read => "read",
        RepoPermission::Triage => "triage",
        RepoPermission::Write => "write",
        RepoPermission::Maintain => "maintain",
        RepoPermission::Admin => "admin",
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

/// `GET /auth/github`: off to GitHub with a new state and PKCE challenge.
async fn web_start(State(s): State<Arc<SignIn>>) -> Response {
    let state = random_hex();
    let verifier = random_hex();
    if let Err(e) = s
        .store
        .signin_flow_start(
            &digest(&state),
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
    redirect(&url, None)
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

/// `GET /auth/github/callback`: the state must be one of this service's, live and unused; the
/// code is exchanged with its verifier; the person is read; a session opens; back to the
/// dashboard (always `/`, whatever the request carries).
async fn web_callback(
    State(s): State<Arc<SignIn>>,
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
    let verifier = match s.store.signin_flow_take(&digest(&state)).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            tracing::info!("sign-in refused: unknown, expired or reused state");
            return page(
                StatusCode::BAD_REQUEST,
                &format!(
                    "This sign-in is not one of this service's, has expired or was used already.{START_AGAIN}"
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
    let user = match exchange(&s, &code, &verifier).await {
        Ok(user) => user,
        Err(e) => {
            tracing::info!(error = %e, "sign-in refused: the code exchange failed");
            return page(
                StatusCode::BAD_REQUEST,
                &format!("GitHub did not confirm this sign-in.{START_AGAIN}"),
            );
        }
    };
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
    tracing::info!(login = %user.login, "a maintainer signed in with GitHub");
    let cookie = set_lax_cookie(&new.id, s.secure(), MAINTAINER_SESSION_TTL);
    redirect("/", Some(&cookie))
}

/// The code for the person's token, the token for who they are; the token is dropped.
async fn exchange(
    s: &SignIn,
    code: &str,
    verifier: &str,
) -> Result<crate::github::oauth::GithubUser, OAuthError> {
    let token = s
        .oauth
        .exchange_code(code, &s.redirect_uri(), verifier)
        .await?;
    s.oauth.user(&token).await
}

fn redirect(location: &str, cookie: Option<&str>) -> Response {
    let mut res = StatusCode::FOUND.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert(header::SET_COOKIE, v);
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
    let user = s.oauth.user(&token).await.map_err(|e| {
        tracing::warn!(error = %e, "cannot read who signed in");
        fail(github_unavailable())
    })?;
    drop(token);
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
    fn only_write_and_above_maintain() {
        for (p, yes) in [
            (RepoPermission::Admin, true),
            (RepoPermission::Maintain, true),
            (RepoPermission::Write, true),
            (RepoPermission::Triage, false),
            (RepoPermission::Read, false),
            (RepoPermission::None, false),
        ] {
            assert_eq!(maintains(permission_name(p)), yes, "{p:?}");
        }
    }

    #[test]
    fn callback_values_are_plain() {
        assert_eq!(plain(Some("abc123".into())).as_deref(), Some("abc123"));
        assert_eq!(plain(Some(String::new())), None);
        assert_eq!(plain(Some("a b".into())), None);
        assert_eq!(plain(Some("x".repeat(513))), None);
    }
}
