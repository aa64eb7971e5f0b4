//! The fake's HTTP side: authentication, failure injection, routing and GitHub's JSON answers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::Utc;
use octocrab::jsonwebtoken::{self, Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::model::{
    BOT_LOGIN, Call, CallAuth, Comment, Failure, IssuedToken, Model, Reaction, Repo, old_account,
};
use super::{APP_EVENTS, Shared, insert_comment, json as shape, moves, webhooks};
use content_limit::content_write;

mod content_limit;
pub(super) mod oauth;
mod pull_commits;
mod pull_files;
mod strict;
mod user_installations;

const REACTIONS: [&str; 8] = [
    "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
];

/// A reply being built by a route.
struct Reply {
    status: StatusCode,
    body: Option<Value>,
    raw: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
    /// A delivery to send once the model lock is released.
    redeliver: Option<u64>,
}

impl Reply {
    fn json(status: StatusCode, body: Value) -> Self {
        Reply {
            status,
            body: Some(body),
            raw: None,
            headers: Vec::new(),
            redeliver: None,
        }
    }

    fn ok(body: Value) -> Self {
        Self::json(StatusCode::OK, body)
    }

    fn created(body: Value) -> Self {
        Self::json(StatusCode::CREATED, body)
    }

    fn error(status: StatusCode, message: &str) -> Self {
        let mut body = shape::error(message);
        body["status"] = json!(status.as_u16().to_string());
        Self::json(status, body)
    }

    fn not_found() -> Self {
        Self::error(StatusCode::NOT_FOUND, "Not Found")
    }

    fn header(mut self, name: &str, value: impl ToString) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn into_response(self) -> Response {
        let mut response = match (self.raw, self.body) {
            (Some(raw), _) => (self.status, raw).into_response(),
            (None, Some(body)) => (self.status, axum::Json(body)).into_response(),
            (None, None) => self.status.into_response(),
        };
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            headers.insert(
                header::HeaderName::try_from(name).unwrap(),
                HeaderValue::from_str(&value).unwrap(),
            );
        }
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("5000"));
        headers.insert("x-github-media-type", HeaderValue::from_static("github.v3"));
        response
    }
}

pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = percent_decode(uri.path());
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            q.split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
                .map(|(k, v)| (percent_decode(k), percent_decode(&v.replace('+', " "))))
                .collect()
        })
        .unwrap_or_default();
    let mut query = query;
    // Webhook deliveries page by an opaque `cursor`: the fake's is `v1_` and the page number.
    if let Some(cursor) = query.remove("cursor") {
        let page = cursor.strip_prefix("v1_").unwrap_or(&cursor).to_string();
        query.insert("page".into(), page);
    }
    let json_body: Option<Value> = serde_json::from_slice(&body).ok();
    latency(&shared, &method, &path).await;

    let reply = {
        let mut m = shared.model.lock().unwrap();
        let path = strict::repository_path(&m, &path);
        let keys = shared.app_keys();
        let auth = authenticate(&m, &keys, &headers);
        let refused = strict::check(&shared, &method, &path, uri.query(), &headers, &body);
        let moved = moves::redirect(
            &shared.api,
            &m,
            method.as_str(),
            &path,
            uri.query().unwrap_or_default(),
        );
        let served = moves::canonical_path(&m, &path);
        let reply = match (refused, m.take_failure(method.as_str(), &path), moved) {
            (Some(reply), _, _) => reply,
            (None, Some(failure), _) => failure_reply(&failure),
            (None, None, Some(moved)) => Reply::error(
                StatusCode::from_u16(moved.status).unwrap(),
                "Moved Permanently",
            )
            .header("location", moved.location),
            (None, None, None) => route(
                &shared,
                &mut m,
                &method,
                &served,
                &query,
                &headers,
                json_body.as_ref(),
                &auth,
            ),
        };
        let mut reply = reply;
        strict::github_links(&m, &shared.api, &path, &mut reply);
        strict::deleted_users(&shared, &mut reply);
        strict::check_answer(&shared, &method, &path, &reply);
        let mut reply = conditional(&method, &headers, reply);
        if let Some(remaining) = m.rate_remaining
            && !reply
                .headers
                .iter()
                .any(|(n, _)| n == "x-ratelimit-remaining")
        {
            reply = reply.header("x-ratelimit-remaining", remaining);
        }
        let writing = m.accepted_write.take();
        if let Some(installation) = writing {
            let in_flight = m.writes_in_flight.entry(installation).or_default();
            *in_flight += 1;
            if *in_flight > 1 {
                m.overlapping_writes.push(installation);
            }
        }
        m.calls.push(Call {
            method: method.to_string(),
            path: path.clone(),
            query: oauth::redacted_query(&uri),
            auth,
            status: reply.status.as_u16(),
            body: json_body.map(oauth::redact_json),
            at: Utc::now(),
        });
        (reply, writing)
    };
    let (reply, writing) = reply;
    // GitHub's time to answer (what it did is already done).
    let latency = shared.latency_ms.load(std::sync::atomic::Ordering::SeqCst);
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    if let Some(installation) = writing {
        let mut m = shared.model.lock().unwrap();
        if let Some(in_flight) = m.writes_in_flight.get_mut(&installation) {
            *in_flight = in_flight.saturating_sub(1);
        }
    }
    if let Some(delivery_id) = reply.redeliver {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move { webhooks::redeliver(&shared, delivery_id).await });
    }
    reply.into_response()
}

