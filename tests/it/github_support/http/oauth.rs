//! GitHub's sign-in routes, served on the fake's web origin as `github.com` serves them:
//!
//! - `GET /login/oauth/authorize`: the page the browser is sent to. An unknown `client_id`, a
//!   `redirect_uri` that is not one of the App's callback URLs, or a PKCE challenge other than
//!   S256 gets an error page, never a redirect; nobody signed in (or someone other than `login`)
//!   gets the sign-in page; otherwise 302 back to the callback with `code` and `state` (or
//!   `error=access_denied` when the person cancels).
//! - `POST /login/oauth/access_token`: the code grant (client id and secret, the code once and
//!   within 10 minutes, the same `redirect_uri`, the PKCE verifier), the device grant
//!   (`authorization_pending`, `slow_down`, `expired_token`, `access_denied`, …) and the refresh
//!   grant. Errors are HTTP 200 with `error`, `error_description` and `error_uri`; the answer is
//!   JSON with `Accept: application/json`, form-encoded otherwise.
//! - `POST /login/device/code`: a device code, a user code and where to enter it.
//!
//! Any other request to the web origin is a violation, as a request GitHub's REST description
//! refuses is on the API origin: the test fails when the fake is dropped.
//!
//! On the API origin, `DELETE /applications/{client_id}/token` and `…/grant` (Basic
//! authentication with the client id and secret) revoke one user access token, or every token of
//! its person.
//!
//! Parameters may come in the query, a form body or a JSON body. Every request is recorded like
//! the API's, with secrets (client secret, codes, verifier, tokens) replaced by `[redacted]`, and
//! the failures tests ask for ([`crate::github_support::FakeGithub::fail`]) apply here too: the
//! status of the failure, with GitHub's error page.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{TimeDelta, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::super::Shared;
use super::super::model::{Call, CallAuth, Model};
use super::super::oauth::{AuthCode, CODE_LIFETIME, DEVICE_CODE_SECONDS, DeviceState, OAuthState};
use super::Reply;

/// The device flow's `grant_type`.
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Parameters whose values are secrets: never recorded.
const SECRET_PARAMS: [&str; 6] = [
    "client_secret",
    "code",
    "code_verifier",
    "device_code",
    "refresh_token",
    "access_token",
];
const DOCS: &str = "https://docs.github.com";

/// An answer of the web origin.
enum Answer {
    /// An HTML page (GitHub's error pages and its sign-in page).
    Page(StatusCode, &'static str),
    /// 302 to this address.
    Redirect(String),
    /// An answer of the token or device-code endpoint (HTTP 200, errors included).
    Fields(Vec<(&'static str, Value)>),
}

impl Answer {
    fn status(&self) -> StatusCode {
        match self {
            Answer::Page(status, _) => *status,
            Answer::Redirect(_) => StatusCode::FOUND,
            Answer::Fields(_) => StatusCode::OK,
        }
    }

    fn into_response(self, json: bool) -> Response {
        match self {
            Answer::Page(status, text) => (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                format!("<!DOCTYPE html><html><head><title>GitHub</title></head><body><p>{text}</p></body></html>"),
            )
                .into_response(),
            Answer::Redirect(location) => {
                (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
            }
            Answer::Fields(fields) if json => {
                let object: Map<String, Value> =
                    fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                axum::Json(Value::Object(object)).into_response()
            }
            Answer::Fields(fields) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                for (name, value) in fields {
                    match value {
                        Value::String(s) => form.append_pair(name, &s),
                        other => form.append_pair(name, &other.to_string()),
                    };
                }
                (
                    StatusCode::OK,
                    [(
                        header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded; charset=utf-8",
                    )],
                    form.finish(),
                )
                    .into_response()
            }
        }
    }
}

/// An OAuth error as GitHub gives it (HTTP 200).
fn oauth_error(error: &str, description: &str, doc: &str) -> Answer {
    Answer::Fields(vec![
        ("error", json!(error)),
        ("error_description", json!(description)),
        ("error_uri", json!(format!("{DOCS}{doc}"))),
    ])
}

const TOKEN_ERRORS: &str =
    "/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors";
const DEVICE_ERRORS: &str =
    "/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow";
const AUTHORIZE_ERRORS: &str =
    "/apps/managing-oauth-apps/troubleshooting-authorization-request-errors";

fn incorrect_client_credentials() -> Answer {
    oauth_error(
        "incorrect_client_credentials",
        "The client id or secret is not the App's.",
        &format!("{TOKEN_ERRORS}/#incorrect-client-credentials"),
    )
}

fn bad_verification_code() -> Answer {
    oauth_error(
        "bad_verification_code",
        "The code is wrong, used or expired.",
        &format!("{TOKEN_ERRORS}/#bad-verification-code"),
    )
}

fn redirect_uri_mismatch() -> Answer {
    oauth_error(
        "redirect_uri_mismatch",
        "The redirect_uri must match the one the code was issued for.",
        &format!("{AUTHORIZE_ERRORS}/#redirect-uri-mismatch2"),
    )
}

fn device_error(error: &str, description: &str) -> Answer {
    oauth_error(error, description, DEVICE_ERRORS)
}

/// The request's parameters: the query's, then the body's (form or JSON) over them.
fn params(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
    let mut out: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) {
            for (k, v) in fields {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(k, v);
            }
        }
    } else {
        out.extend(url::form_urlencoded::parse(body).into_owned());
    }
    out
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"))
}

/// The parameters as recorded: secrets replaced.
fn redacted(params: &HashMap<String, String>) -> Value {
    let object: Map<String, Value> = params
        .iter()
        .map(|(k, v)| {
            let v = if SECRET_PARAMS.contains(&k.as_str()) {
                "[redacted]".to_string()
            } else {
                v.clone()
            };
            (k.clone(), Value::String(v))
        })
        .collect();
    Value::Object(object)
}

/// The query as recorded: as sent, unless it names a secret, whose value is then replaced.
pub(super) fn redacted_query(uri: &Uri) -> String {
    let raw = uri.query().unwrap_or_default();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect();
    if !pairs
        .iter()
        .any(|(k, _)| SECRET_PARAMS.contains(&k.as_str()))
    {
        return raw.to_string();
    }
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        let secret = SECRET_PARAMS.contains(&k.as_str());
        out.append_pair(k, if secret { "[redacted]" } else { v });
    }
    out.finish()
}

