//! The REST calls the running App makes, with GitHub's answers read at the edge.
//!
//! Every call goes through octocrab's raw methods so that the status and the rate-limit headers
//! of each answer are seen: a [`CallError`] says whether to wait (GitHub's `Retry-After` or a
//! rate-limit reset), to try again later (server errors, the network), or to give up (the issue
//! is gone, GitHub refuses the request for good). Listings follow the `Link: rel="next"` header by
//! path, so the installation token goes along on every page. What GitHub sends back is turned into
//! the App's own types ([`crate::github::events`]) here; nothing else sees GitHub's JSON.

use std::sync::Arc;

mod clients;

use chrono::{DateTime, Utc};
use http::header::HeaderMap;
use octocrab::Octocrab;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::github::app_auth::{AppAuthError, GithubApp};
use crate::github::conditional::{EtagCache, Stored};
use crate::github::events::{
    Actor, ActorKind, Issue, PullRequest, RepoName, replace_nul, without_nul,
};
use crate::github::raw_calls::{self, RepoPermission};

/// Pages read at most from one listing (100 items each).
pub const MAX_PAGES: usize = 50;

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// GitHub asked the App to wait until this instant (ms): `Retry-After`, or a rate limit that
    /// resets then.
    #[error("GitHub asked to wait (rate limit)")]
    Wait { until: i64 },
    /// A secondary rate limit GitHub named without saying how long to wait (no `Retry-After`,
    /// requests left in the primary limit): wait at least a minute, longer each time it repeats.
    #[error("GitHub asked to slow down (secondary rate limit)")]
    Limited,
    /// A failure worth trying again later: a server error, the network.
    #[error("GitHub is not answering properly: {0}")]
    Transient(String),
    /// GitHub answered 401: it refuses the credentials sent (the App JWT: a key it does not
    /// know; an installation token that expired). Tried again later like [`Self::Transient`],
    /// but told apart from it: a refused App key is said at once ([`check_app_keys`]).
    #[error("GitHub refuses the credentials (401): {0}")]
    Unauthorized(String),
    /// GitHub refused the request for good (not found, gone, invalid, forbidden).
    #[error("GitHub refused the request ({status}): {message}")]
    Permanent { status: u16, message: String },
}

impl CallError {
    /// Whether trying again later may succeed on its own: a server error, the network, a 401
    /// (a token that expired; a key is checked again by [`check_app_keys`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, CallError::Transient(_) | CallError::Unauthorized(_))
    }

    fn from_octocrab(e: &octocrab::Error) -> CallError {
        match e {
            octocrab::Error::GitHub { source, .. } => {
                let status = source.status_code.as_u16();
                classify(status, None, &source.message)
            }
            other => CallError::Transient(other.to_string()),
        }
    }

    fn from_auth(e: &AppAuthError) -> CallError {
        match e {
            AppAuthError::GitHub(inner) => CallError::from_octocrab(inner),
            other => CallError::Transient(other.to_string()),
        }
    }
}

/// What a successful call returned.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// The path of the next page (`Link: rel="next"`), for listings.
    pub next: Option<String>,
    /// When the rate limit resets, if this answer used its last request.
    pub exhausted_until: Option<i64>,
    /// GitHub's `ETag` of the answer, for a conditional request next time.
    pub etag: Option<String>,
}

impl Answer {
    /// The answer's JSON as `T`, with NUL characters replaced (see [`replace_nul`]).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, CallError> {
        let unreadable = |e| CallError::Transient(format!("unreadable answer from GitHub: {e}"));
        let mut value: Value = serde_json::from_str(&self.body).map_err(unreadable)?;
        replace_nul(&mut value);
        serde_json::from_value(value).map_err(unreadable)
    }
}

fn classify(status: u16, headers: Option<&HeaderMap>, message: &str) -> CallError {
    let now = Utc::now().timestamp_millis();
    if let Some(h) = headers
        && matches!(status, 403 | 429)
    {
        if let Some(secs) = header_i64(h, "retry-after") {
            return CallError::Wait {
                until: now + secs.max(1) * 1000,
            };
        }
        if header_i64(h, "x-ratelimit-remaining") == Some(0) {
            let reset = header_i64(h, "x-ratelimit-reset").map_or(now + 60_000, |s| s * 1000);
            return CallError::Wait {
                until: reset.max(now + 1000),
            };
        }
    }
    // A limit GitHub names only in its message (a secondary limit may come as 403 without
    // `Retry-After`, with requests still left in the primary one): the caller waits at least a
    // minute, longer when it repeats, and never gives the write up.
    if status == 429 || (status == 403 && message.to_lowercase().contains("rate limit")) {
        return CallError::Limited;
    }
    match status {
        401 => CallError::Unauthorized(message.to_string()),
        408 | 500..=599 => CallError::Transient(format!("{status}: {message}")),
        _ => CallError::Permanent {
            status,
            message: message.to_string(),
        },
    }
}