/// Waits as long as the latency the story set for this request (`FakeGithub::delay`), counted
/// from when it came, following the story's changes of it while it waits.
async fn latency(shared: &Shared, method: &Method, path: &str) {
    let came = tokio::time::Instant::now();
    loop {
        let changed = shared.latency_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let wait = {
            let m = shared.model.lock().unwrap();
            m.latency
                .iter()
                .find(|(when, _)| when.matches(method.as_str(), path))
                .map(|(_, by)| *by)
        };
        let Some(wait) = wait else { return };
        tokio::select! {
            () = tokio::time::sleep_until(came + wait) => return,
            () = changed => {}
        }
    }
}

/// GitHub's conditional requests: a successful GET answer carries an `ETag` (a digest of the
/// answer); a request whose `If-None-Match` names it is answered `304 Not Modified` with no body
/// (and does not count against the rate limit).
fn conditional(method: &Method, headers: &HeaderMap, reply: Reply) -> Reply {
    use std::hash::{Hash, Hasher};
    if method != Method::GET || reply.status != StatusCode::OK {
        return reply;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    match (&reply.raw, &reply.body) {
        (Some(raw), _) => raw.hash(&mut hasher),
        (None, Some(body)) => body.to_string().hash(&mut hasher),
        (None, None) => return reply,
    }
    for (name, value) in &reply.headers {
        (name, value).hash(&mut hasher);
    }
    let etag = format!("W/\"{:016x}\"", hasher.finish());
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if matches {
        Reply {
            status: StatusCode::NOT_MODIFIED,
            body: None,
            raw: None,
            headers: vec![("etag".into(), etag)],
            redeliver: None,
        }
    } else {
        reply.header("etag", etag)
    }
}

/// Decodes `%XX` escapes (invalid ones are kept as they are).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The HTTP status a failure is answered with.
pub(super) fn failure_status(failure: &Failure) -> StatusCode {
    failure_reply(failure).status
}

fn failure_reply(failure: &Failure) -> Reply {
    match failure {
        Failure::ServerError => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error"),
        Failure::BadGateway => Reply::error(StatusCode::BAD_GATEWAY, "Bad Gateway"),
        Failure::SecondaryRateLimit { retry_after } => Reply::error(
            StatusCode::FORBIDDEN,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        )
        .header("retry-after", retry_after),
        Failure::RateLimited { reset_in } => Reply::error(
            StatusCode::FORBIDDEN,
            "API rate limit exceeded for installation.",
        )
        .header("x-ratelimit-remaining", 0)
        .header("x-ratelimit-reset", Utc::now().timestamp() + *reset_in as i64),
        Failure::SecondaryRateLimitWithoutRetryAfter => Reply::error(
            StatusCode::FORBIDDEN,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. \
             If you reach out to GitHub Support for help, please include the request ID.",
        )
        .header("x-ratelimit-remaining", 4321)
        .header("x-ratelimit-reset", Utc::now().timestamp() + 3600),
        Failure::NotAccessibleByIntegration => Reply::error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        ),
    }
}

