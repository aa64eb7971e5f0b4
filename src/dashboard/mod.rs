//! The HTML dashboard served at `/`.
//!
//! The server renders a small HTML shell; `assets/app.js` fills it from the JSON API
//! (`GET /v1/admin/state`) and keeps it current from the event stream (`GET /v1/events`).
//! By default nothing is shown without signing in: the sign-in form trades the admin token for a
//! session cookie (see [`session`]), which the API accepts as admin credentials, with a CSRF token
//! for writes.
//!
//! With public boards on (`OWP_PUBLIC_BOARDS`), a visitor without a session gets a read-only
//! board of the public repositories instead, fed by `GET /board/state` and `GET /board/events`
//! (see [`board`]); `GET /login` then shows the sign-in form. Private repositories, workers and
//! every write still need the admin session.
//!
//! Routes: `GET /` (sign-in page, public board or dashboard), the static assets (`GET
//! /assets/{app.js,event-words.js,charts.js,steering.js,app.css,favicon.svg}`), `GET|POST
//! /login`, `POST /logout`, `GET /join` (how to join this pool), and with public boards `GET
//! /board/state`, `GET /board/events`.

pub mod board;
mod join;

use std::sync::LazyLock;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Form, FromRef, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::http::session::is_https;

pub use crate::http::session::{self, CSRF_HEADER, NewSession, Sessions, SignInError};
pub use board::PublicBoards;

const INDEX_HTML: &str = include_str!("assets/index.html");
const BOARD_HTML: &str = include_str!("assets/board.html");
const SIGN_IN_HTML: &str = include_str!("assets/sign-in.html");
const APP_JS: &str = include_str!("assets/app.js");
const STEERING_JS: &str = include_str!("assets/steering.js");
const EVENT_WORDS_JS: &str = include_str!("assets/event-words.js");
const CHARTS_JS: &str = include_str!("assets/charts.js");
const APP_CSS: &str = include_str!("assets/app.css");
const FAVICON_SVG: &str = include_str!("assets/favicon.svg");

/// The assets' content types.
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// Content-Security-Policy of every dashboard page: only this origin's own script, styles and
/// connections; no inline script, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Short content hashes, so asset URLs change whenever the assets do and can be cached for long.
static ASSET_VERSION: LazyLock<(String, String)> = LazyLock::new(|| {
    let short = |text: &str| hex::encode(&Sha256::digest(text.as_bytes())[..6]);
    // One version for every script: the pages load them together.
    (
        short(&format!("{APP_JS}{STEERING_JS}{EVENT_WORDS_JS}{CHARTS_JS}")),
        short(APP_CSS),
    )
});

/// The dashboard's state: the sign-in sessions, and the public board when it is on.
#[derive(Clone)]
struct Dashboard {
    sessions: Sessions,
    public: Option<PublicBoards>,
    pages: Pages,
}

/// What the pages say beyond the pool's own data.
#[derive(Clone, Debug, Default)]
pub struct Pages {
    /// Maintainers can sign in with GitHub (`/auth/github`).
    pub github_signin: bool,
    /// Where volunteers download `owp` (`OWP_DOWNLOAD_URL`, else the releases of the repository
    /// it was built from), shown on `/join`.
    pub download_url: Option<String>,
    /// The repository `owp` was built from, when known: `/join` links its source.
    pub source_url: Option<String>,
    /// GitHub's web address when the App runs: task rows link to their issues there.
    pub github_web_url: Option<String>,
}

impl FromRef<Dashboard> for Sessions {
    fn from_ref(d: &Dashboard) -> Sessions {
        d.sessions.clone()
    }
}

/// The dashboard's routes, with their own state, ready to be merged into the service's router.
/// `public` turns the public board on (`None`: every page needs the admin session).
pub fn router<S>(sessions: Sessions, public: Option<PublicBoards>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router_with(sessions, public, Pages::default())
}

