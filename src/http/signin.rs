//! The routes of signing in with GitHub (the contract's section 10): the web flow for the
//! dashboard (`GET /auth/github`, `GET /auth/github/callback`: state + PKCE, a session cookie of
//! at most 8 hours), the device flow for the CLI and plugins (`POST /v1/auth/device`,
//! `POST /v1/auth/device/token`: a 30-day `owpm_…` token), and what each person maintains
//! (`github::signin::SignIn` answers [`RepoAccess`]).
//!
//! A web sign-in's `state` belongs to the browser that started it: `GET /auth/github` sets a
//! short-lived cookie whose value, with the state, names the flow; a callback without it opens
//! nothing. States, device codes, sessions and tokens are stored as digests; none of them is
//! logged or echoed.

use std::sync::Arc;

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

use super::error::{ApiError, Problem};
use super::extract::Payload;
use super::principal::{
    RepoAccess, RepoGrant, TOKEN_PREFIX, cookie_values, digest, is_random_id, random_hex,
};
use super::session::{MAINTAINER_SESSION_TTL, Sessions, set_lax_cookie};
use crate::github::manifest::SIGNIN_CALLBACK_PATH;
use crate::github::oauth::{OAuthError, code_challenge};
use crate::github::signin::{AccessError, SignIn};
use crate::store::format_ts;
use crate::store::signin::{DevicePoll, FlowKind, NewSession, SessionKind};

/// How long a web sign-in's `state` is accepted back.
pub const FLOW_TTL_MS: i64 = 10 * 60_000;
/// How long a maintainer token lives.
pub const TOKEN_TTL_MS: i64 = 30 * 24 * 3_600_000;
/// The cookie that binds a web sign-in's `state` to the browser that started it.
pub const FLOW_COOKIE: &str = "owp_signin";

/// What the routes of signing in hold: sign-in with GitHub and the sessions it opens.
#[derive(Clone)]
pub struct SignInRoutes {
    signin: Arc<SignIn>,
    sessions: Sessions,
}

impl std::ops::Deref for SignInRoutes {
    type Target = SignIn;
    fn deref(&self) -> &SignIn {
        &self.signin
    }
}

/// The routes of signing in.
pub fn router(signin: Arc<SignIn>, sessions: Sessions) -> Router {
    let (api, _) = api_router().split_for_parts();
    Router::new()
        .route("/auth/github", axum::routing::get(web_start))
        .route(SIGNIN_CALLBACK_PATH, axum::routing::get(web_callback))
        .merge(api)
        .with_state(SignInRoutes { signin, sessions })
}

/// What a person may do, as [`RepoAccess`] asks it of sign-in with GitHub.
pub struct GithubAccess(pub Arc<SignIn>);

fn access_error(e: AccessError) -> ApiError {
    match e {
        AccessError::Store(e) => e.into(),
        AccessError::Github => github_unavailable(),
    }
}

impl RepoAccess for GithubAccess {
    fn permission<'a>(
        &'a self,
        login: &'a str,
        repo: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, ApiError>> {
        Box::pin(async move {
            let listed = self.0.listed(login).await?;
            let Some((repo, installation)) = listed
                .into_iter()
                .find(|(r, _)| r.eq_ignore_ascii_case(repo))
            else {
                return Ok(None);
            };
            self.0
                .permission_of(login, &repo, installation)
                .await
                .map_err(access_error)
        })
    }

    fn repos<'a>(&'a self, login: &'a str) -> BoxFuture<'a, Result<Vec<RepoGrant>, ApiError>> {
        Box::pin(async move {
            let mut grants = Vec::new();
            for (repo, installation) in self.0.listed(login).await? {
                if let Some(permission) = self
                    .0
                    .permission_of(login, &repo, installation)
                    .await
                    .map_err(access_error)?
                {
                    grants.push(RepoGrant { repo, permission });
                }
            }
            Ok(grants)
        })
    }
}

pub(super) fn github_unavailable() -> ApiError {
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
#[utoipa::path(get, path = "/auth/github", tag = "auth", security(()),
    responses((status = 302, description = "to GitHub's authorization page, with a single-use \
                  `state`, PKCE, and the `owp_signin` cookie that binds the state to this \
                  browser; a page (`503`, HTML) when the sign-in cannot be recorded"),
              (status = 404, body = Problem, description = "sign-in with GitHub is off")))]
async fn web_start(State(s): State<SignInRoutes>) -> Response {
    let state = random_hex();
    let binding = random_hex();
    let verifier = random_hex();
    if let Err(e) = s
        .store
        .signin()
        .flow_start(
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
#[utoipa::path(get, path = "/auth/github/callback", tag = "auth", security(()),
    responses((status = 302, description = "to `/` with the `owp_session` cookie. Its query is \
                  GitHub's (`code`, `state`, or `error`); a state that is unknown, expired, \
                  reused or another browser's, a declined sign-in or a failed exchange is a page \
                  (`400`, HTML) and no session; GitHub not answering, a page (`503`)"),
              (status = 404, body = Problem, description = "sign-in with GitHub is off")))]