/// Checks the `Authorization` header as GitHub would.
fn authenticate(m: &Model, public_keys: &[DecodingKey], headers: &HeaderMap) -> CallAuth {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return CallAuth::None;
    };
    let Some((scheme, credential)) = value.split_once(' ') else {
        return CallAuth::Refused("malformed Authorization header".into());
    };
    if scheme == "Basic" {
        return oauth::basic_client(m, credential);
    }
    if !matches!(scheme, "Bearer" | "token") {
        return CallAuth::Refused(format!("unsupported scheme {scheme}"));
    }
    if let Some(token) = m.tokens.get(credential) {
        return if token.expires_at > Utc::now() {
            CallAuth::Installation(token.installation_id)
        } else {
            CallAuth::Refused("installation token expired".into())
        };
    }
    if credential.starts_with("ghs_") {
        return CallAuth::Refused("unknown installation token".into());
    }
    if credential.starts_with("ghu_") {
        return match m.oauth.user_of(credential) {
            Ok(login) => CallAuth::User(login),
            Err(reason) => CallAuth::Refused(reason),
        };
    }
    check_app_jwt(m.app_id, public_keys, credential)
}

/// As GitHub does: a JWT verified by one of the App's active keys (several during a key
/// rotation), or refused.
fn check_app_jwt(app_id: u64, public_keys: &[DecodingKey], jwt: &str) -> CallAuth {
    #[derive(serde::Deserialize)]
    struct Claims {
        iss: Value,
        iat: i64,
        exp: i64,
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 0;
    // `iss` is checked below: octocrab sends it as a number, which GitHub accepts.
    validation.set_required_spec_claims(&["exp", "iat"]);
    let mut refused = String::from("the App has no active key");
    let mut verified = None;
    for key in public_keys {
        match jsonwebtoken::decode::<Claims>(jwt, key, &validation) {
            Ok(data) => {
                verified = Some(data.claims);
                break;
            }
            Err(e) => refused = e.to_string(),
        }
    }
    let Some(claims) = verified else {
        return CallAuth::Refused(format!("JWT refused: {refused}"));
    };
    let iss = match &claims.iss {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let now = Utc::now().timestamp();
    if iss != app_id.to_string() {
        CallAuth::Refused(format!("JWT issuer {iss} is not the App {app_id}"))
    } else if claims.exp > now + 600 {
        CallAuth::Refused("JWT expires more than 10 minutes ahead".into())
    } else if claims.iat > now + 60 {
        CallAuth::Refused("JWT issued in the future".into())
    } else {
        CallAuth::AppJwt
    }
}

fn unauthorized(auth: &CallAuth) -> Reply {
    let message = match auth {
        CallAuth::Refused(reason) => format!("Bad credentials ({reason})"),
        _ => "Requires authentication".into(),
    };
    Reply::error(StatusCode::UNAUTHORIZED, &message)
}

/// Requests that need the App JWT.
fn require_app(auth: &CallAuth) -> Result<(), Reply> {
    match auth {
        CallAuth::AppJwt => Ok(()),
        CallAuth::Installation(_) | CallAuth::User(_) => Err(Reply::error(
            StatusCode::FORBIDDEN,
            "A JSON web token could not be decoded",
        )),
        other => Err(unauthorized(other)),
    }
}

/// Requests on a repository, which need an installation token that covers it. The fake serves
/// repositories to the App's installation tokens only: the App reads them (and people's
/// permissions) as itself, never with a person's token (contract section 10).
fn require_repo<'m>(m: &'m Model, auth: &CallAuth, repo: &str) -> Result<&'m Repo, Reply> {
    let installation = match auth {
        CallAuth::Installation(id) => *id,
        CallAuth::AppJwt | CallAuth::User(_) => {
            return Err(Reply::error(
                StatusCode::FORBIDDEN,
                "Resource not accessible by integration",
            ));
        }
        other => return Err(unauthorized(other)),
    };
    match m.repo(repo) {
        Some(r) if r.installation == Some(installation) => Ok(r),
        _ => Err(Reply::not_found()),
    }
}