/// Every request to the web origin.
pub(in super::super) async fn handle_web(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = params(&uri, &headers, &body);
    let json = wants_json(&headers);
    let mut m = shared.model.lock().unwrap();
    let failure = m.take_failure(method.as_str(), uri.path());
    let answer = match (method.as_str(), uri.path()) {
        _ if let Some(failure) = &failure => {
            Answer::Page(super::failure_status(failure), "Something went wrong.")
        }
        ("GET", "/login/oauth/authorize") => authorize(&mut m, &headers, &params),
        ("POST", "/login/oauth/access_token") => access_token(&mut m.oauth, &params),
        ("POST", "/login/device/code") => device_code(&mut m.oauth, &shared.web, &params),
        ("GET", "/login/device") => {
            Answer::Page(StatusCode::OK, "Enter the code displayed on your device")
        }
        // A browser asks for the icon of a page it shows: not a request of the App.
        ("GET", "/favicon.ico") => Answer::Page(StatusCode::NOT_FOUND, "Not Found"),
        (method, path) => {
            // Anything else is a mistake of the App (a wrong path, the wrong origin, the wrong
            // method): GitHub's 404 page, and the test fails when the fake is dropped.
            shared.violations.lock().unwrap().push(format!(
                "{method} {path}: GitHub's web origin serves no such sign-in route"
            ));
            Answer::Page(StatusCode::NOT_FOUND, "Not Found")
        }
    };
    m.calls.push(Call {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: redacted_query(&uri),
        auth: CallAuth::None,
        status: answer.status().as_u16(),
        body: (!body.is_empty()).then(|| redacted(&params)),
        at: Utc::now(),
    });
    drop(m);
    answer.into_response(json)
}

/// Who is signed in to GitHub in this browser: a `dotcom_user` cookie, else the fake's setting.
fn browser_user(m: &Model, headers: &HeaderMap) -> Option<String> {
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "dotcom_user")
        .map(|(_, login)| login.to_string());
    from_cookie.or_else(|| m.oauth.browser_user.clone())
}

/// A PKCE S256 challenge: 43 characters of unpadded base64url.
fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A PKCE verifier (RFC 7636): 43 to 128 unreserved characters.
fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// `BASE64URL(SHA256(verifier))`, unpadded.
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `base` with `pairs` added to its query.
fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    let joiner = if base.contains('?') { '&' } else { '?' };
    format!("{base}{joiner}{}", query.finish())
}

