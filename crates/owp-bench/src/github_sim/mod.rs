//! A simulated GitHub for `owp bench --github-installations`, inside the benchmark's process or,
//! with `--github-apart`, in a process of its own ([`apart`]): an HTTP server on 127.0.0.1 that answers the REST calls the App makes when issues open in the
//! repositories of many installations, every answer `latency` after its request arrived.
//!
//! - The App's JWT is checked as GitHub checks it (RS256 with the bench's App key, `iss` the App
//!   id, at most ten minutes ahead); it buys installation tokens valid for an hour, and a token
//!   reaches the repositories of its installation only (others answer 404, as on GitHub).
//! - An installation is listed (`GET /app/installations`) from the moment the benchmark opens its
//!   first issue, as if the App had been installed just before: the App's start-up
//!   reconciliation finds an empty App, and a later one finds what was installed since.
//! - Issues, comments and reactions are kept, so that lists, edits and the App's search for its
//!   own comments answer what was written. Settings files do not exist (404); pull requests,
//!   blockers and redeliveries are none.
//! - Every content-creating request is logged with its arrival time per installation
//!   ([`limits`]): a minute over 80 or an hour over 500 is answered as GitHub does (403, a
//!   secondary rate limit, `Retry-After: 60`), and counted.
//! - A route the simulation does not know answers 404 and is counted by its shape, so that the
//!   report says what the App asked that the simulation could not answer.

mod answers;
pub(crate) mod apart;
pub(crate) mod limits;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use jsonwebtoken::{self, Algorithm, EncodingKey};
use serde_json::{Value, json};

use limits::WriteCheck;

/// How long an installation token lives on GitHub.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// GitHub's primary rate limit of an installation, per hour.
const RATE_LIMIT: u64 = 5_000;
/// The labels every simulated issue carries.
pub(crate) const ISSUE_LABELS: [&str; 2] = ["pool:ready", "estimate:2"];

pub(crate) struct SimRepo {
    pub(crate) id: u64,
    pub(crate) full_name: String,
    pub(crate) installation: u64,
    issues: BTreeMap<u64, SimIssue>,
}

pub(crate) struct SimIssue {
    id: u64,
    number: u64,
    title: String,
    body: String,
    author: String,
    author_id: u64,
    labels: Vec<String>,
    comments: usize,
}

pub(crate) struct SimComment {
    id: u64,
    repo: String,
    number: u64,
    body: String,
}

struct SimInstallation {
    account: String,
    repos: Vec<String>,
    /// Listed by `GET /app/installations` (installed, as far as the App can tell).
    listed: bool,
}

#[derive(Default)]
struct Model {
    installations: BTreeMap<u64, SimInstallation>,
    repos: HashMap<String, SimRepo>,
    repo_names: HashMap<u64, String>,
    tokens: HashMap<String, (u64, Instant)>,
    comments: BTreeMap<u64, SimComment>,
    next_id: u64,
    /// Arrival times (ms since the start) of each installation's content-creating requests.
    writes: HashMap<u64, Vec<u64>>,
    /// Requests per installation (the primary rate limit's count).
    requests: HashMap<u64, u64>,
    /// Status comments posted per issue.
    status_posted: HashMap<(String, u64), usize>,
    last_status_ms: Option<u64>,
    deliveries_listed: usize,
    /// Requests answered 403 for a secondary rate limit.
    limited: usize,
    /// Requests refused for their credentials.
    refused: usize,
    unknown: BTreeMap<String, usize>,
    /// Requests by the second they arrived in (since the simulation started) and by kind.
    per_second: BTreeMap<u64, BTreeMap<&'static str, usize>>,
}

struct Shared {
    api: String,
    latency: Duration,
    app_id: u64,
    key: EncodingKey,
    started: Instant,
    model: Mutex<Model>,
}

