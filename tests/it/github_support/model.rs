//! The fake GitHub's in-memory world: installations, repositories, issues, pull requests,
//! comments, permissions, files, webhook deliveries — and the record of every call.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

/// The login the fake gives the App's bot user.
pub const BOT_LOGIN: &str = "owp-pool-test[bot]";

#[derive(Debug, Clone)]
pub struct Installation {
    #[allow(
        dead_code,
        reason = "what GitHub sends; the fake keys installations by it elsewhere"
    )]
    pub id: u64,
    pub account: String,
    pub suspended: bool,
}

#[derive(Debug, Clone)]
pub struct Repo {
    pub id: u64,
    pub full_name: String,
    pub default_branch: String,
    pub installation: Option<u64>,
    pub issues: BTreeMap<u64, Issue>,
    pub pulls: BTreeMap<u64, Pull>,
    pub next_number: u64,
    /// login (lowercase) → `admin` | `maintain` | `write` | `triage` | `read` | `none`.
    pub permissions: HashMap<String, String>,
    /// path → file content, on the default branch.
    pub files: HashMap<String, Vec<u8>>,
    /// The repository's labels (`GET /repos/{o}/{r}/labels`), in the order they were made: a new
    /// repository has GitHub's defaults, and labelling an issue or a pull request with a label
    /// that does not exist makes it, as GitHub's API does.
    pub labels: Vec<String>,
}

/// The labels GitHub gives a new repository.
pub const DEFAULT_LABELS: &[&str] = &[
    "bug",
    "documentation",
    "duplicate",
    "enhancement",
    "good first issue",
    "help wanted",
    "invalid",
    "question",
    "wontfix",
];

impl Repo {
    /// Makes `label` unless a label of that name (in any case) exists.
    pub fn ensure_label(&mut self, label: &str) {
        if !self.labels.iter().any(|l| l.eq_ignore_ascii_case(label)) {
            self.labels.push(label.to_string());
        }
    }

    pub fn owner(&self) -> &str {
        self.full_name.split('/').next().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.full_name.split('/').nth(1).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub open: bool,
    pub labels: Vec<String>,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub open: bool,
    pub draft: bool,
    pub merged: bool,
    pub author: String,
    pub head_ref: String,
    pub base_ref: String,
    pub labels: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
    /// The files it changes, in GitHub's order (`GET …/pulls/{n}/files`); a push replaces them.
    pub files: Vec<PullFile>,
    /// Its commits, oldest first (`GET …/pulls/{n}/commits`); a push replaces them.
    pub commits: Vec<PullCommit>,
}

/// A commit of a pull request, and whether GitHub verified its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullCommit {
    pub sha: String,
    pub verified: bool,
}

/// A file a pull request changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullFile {
    pub filename: String,
    /// Its path before the pull request, when it renames it.
    pub previous_filename: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    pub repo: String,
    pub number: u64,
    pub body: String,
    pub author: String,
    pub author_is_bot: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub id: u64,
    pub comment_id: u64,
    pub content: String,
    pub user: String,
}

/// A webhook delivery, as listed by `GET /app/hook/deliveries`.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: u64,
    pub guid: String,
    pub event: String,
    pub action: Option<String>,
    pub status_code: u16,
    pub redelivery: bool,
    pub delivered_at: DateTime<Utc>,
    pub installation_id: Option<u64>,
    pub payload: Value,
}

/// How a request was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallAuth {
    None,
    /// A valid App JWT.
    AppJwt,
    /// A valid installation token of this installation.
    Installation(u64),
    /// A valid user access token (`ghu_…`) of this person.
    User(String),
    /// Basic authentication with the App's OAuth client id and secret.
    OAuthClient,
    /// Credentials were sent but refused; the reason.
    Refused(String),
}

/// One request the fake answered.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    #[allow(dead_code, reason = "recorded for a failing test's output")]
    pub query: String,
    pub auth: CallAuth,
    pub status: u16,
    #[allow(dead_code, reason = "recorded for a failing test's output")]
    pub body: Option<Value>,
    pub at: DateTime<Utc>,
}

/// A way to answer a request badly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `500 Internal Server Error`.
    ServerError,
    /// `502 Bad Gateway`, as GitHub's edge sometimes answers.
    #[allow(
        dead_code,
        reason = "a fault GitHub's edge produces, for stories to inject"
    )]
    BadGateway,
    /// `403` secondary rate limit with `Retry-After: seconds`.
    SecondaryRateLimit { retry_after: u64 },
    /// `403` primary rate limit: `x-ratelimit-remaining: 0` and a reset time.
    RateLimited { reset_in: u64 },
    /// `403` secondary rate limit named only in the message: no `Retry-After`, requests left in
    /// the primary limit.
    SecondaryRateLimitWithoutRetryAfter,
    /// `403` "Resource not accessible by integration": the App lacks a permission.
    NotAccessibleByIntegration,
}