/// [`router`], with what [`Pages`] adds: a "Sign in with GitHub" button, a download link for
/// `owp` on `/join`, links from tasks to their GitHub issues.
pub fn router_with<S>(sessions: Sessions, public: Option<PublicBoards>, pages: Pages) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let pages = Router::new()
        .route("/", get(index))
        .route("/login", post(login).get(login_page))
        .route("/logout", post(logout))
        .route("/join", get(join::page))
        .route("/assets/app.js", get(|| async { asset(JS, APP_JS) }))
        .route(
            "/assets/steering.js",
            get(|| async { asset(JS, STEERING_JS) }),
        )
        .route(
            "/assets/event-words.js",
            get(|| async { asset(JS, EVENT_WORDS_JS) }),
        )
        .route("/assets/charts.js", get(|| async { asset(JS, CHARTS_JS) }))
        .route("/assets/app.css", get(|| async { asset(CSS, APP_CSS) }))
        .route(
            "/assets/favicon.svg",
            get(|| async { asset(SVG, FAVICON_SVG) }),
        )
        .layer(DefaultBodyLimit::max(16 * 1024))
        .with_state(Dashboard {
            sessions,
            public: public.clone(),
            pages,
        });
    match public {
        Some(board) => pages.merge(
            Router::new()
                .route("/board/state", get(board::state))
                .route("/board/events", get(board::events))
                .with_state(board),
        ),
        None => pages,
    }
}

async fn index(State(d): State<Dashboard>, headers: HeaderMap) -> Response {
    let session = d.sessions.session(&headers).await;
    match session.as_ref().and_then(|s| s.csrf.as_deref()) {
        Some(csrf) => html(
            StatusCode::OK,
            dashboard_page(
                csrf,
                d.public.is_some(),
                session.as_ref().and_then(|s| s.login.as_deref()),
                d.pages.github_web_url.as_deref(),
            ),
        ),
        None if d.public.is_some() => html(
            StatusCode::OK,
            board_page(&headers, d.pages.github_web_url.as_deref()),
        ),
        None => html(
            StatusCode::OK,
            sign_in_page(None, false, d.pages.github_signin),
        ),
    }
}

/// `GET /login`: the sign-in form when the root shows the public board, else back to the root
/// (which is the sign-in form, or the dashboard of a signed-in admin).
async fn login_page(State(d): State<Dashboard>, headers: HeaderMap) -> Response {
    if d.public.is_some() && !d.sessions.is_signed_in(&headers).await {
        html(
            StatusCode::OK,
            sign_in_page(None, true, d.pages.github_signin),
        )
    } else {
        Redirect::to("/").into_response()
    }
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    token: String,
}