tokio::task_local! {
    /// What the requests of one piece of work cost, when it asked to know ([`costed`]).
    static COST: std::cell::Cell<Cost>;
}

/// What a piece of work's requests to GitHub cost: answers read (each counted against the rate
/// limit), `304 Not Modified` answers (not counted), and the requests GitHub said were left
/// of the hour after the last answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    pub counted: u64,
    pub not_modified: u64,
    pub remaining: Option<i64>,
}

/// Runs `work`, telling what its requests made through this module cost so far at any time
/// ([`cost_so_far`]) and in all (returned with its output).
pub async fn costed<F: std::future::Future>(work: F) -> (F::Output, Cost) {
    COST.scope(std::cell::Cell::new(Cost::default()), async {
        let output = work.await;
        (output, cost_so_far())
    })
    .await
}

/// The cost so far of the work [`costed`] runs (nothing outside it).
pub fn cost_so_far() -> Cost {
    COST.try_with(std::cell::Cell::get).unwrap_or_default()
}

fn add_cost(counted: bool, remaining: Option<i64>) {
    let _ = COST.try_with(|cell| {
        let mut cost = cell.get();
        if counted {
            cost.counted += 1;
        } else {
            cost.not_modified += 1;
        }
        if remaining.is_some() {
            cost.remaining = remaining;
        }
        cell.set(cost);
    });
}

fn header_i64(h: &HeaderMap, name: &str) -> Option<i64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The path and query of the `rel="next"` link, if any.
fn next_link(h: &HeaderMap) -> Option<String> {
    let link = h.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, rest) = part.split_once(';')?;
        if !rest.contains("rel=\"next\"") {
            return None;
        }
        let url = url.trim().trim_start_matches('<').trim_end_matches('>');
        let uri: http::Uri = url.parse().ok()?;
        uri.path_and_query().map(|pq| pq.as_str().to_string())
    })
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Post,
    Patch,
}

async fn call(
    client: &Octocrab,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Answer, CallError> {
    let response = match method {
        Method::Get => client._get(path).await,
        Method::Post => client._post(path, body).await,
        Method::Patch => client._patch(path, body).await,
    }
    .map_err(|e| unanswered(&e))?;
    read_answer(client, response).await
}

/// The rate limit an answer of `client`'s reported, for the metrics.
fn rate_left(client: &Octocrab, remaining: Option<i64>) {
    if let Some(n) = remaining {
        let n = u64::try_from(n).unwrap_or(0);
        crate::metrics::set_github_rate_limit_remaining(clients::installation_of(client), n);
    }
}

/// A request GitHub did not answer (counted as such).
fn unanswered(e: &octocrab::Error) -> CallError {
    crate::metrics::github_request(None);
    CallError::from_octocrab(e)
}

/// Reads an answer: its body, or the [`CallError`] its status and headers say.
async fn read_answer(
    client: &Octocrab,
    response: http::Response<http_body_util::combinators::BoxBody<bytes::Bytes, octocrab::Error>>,
) -> Result<Answer, CallError> {
    let status = response.status();
    crate::metrics::github_request(Some(status.as_u16()));
    let headers = response.headers().clone();
    let remaining = header_i64(&headers, "x-ratelimit-remaining");
    rate_left(client, remaining);
    add_cost(true, remaining);
    let text = client
        .body_to_string(response)
        .await
        .map_err(|e| CallError::Transient(e.to_string()))?;
    if !status.is_success() {
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(without_nul))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        return Err(classify(status.as_u16(), Some(&headers), &message));
    }
    let exhausted_until = (header_i64(&headers, "x-ratelimit-remaining") == Some(0))
        .then(|| header_i64(&headers, "x-ratelimit-reset").map(|s| s * 1000))
        .flatten();
    Ok(Answer {
        status: status.as_u16(),
        body: text,
        next: next_link(&headers),
        exhausted_until,
        etag: headers
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    })
}