async fn web_callback(
    State(s): State<SignInRoutes>,
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
    s: &SignInRoutes,
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
    let verifier = match s
        .store
        .signin()
        .flow_take(&flow_key(&state, &binding))
        .await
    {
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
        tracing::error!(error = %e, "cannot keep what a maintainer maintains");
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

fn api_router() -> OpenApiRouter<SignInRoutes> {
    OpenApiRouter::new()
        .routes(routes!(device_start))
        .routes(routes!(device_token))
}

/// The routes' part of the OpenAPI document (served only while sign-in is on).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}

/// GitHub did not start a device flow: `503 signin_unavailable` when it refused (the App's
/// device flow is off), `503 github_unavailable` when it did not answer.
pub(super) fn device_start_error(e: OAuthError) -> ApiError {
    tracing::warn!(error = %e, "GitHub did not start a device flow");
    match e {
        OAuthError::Refused { .. } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "signin_unavailable",
            "GitHub refused to start a device flow (is the device flow enabled in the App's settings?)",
        ),
        OAuthError::Unavailable(_) => github_unavailable(),
    }
}

/// Start signing in from a CLI or a plugin (GitHub's device flow).
#[utoipa::path(post, path = "/v1/auth/device", tag = "auth", security(()),
    responses((status = 200, body = DeviceStart),
              (status = 404, body = Problem, description = "sign-in with GitHub is off"),
              (status = 503, body = Problem, description = "`github_unavailable`")))]
async fn device_start(State(s): State<SignInRoutes>) -> Result<axum::Json<DeviceStart>, ApiError> {
    let dc = s.oauth.device_code().await.map_err(device_start_error)?;
    let expires_in = dc.expires_in.clamp(60, 3600);
    let interval = dc.interval.clamp(1, 60);
    s.store
        .signin()
        .flow_start(
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
pub(super) fn slow_down(wait_ms: i64) -> Response {
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

/// `400 invalid_device_code`; `start` is the route that starts a flow again.
pub(super) fn unknown_device_code(start: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_device_code",
        format!(
            "this device code is not one of this service's, has expired or was used already: \
             start again with POST {start}"
        ),
    )
}

/// The route that starts a maintainer's device sign-in.
const DEVICE_START: &str = "/v1/auth/device";

/// What GitHub's refusal of a device grant's poll comes to: the answer to send, a slower interval
/// to keep (`slow_down`), and whether the flow is over (`expired_token`, `access_denied`). The
/// same for a maintainer's sign-in and a worker's link (`http::worker_link`).
pub(super) struct DeviceRefusal {
    pub answer: Response,
    pub interval_ms: Option<i64>,
    pub ends: bool,
}

/// [`DeviceRefusal`] of GitHub's OAuth error code `why` (`interval`: `slow_down`'s new least
/// interval, in seconds); `start` is the route that starts a flow again.
pub(super) fn device_refusal(why: &str, interval: Option<u64>, start: &str) -> DeviceRefusal {
    let answer = |e: ApiError| e.into_response();
    let (answer, interval_ms, ends) = match why {
        "authorization_pending" => (
            answer(ApiError::new(
                StatusCode::PRECONDITION_REQUIRED,
                "authorization_pending",
                "not approved yet: enter the code on GitHub, then poll again",
            )),
            None,
            false,
        ),
        "slow_down" => {
            let secs = interval.unwrap_or(10).clamp(1, 120);
            let ms = i64::try_from(secs * 1000).unwrap_or(10_000);
            (slow_down(ms), Some(ms), false)
        }
        "expired_token" => (
            answer(ApiError::bad_request(
                "expired_token",
                "the codes expired before they were approved: start again",
            )),
            None,
            true,
        ),
        "access_denied" => (
            answer(ApiError::forbidden(
                "access_denied",
                "the person declined on GitHub",
            )),
            None,
            true,
        ),
        _ => (answer(unknown_device_code(start)), None, false),
    };
    DeviceRefusal {
        answer,
        interval_ms,
        ends,
    }
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
    State(s): State<SignInRoutes>,
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
        .signin()
        .device_poll(&key)
        .await
        .map_err(|e| fail(e.into()))?
    {
        DevicePoll::Go => {}
        DevicePoll::TooSoon(ms) => return Err(slow_down(ms)),
        DevicePoll::Unknown => return Err(fail(unknown_device_code(DEVICE_START))),
    }
    let token = match s.oauth.device_token(&code).await {
        Ok(token) => token,
        Err(OAuthError::Refused {
            code: why,
            interval,
        }) => {
            let refusal = device_refusal(&why, interval, DEVICE_START);
            if let Some(ms) = refusal.interval_ms {
                let _ = s.store.signin().device_interval(&key, ms).await;
            }
            if refusal.ends {
                let _ = s.store.signin().flow_finish(&key).await;
            }
            return Err(refusal.answer);
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
    s.remember(&person).await.map_err(|e| fail(e.into()))?;
    let user = person.user;
    if !s
        .store
        .signin()
        .flow_finish(&key)
        .await
        .map_err(|e| fail(e.into()))?
    {
        return Err(fail(unknown_device_code(DEVICE_START)));
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_hex());
    let expires_at = s
        .store
        .signin()
        .session_create(&NewSession {
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