fn authorize(m: &mut Model, headers: &HeaderMap, p: &HashMap<String, String>) -> Answer {
    let o = &m.oauth;
    if p.get("client_id") != Some(&o.client_id) {
        return Answer::Page(StatusCode::NOT_FOUND, "Not Found");
    }
    // A GitHub App's redirect_uri must be one of its callback URLs (exactly, unless that
    // callback has wildcard matching on).
    let redirect = match p.get("redirect_uri") {
        Some(uri) if o.registered(uri) => uri.clone(),
        Some(_) => {
            return Answer::Page(
                StatusCode::BAD_REQUEST,
                "This redirect_uri is not one of the App's callback URLs.",
            );
        }
        None => match o.callback_urls.first() {
            Some(first) => first.clone(),
            None => {
                return Answer::Page(
                    StatusCode::BAD_REQUEST,
                    "This application has no callback URL.",
                );
            }
        },
    };
    let challenge = p.get("code_challenge").cloned();
    let pkce_ok = match (
        &challenge,
        p.get("code_challenge_method").map(String::as_str),
    ) {
        (None, None) => true,
        (Some(c), Some("S256")) => valid_challenge(c),
        _ => false,
    };
    if !pkce_ok {
        return Answer::Page(
            StatusCode::BAD_REQUEST,
            "Invalid PKCE parameters: only a code_challenge with code_challenge_method=S256 is supported.",
        );
    }
    let state = p.get("state").map(String::as_str);
    let who = browser_user(m, headers);
    let suggested = p.get("login");
    let Some(login) = who.filter(|w| suggested.is_none_or(|s| s.eq_ignore_ascii_case(w))) else {
        return Answer::Page(StatusCode::OK, "Sign in to GitHub to continue.");
    };
    let mut back: Vec<(&str, &str)> = Vec::new();
    if !m.oauth.approves {
        back.push(("error", "access_denied"));
        back.push((
            "error_description",
            "The person declined to authorize the App.",
        ));
        let uri = format!("{DOCS}{AUTHORIZE_ERRORS}/#access-denied");
        back.push(("error_uri", &uri));
        back.extend(state.map(|s| ("state", s)));
        return Answer::Redirect(with_query(&redirect, &back));
    }
    m.user_id(&login);
    let now = m.oauth.now();
    let code = m.oauth.new_code(AuthCode {
        login,
        redirect_uri: p.get("redirect_uri").cloned(),
        challenge,
        issued_at: now,
        used: false,
    });
    back.push(("code", &code));
    back.extend(state.map(|s| ("state", s)));
    Answer::Redirect(with_query(&redirect, &back))
}

fn access_token(o: &mut OAuthState, p: &HashMap<String, String>) -> Answer {
    match p.get("grant_type").map(String::as_str) {
        Some(DEVICE_GRANT) => device_grant(o, p),
        // A device code polled without the device grant type.
        _ if p.contains_key("device_code") => device_error(
            "unsupported_grant_type",
            "The grant type must be urn:ietf:params:oauth:grant-type:device_code.",
        ),
        None | Some("authorization_code") => code_grant(o, p),
        Some("refresh_token") => refresh_grant(o, p),
        Some(_) => device_error(
            "unsupported_grant_type",
            "This grant type is not supported.",
        ),
    }
}

fn client_ok(o: &OAuthState, p: &HashMap<String, String>) -> bool {
    p.get("client_id") == Some(&o.client_id) && p.get("client_secret") == Some(&o.client_secret)
}

fn code_grant(o: &mut OAuthState, p: &HashMap<String, String>) -> Answer {
    if !client_ok(o, p) {
        return incorrect_client_credentials();
    }
    let now = o.now();
    let Some(code) = p
        .get("code")
        .and_then(|c| o.codes.get(c))
        .filter(|c| !c.used && now < c.issued_at + CODE_LIFETIME)
        .cloned()
    else {
        return bad_verification_code();
    };
    // The redirect_uri must be the one the code was issued for: named at authorize, it must be
    // named again (RFC 6749 section 4.1.3); left out there, it may name the default callback.
    let given = p.get("redirect_uri");
    let redirect_ok = match (&code.redirect_uri, given) {
        (Some(issued), Some(given)) => issued == given,
        (None, Some(given)) => o.callback_urls.first() == Some(given),
        (None, None) => true,
        (Some(_), None) => false,
    };
    if !redirect_ok {
        return redirect_uri_mismatch();
    }
    // PKCE: a code issued for a challenge needs its verifier; a verifier without a challenge is
    // refused too. GitHub documents no error of its own for this: `bad_verification_code`.
    let pkce_ok = match (&code.challenge, p.get("code_verifier")) {
        (None, None) => true,
        (Some(challenge), Some(verifier)) => {
            valid_verifier(verifier) && s256(verifier) == *challenge
        }
        _ => false,
    };
    if !pkce_ok {
        return bad_verification_code();
    }
    if let Some(stored) = p.get("code").and_then(|c| o.codes.get_mut(c)) {
        stored.used = true;
    }
    Answer::Fields(o.issue_user_token(&code.login))
}