/// `GET path` as a conditional request: with the `ETag` of the last answer of `path` in
/// `If-None-Match`, GitHub answers `304 Not Modified` (not counted against the rate limit) when
/// nothing changed, and the stored answer is returned.
pub async fn get_if_changed(
    client: &Octocrab,
    etags: &EtagCache,
    path: &str,
) -> Result<Answer, CallError> {
    let known = etags.get(path);
    let mut headers = HeaderMap::new();
    if let Some(value) = known
        .as_ref()
        .and_then(|k| http::HeaderValue::from_str(&k.etag).ok())
    {
        headers.insert(http::header::IF_NONE_MATCH, value);
    }
    let response = client
        ._get_with_headers(path, Some(headers))
        .await
        .map_err(|e| unanswered(&e))?;
    if response.status() == http::StatusCode::NOT_MODIFIED {
        crate::metrics::github_request(Some(304));
        let remaining = header_i64(response.headers(), "x-ratelimit-remaining");
        rate_left(client, remaining);
        add_cost(false, remaining);
        let Some(known) = known else {
            return Err(CallError::Transient(
                "304 Not Modified to an unconditional request".into(),
            ));
        };
        return Ok(Answer {
            status: 200,
            body: known.body,
            next: known.next,
            exhausted_until: None,
            etag: Some(known.etag),
        });
    }
    let answer = read_answer(client, response).await?;
    if let Some(etag) = &answer.etag {
        etags.put(
            path,
            Stored {
                etag: etag.clone(),
                body: answer.body.clone(),
                next: answer.next.clone(),
            },
        );
    }
    Ok(answer)
}

/// `GET path`.
pub async fn get(client: &Octocrab, path: &str) -> Result<Answer, CallError> {
    call(client, Method::Get, path, None).await
}

/// `POST path` with a JSON body.
pub async fn post(client: &Octocrab, path: &str, body: &Value) -> Result<Answer, CallError> {
    call(client, Method::Post, path, Some(body)).await
}

/// `PATCH path` with a JSON body.
pub async fn patch(client: &Octocrab, path: &str, body: &Value) -> Result<Answer, CallError> {
    call(client, Method::Patch, path, Some(body)).await
}

/// A listing as read: its items, and whether GitHub had more pages than were read.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    pub items: Vec<T>,
    /// The listing stopped at the page cap: what it lacks is unknown, not gone.
    pub truncated: bool,
}

/// The pages of a listing (each answer read as `P`), up to `max_pages`, each read with a
/// conditional request when `etags` is given; `listing` names it in the log and the metric when
/// GitHub has more.
async fn read_pages<P: DeserializeOwned>(
    client: &Octocrab,
    etags: Option<&EtagCache>,
    path: &str,
    max_pages: usize,
    listing: &'static str,
) -> Result<(Vec<P>, bool), CallError> {
    let mut pages = Vec::new();
    let mut next = Some(path.to_string());
    while let Some(path) = next {
        let answer = match etags {
            Some(etags) => get_if_changed(client, etags, &path).await?,
            None => get(client, &path).await?,
        };
        pages.push(answer.json::<P>()?);
        next = answer.next;
        if next.is_some() && pages.len() >= max_pages.max(1) {
            tracing::warn!(
                listing,
                pages = pages.len(),
                "a GitHub listing is longer than the App reads; what it lacks is not taken as gone"
            );
            crate::metrics::record_github_truncated_listing(listing);
            return Ok((pages, true));
        }
    }
    Ok((pages, false))
}

/// Every item of a listing that answers a JSON array, up to `max_pages` pages.
pub async fn list_pages<T: DeserializeOwned>(
    client: &Octocrab,
    etags: Option<&EtagCache>,
    path: &str,
    max_pages: usize,
    listing: &'static str,
) -> Result<Listing<T>, CallError> {
    let (pages, truncated) = read_pages::<Vec<T>>(client, etags, path, max_pages, listing).await?;
    Ok(Listing {
        items: pages.into_iter().flatten().collect(),
        truncated,
    })
}

/// The items of a listing that answers a JSON array, up to [`MAX_PAGES`] pages, for listings
/// whose missing items are each read again on their own (a truncation is logged and counted).
pub async fn list<T: DeserializeOwned>(client: &Octocrab, path: &str) -> Result<Vec<T>, CallError> {
    list_with(client, None, path).await
}