/// A running simulated GitHub; it stops when dropped.
pub(crate) struct SimGithub {
    pub(crate) url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SimGithub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What the App did on the simulated GitHub, read at the end of a run.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct SimReport {
    /// Issues with exactly one status comment, and those with more than one.
    pub(crate) status_issues: usize,
    pub(crate) duplicate_status: usize,
    /// When the last status comment was posted, in ms since the simulation started.
    pub(crate) last_status_ms: Option<u64>,
    pub(crate) writes: BTreeMap<u64, WriteCheck>,
    pub(crate) limited: usize,
    pub(crate) refused: usize,
    pub(crate) unknown: BTreeMap<String, usize>,
    /// Requests by the second they arrived in (since the simulation started) and by kind
    /// ([`kind_of`]).
    pub(crate) per_second: BTreeMap<u64, BTreeMap<String, usize>>,
}

impl SimGithub {
    /// Starts the simulation on a free port of 127.0.0.1; `key_pem` is the App's private key.
    pub(crate) async fn start(
        latency: Duration,
        app_id: u64,
        key_pem: &[u8],
    ) -> anyhow::Result<SimGithub> {
        let key = EncodingKey::from_rsa_pem(key_pem)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            api: url.clone(),
            latency,
            app_id,
            key,
            started: Instant::now(),
            model: Mutex::new(Model {
                next_id: 1_000_000,
                ..Model::default()
            }),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("the simulated GitHub stopped: {e}");
            }
        });
        Ok(SimGithub {
            url,
            shared,
            server,
        })
    }

    /// Milliseconds since the simulation started.
    pub(crate) fn now_ms(&self) -> u64 {
        self.shared.started.elapsed().as_millis() as u64
    }

    /// An installation of the App on `account`, with its repositories (`(id, owner/name)`); it is
    /// listed once its first issue opens.
    pub(crate) fn add_installation(&self, id: u64, account: &str, repos: &[(u64, String)]) {
        let mut m = self.model();
        for (repo_id, name) in repos {
            m.repos.insert(
                name.clone(),
                SimRepo {
                    id: *repo_id,
                    full_name: name.clone(),
                    installation: id,
                    issues: BTreeMap::new(),
                },
            );
            m.repo_names.insert(*repo_id, name.clone());
        }
        m.installations.insert(
            id,
            SimInstallation {
                account: account.to_string(),
                repos: repos.iter().map(|(_, n)| n.clone()).collect(),
                listed: false,
            },
        );
    }

    /// Opens issue `number` of `repo` (labelled [`ISSUE_LABELS`]) and returns its id; its
    /// installation is listed from now on.
    pub(crate) fn open_issue(
        &self,
        repo: &str,
        number: u64,
        title: &str,
        body: &str,
        author: (&str, u64),
    ) -> anyhow::Result<u64> {
        let mut m = self.model();
        m.next_id += 1;
        let id = m.next_id;
        let r = m
            .repos
            .get_mut(repo)
            .ok_or_else(|| anyhow::anyhow!("the simulated GitHub has no repository {repo}"))?;
        r.issues.insert(
            number,
            SimIssue {
                id,
                number,
                title: title.to_string(),
                body: body.to_string(),
                author: author.0.to_string(),
                author_id: author.1,
                labels: ISSUE_LABELS.iter().map(|l| l.to_string()).collect(),
                comments: 0,
            },
        );
        let installation = r.installation;
        if let Some(i) = m.installations.get_mut(&installation) {
            i.listed = true;
        }
        Ok(id)
    }

    /// Times the App listed its failed deliveries (the last step of its start-up jobs).
    pub(crate) fn deliveries_listed(&self) -> usize {
        self.model().deliveries_listed
    }

    /// Status comments posted so far (one per issue at most counted).
    pub(crate) fn status_issues(&self) -> usize {
        self.model().status_posted.len()
    }

    pub(crate) fn report(&self) -> SimReport {
        let m = self.model();
        SimReport {
            status_issues: m.status_posted.values().filter(|&&n| n == 1).count(),
            duplicate_status: m.status_posted.values().filter(|&&n| n > 1).count(),
            last_status_ms: m.last_status_ms,
            writes: m
                .installations
                .keys()
                .map(|id| {
                    let times = m.writes.get(id).map(Vec::as_slice).unwrap_or_default();
                    (*id, limits::check(times))
                })
                .collect(),
            limited: m.limited,
            refused: m.refused,
            unknown: m.unknown.clone(),
            per_second: m
                .per_second
                .iter()
                .map(|(second, kinds)| {
                    let kinds = kinds.iter().map(|(k, n)| (k.to_string(), *n)).collect();
                    (*second, kinds)
                })
                .collect(),
        }
    }

    fn model(&self) -> std::sync::MutexGuard<'_, Model> {
        self.shared.model.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Who a request speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Auth {
    App,
    Installation(u64),
    Refused,
    None,
}