fn page_params(query: &HashMap<String, String>) -> (usize, usize) {
    let per_page = query
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30usize)
        .clamp(1, 100);
    let page = query
        .get("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    (per_page, page)
}

/// One page of `items`, with GitHub's `Link` header pointing at the others.
fn paginate(api: &str, path: &str, query: &HashMap<String, String>, items: Vec<Value>) -> Reply {
    let (per_page, page) = page_params(query);
    let last = items.len().div_ceil(per_page).max(1);
    let chunk: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let link_to = |n: usize| {
        let mut params: Vec<String> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "page")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        params.sort();
        params.push(format!("page={n}"));
        format!("<{api}{path}?{}>", params.join("&"))
    };
    let mut links = Vec::new();
    if page < last {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", link_to(1)));
        links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
    }
    let reply = Reply::ok(Value::Array(chunk));
    if links.is_empty() {
        reply
    } else {
        reply.header("link", links.join(", "))
    }
}

fn body_text(body: Option<&Value>) -> Option<String> {
    body?.get("body")?.as_str().map(str::to_string)
}

/// GitHub refuses a comment body longer than this many characters (422).
pub const COMMENT_BODY_LIMIT: usize = 65_536;

/// A comment body as GitHub checks it: present and at most [`COMMENT_BODY_LIMIT`] characters.
fn comment_body(body: Option<&Value>) -> Result<String, Reply> {
    let text = body_text(body).ok_or_else(|| {
        Reply::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request: body is missing",
        )
    })?;
    if text.chars().count() > COMMENT_BODY_LIMIT {
        return Err(Reply::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation Failed: body is too long (maximum is 65536 characters)",
        ));
    }
    Ok(text)
}