async fn login(
    State(d): State<Dashboard>,
    client: Option<axum::Extension<crate::http::rate_limits::ClientIp>>,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let client = client.map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.0);
    let board = d.public.is_some();
    if cross_site(&headers) {
        return html(
            StatusCode::FORBIDDEN,
            sign_in_page(
                Some("Sign in from this site's own page."),
                board,
                d.pages.github_signin,
            ),
        );
    }
    let Ok(Form(form)) = form else {
        return html(
            StatusCode::BAD_REQUEST,
            sign_in_page(
                Some("The sign-in form was not sent as expected; try again."),
                board,
                d.pages.github_signin,
            ),
        );
    };
    match d.sessions.sign_in(form.token.trim(), client).await {
        Ok(new) => {
            let cookie = session::set_cookie(
                &new.id,
                d.sessions.secure_cookies(&headers),
                session::SESSION_TTL,
            );
            see_other_with_cookie(&cookie)
        }
        Err(SignInError::WrongToken) => {
            tracing::info!("dashboard sign-in refused: wrong admin token");
            html(
                StatusCode::UNAUTHORIZED,
                sign_in_page(
                    Some("That is not the admin token."),
                    board,
                    d.pages.github_signin,
                ),
            )
        }
        Err(SignInError::Unavailable) => html(
            StatusCode::SERVICE_UNAVAILABLE,
            sign_in_page(
                Some("The service cannot keep sessions right now; try again soon."),
                board,
                d.pages.github_signin,
            ),
        ),
        Err(SignInError::TooManyAttempts { retry_after }) => {
            tracing::warn!(%client, "dashboard sign-in throttled after repeated wrong tokens");
            let mut resp = html(
                StatusCode::TOO_MANY_REQUESTS,
                sign_in_page(
                    Some(
                        "Too many wrong tokens from this address lately. Wait a moment and try again.",
                    ),
                    board,
                    d.pages.github_signin,
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after.as_secs().to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
    }
}

#[derive(Deserialize)]
struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(sessions): State<Sessions>,
    headers: HeaderMap,
    form: Result<Form<SignOutForm>, FormRejection>,
) -> Response {
    if sessions.is_signed_in(&headers).await {
        let sent = match &form {
            Ok(Form(f)) if !f.csrf.is_empty() => f.csrf.clone(),
            _ => headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
        };
        if !sessions.csrf_matches(&headers, &sent).await {
            return (
                StatusCode::FORBIDDEN,
                "Sign-out needs the page's CSRF token.\n",
            )
                .into_response();
        }
        sessions.sign_out(&headers).await;
    }
    see_other_with_cookie(&session::clear_cookie(sessions.secure_cookies(&headers)))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        // `same-origin`, not `no-referrer`: with the latter, browsers send `Origin: null` on the
        // page's own form posts.
        HeaderValue::from_static("same-origin"),
    );
    resp
}