/// [`list`], each page read with a conditional request when `etags` is given.
pub async fn list_with<T: DeserializeOwned>(
    client: &Octocrab,
    etags: Option<&EtagCache>,
    path: &str,
) -> Result<Vec<T>, CallError> {
    Ok(list_pages(client, etags, path, MAX_PAGES, "other")
        .await?
        .items)
}

/// The client of an installation (with a fresh token). When GitHub refuses the App JWT and the
/// App has other keys, the keys are checked ([`check_app_keys`]) and, if another is accepted,
/// the token is asked for again with it.
pub async fn installation(app: &GithubApp, id: i64) -> Result<Arc<Octocrab>, CallError> {
    let key = u64::try_from(id).map_err(|_| CallError::Permanent {
        status: 404,
        message: "invalid installation id".into(),
    })?;
    let used = app.current_key();
    let client = match app.installation(key).await {
        Ok(client) => client,
        Err(e) => {
            let error = CallError::from_auth(&e);
            if !matches!(error, CallError::Unauthorized(_)) || !key_changed(app, used).await {
                return Err(error);
            }
            app.installation(key)
                .await
                .map_err(|e| CallError::from_auth(&e))?
        }
    };
    clients::client_of(id, &client);
    Ok(client)
}

/// After GitHub refused the App JWT signed with key `used`: checks the keys again and says
/// whether another one is accepted now.
async fn key_changed(app: &GithubApp, used: usize) -> bool {
    if app.key_count() < 2 && app.current_key() == used {
        // One key: say it is refused (readiness, the log), nothing to fall back to.
        let _ = check_app_keys(app).await;
        return false;
    }
    matches!(check_app_keys(app).await, Ok(index) if index != used)
}

/// Asks GitHub which of the App's keys it accepts (`GET /app` signed with each: the key in use
/// first, then the others in the order given) and records the answer
/// ([`GithubApp::set_key_state`]): the first key accepted signs every App JWT from now on.
/// `Unauthorized` when GitHub refuses every key; another error (the network, a server error)
/// when it could not be asked, with the state left as it was.
pub async fn check_app_keys(app: &GithubApp) -> Result<usize, CallError> {
    use crate::github::app_auth::KeyState;
    let _one_at_a_time = app.checking_keys().await;
    let first = app.current_key();
    let order = std::iter::once(first).chain((0..app.key_count()).filter(|i| *i != first));
    let mut refused = Vec::new();
    for index in order {
        let Some(client) = app.app_client_with(index) else {
            continue;
        };
        match get(client, "/app").await {
            Ok(_) => {
                if index != first && app.key_state() != KeyState::Unknown {
                    tracing::warn!(
                        key = index + 1,
                        keys = app.key_count(),
                        "GitHub refuses the App's key {} now: key {} of {} signs from now on \
                         (remove the refused one from GITHUB_PRIVATE_KEY)",
                        first + 1,
                        index + 1,
                        app.key_count()
                    );
                }
                app.set_key_state(KeyState::Accepted { index });
                return Ok(index);
            }
            Err(CallError::Unauthorized(message)) => refused.push((index, message)),
            Err(other) => return Err(other),
        }
    }
    let message = refused.first().map_or("", |(_, m)| m.as_str());
    let reason = match refused.len() {
        1 => format!("GET /app signed with the App's key answers 401 ({message})"),
        n => format!("GET /app signed with each of the App's {n} keys answers 401 ({message})"),
    };
    app.set_key_state(KeyState::Refused {
        reason: reason.clone(),
    });
    Err(CallError::Unauthorized(reason))
}

// ------------------------------------------------------------------------------------------------
// Comments
// ------------------------------------------------------------------------------------------------

/// A comment as the sender needs it to find its own comments again.
#[derive(Debug, Clone)]
pub struct CommentInfo {
    pub id: i64,
    pub body: String,
    /// Written by a bot account (the App is one).
    pub by_bot: bool,
}