#[allow(clippy::too_many_arguments)]
fn route(
    shared: &Shared,
    m: &mut Model,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Option<&Value>,
    auth: &CallAuth,
) -> Reply {
    let api = shared.api.as_str();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let result: Result<Reply, Reply> = (|| {
        match (method.as_str(), segments.as_slice()) {
            // --- as the App -----------------------------------------------------------------
            ("GET", ["app"]) => {
                require_app(auth)?;
                let owner = shape::user(api, m, "owp-test-org");
                Ok(Reply::ok(json!({
                    "id": m.app_id,
                    "slug": "owp-pool-test",
                    "node_id": "A_test",
                    "client_id": "Iv1.testclient",
                    "name": "OWP Pool (test)",
                    "owner": owner,
                    "description": "",
                    "external_url": "http://127.0.0.1",
                    "html_url": "https://github.com/apps/owp-pool-test",
                    "created_at": shape::time(Utc::now()),
                    "updated_at": shape::time(Utc::now()),
                    "permissions": shape::permissions(),
                    "events": APP_EVENTS,
                    "installations_count": m.installations.len(),
                })))
            }
            ("GET", ["app", "installations"]) => {
                require_app(auth)?;
                let ids: Vec<u64> = m.installations.keys().copied().collect();
                let items = ids
                    .into_iter()
                    .map(|id| shape::installation(api, m, id))
                    .collect();
                Ok(paginate(api, path, query, items))
            }
            ("POST", ["app", "installations", id, "access_tokens"]) => {
                require_app(auth)?;
                let id: u64 = id.parse().map_err(|_| Reply::not_found())?;
                match m.installations.get(&id) {
                    None => Err(Reply::not_found()),
                    Some(inst) if inst.suspended => Err(Reply::error(
                        StatusCode::FORBIDDEN,
                        "This installation has been suspended",
                    )),
                    Some(_) => {
                        let token = format!("ghs_{}", uuid::Uuid::new_v4().simple());
                        let expires_at = Utc::now() + m.token_lifetime;
                        m.tokens.insert(
                            token.clone(),
                            IssuedToken {
                                installation_id: id,
                                expires_at,
                            },
                        );
                        Ok(Reply::created(json!({
                            "token": token,
                            "expires_at": shape::time(expires_at),
                            "permissions": shape::permissions(),
                            "repository_selection": "selected",
                        })))
                    }
                }
            }
            ("GET", ["app", "hook", "deliveries"]) => {
                require_app(auth)?;
                let items: Vec<Value> = m
                    .deliveries
                    .iter()
                    .rev()
                    .map(|d| {
                        json!({
                            "id": d.id,
                            "guid": d.guid,
                            "delivered_at": shape::time(d.delivered_at),
                            "redelivery": d.redelivery,
                            "duration": 0.05,
                            "status": if (200..300).contains(&d.status_code) { "OK" } else { "failed" },
                            "status_code": d.status_code,
                            "event": d.event,
                            "action": d.action,
                            "installation_id": d.installation_id,
                            "repository_id": null,
                        })
                    })
                    .collect();
                Ok(paginate(api, path, query, items))
            }
            ("POST", ["app", "hook", "deliveries", id, "attempts"]) => {
                require_app(auth)?;
                let id: u64 = id.parse().map_err(|_| Reply::not_found())?;
                if !m.deliveries.iter().any(|d| d.id == id) {
                    return Err(Reply::not_found());
                }
                m.redelivery_requests.push(id);
                let mut reply = Reply::json(StatusCode::ACCEPTED, json!({}));
                reply.redeliver = Some(id);
                Ok(reply)
            }
            ("POST", ["app-manifests", code, "conversions"]) => {
                let credentials = m
                    .manifest_codes
                    .remove(*code)
                    .ok_or_else(Reply::not_found)?;
                Ok(Reply::created(credentials))
            }
            // --- as a person (a user access token) ----------------------------------------------
            ("GET", ["user"]) => match auth {
                CallAuth::User(login) => {
                    let login = login.clone();
                    Ok(Reply::ok(shape::signed_in_user(api, m, &login)))
                }
                CallAuth::AppJwt | CallAuth::Installation(_) => Err(Reply::error(
                    StatusCode::FORBIDDEN,
                    "Resource not accessible by integration",
                )),
                other => Err(unauthorized(other)),
            },
            ("GET", ["user", "installations"]) => {
                user_installations::installations(api, m, auth, path, query)
            }
            ("GET", ["user", "installations", id, "repositories"]) => {
                user_installations::repositories(api, m, auth, id, path, query)
            }
            ("DELETE", ["applications", client_id, what @ ("token" | "grant")]) => {
                oauth::revoke(m, auth, client_id, what, body)
            }
            // --- as an installation -----------------------------------------------------------
            ("GET", ["installation", "repositories"]) => {
                let id = match auth {
                    CallAuth::Installation(id) => id,
                    CallAuth::User(_) => {
                        return Err(Reply::error(
                            StatusCode::FORBIDDEN,
                            "You must authenticate with an installation access token in order to \
                             list repositories for an installation.",
                        ));
                    }
                    other => return Err(unauthorized(other)),
                };
                let repos: Vec<Repo> = m
                    .repos
                    .values()
                    .filter(|r| r.installation == Some(*id))
                    .cloned()
                    .collect();
                let items: Vec<Value> = repos.iter().map(|r| shape::repo(api, m, r)).collect();
                Ok(strict::paginate_wrapped(
                    paginate(api, path, query, items),
                    "repositories",
                ))
            }
            ("GET", ["repos", owner, name]) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                Ok(Reply::ok(shape::repo(api, m, &repo)))
            }
            ("GET", ["repos", owner, name, "issues"]) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                Ok(list_issues(api, m, &repo, path, query))
            }
            ("GET", ["repos", owner, name, "issues", "comments", id]) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                let comment = find_comment(m, &repo, id)?;
                Ok(Reply::ok(shape::comment(api, m, &comment)))
            }
            ("PATCH", ["repos", owner, name, "issues", "comments", id]) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                let comment = find_comment(m, &repo, id)?;
                let text = comment_body(body)?;
                content_write(m, auth)?;
                let stored = m.comments.get_mut(&comment.id).expect("found above");
                stored.body = text;
                stored.updated_at = Utc::now();
                let updated = stored.clone();
                Ok(Reply::ok(shape::comment(api, m, &updated)))
            }
            ("POST", ["repos", owner, name, "issues", "comments", id, "reactions"]) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                let comment = find_comment(m, &repo, id)?;
                let content = body
                    .and_then(|b| b.get("content"))
                    .and_then(Value::as_str)
                    .filter(|c| REACTIONS.contains(c))
                    .ok_or_else(|| {
                        Reply::error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid reaction content")
                    })?
                    .to_string();
                content_write(m, auth)?;
                let existing = m
                    .reactions
                    .iter()
                    .find(|r| {
                        r.comment_id == comment.id && r.content == content && r.user == BOT_LOGIN
                    })
                    .cloned();
                let (status, reaction) = match existing {
                    Some(r) => (StatusCode::OK, r),
                    None => {
                        let reaction = Reaction {
                            id: m.next_id(),
                            comment_id: comment.id,
                            content,
                            user: BOT_LOGIN.into(),
                        };
                        m.reactions.push(reaction.clone());
                        (StatusCode::CREATED, reaction)
                    }
                };
                let user = shape::user(api, m, BOT_LOGIN);
                Ok(Reply::json(
                    status,
                    json!({
                        "id": reaction.id,
                        "node_id": format!("REA_{}", reaction.id),
                        "user": user,
                        "content": reaction.content,
                        "created_at": shape::time(Utc::now()),
                    }),
                ))
            }
            ("GET", ["repos", owner, name, "issues", number]) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                let number: u64 = number.parse().map_err(|_| Reply::not_found())?;
                if let Some(issue) = repo.issues.get(&number) {
                    Ok(Reply::ok(shape::issue(api, m, &repo, issue)))
                } else if let Some(pull) = repo.pulls.get(&number) {
                    Ok(Reply::ok(shape::pull_as_issue(api, m, &repo, pull)))
                } else {
                    Err(Reply::not_found())
                }
            }
            // GitHub's issue dependencies: the issues blocking this one, as issue objects,
            // paginated; refused for a pull request or an unknown issue as GitHub refuses them.
            (
                "GET",
                [
                    "repos",
                    owner,
                    name,
                    "issues",
                    number,
                    "dependencies",
                    "blocked_by",
                ],
            ) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                let number: u64 = number.parse().map_err(|_| Reply::not_found())?;
                if !repo.issues.contains_key(&number) {
                    return Err(Reply::not_found());
                }
                let mut items = Vec::new();
                for (r, n) in m.blockers_of(&repo.full_name, number) {
                    let Some(other) = m.repo(&r).cloned() else {
                        continue;
                    };
                    if let Some(issue) = other.issues.get(&n) {
                        items.push(shape::issue(api, m, &other, issue));
                    }
                }
                Ok(paginate(api, path, query, items))
            }
            ("GET", ["repos", owner, name, "issues", number, "comments"]) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                let number: u64 = number.parse().map_err(|_| Reply::not_found())?;
                if !repo.issues.contains_key(&number) && !repo.pulls.contains_key(&number) {
                    return Err(Reply::not_found());
                }
                let comments: Vec<Comment> = m
                    .comments
                    .values()
                    .filter(|c| c.repo == repo.full_name && c.number == number)
                    .cloned()
                    .collect();
                let items = comments.iter().map(|c| shape::comment(api, m, c)).collect();
                Ok(paginate(api, path, query, items))
            }
            ("POST", ["repos", owner, name, "issues", number, "comments"]) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                let number: u64 = number.parse().map_err(|_| Reply::not_found())?;
                if !repo.issues.contains_key(&number) && !repo.pulls.contains_key(&number) {
                    return Err(Reply::not_found());
                }
                let text = comment_body(body)?;
                content_write(m, auth)?;
                let id = insert_comment(m, &repo.full_name, number, BOT_LOGIN, &text);
                let comment = m.comments[&id].clone();
                Ok(Reply::created(shape::comment(api, m, &comment)))
            }
            ("GET", ["repos", owner, name, "pulls"]) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                let state = query.get("state").map(String::as_str).unwrap_or("open");
                let items = repo
                    .pulls
                    .values()
                    .rev()
                    .filter(|p| match state {
                        "open" => p.open,
                        "closed" => !p.open,
                        _ => true,
                    })
                    .map(|p| strict::pull_list_item(shape::pull(api, m, &repo, p)))
                    .collect();
                Ok(paginate(api, path, query, items))
            }
            ("GET", ["repos", owner, name, "pulls", number]) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                let number: u64 = number.parse().map_err(|_| Reply::not_found())?;
                let pull = repo.pulls.get(&number).ok_or_else(Reply::not_found)?;
                Ok(Reply::ok(shape::pull(api, m, &repo, pull)))
            }
            ("GET", ["repos", owner, name, "pulls", number, "commits"]) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                pull_commits::list(api, &repo, number, path, query)
            }
            ("GET", ["repos", owner, name, "pulls", number, "files"]) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                pull_files::list(api, &repo, number, path, query)
            }
            ("GET", ["repos", owner, name, "labels"]) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?;
                let items = repo
                    .labels
                    .iter()
                    .map(|l| shape::label(api, &repo.full_name, l))
                    .collect();
                Ok(paginate(api, path, query, items))
            }
            ("GET", ["repos", owner, name, "collaborators", login, "permission"]) => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                strict::known_login(m, &repo, login)?;
                let role = repo
                    .permissions
                    .get(&login.to_lowercase())
                    .cloned()
                    .unwrap_or_else(|| "read".into());
                // `permission` folds `maintain` into `write` and `triage` into `read`.
                let permission = match role.as_str() {
                    "maintain" => "write",
                    "triage" => "read",
                    other => other,
                }
                .to_string();
                // A collaborator: a user with their `role_name`.
                let mut user = shape::user(api, m, login);
                user["role_name"] = json!(role);
                Ok(Reply::ok(json!({
                    "permission": permission,
                    "role_name": role,
                    "user": user,
                })))
            }
            ("GET", ["users", login]) => {
                if !m.knows_account(login) || m.renamed_logins.contains(&login.to_lowercase()) {
                    return Err(Reply::not_found());
                }
                let created = m
                    .accounts_created
                    .get(&login.to_lowercase())
                    .map_or_else(|| shape::time(old_account()), |t| shape::time(*t));
                let mut user = shape::user(api, m, login);
                // GitHub's public-user: the simple user and the profile.
                shape::set(
                    &mut user,
                    json!({
                        "name": null, "company": null, "blog": "", "location": null,
                        "email": null, "hireable": null, "bio": null, "twitter_username": null,
                        "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
                        "created_at": created, "updated_at": created,
                        "user_view_type": "public",
                    }),
                );
                Ok(Reply::ok(user))
            }
            ("GET", ["repos", owner, name, "contents", file @ ..]) if !file.is_empty() => {
                let repo = require_repo(m, auth, &format!("{owner}/{name}"))?.clone();
                let file_path = file.join("/");
                let content = repo.files.get(&file_path).ok_or_else(Reply::not_found)?;
                let accept = headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if accept.contains("application/vnd.github.raw") {
                    let mut reply = Reply::ok(Value::Null);
                    reply.body = None;
                    reply.raw = Some(content.clone());
                    return Ok(reply);
                }
                let encoded = base64::engine::general_purpose::STANDARD.encode(content);
                // GitHub wraps the base64 text at 60 characters.
                let wrapped: Vec<String> = encoded
                    .as_bytes()
                    .chunks(60)
                    .map(|c| String::from_utf8(c.to_vec()).unwrap())
                    .collect();
                let full = &repo.full_name;
                let name = file.last().copied().unwrap_or_default();
                Ok(Reply::ok(json!({
                    "type": "file",
                    "encoding": "base64",
                    "size": content.len(),
                    "name": name,
                    "path": file_path,
                    "content": wrapped.join("\n") + "\n",
                    "sha": format!("{:040x}", content.len()),
                    "url": format!("{api}/repos/{full}/contents/{file_path}"),
                    "git_url": format!("{api}/repos/{full}/git/blobs/{:040x}", content.len()),
                    "html_url": format!("{}/{full}/blob/{}/{file_path}", shape::WEB, repo.default_branch),
                    "download_url": format!("https://raw.githubusercontent.com/{full}/{}/{file_path}", repo.default_branch),
                    "_links": {
                        "self": format!("{api}/repos/{full}/contents/{file_path}"),
                        "git": format!("{api}/repos/{full}/git/blobs/{:040x}", content.len()),
                        "html": format!("{}/{full}/blob/{}/{file_path}", shape::WEB, repo.default_branch),
                    },
                })))
            }
            _ => Err(Reply::not_found()),
        }
    })();
    result.unwrap_or_else(|reply| reply)
}