fn see_other_with_cookie(cookie: &str) -> Response {
    let mut resp = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The `<meta>` that tells the page GitHub's web address (none without the App).
fn github_web_meta(github_web_url: Option<&str>) -> String {
    github_web_url
        .map(|url| format!(r#"<meta name="github-web" content="{}">"#, escape(url)))
        .unwrap_or_default()
}

fn dashboard_page(
    csrf: &str,
    public_boards: bool,
    login: Option<&str>,
    github_web_url: Option<&str>,
) -> String {
    let (js_v, css_v) = &*ASSET_VERSION;
    let boards = if public_boards {
        "Public boards are on: anyone can read the boards of public repositories."
    } else {
        "Public boards are off: only admins and maintainers see a board, a public repository's \
         too (OWP_PUBLIC_BOARDS serves those to anyone)."
    };
    INDEX_HTML
        .replace("{{github_web}}", &github_web_meta(github_web_url))
        .replace("{{csrf}}", &escape(csrf))
        .replace(
            "{{public_boards}}",
            if public_boards { "on" } else { "off" },
        )
        .replace("{{boards}}", boards)
        .replace(
            "{{who}}",
            &match login {
                Some(login) => format!("Signed in as {} (GitHub)", escape(login)),
                None => "Signed in as the operator".to_string(),
            },
        )
        .replace("{{js_v}}", js_v)
        .replace("{{css_v}}", css_v)
}

/// The read-only board of public repositories, for visitors without a session, with how to
/// join this pool.
fn board_page(headers: &HeaderMap, github_web_url: Option<&str>) -> String {
    let (js_v, css_v) = &*ASSET_VERSION;
    BOARD_HTML
        .replace("{{github_web}}", &github_web_meta(github_web_url))
        .replace("{{js_v}}", js_v)
        .replace("{{css_v}}", css_v)
        .replace("{{join_command}}", &join::command(headers))
}

/// The sign-in form; with public boards on it links back to the public board.
fn sign_in_page(error: Option<&str>, public_boards: bool, github_signin: bool) -> String {
    let (_, css_v) = &*ASSET_VERSION;
    let error = match error {
        Some(text) => format!(
            r#"<p class="form-error" id="sign-in-error" role="alert">{}</p>"#,
            escape(text)
        ),
        None => String::new(),
    };
    let described = if error.is_empty() {
        "token-help"
    } else {
        "sign-in-error token-help"
    };
    let back = if public_boards {
        r#"<p class="muted small center"><a href="/">Back to the public board</a></p>"#
    } else {
        ""
    };
    SIGN_IN_HTML
        .replace("{{css_v}}", css_v)
        .replace("{{error}}", &error)
        .replace("{{described}}", described)
        .replace("{{board_link}}", back)
        .replace(
            "{{form_title}}",
            if github_signin {
                "Operator: sign in with the admin token"
            } else {
                "Sign in to the dashboard"
            },
        )
        .replace(
            "{{github}}",
            // Maintainers come first: they sign in with GitHub; the token is the operator's.
            if github_signin {
                r#"<div class="card sign-in-card"><h2>Maintainers</h2><p class="center"><a class="btn primary wide" id="github-sign-in" href="/auth/github">Sign in with GitHub</a></p><p class="muted small center">GitHub says which repositories you steer.</p></div>"#
            } else {
                ""
            },
        )
}

/// True when a form post comes from another site. Browsers that send `Sec-Fetch-Site` are judged
/// by it alone (only `same-origin`, or `none` for a user's own navigation, pass); otherwise an
/// `Origin` whose host is not this request's `Host` is refused. Requests with neither header
/// (non-browser clients) pass.
fn cross_site(headers: &HeaderMap) -> bool {
    static SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
    if let Some(site) = headers.get(&SEC_FETCH_SITE) {
        let site = site.to_str().unwrap_or("");
        return !(site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (origin_host, host) {
        (Some(o), Some(h)) => !o.eq_ignore_ascii_case(h),
        // `Origin: null` (sandboxed or privacy-redirected forms), or no Host to compare with.
        _ => true,
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::secret::Secret;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    const TOKEN: &str = "admin-token-for-tests-0123456789";

    async fn app() -> (Router, Sessions, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
        let store = crate::store::Store::open(&url, crate::store::Timing::default())
            .await
            .unwrap();
        let sessions = Sessions::new(Secret::new(TOKEN), store);
        (router(sessions.clone(), None), sessions, dir)
    }

    async fn send(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    fn login_request(token: &str) -> Request<Body> {
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "pool.example")
            .header(header::ORIGIN, "https://pool.example")
            .body(Body::from(format!("token={token}")))
            .unwrap()
    }

    /// Signs in through the route and returns the cookie pair (`owp_session=…`) and CSRF token.
    /// `GET /` with a session cookie.
    fn signed_in_page(pair: &str) -> Request<Body> {
        Request::get("/")
            .header(header::COOKIE, pair)
            .body(Body::empty())
            .unwrap()
    }

    async fn sign_in(app: &Router) -> (String, String) {
        let (status, headers, _) = send(app, login_request(TOKEN)).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let set = headers[header::SET_COOKIE].to_str().unwrap();
        let pair = set.split(';').next().unwrap().to_string();
        let (_, _, page) = send(app, signed_in_page(&pair)).await;
        let csrf = page
            .split(r#"<meta name="csrf-token" content=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the dashboard embeds a CSRF token")
            .to_string();
        (pair, csrf)
    }

    #[tokio::test]
    async fn without_a_session_the_root_is_the_sign_in_form() {
        let (app, _, _dir) = app().await;
        let (status, headers, body) =
            send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert!(
            headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        assert!(body.contains(r#"action="/login""#));
        assert!(
            body.contains(r#"<label for="token""#),
            "the field is labelled"
        );
        assert!(
            !body.contains("csrf-token"),
            "no session, no CSRF token, no data"
        );
        assert!(
            !body.contains("app.js"),
            "the data-loading script is not served to strangers"
        );
    }

    #[tokio::test]
    async fn a_wrong_token_is_refused_without_a_cookie() {
        let (app, sessions, _dir) = app().await;
        let (status, headers, body) = send(&app, login_request("wrong")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(headers.get(header::SET_COOKIE).is_none());
        assert!(body.contains("not the admin token"));
        assert!(!body.contains("wrong"), "the sent token is not echoed");
        assert_eq!(sessions.live().await, 0);
    }

    #[tokio::test]
    async fn signing_in_sets_a_strict_http_only_cookie_and_shows_the_dashboard() {
        let (app, sessions, _dir) = app().await;
        let (status, headers, _) = send(&app, login_request(TOKEN)).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[header::LOCATION], "/");
        let cookie = headers[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with("owp_session="));
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(attr), "{cookie} lacks {attr}");
        }
        assert!(!cookie.contains(TOKEN), "the cookie never holds the token");
        assert!(!cookie.contains("Secure"), "plain http: no Secure flag");
        assert_eq!(sessions.live().await, 1);

        let (pair, csrf) = sign_in(&app).await;
        assert_eq!(csrf.len(), 64);
        let (status, _, page) = send(&app, signed_in_page(&pair)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("/assets/app.js?v="));
        assert!(page.contains(r#"action="/logout""#));
        assert!(
            !page.contains(TOKEN),
            "the page source never holds the token"
        );
        // The CSRF token from the page satisfies the API's rule for writes.
        let mut api = HeaderMap::new();
        api.insert(header::COOKIE, HeaderValue::from_str(&pair).unwrap());
        api.insert(CSRF_HEADER, HeaderValue::from_str(&csrf).unwrap());
        assert!(sessions.csrf_ok(&api).await);
    }

    #[tokio::test]
    async fn behind_https_the_cookie_is_secure() {
        let (app, _, _dir) = app().await;
        let mut req = login_request(TOKEN);
        req.headers_mut()
            .insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let (_, headers, _) = send(&app, req).await;
        assert!(
            headers[header::SET_COOKIE]
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
    }

    #[tokio::test]
    async fn cross_site_sign_in_posts_are_refused() {
        let (app, sessions, _dir) = app().await;
        let mut req = login_request(TOKEN);
        req.headers_mut().insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        let (status, headers, _) = send(&app, req).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(headers.get(header::SET_COOKIE).is_none());

        let mut req = login_request(TOKEN);
        req.headers_mut()
            .insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        let (status, _, _) = send(&app, req).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(sessions.live().await, 0);
    }

    #[tokio::test]
    async fn a_malformed_sign_in_post_is_a_400_page() {
        let (app, _, _dir) = app().await;
        let req = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"token":"x"}"#))
            .unwrap();
        let (status, _, body) = send(&app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains(r#"action="/login""#));
    }

    #[tokio::test]
    async fn sign_out_needs_the_csrf_token_and_ends_the_session() {
        let (app, sessions, _dir) = app().await;
        let (pair, csrf) = sign_in(&app).await;
        let post = |body: String| {
            Request::post("/logout")
                .header(header::COOKIE, &pair)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap()
        };
        let (status, _, _) = send(&app, post(String::new())).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) = send(&app, post("csrf=0000".into())).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            sessions.live().await,
            1,
            "a forged sign-out changes nothing"
        );

        let (status, headers, _) = send(&app, post(format!("csrf={csrf}"))).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(
            headers[header::SET_COOKIE]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        assert_eq!(sessions.live().await, 0);

        // The old cookie now shows the sign-in form again.
        let (_, _, page) = send(&app, signed_in_page(&pair)).await;
        assert!(page.contains(r#"action="/login""#));
    }

    #[tokio::test]
    async fn sign_out_without_a_session_just_clears_the_cookie() {
        let (app, _, _dir) = app().await;
        let (status, headers, _) =
            send(&app, Request::post("/logout").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(
            headers[header::SET_COOKIE]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
    }

    #[tokio::test]
    async fn assets_are_served_with_their_types() {
        let (app, _, _dir) = app().await;
        for (path, ty, needle) in [
            ("/assets/app.js", "text/javascript", "EventSource"),
            (
                "/assets/steering.js",
                "text/javascript",
                "/v1/admin/steering",
            ),
            (
                "/assets/event-words.js",
                "text/javascript",
                "window.owpEventWords",
            ),
            ("/assets/charts.js", "text/javascript", "window.owpCharts"),
            ("/assets/app.css", "text/css", "prefers-color-scheme"),
            ("/assets/favicon.svg", "image/svg+xml", "<svg"),
        ] {
            let (status, headers, body) =
                send(&app, Request::get(path).body(Body::empty()).unwrap()).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(
                headers[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with(ty),
                "{path}"
            );
            assert!(body.contains(needle), "{path}");
        }
    }

    #[tokio::test]
    async fn get_login_goes_back_to_the_root() {
        let (app, _, _dir) = app().await;
        let (status, headers, _) =
            send(&app, Request::get("/login").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[header::LOCATION], "/");
    }

    /// The real API router with the dashboard merged in, the way `owp serve` wires them.
    async fn service(dir: &std::path::Path) -> (Router, Sessions) {
        let (app, sessions, _) = service_with(dir, false).await;
        (app, sessions)
    }

    /// [`service`], with public boards on or off; also returns the store.
    async fn service_with(
        dir: &std::path::Path,
        public_boards: bool,
    ) -> (Router, Sessions, crate::store::Store) {
        let url = format!("sqlite://{}?mode=rwc", dir.join("owp.db").display());
        let store = crate::store::Store::open(&url, crate::store::Timing::default())
            .await
            .unwrap();
        let (_tx, last_event) = tokio::sync::watch::channel(0);
        let sessions = Sessions::new(Secret::new(TOKEN), store.clone());
        let public = public_boards.then(|| PublicBoards::new(store.clone(), last_event.clone()));
        let state = crate::http::AppState::new(crate::http::AppParts {
            store: store.clone(),
            admin_token: Secret::new(TOKEN).into(),
            registration: crate::config::RegistrationPolicy::Open,
            last_event,
            public_boards,
            github: None,
            preview_limit: std::sync::Arc::new(crate::http::rate_limits::PreviewLimits::new(
                30, 60,
            )),
            long_polls: Default::default(),
            signin: None,
        });
        let app = crate::http::router(state, Vec::new()).merge(router(sessions.clone(), public));
        (app, sessions, store)
    }

    #[tokio::test]
    async fn with_public_boards_a_visitor_gets_the_read_only_board() {
        let dir = tempfile::tempdir().unwrap();
        let (app, _, store) = service_with(dir.path(), true).await;
        let repo = |name: &str| crate::store::repos::RepoUpsert {
            name: name.into(),
            max_open_prs: 2,
            ..Default::default()
        };
        store
            .repos()
            .upsert_with(
                &repo("acme/open"),
                Some(crate::domain::Visibility::Public),
                "admin",
            )
            .await
            .unwrap();
        store
            .repos()
            .upsert(&repo("acme/hidden"), "admin")
            .await
            .unwrap();

        let (status, headers, page) =
            send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert!(page.contains(r#"<meta name="owp-board" content="public">"#));
        assert!(page.contains("/assets/app.js?v="));
        assert!(page.contains(r#"href="/login""#));
        assert!(!page.contains("csrf-token"), "no session, no CSRF token");
        assert!(!page.contains(r#"action="/login""#));

        // The sign-in form moved to GET /login, with a way back.
        let (status, _, form) =
            send(&app, Request::get("/login").body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(form.contains(r#"action="/login""#));
        assert!(form.contains("Back to the public board"));

        let (status, headers, body) = send(
            &app,
            Request::get("/board/state").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["repos"].as_array().unwrap().len(), 1);
        assert_eq!(json["repos"][0]["repo"], "acme/open");
        assert!(!body.contains("acme/hidden"), "{body}");

        // A signed-in admin gets the whole dashboard, which says the boards are public.
        let (pair, _) = sign_in(&app).await;
        let (_, _, page) = send(&app, signed_in_page(&pair)).await;
        assert!(page.contains("csrf-token"));
        assert!(page.contains("Public boards are on"));
        assert!(!page.contains("owp-board"));
    }

    #[tokio::test]
    async fn without_public_boards_there_is_no_board() {
        let dir = tempfile::tempdir().unwrap();
        let (app, _, _) = service_with(dir.path(), false).await;
        for path in ["/board/state", "/board/events"] {
            let (status, _, _) = send(&app, Request::get(path).body(Body::empty()).unwrap()).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
        let (pair, _) = sign_in(&app).await;
        let (_, _, page) = send(&app, signed_in_page(&pair)).await;
        assert!(page.contains("Public boards are off"));
        assert!(page.contains(r#"<meta name="owp-public-boards" content="off">"#));
    }

    #[tokio::test]
    async fn the_api_takes_the_session_for_reads_and_session_plus_csrf_for_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (app, _) = service(dir.path()).await;
        let state = |cookie: Option<&str>| {
            let mut req = Request::get("/v1/admin/state");
            if let Some(c) = cookie {
                req = req.header(header::COOKIE, c);
            }
            req.body(Body::empty()).unwrap()
        };
        let (status, _, _) = send(&app, state(None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _, _) = send(
            &app,
            state(Some(&format!("owp_session={}", "ab".repeat(32)))),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a made-up session id is nothing"
        );

        let (pair, csrf) = sign_in(&app).await;
        let (status, _, body) = send(&app, state(Some(&pair))).await;
        assert_eq!(status, StatusCode::OK);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        for key in ["repos", "workers", "tasks", "events"] {
            assert!(json[key].is_array(), "state has {key}");
        }

        let set_budget = |csrf: Option<&str>| {
            let mut req = Request::post("/v1/admin/repos")
                .header(header::COOKIE, &pair)
                .header(header::CONTENT_TYPE, "application/json");
            if let Some(t) = csrf {
                req = req.header(CSRF_HEADER, t);
            }
            req.body(Body::from(r#"{"repo":"acme/web","max_open_prs":2}"#))
                .unwrap()
        };
        let (status, _, _) = send(&app, set_budget(None)).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a cookie alone cannot write"
        );
        let (status, _, _) = send(&app, set_budget(Some(&"0".repeat(64)))).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "nor with a wrong CSRF token"
        );
        let (_, _, body) = send(&app, state(Some(&pair))).await;
        assert!(!body.contains("acme/web"), "refused writes changed nothing");

        let (status, _, body) = send(&app, set_budget(Some(&csrf))).await;
        assert!(status.is_success(), "{status} {body}");
        let (_, _, body) = send(&app, state(Some(&pair))).await;
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["repos"][0]["repo"], "acme/web");
        assert_eq!(json["repos"][0]["max_open_prs"], 2);
    }

    #[tokio::test]
    async fn signing_out_closes_the_api_too() {
        let dir = tempfile::tempdir().unwrap();
        let (app, _) = service(dir.path()).await;
        let (pair, csrf) = sign_in(&app).await;
        let req = Request::post("/logout")
            .header(header::COOKIE, &pair)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={csrf}")))
            .unwrap();
        let (status, _, _) = send(&app, req).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let req = Request::get("/v1/admin/state")
            .header(header::COOKIE, &pair)
            .body(Body::empty())
            .unwrap();
        let (status, _, _) = send(&app, req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn origin_checks() {
        let mut h = HeaderMap::new();
        assert!(!cross_site(&h), "non-browser clients pass");
        h.insert(header::HOST, HeaderValue::from_static("localhost:8787"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://localhost:8787"),
        );
        assert!(!cross_site(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://localhost:9999"),
        );
        assert!(cross_site(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(cross_site(&h));
        // Fetch metadata wins where the browser sends it.
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(!cross_site(&h));
        for other in ["same-site", "cross-site", "bogus"] {
            h.insert("sec-fetch-site", HeaderValue::from_str(other).unwrap());
            assert!(cross_site(&h), "{other}");
        }
    }
}