/// A reply being built.
struct Reply {
    status: StatusCode,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    fn ok(body: Value) -> Reply {
        Reply::json(StatusCode::OK, body)
    }

    fn created(body: Value) -> Reply {
        Reply::json(StatusCode::CREATED, body)
    }

    fn error(status: StatusCode, message: &str) -> Reply {
        Reply::json(status, answers::error(message))
    }

    fn not_found() -> Reply {
        Reply::error(StatusCode::NOT_FOUND, "Not Found")
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at_ms = shared.started.elapsed().as_millis() as u64;
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let body: Option<Value> = serde_json::from_slice(&body).ok();
    let (reply, installation) = {
        let mut m = shared.model.lock().unwrap_or_else(|e| e.into_inner());
        let auth = authenticate(&shared, &m, &headers);
        let path = canonical_path(&m, uri.path());
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let reply = match auth {
            Auth::Refused => {
                m.refused += 1;
                Reply::error(StatusCode::UNAUTHORIZED, "Bad credentials")
            }
            _ => route(
                &shared,
                &mut m,
                Request {
                    method: &method,
                    segments: &segments,
                    path: &path,
                    query: &query,
                    body: body.as_ref(),
                    auth,
                    at_ms,
                },
            ),
        };
        let kind = kind_of(&method, &segments);
        *m.per_second
            .entry(at_ms / 1000)
            .or_default()
            .entry(kind)
            .or_default() += 1;
        let installation = match auth {
            Auth::Installation(id) => {
                let used = m.requests.entry(id).or_default();
                *used += 1;
                Some(*used)
            }
            _ => None,
        };
        (reply, installation)
    };
    tokio::time::sleep(shared.latency).await;
    let mut response = match reply.body {
        Some(body) => (reply.status, axum::Json(body)).into_response(),
        None => reply.status.into_response(),
    };
    let h = response.headers_mut();
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.insert(name, value);
        }
    }
    let reset = chrono::Utc::now().timestamp() + 3600;
    let used = installation.unwrap_or(0);
    for (name, value) in [
        ("x-ratelimit-limit", RATE_LIMIT.to_string()),
        (
            "x-ratelimit-remaining",
            RATE_LIMIT.saturating_sub(used).to_string(),
        ),
        ("x-ratelimit-used", used.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-resource", "core".to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.insert(name, value);
        }
    }
    h.insert("x-github-media-type", HeaderValue::from_static("github.v3"));
    response
}

/// `/repositories/{id}/…` (the paths of GitHub's pagination links) as `/repos/{owner}/{name}/…`.
fn canonical_path(m: &Model, path: &str) -> String {
    let rest = path.strip_prefix("/repositories/");
    if let Some((id, tail)) = rest.map(|r| r.split_once('/').unwrap_or((r, "")))
        && let Some(name) = id.parse().ok().and_then(|id: u64| m.repo_names.get(&id))
    {
        return format!("/repos/{name}/{tail}")
            .trim_end_matches('/')
            .to_string();
    }
    path.to_string()
}

fn authenticate(shared: &Shared, m: &Model, headers: &HeaderMap) -> Auth {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Auth::None;
    };
    let credential = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("token "))
        .unwrap_or_default()
        .trim();
    if credential.matches('.').count() == 2 {
        return match app_jwt_valid(shared, credential) {
            true => Auth::App,
            false => Auth::Refused,
        };
    }
    match m.tokens.get(credential) {
        Some((id, expires)) if *expires > Instant::now() => Auth::Installation(*id),
        _ => Auth::Refused,
    }
}

/// GitHub's check of an App JWT: RS256 signed with the App's key (RS256 signatures are
/// deterministic, so signing the same header and claims again with the key must give the same
/// signature), `iss` the App id, issued no later than now and expiring within ten minutes.
fn app_jwt_valid(shared: &Shared, jwt: &str) -> bool {
    let Some((message, signature)) = jwt.rsplit_once('.') else {
        return false;
    };
    let Ok(header) = jsonwebtoken::decode_header(jwt) else {
        return false;
    };
    if header.alg != Algorithm::RS256 {
        return false;
    }
    let signed = jsonwebtoken::crypto::sign(message.as_bytes(), &shared.key, Algorithm::RS256);
    if signed.ok().as_deref() != Some(signature) {
        return false;
    }
    // The signature is the App's: its claims can be read.
    let Ok(claims) = jsonwebtoken::dangerous::insecure_decode::<Value>(jwt).map(|d| d.claims)
    else {
        return false;
    };
    let now = chrono::Utc::now().timestamp();
    let iss_ok = match &claims["iss"] {
        Value::String(s) => s == &shared.app_id.to_string(),
        Value::Number(n) => n.as_u64() == Some(shared.app_id),
        _ => false,
    };
    let iat = claims["iat"].as_i64().unwrap_or(i64::MAX);
    let exp = claims["exp"].as_i64().unwrap_or(0);
    iss_ok && iat <= now + 60 && exp > now && exp <= now + 600 + 60
}