#[derive(Deserialize)]
struct WireUser {
    login: String,
    #[serde(default)]
    id: u64,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

impl From<WireUser> for Actor {
    fn from(user: WireUser) -> Actor {
        user.actor()
    }
}

impl WireUser {
    fn actor(self) -> Actor {
        let kind = match self.kind.as_deref() {
            Some("Bot") => ActorKind::Bot,
            Some("Organization") => ActorKind::Organization,
            Some("User") | None => ActorKind::User,
            Some(_) => ActorKind::Other,
        };
        Actor {
            login: self.login,
            id: self.id,
            kind,
        }
    }
}

#[derive(Deserialize)]
struct WireComment {
    id: i64,
    body: Option<String>,
    user: Option<WireUser>,
}

/// The comments of an issue, oldest first.
pub async fn issue_comments(
    client: &Octocrab,
    repo: &str,
    number: i64,
) -> Result<Vec<CommentInfo>, CallError> {
    let comments: Vec<WireComment> = list(
        client,
        &format!("/repos/{repo}/issues/{number}/comments?per_page=100"),
    )
    .await?;
    Ok(comments
        .into_iter()
        .map(|c| {
            let by_bot = c.user.map(|u| u.actor().is_bot()).unwrap_or(false);
            CommentInfo {
                id: c.id,
                body: c.body.unwrap_or_default(),
                by_bot,
            }
        })
        .collect())
}

/// Posts a comment; returns its id.
pub async fn create_comment(
    client: &Octocrab,
    repo: &str,
    number: i64,
    body: &str,
) -> Result<(i64, Answer), CallError> {
    let answer = post(
        client,
        &format!("/repos/{repo}/issues/{number}/comments"),
        &serde_json::json!({ "body": body }),
    )
    .await?;
    let id = comment_id(&answer)?;
    Ok((id, answer))
}

/// Replaces a comment's text.
pub async fn update_comment(
    client: &Octocrab,
    repo: &str,
    comment_id: i64,
    body: &str,
) -> Result<Answer, CallError> {
    patch(
        client,
        &format!("/repos/{repo}/issues/comments/{comment_id}"),
        &serde_json::json!({ "body": body }),
    )
    .await
}

/// Reacts to a comment (`+1`, `eyes`, …); returns the reaction's id.
pub async fn react(
    client: &Octocrab,
    repo: &str,
    comment_id: i64,
    content: &str,
) -> Result<(i64, Answer), CallError> {
    let answer = post(
        client,
        &format!("/repos/{repo}/issues/comments/{comment_id}/reactions"),
        &serde_json::json!({ "content": content }),
    )
    .await?;
    let id = comment_id_of(&answer).unwrap_or_default();
    Ok((id, answer))
}

fn comment_id_of(answer: &Answer) -> Option<i64> {
    serde_json::from_str::<Value>(&answer.body)
        .ok()?
        .get("id")?
        .as_i64()
}

fn comment_id(answer: &Answer) -> Result<i64, CallError> {
    comment_id_of(answer)
        .ok_or_else(|| CallError::Transient("GitHub's answer has no comment id".into()))
}

// ------------------------------------------------------------------------------------------------
// Issues and pull requests
// ------------------------------------------------------------------------------------------------

/// An issue as the REST API returns it: the webhook payloads' shape, with a REST user.
type WireIssue = crate::github::events::wire::Issue<WireUser>;

#[derive(Deserialize)]
struct WireBranch {
    #[serde(rename = "ref")]
    name: String,
}

#[derive(Deserialize)]
struct WirePull {
    number: u64,
    title: String,
    body: Option<String>,
    state: String,
    #[serde(default)]
    draft: Option<bool>,
    #[serde(default)]
    merged: Option<bool>,
    merged_at: Option<DateTime<Utc>>,
    html_url: String,
    /// `null` for a deleted account.
    user: Option<WireUser>,
    base: WireBranch,
}

impl From<WirePull> for PullRequest {
    fn from(p: WirePull) -> PullRequest {
        PullRequest {
            number: p.number,
            title: p.title,
            body: p.body.unwrap_or_default(),
            open: p.state == "open",
            draft: p.draft.unwrap_or(false),
            merged: p.merged.unwrap_or(p.merged_at.is_some()),
            merged_at: p.merged_at,
            html_url: p.html_url,
            author: Actor::or_ghost(p.user),
            base_ref: p.base.name,
            head_sha: None,
        }
    }
}

/// The open issues of a repository carrying `label` (pull requests left out).
pub async fn open_issues_with_label(
    client: &Octocrab,
    etags: &EtagCache,
    repo: &str,
    label: &str,
) -> Result<Vec<Issue>, CallError> {
    let path = format!(
        "/repos/{repo}/issues?state=open&labels={}&per_page=100",
        encode_query(label)
    );
    let issues: Vec<WireIssue> = list_with(client, Some(etags), &path).await?;
    Ok(issues
        .into_iter()
        .map(Issue::from)
        .filter(|i| !i.is_pull_request)
        .collect())
}

/// One issue.
pub async fn issue(client: &Octocrab, repo: &str, number: i64) -> Result<Issue, CallError> {
    let answer = get(client, &format!("/repos/{repo}/issues/{number}")).await?;
    Ok(answer.json::<WireIssue>()?.into())
}

/// An issue read by its number, and where GitHub found it.
#[derive(Debug)]
pub enum IssueRead {
    /// The issue asked for.
    Here(Issue),
    /// GitHub answered with another issue: the one asked for was transferred, and GitHub
    /// followed it (a 301 to `/repositories/{id}/issues/{n}`). Its repository (`owner/name`)
    /// and number now, as GitHub names them.
    Moved { repo: Option<String>, number: u64 },
}

/// The `owner/name` an API URL of a repository names (`…/repos/{owner}/{name}`).
fn repo_of_url(url: &str) -> Option<String> {
    let rest = url.split("/repos/").nth(1)?;
    let mut parts = rest.split('/');
    let (owner, name) = (parts.next()?, parts.next()?);
    (!owner.is_empty() && !name.is_empty()).then(|| format!("{owner}/{name}"))
}

/// One issue, checked to be the one asked for: after a transfer, GitHub redirects the old
/// address to the issue's new place, and the answer is then another repository's issue.
pub async fn issue_where(
    client: &Octocrab,
    repo: &str,
    number: i64,
) -> Result<IssueRead, CallError> {
    #[derive(Deserialize)]
    struct Place {
        number: u64,
        repository_url: Option<String>,
    }
    let answer = get(client, &format!("/repos/{repo}/issues/{number}")).await?;
    let place: Place = answer.json()?;
    let there = place.repository_url.as_deref().and_then(repo_of_url);
    let same_repo = there
        .as_deref()
        .is_none_or(|r| r.eq_ignore_ascii_case(repo));
    if same_repo && i64::try_from(place.number).ok() == Some(number) {
        Ok(IssueRead::Here(answer.json::<WireIssue>()?.into()))
    } else {
        Ok(IssueRead::Moved {
            repo: there,
            number: place.number,
        })
    }
}

/// The issues that block issue `number` (GitHub's "blocked by"), as `owner/name#N` keys with
/// whether each is open: one page of 100 (a task keeps at most 50 blockers). Call it only when
/// the issue's `issue_dependencies_summary` counts an open blocker.
pub async fn issue_blockers(
    client: &Octocrab,
    repo: &str,
    number: i64,
) -> Result<Vec<crate::store::deps::ExternalBlocker>, CallError> {
    #[derive(Deserialize)]
    struct Blocker {
        number: u64,
        state: String,
        repository_url: String,
    }
    let answer = get(
        client,
        &format!("/repos/{repo}/issues/{number}/dependencies/blocked_by?per_page=100"),
    )
    .await?;
    let blockers: Vec<Blocker> = answer.json()?;
    Ok(blockers
        .into_iter()
        .filter_map(|b| {
            let (_, full_name) = b.repository_url.rsplit_once("/repos/")?;
            Some(crate::store::deps::ExternalBlocker {
                key: format!("{full_name}#{}", b.number),
                open: b.state == "open",
            })
        })
        .collect())
}

/// The open pull requests of a repository.
pub async fn open_pulls(
    client: &Octocrab,
    etags: &EtagCache,
    repo: &str,
) -> Result<Vec<PullRequest>, CallError> {
    let pulls: Vec<WirePull> = list_with(
        client,
        Some(etags),
        &format!("/repos/{repo}/pulls?state=open&per_page=100"),
    )
    .await?;
    Ok(pulls.into_iter().map(PullRequest::from).collect())
}

/// One pull request.
pub async fn pull(client: &Octocrab, repo: &str, number: i64) -> Result<PullRequest, CallError> {
    let answer = get(client, &format!("/repos/{repo}/pulls/{number}")).await?;
    Ok(answer.json::<WirePull>()?.into())
}

/// Pages of a pull request's changed files GitHub serves at most (3,000 files, 100 a page).
pub const PULL_FILES_PAGES: usize = 30;

/// One page (from 1) of the files a pull request changes (`GET /repos/{o}/{r}/pulls/{n}/files`,
/// 100 a page, up to GitHub's own cap of 3,000 files, [`PULL_FILES_PAGES`] pages), each as its
/// path and, for a renamed file, its former path too: both are paths the pull request changes;
/// and whether GitHub has a next page. Names are a stranger's text; callers normalise them
/// (`domain::paths`).
pub async fn pull_files_page(
    client: &Octocrab,
    repo: &str,
    number: i64,
    page: usize,
) -> Result<(Vec<String>, bool), CallError> {
    #[derive(Deserialize)]
    struct WireFile {
        filename: String,
        #[serde(default)]
        previous_filename: Option<String>,
    }
    let answer = get(
        client,
        &format!("/repos/{repo}/pulls/{number}/files?per_page=100&page={page}"),
    )
    .await?;
    let files = answer
        .json::<Vec<WireFile>>()?
        .into_iter()
        .flat_map(|f| std::iter::once(f.filename).chain(f.previous_filename))
        .collect();
    Ok((files, answer.next.is_some()))
}

/// GitHub lists at most this many commits of one pull request (`GET …/pulls/{n}/commits`).
pub const PULL_COMMITS_PAGES: usize = 3;

/// One page (100) of a pull request's commits: each commit's SHA and whether GitHub verified its
/// signature (`commit.verification.verified`), and whether more pages follow.
pub async fn pull_commits_page(
    client: &Octocrab,
    repo: &str,
    number: i64,
    page: usize,
) -> Result<(Vec<(String, bool)>, bool), CallError> {
    #[derive(Deserialize)]
    struct WireCommit {
        sha: String,
        commit: WireInner,
    }
    #[derive(Deserialize)]
    struct WireInner {
        #[serde(default)]
        verification: Option<WireVerification>,
    }
    #[derive(Deserialize)]
    struct WireVerification {
        verified: bool,
    }
    let answer = get(
        client,
        &format!("/repos/{repo}/pulls/{number}/commits?per_page=100&page={page}"),
    )
    .await?;
    let commits = answer
        .json::<Vec<WireCommit>>()?
        .into_iter()
        .map(|c| (c.sha, c.commit.verification.is_some_and(|v| v.verified)))
        .collect();
    Ok((commits, answer.next.is_some()))
}

/// A person's access to a repository.
pub async fn permission(
    client: &Octocrab,
    repo: &str,
    login: &str,
) -> Result<RepoPermission, CallError> {
    raw_calls::collaborator_permission(client, repo, login)
        .await
        .map_err(|e| CallError::from_octocrab(&e))
}

/// The text of a file on the default branch, reading at most `max_bytes` of it.
pub async fn file_text(
    client: &Octocrab,
    etags: Option<&EtagCache>,
    repo: &str,
    path: &str,
    max_bytes: usize,
) -> Result<raw_calls::FileText, CallError> {
    let text = raw_calls::file_text(client, etags, repo, path, max_bytes)
        .await
        .map_err(|e| CallError::from_octocrab(&e))?;
    Ok(match text {
        raw_calls::FileText::Text(t) => raw_calls::FileText::Text(without_nul(&t)),
        other => other,
    })
}

// ------------------------------------------------------------------------------------------------
// As the App
// ------------------------------------------------------------------------------------------------

/// An installation as listed by `GET /app/installations`.
#[derive(Debug, Clone)]
pub struct InstallationInfo {
    pub id: i64,
    pub account: String,
    pub suspended: bool,
}

#[derive(Deserialize)]
struct WireInstallation {
    id: i64,
    account: Option<WireUser>,
    suspended_at: Option<Value>,
}

/// The App's installations, up to `max_pages` pages.
pub async fn installations(
    app: &GithubApp,
    max_pages: usize,
) -> Result<Listing<InstallationInfo>, CallError> {
    const PATH: &str = "/app/installations?per_page=100";
    let used = app.current_key();
    let listed: Listing<WireInstallation> = match list_pages(
        app.app_client(),
        Some(app.etags()),
        PATH,
        max_pages,
        "installations",
    )
    .await
    {
        Err(CallError::Unauthorized(_)) if key_changed(app, used).await => {
            list_pages(
                app.app_client(),
                Some(app.etags()),
                PATH,
                max_pages,
                "installations",
            )
            .await?
        }
        other => other?,
    };
    Ok(Listing {
        items: listed
            .items
            .into_iter()
            .map(|i| InstallationInfo {
                id: i.id,
                account: i.account.map(|a| a.login).unwrap_or_default(),
                suspended: i.suspended_at.is_some_and(|v| !v.is_null()),
            })
            .collect(),
        truncated: listed.truncated,
    })
}

#[derive(Deserialize)]
struct WireInstallationRepos {
    repositories: Vec<RepoName>,
}

/// The repositories an installation covers, up to `max_pages` pages.
pub async fn installation_repos(
    client: &Octocrab,
    etags: Option<&EtagCache>,
    max_pages: usize,
) -> Result<Listing<RepoName>, CallError> {
    let (pages, truncated) = read_pages::<WireInstallationRepos>(
        client,
        etags,
        "/installation/repositories?per_page=100",
        max_pages,
        "installation_repositories",
    )
    .await?;
    Ok(Listing {
        items: pages.into_iter().flat_map(|p| p.repositories).collect(),
        truncated,
    })
}

/// A webhook delivery as listed by `GET /app/hook/deliveries`.
#[derive(Debug, Clone, Deserialize)]
pub struct DeliveryInfo {
    pub id: i64,
    pub guid: String,
    #[serde(default)]
    pub status_code: u16,
    #[serde(default)]
    pub redelivery: bool,
    pub delivered_at: Option<DateTime<Utc>>,
    pub event: Option<String>,
}

impl DeliveryInfo {
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status_code)
    }
}