/// Which requests a failure applies to.
#[derive(Debug, Clone, Default)]
pub struct FailWhen {
    /// `GET`, `POST`, …; any when `None`.
    pub method: Option<String>,
    /// A substring of the path; any when `None`.
    pub path_contains: Option<String>,
}

impl FailWhen {
    pub fn any() -> Self {
        FailWhen::default()
    }

    pub fn on(method: &str, path_contains: &str) -> Self {
        FailWhen {
            method: Some(method.to_uppercase()),
            path_contains: Some(path_contains.to_string()),
        }
    }

    pub fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
    }
}

#[derive(Debug, Clone)]
pub struct FailRule {
    pub when: FailWhen,
    pub remaining: u32,
    pub failure: Failure,
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub installation_id: u64,
    pub expires_at: DateTime<Utc>,
}

/// The whole world.
#[derive(Debug)]
pub struct Model {
    pub app_id: u64,
    pub installations: BTreeMap<u64, Installation>,
    pub repos: BTreeMap<String, Repo>,
    pub comments: BTreeMap<u64, Comment>,
    pub reactions: Vec<Reaction>,
    pub tokens: HashMap<String, IssuedToken>,
    pub token_lifetime: TimeDelta,
    pub deliveries: Vec<Delivery>,
    pub redelivery_requests: Vec<u64>,
    pub manifest_codes: HashMap<String, Value>,
    pub calls: Vec<Call>,
    pub fail_rules: Vec<FailRule>,
    /// How long matching requests wait before they are answered (see `FakeGithub::delay`).
    pub latency: Vec<(FailWhen, std::time::Duration)>,
    pub user_ids: HashMap<String, u64>,
    /// When each content-creating request (comment, edit, reaction) was accepted, per
    /// installation (within the longest window).
    pub content_writes: HashMap<u64, Vec<chrono::DateTime<Utc>>>,
    /// GitHub's content-creation limits per installation: (writes, window) pairs, each enforced
    /// over a sliding window (80 a minute and 500 an hour; tests may shorten them).
    pub content_limits: Vec<(usize, chrono::TimeDelta)>,
    /// What every answer says is left of the hour (`x-ratelimit-remaining`), when a story sets it.
    pub rate_remaining: Option<i64>,
    /// The installation whose content-creating request the route being served just accepted.
    pub accepted_write: Option<u64>,
    /// Accepted content-creating requests not yet answered, per installation.
    pub writes_in_flight: HashMap<u64, usize>,
    /// Installations that had a content-creating request accepted while another of theirs was
    /// not answered yet (GitHub asks for them one at a time), once per such request.
    pub overlapping_writes: Vec<u64>,
    /// Old names (lower-case) of renamed or transferred repositories → their id.
    pub moved_repos: HashMap<String, u64>,
    /// Transferred issues: (old repository, lower-case; old number) → (new repository id, number).
    pub moved_issues: HashMap<(String, u64), (u64, u64)>,
    /// GitHub's issue dependencies: (blocked repo, blocked number, blocking repo, blocking
    /// number), in the order they were added.
    pub dependencies: Vec<(String, u64, String, u64)>,
    /// When accounts were created (lower-case login); an account not named here was created
    /// long ago ([`old_account`]).
    pub accounts_created: HashMap<String, DateTime<Utc>>,
    /// Logins whose account was renamed away (and not taken since): `GET /users/{login}` is 404.
    pub renamed_logins: std::collections::HashSet<String>,
    /// The App's OAuth side: client, browser, codes, device codes, user tokens, clock.
    pub oauth: super::oauth::OAuthState,
    next_id: u64,
}

/// When an account the story says nothing about was created: long ago, and always as long ago
/// (its age in days is the same whichever day the story runs, as reviewed snapshots need).
pub fn old_account() -> DateTime<Utc> {
    Utc::now() - chrono::Duration::days(OLD_ACCOUNT_DAYS)
}

/// The age of [`old_account`] in days.
pub const OLD_ACCOUNT_DAYS: i64 = 4_000;

