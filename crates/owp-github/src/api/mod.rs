//! The REST calls the running App makes, with GitHub's answers read at the edge.
//!
//! Every call goes through octocrab's raw methods so that the status and the rate-limit headers
//! of each answer are seen: a [`CallError`] says whether to wait (GitHub's `Retry-After` or a
//! rate-limit reset), to try again later (server errors, the network), or to give up (the issue
//! is gone, GitHub refuses the request for good). Listings follow the `Link: rel="next"` header by
//! path, so the installation token goes along on every page. What GitHub sends back is turned into
//! the App's own types ([`crate::events`]) here; nothing else sees GitHub's JSON.
//!
//! This module holds what every call shares (its errors, answers, cost and listings); the calls
//! are in `app` (as the App: installations, keys, webhook deliveries) and `repos` (on a
//! repository, with an installation's token).

mod app;
mod clients;
mod repos;

use chrono::Utc;
use http::header::HeaderMap;
use octocrab::Octocrab;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::app_auth::AppAuthError;
use crate::conditional::{EtagCache, Stored};
use crate::events::{Actor, ActorKind, replace_nul, without_nul};

pub use app::{
    DeliveryInfo, InstallationInfo, check_app_keys, deliveries, installation, installation_repos,
    installations, redeliver,
};
pub use repos::{
    CommentInfo, IssueRead, PULL_COMMITS_PAGES, PULL_FILES_PAGES, create_comment, file_text, issue,
    issue_blockers, issue_comments, issue_where, open_issues_with_label, open_pulls, permission,
    pull, pull_commits_page, pull_files_page, react, update_comment,
};

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
        crate::observe::report(|o| o.rate_limit_remaining(clients::installation_of(client), n));
    }
}

/// A request GitHub did not answer (counted as such).
fn unanswered(e: &octocrab::Error) -> CallError {
    crate::observe::report(|o| o.request(None));
    CallError::from_octocrab(e)
}

/// Reads an answer: its body, or the [`CallError`] its status and headers say.
async fn read_answer(
    client: &Octocrab,
    response: http::Response<http_body_util::combinators::BoxBody<bytes::Bytes, octocrab::Error>>,
) -> Result<Answer, CallError> {
    let status = response.status();
    crate::observe::report(|o| o.request(Some(status.as_u16())));
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
        crate::observe::report(|o| o.request(Some(304)));
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
            crate::observe::report(|o| o.truncated_listing(listing));
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
}