fn device_grant(o: &mut OAuthState, p: &HashMap<String, String>) -> Answer {
    if p.get("client_id") != Some(&o.client_id) {
        return device_error(
            "incorrect_client_credentials",
            "The client id is not the App's.",
        );
    }
    if !o.device_flow {
        return device_error(
            "device_flow_disabled",
            "Device flow is not enabled for this App.",
        );
    }
    let now = o.now();
    let Some(grant) = p
        .get("device_code")
        .and_then(|c| o.devices.iter_mut().find(|d| d.device_code == *c))
        .filter(|d| d.state != DeviceState::Redeemed)
    else {
        return device_error("incorrect_device_code", "The device code is not valid.");
    };
    if grant.expired(now) {
        return device_error("expired_token", "The device code has expired.");
    }
    let too_soon = grant
        .last_poll
        .is_some_and(|last| now < last + TimeDelta::seconds(grant.interval));
    grant.last_poll = Some(now);
    if too_soon {
        grant.interval += 5;
        let Answer::Fields(mut fields) = device_error(
            "slow_down",
            "Too many requests within the interval: wait the new interval between polls.",
        ) else {
            unreachable!()
        };
        fields.push(("interval", json!(grant.interval)));
        return Answer::Fields(fields);
    }
    match grant.state.clone() {
        DeviceState::Pending => device_error(
            "authorization_pending",
            "The user has not entered the user code yet.",
        ),
        DeviceState::Denied => {
            device_error("access_denied", "The user cancelled the authorization.")
        }
        DeviceState::Approved(login) => {
            grant.state = DeviceState::Redeemed;
            Answer::Fields(o.issue_user_token(&login))
        }
        DeviceState::Redeemed => unreachable!("filtered above"),
    }
}

fn refresh_grant(o: &mut OAuthState, p: &HashMap<String, String>) -> Answer {
    if !client_ok(o, p) {
        return incorrect_client_credentials();
    }
    let now = o.now();
    let login = p
        .get("refresh_token")
        .and_then(|t| o.refresh_tokens.remove(t))
        .filter(|(_, expires_at)| now < *expires_at)
        .map(|(login, _)| login);
    match login {
        Some(login) => Answer::Fields(o.issue_user_token(&login)),
        None => oauth_error(
            "bad_refresh_token",
            "The refresh token is wrong, used or expired.",
            &format!("{TOKEN_ERRORS}/#bad-refresh-token"),
        ),
    }
}

fn device_code(o: &mut OAuthState, web: &str, p: &HashMap<String, String>) -> Answer {
    if p.get("client_id") != Some(&o.client_id) {
        return device_error(
            "incorrect_client_credentials",
            "The client id is not the App's.",
        );
    }
    if !o.device_flow {
        return device_error(
            "device_flow_disabled",
            "Device flow is not enabled for this App.",
        );
    }
    let grant = o.new_device();
    Answer::Fields(vec![
        ("device_code", json!(grant.device_code)),
        ("user_code", json!(grant.user_code)),
        ("verification_uri", json!(format!("{web}/login/device"))),
        ("expires_in", json!(DEVICE_CODE_SECONDS)),
        ("interval", json!(grant.interval)),
    ])
}

/// A JSON body as recorded: the values of secret fields replaced.
pub(super) fn redact_json(mut body: Value) -> Value {
    if let Some(fields) = body.as_object_mut() {
        for (name, value) in fields.iter_mut() {
            if SECRET_PARAMS.contains(&name.as_str()) {
                *value = json!("[redacted]");
            }
        }
    }
    body
}

/// `Authorization: Basic base64(client_id:client_secret)`.
pub(super) fn basic_client(m: &Model, credential: &str) -> CallAuth {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credential)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((id, secret)) if id == m.oauth.client_id && secret == m.oauth.client_secret => {
            CallAuth::OAuthClient
        }
        Some(_) => CallAuth::Refused("wrong OAuth client credentials".into()),
        None => CallAuth::Refused("malformed Basic credentials".into()),
    }
}

/// `DELETE /applications/{client_id}/token` (that token) or `…/grant` (every token of its
/// person): 204, or 404 for another client or an unknown token.
pub(super) fn revoke(
    m: &mut Model,
    auth: &CallAuth,
    client_id: &str,
    what: &str,
    body: Option<&Value>,
) -> Result<Reply, Reply> {
    match auth {
        CallAuth::OAuthClient if client_id == m.oauth.client_id => {}
        CallAuth::None | CallAuth::Refused(_) => return Err(super::unauthorized(auth)),
        _ => return Err(Reply::not_found()),
    }
    let token = body
        .and_then(|b| b.get("access_token"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(known) = m.oauth.user_tokens.get_mut(token).filter(|t| !t.revoked) else {
        return Err(Reply::not_found());
    };
    if what == "token" {
        known.revoked = true;
    } else {
        let login = known.login.clone();
        m.oauth.revoke_login(&login);
    }
    let mut reply = Reply::json(StatusCode::NO_CONTENT, Value::Null);
    reply.body = None;
    Ok(reply)
}