impl Model {
    pub fn new(app_id: u64) -> Self {
        Model {
            app_id,
            installations: BTreeMap::new(),
            repos: BTreeMap::new(),
            comments: BTreeMap::new(),
            reactions: Vec::new(),
            tokens: HashMap::new(),
            token_lifetime: TimeDelta::hours(1),
            deliveries: Vec::new(),
            redelivery_requests: Vec::new(),
            manifest_codes: HashMap::new(),
            calls: Vec::new(),
            fail_rules: Vec::new(),
            latency: Vec::new(),
            user_ids: HashMap::new(),
            content_writes: HashMap::new(),
            content_limits: vec![(80, TimeDelta::minutes(1)), (500, TimeDelta::hours(1))],
            rate_remaining: None,
            accepted_write: None,
            writes_in_flight: HashMap::new(),
            overlapping_writes: Vec::new(),
            moved_repos: HashMap::new(),
            moved_issues: HashMap::new(),
            dependencies: Vec::new(),
            accounts_created: HashMap::new(),
            renamed_logins: Default::default(),
            oauth: Default::default(),
            next_id: 1000,
        }
    }

    /// Whether issue `number` of `repo` is open (false when unknown).
    pub fn issue_open(&self, repo: &str, number: u64) -> bool {
        self.repo(repo)
            .and_then(|r| r.issues.get(&number))
            .is_some_and(|i| i.open)
    }

    /// The issues blocking issue `number` of `repo`, as (repo, number).
    pub fn blockers_of(&self, repo: &str, number: u64) -> Vec<(String, u64)> {
        self.dependencies
            .iter()
            .filter(|(r, n, _, _)| r.eq_ignore_ascii_case(repo) && *n == number)
            .map(|(_, _, br, bn)| (br.clone(), *bn))
            .collect()
    }

    /// GitHub's `issue_dependencies_summary` of an issue: `blocked_by` and `blocking` count the
    /// open ones, the `total_…` fields all of them.
    pub fn dependency_summary(&self, repo: &str, number: u64) -> Value {
        let blockers = self.blockers_of(repo, number);
        let blocking: Vec<(String, u64)> = self
            .dependencies
            .iter()
            .filter(|(_, _, br, bn)| br.eq_ignore_ascii_case(repo) && *bn == number)
            .map(|(r, n, _, _)| (r.clone(), *n))
            .collect();
        let open =
            |list: &[(String, u64)]| list.iter().filter(|(r, n)| self.issue_open(r, *n)).count();
        serde_json::json!({
            "blocked_by": open(&blockers),
            "blocking": open(&blocking),
            "total_blocked_by": blockers.len(),
            "total_blocking": blocking.len(),
        })
    }

    /// A fresh id, unique across every kind of object.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A stable numeric id per login.
    pub fn user_id(&mut self, login: &str) -> u64 {
        let key = login.to_lowercase();
        if let Some(id) = self.user_ids.get(&key) {
            return *id;
        }
        let id = self.next_id();
        self.user_ids.insert(key, id);
        id
    }

    /// Whether GitHub knows an account of this login: one the story made, or one that wrote
    /// something or holds a permission.
    pub fn knows_account(&self, login: &str) -> bool {
        let key = login.to_lowercase();
        let is = |author: &str| author.eq_ignore_ascii_case(login);
        self.user_ids.contains_key(&key)
            || self.accounts_created.contains_key(&key)
            || self.comments.values().any(|c| is(&c.author))
            || self.repos.values().any(|r| {
                r.permissions.contains_key(&key)
                    || r.issues.values().any(|i| is(&i.author))
                    || r.pulls.values().any(|p| is(&p.author))
            })
    }

    /// A comment's `author_association` of `login` on `repo`: `OWNER` for the repository's
    /// owner, `COLLABORATOR` for a login given write access or above, `NONE` for a bot and
    /// `CONTRIBUTOR` for anyone else.
    pub fn author_association(&self, repo: &str, login: &str) -> &'static str {
        let owner = repo.split_once('/').map_or(repo, |(o, _)| o);
        let permission = self
            .repo(repo)
            .and_then(|r| r.permissions.get(&login.to_lowercase()));
        if login.eq_ignore_ascii_case(owner) {
            "OWNER"
        } else if permission.is_some_and(|p| ["admin", "maintain", "write"].contains(&p.as_str())) {
            "COLLABORATOR"
        } else if login.ends_with("[bot]") {
            "NONE"
        } else {
            "CONTRIBUTOR"
        }
    }

    /// The repository `owner/name`, compared case-insensitively as GitHub does.
    pub fn repo(&self, full_name: &str) -> Option<&Repo> {
        self.repos.get(&full_name.to_lowercase())
    }

    pub fn repo_mut(&mut self, full_name: &str) -> Option<&mut Repo> {
        self.repos.get_mut(&full_name.to_lowercase())
    }

    /// Takes one use of the first failure rule that matches.
    pub fn take_failure(&mut self, method: &str, path: &str) -> Option<Failure> {
        let rule = self
            .fail_rules
            .iter_mut()
            .find(|r| r.remaining > 0 && r.when.matches(method, path))?;
        rule.remaining -= 1;
        let failure = rule.failure.clone();
        self.fail_rules.retain(|r| r.remaining > 0);
        Some(failure)
    }
}