/// The App's recent webhook deliveries, newest first (at most `pages` pages of 100).
pub async fn deliveries(app: &GithubApp, pages: usize) -> Result<Vec<DeliveryInfo>, CallError> {
    let mut items = Vec::new();
    let mut next = Some("/app/hook/deliveries?per_page=100".to_string());
    let mut read = 0;
    while let Some(path) = next {
        let answer = get(app.app_client(), &path).await?;
        let mut page: Vec<DeliveryInfo> = answer.json()?;
        items.append(&mut page);
        read += 1;
        next = answer.next.filter(|_| read < pages);
    }
    Ok(items)
}

/// Asks GitHub to send a delivery again.
pub async fn redeliver(app: &GithubApp, delivery_id: i64) -> Result<(), CallError> {
    post(
        app.app_client(),
        &format!("/app/hook/deliveries/{delivery_id}/attempts"),
        &serde_json::json!({}),
    )
    .await
    .map(|_| ())
}

fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                out.push(b as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn retry_after_means_wait() {
        let h = headers(&[("retry-after", "30")]);
        let now = Utc::now().timestamp_millis();
        match classify(403, Some(&h), "secondary rate limit") {
            CallError::Wait { until } => assert!(until >= now + 29_000 && until <= now + 31_000),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_secondary_limit_without_retry_after_is_a_limit_without_a_time() {
        let h = headers(&[("x-ratelimit-remaining", "4321")]);
        for status in [403, 429] {
            assert_eq!(
                classify(
                    status,
                    Some(&h),
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                ),
                CallError::Limited,
                "{status}"
            );
        }
        // A plain 403 is still a refusal.
        assert!(matches!(
            classify(403, Some(&h), "Resource not accessible by integration"),
            CallError::Permanent { status: 403, .. }
        ));
    }

    #[test]
    fn exhausted_rate_limit_waits_for_reset() {
        let reset = Utc::now().timestamp() + 120;
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset.to_string()),
        ]);
        assert_eq!(
            classify(403, Some(&h), "API rate limit exceeded"),
            CallError::Wait {
                until: reset * 1000
            }
        );
    }

    #[test]
    fn statuses_are_classified() {
        let h = HeaderMap::new();
        assert!(matches!(
            classify(502, Some(&h), "bad gateway"),
            CallError::Transient(_)
        ));
        assert!(matches!(
            classify(404, Some(&h), "Not Found"),
            CallError::Permanent { status: 404, .. }
        ));
        assert!(matches!(
            classify(403, Some(&h), "Resource not accessible by integration"),
            CallError::Permanent { status: 403, .. }
        ));
    }

    #[test]
    fn next_links_keep_only_the_path() {
        let h = headers(&[(
            "link",
            "<https://api.github.com/repos/o/r/issues?page=2&per_page=100>; rel=\"next\", \
             <https://api.github.com/repos/o/r/issues?page=5&per_page=100>; rel=\"last\"",
        )]);
        assert_eq!(
            next_link(&h).as_deref(),
            Some("/repos/o/r/issues?page=2&per_page=100")
        );
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn label_names_are_encoded_for_queries() {
        assert_eq!(encode_query("pool:ready"), "pool:ready");
        assert_eq!(encode_query("good first issue"), "good%20first%20issue");
    }
}