fn find_comment(m: &Model, repo: &Repo, id: &str) -> Result<Comment, Reply> {
    let id: u64 = id.parse().map_err(|_| Reply::not_found())?;
    m.comments
        .get(&id)
        .filter(|c| c.repo == repo.full_name)
        .cloned()
        .ok_or_else(Reply::not_found)
}

/// `GET /repos/{o}/{r}/issues`: open issues by default, `labels` (all must match), `state`;
/// pull requests are listed too, as GitHub does.
fn list_issues(
    api: &str,
    m: &mut Model,
    repo: &Repo,
    path: &str,
    query: &HashMap<String, String>,
) -> Reply {
    let state = query.get("state").map(String::as_str).unwrap_or("open");
    let wanted: Vec<String> = query
        .get("labels")
        .map(|l| {
            l.split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let state_ok = |open: bool| match state {
        "open" => open,
        "closed" => !open,
        _ => true,
    };
    let labels_ok = |labels: &[String]| {
        wanted
            .iter()
            .all(|w| labels.iter().any(|l| l.to_lowercase() == *w))
    };
    // Newest first, as GitHub sorts by default.
    let mut items: Vec<(u64, Value)> = Vec::new();
    for issue in repo.issues.values() {
        if state_ok(issue.open) && labels_ok(&issue.labels) {
            items.push((issue.number, shape::issue(api, m, repo, issue)));
        }
    }
    for pull in repo.pulls.values() {
        if state_ok(pull.open) && labels_ok(&pull.labels) {
            items.push((pull.number, shape::pull_as_issue(api, m, repo, pull)));
        }
    }
    items.sort_by_key(|(number, _)| std::cmp::Reverse(*number));
    paginate(
        api,
        path,
        query,
        items.into_iter().map(|(_, v)| v).collect(),
    )
}