struct Request<'a> {
    method: &'a Method,
    segments: &'a [&'a str],
    path: &'a str,
    query: &'a HashMap<String, String>,
    body: Option<&'a Value>,
    auth: Auth,
    at_ms: u64,
}

fn route(shared: &Shared, m: &mut Model, req: Request<'_>) -> Reply {
    let api = shared.api.as_str();
    let app = req.auth == Auth::App;
    let answer = match (req.method.as_str(), req.segments) {
        ("GET", ["app"]) if app => Some(Reply::ok(answers::app(api, shared.app_id))),
        ("GET", ["app", "installations"]) if app => {
            let items = m
                .installations
                .iter()
                .filter(|(_, i)| i.listed)
                .map(|(id, i)| answers::installation(api, *id, &i.account))
                .collect();
            Some(page(api, req.path, req.query, items, None))
        }
        ("GET", ["app", "installations", id]) if app => Some(
            listed(m, id)
                .map(|(id, i)| Reply::ok(answers::installation(api, id, &i.account)))
                .unwrap_or_else(Reply::not_found),
        ),
        ("POST", ["app", "installations", id, "access_tokens"]) if app => {
            Some(match listed(m, id).map(|(id, _)| id) {
                Some(id) => {
                    let token = format!("ghs_{}", uuid::Uuid::new_v4().simple());
                    m.tokens
                        .insert(token.clone(), (id, Instant::now() + TOKEN_LIFETIME));
                    let expires = chrono::Utc::now()
                        + chrono::Duration::from_std(TOKEN_LIFETIME).unwrap_or_default();
                    Reply::created(json!({
                        "token": token,
                        "expires_at": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        "permissions": answers::permissions(),
                        "repository_selection": "selected",
                    }))
                }
                None => Reply::not_found(),
            })
        }
        ("GET", ["app", "hook", "deliveries"]) if app => {
            m.deliveries_listed += 1;
            Some(Reply::ok(json!([])))
        }
        ("GET", ["installation", "repositories"]) => match req.auth {
            Auth::Installation(id) => {
                let names = m
                    .installations
                    .get(&id)
                    .map(|i| i.repos.clone())
                    .unwrap_or_default();
                let items: Vec<Value> = names
                    .iter()
                    .filter_map(|n| m.repos.get(n))
                    .map(|r| answers::repo(api, r))
                    .collect();
                let total = items.len();
                Some(page(api, req.path, req.query, items, Some(total)))
            }
            _ => None,
        },
        ("GET", ["users", login]) => Some(Reply::ok(answers::profile(api, login, 77))),
        (_, ["repos", owner, name, rest @ ..]) => {
            let full = format!("{owner}/{name}");
            Some(repo_route(shared, m, &req, &full, rest))
        }
        _ => None,
    };
    answer.unwrap_or_else(|| {
        if req.auth == Auth::None {
            return Reply::error(StatusCode::UNAUTHORIZED, "Requires authentication");
        }
        *m.unknown.entry(shape_of(req.method, req.path)).or_default() += 1;
        Reply::not_found()
    })
}

/// The kinds of request counted second by second, in the order the report shows them.
pub(crate) const KINDS: [&str; 8] = [
    "token",
    "app",
    "settings",
    "labels",
    "list comments",
    "post comment",
    "edit comment",
    "other",
];

/// What a request is, for the count of requests second by second ([`KINDS`]).
fn kind_of(method: &Method, segments: &[&str]) -> &'static str {
    match (method.as_str(), segments) {
        ("POST", ["app", "installations", _, "access_tokens"]) => "token",
        (_, ["app", ..]) => "app",
        ("GET", ["repos", _, _, "contents", ..]) => "settings",
        ("GET", ["repos", _, _, "labels"]) => "labels",
        ("GET", ["repos", _, _, "issues", _, "comments"]) => "list comments",
        ("POST", ["repos", _, _, "issues", _, "comments"]) => "post comment",
        ("PATCH", ["repos", _, _, "issues", "comments", _]) => "edit comment",
        _ => "other",
    }
}

/// An installation that is listed, by the id in a path.
fn listed<'m>(m: &'m Model, id: &str) -> Option<(u64, &'m SimInstallation)> {
    let id: u64 = id.parse().ok()?;
    m.installations
        .get(&id)
        .filter(|i| i.listed)
        .map(|i| (id, i))
}

/// A request's route with its numbers and names generalised, to count unknown routes by kind.
fn shape_of(method: &Method, path: &str) -> String {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .enumerate()
        .map(|(i, s)| match (i, s) {
            (1 | 2, _) if path.starts_with("/repos/") => "{}",
            (_, s) if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() => "{n}",
            (_, s) => s,
        })
        .collect();
    format!("{method} /{}", segments.join("/"))
}

fn repo_route(
    shared: &Shared,
    m: &mut Model,
    req: &Request<'_>,
    full: &str,
    rest: &[&str],
) -> Reply {
    let api = shared.api.as_str();
    let allowed = match (req.auth, m.repos.get(full)) {
        (Auth::Installation(id), Some(r)) => r.installation == id,
        _ => false,
    };
    if !allowed {
        return Reply::not_found();
    }
    let Auth::Installation(installation) = req.auth else {
        return Reply::not_found();
    };
    let writes = !matches!(*req.method, Method::GET | Method::HEAD);
    if writes && let Some(refused) = write(m, installation, req.at_ms) {
        return refused;
    }
    let number = |s: &str| s.parse::<u64>().ok();
    match (req.method.as_str(), rest) {
        ("GET", []) => Reply::ok(answers::repo(api, &m.repos[full])),
        ("GET", ["issues"]) => {
            let wanted: Vec<&str> = req
                .query
                .get("labels")
                .map(|l| l.split(',').filter(|l| !l.is_empty()).collect())
                .unwrap_or_default();
            let open = req.query.get("state").is_none_or(|s| s != "closed");
            let items = m.repos[full]
                .issues
                .values()
                .filter(|i| open && wanted.iter().all(|w| i.labels.iter().any(|l| l == w)))
                .map(|i| answers::issue(api, full, i))
                .collect();
            page(api, req.path, req.query, items, None)
        }
        ("GET", ["issues", n]) if number(n).is_some() => {
            match number(n).and_then(|n| m.repos[full].issues.get(&n)) {
                Some(i) => Reply::ok(answers::issue(api, full, i)),
                None => Reply::not_found(),
            }
        }
        ("GET", ["issues", n, "comments"]) => {
            let Some(n) = number(n).filter(|n| m.repos[full].issues.contains_key(n)) else {
                return Reply::not_found();
            };
            let items = m
                .comments
                .values()
                .filter(|c| c.repo == full && c.number == n)
                .map(|c| answers::comment(api, c))
                .collect();
            page(api, req.path, req.query, items, None)
        }
        ("POST", ["issues", n, "comments"]) => {
            let Some(n) = number(n).filter(|n| m.repos[full].issues.contains_key(n)) else {
                return Reply::not_found();
            };
            let Some(body) = text_of(req.body) else {
                return Reply::error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
            };
            m.next_id += 1;
            let id = m.next_id;
            if crate::domain::markers::find_status_marker(&body).is_some() {
                *m.status_posted.entry((full.to_string(), n)).or_default() += 1;
                m.last_status_ms = Some(req.at_ms);
            }
            let c = SimComment {
                id,
                repo: full.to_string(),
                number: n,
                body,
            };
            let answer = answers::comment(api, &c);
            m.comments.insert(id, c);
            if let Some(issue) = m.repos.get_mut(full).and_then(|r| r.issues.get_mut(&n)) {
                issue.comments += 1;
            }
            Reply::created(answer)
        }
        ("GET", ["issues", "comments", id]) => match comment_of(m, full, id) {
            Some(c) => Reply::ok(answers::comment(api, c)),
            None => Reply::not_found(),
        },
        ("PATCH" | "POST", ["issues", "comments", id]) => {
            let Some(body) = text_of(req.body) else {
                return Reply::error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
            };
            let Some(id) = comment_of(m, full, id).map(|c| c.id) else {
                return Reply::not_found();
            };
            let c = m.comments.get_mut(&id).expect("found above");
            c.body = body;
            Reply::ok(answers::comment(api, c))
        }
        ("POST", ["issues", "comments", id, "reactions"]) => {
            if comment_of(m, full, id).is_none() {
                return Reply::not_found();
            }
            let content = req
                .body
                .and_then(|b| b["content"].as_str())
                .unwrap_or_default()
                .to_string();
            m.next_id += 1;
            Reply::created(answers::reaction(api, m.next_id, &content))
        }
        ("GET", ["issues", _, "dependencies", "blocked_by" | "blocking"]) => {
            page(api, req.path, req.query, Vec::new(), None)
        }
        ("GET", ["pulls"]) => page(api, req.path, req.query, Vec::new(), None),
        ("GET", ["labels"]) => {
            let items = ISSUE_LABELS
                .iter()
                .map(|l| answers::label(api, full, l))
                .collect();
            page(api, req.path, req.query, items, None)
        }
        ("POST", ["labels"]) => {
            let name = req.body.and_then(|b| b["name"].as_str()).unwrap_or("label");
            Reply::created(answers::label(api, full, name))
        }
        ("GET", ["contents", ..]) => Reply::not_found(),
        ("GET", ["collaborators", login, "permission"]) => Reply::ok(json!({
            "permission": "read",
            "role_name": "read",
            "user": answers::user(api, login, 77, "User"),
        })),
        _ => {
            *m.unknown.entry(shape_of(req.method, req.path)).or_default() += 1;
            Reply::not_found()
        }
    }
}

/// Logs a content-creating request of `installation`; answers it as GitHub does when it makes
/// a minute hold more than 80 or an hour more than 500 (it is logged all the same: GitHub saw it).
fn write(m: &mut Model, installation: u64, at_ms: u64) -> Option<Reply> {
    let log = m.writes.entry(installation).or_default();
    log.push(at_ms);
    let within = |ms: u64| log.iter().rev().take_while(|&&t| t + ms > at_ms).count();
    if within(60_000) > limits::PER_MINUTE || within(3_600_000) > limits::PER_HOUR {
        m.limited += 1;
        let mut reply = Reply::error(
            StatusCode::FORBIDDEN,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try \
             again.",
        );
        reply.headers.push(("retry-after", "60".into()));
        return Some(reply);
    }
    None
}

fn comment_of<'m>(m: &'m Model, repo: &str, id: &str) -> Option<&'m SimComment> {
    let id: u64 = id.parse().ok()?;
    m.comments.get(&id).filter(|c| c.repo == repo)
}

fn text_of(body: Option<&Value>) -> Option<String> {
    body?["body"].as_str().map(str::to_string)
}

/// One page of a listing (`per_page`, at most 100, and `page`, from 1), with GitHub's `Link`
/// header to the next and last pages; `total` wraps the items as `{total_count, repositories}`.
fn page(
    api: &str,
    path: &str,
    query: &HashMap<String, String>,
    items: Vec<Value>,
    total: Option<usize>,
) -> Reply {
    let per_page = query
        .get("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30usize)
        .clamp(1, 100);
    let number = query
        .get("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let pages = items.len().div_ceil(per_page).max(1);
    let shown: Vec<Value> = items
        .into_iter()
        .skip((number - 1) * per_page)
        .take(per_page)
        .collect();
    let body = match total {
        Some(total) => json!({
            "total_count": total,
            "repository_selection": "selected",
            "repositories": shown,
        }),
        None => Value::Array(shown),
    };
    let mut reply = Reply::ok(body);
    if number < pages {
        let mut rest: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "page")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        rest.sort();
        let link = |n: usize| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &rest {
                q.append_pair(k, v);
            }
            q.append_pair("page", &n.to_string());
            format!("<{api}{path}?{}>", q.finish())
        };
        reply.headers.push((
            "link",
            format!(
                "{}; rel=\"next\", {}; rel=\"last\"",
                link(number + 1),
                link(pages)
            ),
        ));
    }
    reply
}

#[cfg(test)]
mod tests;
