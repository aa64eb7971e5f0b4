//! A fake GitHub for tests: an in-memory model of GitHub served over real HTTP on 127.0.0.1.
//!
//! It speaks the REST endpoints the App uses, checks credentials as GitHub does (the App JWT's
//! RS256 signature against the test App's public key, installation tokens it issued and their
//! repositories), records every call, and can be told to fail (server errors, rate limits).
//! Tests arrange the world with methods such as [`FakeGithub::create_issue`] and look at what the
//! App did with [`FakeGithub::comments`], [`FakeGithub::calls`], … . It can also play GitHub's
//! webhook side: sign and send deliveries to the App, list them, and redeliver them on request;
//! and its sign-in side on a web origin of its own ([`oauth`]): the OAuth web flow with PKCE, the
//! device flow, user access tokens and `GET /user`, with the browser's person chosen by the test.

mod http;
pub mod json;
pub mod model;
mod moves;
pub mod oauth;
pub mod openapi;
use crate::pg_scratch;
pub mod story;
pub mod webhooks;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use chrono::{TimeDelta, Utc};
use octocrab::jsonwebtoken::DecodingKey;
use serde_json::{Value, json};

pub use model::{
    BOT_LOGIN, Call, CallAuth, Comment, Delivery, FailRule, FailWhen, Failure, Issue, Pull,
    PullFile, Reaction,
};
use model::{Installation, Model, Repo};
#[allow(
    unused_imports,
    reason = "the sign-in API, for the server's sign-in stories"
)]
pub use oauth::{DeviceError, TEST_CLIENT_ID, TEST_CLIENT_SECRET};

/// The test App's private key (test-only, see `tests/fixtures/github/README.md`).
pub const TEST_APP_KEY: &str = include_str!("../../fixtures/github/test-app-key.pem");
/// Its public half, which the fake uses to check App JWTs.
pub const TEST_APP_PUBLIC_KEY: &str = include_str!("../../fixtures/github/test-app-key.pub.pem");
/// Another test-only key: JWTs signed with it must be refused (unless it was added to the App,
/// [`FakeGithub::add_app_key`]).
pub const OTHER_KEY: &str = include_str!("../../fixtures/github/other-key.pem");
/// Its public half.
pub const OTHER_PUBLIC_KEY: &str = include_str!("../../fixtures/github/other-key.pub.pem");
/// The test App's id.
pub const TEST_APP_ID: u64 = 4242;
/// The events the test App subscribes to.
pub const APP_EVENTS: [&str; 12] = [
    "installation",
    "installation_repositories",
    "issues",
    "issue_comment",
    "pull_request",
    "check_suite",
    "check_run",
    "status",
    "repository",
    "issue_dependencies",
    "push",
    "ping",
];

impl Shared {
    /// The App's active keys now.
    fn app_keys(&self) -> Vec<DecodingKey> {
        self.app_keys
            .lock()
            .unwrap()
            .iter()
            .map(|(_, k)| k.clone())
            .collect()
    }
}

struct Shared {
    model: Mutex<Model>,
    /// The App's active keys, by their public half (PEM): GitHub verifies a JWT with each.
    app_keys: Mutex<Vec<(String, DecodingKey)>>,
    api: String,
    /// The web origin (`github.com`'s part: `/login/oauth/…`, `/login/device/…`).
    web: String,
    http: reqwest::Client,
    webhook: Mutex<Option<(String, String)>>,
    /// Requests GitHub's REST description refuses (see [`openapi`]).
    violations: Mutex<Vec<String>>,
    /// Every distinct `User-Agent` the fake was sent, in order of first use.
    user_agents: Mutex<Vec<String>>,
    /// Logins (lowercase) whose accounts were deleted: REST answers show them as `user: null`.
    deleted_accounts: Mutex<std::collections::HashSet<String>>,
    /// How long the REST API takes to answer each request, in milliseconds (see
    /// [`FakeGithub::set_latency`]).
    latency_ms: std::sync::atomic::AtomicU64,
    /// Told when a story changes a request's delay ([`FakeGithub::delay`]): the requests
    /// waiting out the old one wait out the new one instead.
    latency_changed: tokio::sync::Notify,
}

/// The most of `writes` (times GitHub accepted them) within any `window`: what GitHub's sliding
/// window of that length saw at its fullest.
pub fn busiest(writes: &[chrono::DateTime<Utc>], window: TimeDelta) -> usize {
    writes
        .iter()
        .map(|end| {
            writes
                .iter()
                .filter(|t| **t <= *end && *end - **t < window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// A running fake GitHub. Stops when dropped.
pub struct FakeGithub {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
    web_server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.server.abort();
        self.web_server.abort();
        // Every test that talks to the fake fails on a request GitHub would not serve.
        let violations = self.take_violations();
        if !violations.is_empty() && !std::thread::panicking() {
            panic!(
                "requests GitHub's REST description refuses:\n{}",
                violations.join("\n")
            );
        }
    }
}

impl FakeGithub {
    /// Starts a fake GitHub with the test App ([`TEST_APP_ID`], [`TEST_APP_PUBLIC_KEY`]): its
    /// REST API on one origin ([`FakeGithub::url`]), its web sign-in pages on another
    /// ([`FakeGithub::web_url`]).
    pub async fn start() -> FakeGithub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = format!("http://{}", listener.local_addr().unwrap());
        let web_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let web = format!("http://{}", web_listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            model: Mutex::new(Model::new(TEST_APP_ID)),
            app_keys: Mutex::new(vec![(
                TEST_APP_PUBLIC_KEY.to_string(),
                DecodingKey::from_rsa_pem(TEST_APP_PUBLIC_KEY.as_bytes()).unwrap(),
            )]),
            api,
            web,
            http: reqwest::Client::new(),
            webhook: Mutex::new(None),
            violations: Mutex::new(Vec::new()),
            user_agents: Mutex::new(Vec::new()),
            deleted_accounts: Mutex::new(Default::default()),
            latency_ms: Default::default(),
            latency_changed: tokio::sync::Notify::new(),
        });
        let router = Router::new()
            .fallback(http::handle)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        let web_router = Router::new()
            .fallback(http::oauth::handle_web)
            .with_state(Arc::clone(&shared));
        let web_server = tokio::spawn(async move {
            axum::serve(web_listener, web_router).await.unwrap();
        });
        FakeGithub {
            shared,
            server,
            web_server,
        }
    }

    /// The REST base URL (`GITHUB_API_URL` for the App under test).
    pub fn url(&self) -> &str {
        &self.shared.api
    }

    pub fn app_id(&self) -> u64 {
        TEST_APP_ID
    }

    /// Generates a private key in the App's settings, as GitHub does: JWTs signed with the key
    /// whose public half is `public_pem` are accepted from now on, beside the others.
    pub fn add_app_key(&self, public_pem: &str) {
        let key = DecodingKey::from_rsa_pem(public_pem.as_bytes()).expect("a public RSA key");
        self.shared
            .app_keys
            .lock()
            .unwrap()
            .push((public_pem.to_string(), key));
    }

    /// Deletes a private key in the App's settings: JWTs signed with it are refused from now on.
    pub fn delete_app_key(&self, public_pem: &str) {
        let mut keys = self.shared.app_keys.lock().unwrap();
        let before = keys.len();
        keys.retain(|(pem, _)| pem != public_pem);
        assert_eq!(keys.len() + 1, before, "the App had that key");
    }

    /// The test App's private key, as `GITHUB_PRIVATE_KEY` would hold it.
    pub fn private_key_pem(&self) -> &'static str {
        TEST_APP_KEY
    }

    fn model(&self) -> MutexGuard<'_, Model> {
        self.shared.model.lock().unwrap()
    }

    // --- arranging the world ------------------------------------------------------------------

    /// Installs the App on `account` with the given repositories (`owner/name`).
    pub fn install(&self, installation_id: u64, account: &str, repos: &[&str]) {
        let mut m = self.model();
        m.installations.insert(
            installation_id,
            Installation {
                id: installation_id,
                account: account.to_string(),
                suspended: false,
            },
        );
        drop(m);
        for repo in repos {
            self.add_repo(installation_id, repo);
        }
    }

    /// Uninstalls the App: its tokens stop working.
    pub fn uninstall(&self, installation_id: u64) {
        let mut m = self.model();
        m.installations.remove(&installation_id);
        m.tokens.retain(|_, t| t.installation_id != installation_id);
        for repo in m.repos.values_mut() {
            if repo.installation == Some(installation_id) {
                repo.installation = None;
            }
        }
    }

    /// Adds a repository to an installation (creating it if needed).
    pub fn add_repo(&self, installation_id: u64, full_name: &str) {
        let mut m = self.model();
        if let Some(repo) = m.repo_mut(full_name) {
            repo.installation = Some(installation_id);
            return;
        }
        let id = m.next_id();
        m.repos.insert(
            full_name.to_lowercase(),
            Repo {
                id,
                full_name: full_name.to_string(),
                default_branch: "main".into(),
                installation: Some(installation_id),
                issues: BTreeMap::new(),
                pulls: BTreeMap::new(),
                next_number: 1,
                permissions: HashMap::new(),
                files: HashMap::new(),
                labels: model::DEFAULT_LABELS
                    .iter()
                    .map(|l| l.to_string())
                    .collect(),
            },
        );
    }

    /// Makes a label in a repository (Issues → Labels → New label).
    pub fn create_label(&self, repo: &str, label: &str) {
        self.model()
            .repo_mut(repo)
            .expect("unknown repository")
            .ensure_label(label);
    }

    /// The names of a repository's labels.
    pub fn repo_labels(&self, repo: &str) -> Vec<String> {
        self.model()
            .repo(repo)
            .expect("unknown repository")
            .labels
            .clone()
    }

    /// Renames a repository (`owner/name` → `owner/other`), or transfers it when the owner
    /// changes: it keeps its id, and its old addresses redirect.
    pub fn rename_repo(&self, old: &str, new: &str) {
        moves::rename_repo(&mut self.model(), old, new);
    }

    /// Gives a repository another id (before the App has seen it).
    pub fn set_repo_id(&self, full_name: &str, id: u64) {
        self.model()
            .repo_mut(full_name)
            .expect("unknown repository")
            .id = id;
    }

    /// GitHub's id of a repository.
    pub fn repo_id(&self, full_name: &str) -> u64 {
        self.model().repo(full_name).expect("unknown repository").id
    }

    /// Transfers an issue to another repository; returns its number there.
    pub fn transfer_issue(&self, from: &str, number: u64, to: &str) -> u64 {
        moves::transfer_issue(&mut self.model(), from, number, to)
    }

    /// Sets GitHub's content-creation limits per installation: at most `limit` writes in any
    /// `window`, for each pair (shorter windows run GitHub's clock faster).
    pub fn set_content_limits(&self, limits: &[(usize, TimeDelta)]) {
        self.model().content_limits = limits.to_vec();
    }

    /// Makes every answer say `remaining` requests are left of the hour
    /// (`x-ratelimit-remaining`), as GitHub's answers do.
    pub fn set_rate_remaining(&self, remaining: i64) {
        self.model().rate_remaining = Some(remaining);
    }

    /// When each content-creating request of an installation was accepted (within the longest
    /// window).
    #[allow(dead_code, reason = "kept for stories that look at the App's pacing")]
    pub fn content_writes(&self, installation_id: u64) -> Vec<chrono::DateTime<Utc>> {
        self.model()
            .content_writes
            .get(&installation_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Makes the REST API answer every request `latency` late, as GitHub takes its time: the
    /// request has its effect when it arrives, and its answer comes after.
    pub fn set_latency(&self, latency: std::time::Duration) {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.shared
            .latency_ms
            .store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// The installations that had a content-creating request accepted while another of theirs
    /// was still unanswered, once per such request (GitHub asks for them one at a time).
    pub fn overlapping_writes(&self) -> Vec<u64> {
        self.model().overlapping_writes.clone()
    }

    /// Takes a repository out of its installation.
    pub fn remove_repo(&self, full_name: &str) {
        if let Some(repo) = self.model().repo_mut(full_name) {
            repo.installation = None;
        }
    }

    /// Opens an issue; returns its number.
    pub fn create_issue(
        &self,
        repo: &str,
        author: &str,
        title: &str,
        body: &str,
        labels: &[&str],
    ) -> u64 {
        let now = Utc::now();
        let mut m = self.model();
        let r = m.repo_mut(repo).expect("unknown repo");
        for label in labels {
            r.ensure_label(label);
        }
        let number = r.next_number;
        r.next_number += 1;
        r.issues.insert(
            number,
            Issue {
                number,
                title: title.into(),
                body: (!body.is_empty()).then(|| body.to_string()),
                open: true,
                labels: labels.iter().map(|l| l.to_string()).collect(),
                author: author.into(),
                created_at: now,
                updated_at: now,
                closed_at: None,
            },
        );
        number
    }

    /// Changes an issue with `change`.
    pub fn update_issue(&self, repo: &str, number: u64, change: impl FnOnce(&mut Issue)) {
        let mut m = self.model();
        let issue = m
            .repo_mut(repo)
            .and_then(|r| r.issues.get_mut(&number))
            .expect("unknown issue");
        change(issue);
        issue.updated_at = Utc::now();
    }

    pub fn add_label(&self, repo: &str, number: u64, label: &str) {
        if let Some(r) = self.model().repo_mut(repo) {
            r.ensure_label(label);
        }
        self.update_issue(repo, number, |i| {
            if !i.labels.iter().any(|l| l.eq_ignore_ascii_case(label)) {
                i.labels.push(label.into());
            }
        });
    }

    pub fn remove_label(&self, repo: &str, number: u64, label: &str) {
        self.update_issue(repo, number, |i| {
            i.labels.retain(|l| !l.eq_ignore_ascii_case(label))
        });
    }

    pub fn close_issue(&self, repo: &str, number: u64) {
        self.update_issue(repo, number, |i| {
            i.open = false;
            i.closed_at = Some(Utc::now());
        });
    }

    #[allow(
        dead_code,
        reason = "part of the fake's issue API, unused by today's stories"
    )]
    pub fn reopen_issue(&self, repo: &str, number: u64) {
        self.update_issue(repo, number, |i| {
            i.open = true;
            i.closed_at = None;
        });
    }

    /// Marks issue `number` of `repo` blocked by issue `blocking_number` of `blocking_repo`
    /// (GitHub's "blocked by"). Both must exist; a repeat or an issue blocking itself is refused
    /// as GitHub refuses it.
    pub fn add_dependency(
        &self,
        repo: &str,
        number: u64,
        blocking_repo: &str,
        blocking_number: u64,
    ) {
        let mut m = self.model();
        assert!(m.repo(repo).is_some_and(|r| r.issues.contains_key(&number)));
        assert!(
            m.repo(blocking_repo)
                .is_some_and(|r| r.issues.contains_key(&blocking_number))
        );
        assert!(
            !(repo == blocking_repo && number == blocking_number),
            "an issue cannot block itself"
        );
        let dep = (
            repo.to_string(),
            number,
            blocking_repo.to_string(),
            blocking_number,
        );
        assert!(!m.dependencies.contains(&dep), "already blocked by it");
        m.dependencies.push(dep);
    }

    /// Removes a dependency added by [`FakeGithub::add_dependency`].
    pub fn remove_dependency(
        &self,
        repo: &str,
        number: u64,
        blocking_repo: &str,
        blocking_number: u64,
    ) {
        let dep = (
            repo.to_string(),
            number,
            blocking_repo.to_string(),
            blocking_number,
        );
        self.model().dependencies.retain(|d| *d != dep);
    }

    /// GitHub's `issue_dependencies_summary` of an issue.
    pub fn dependency_summary(&self, repo: &str, number: u64) -> Value {
        self.model().dependency_summary(repo, number)
    }

    pub fn issue(&self, repo: &str, number: u64) -> Option<Issue> {
        self.model()
            .repo(repo)
            .and_then(|r| r.issues.get(&number).cloned())
    }

    /// A person's comment on an issue or pull request; returns its id.
    pub fn add_comment(&self, repo: &str, number: u64, author: &str, body: &str) -> u64 {
        let mut m = self.model();
        insert_comment(&mut m, repo, number, author, body)
    }

    /// Edits a comment, as its author would.
    pub fn edit_comment(&self, comment_id: u64, body: &str) {
        let mut m = self.model();
        let c = m.comments.get_mut(&comment_id).expect("unknown comment");
        c.body = body.into();
        c.updated_at = Utc::now();
    }

    /// Opens a pull request; returns its number (shared with issues, as on GitHub).
    pub fn open_pr(&self, repo: &str, author: &str, title: &str, body: &str) -> u64 {
        let now = Utc::now();
        let mut m = self.model();
        let r = m.repo_mut(repo).expect("unknown repo");
        let number = r.next_number;
        r.next_number += 1;
        let base_ref = r.default_branch.clone();
        r.pulls.insert(
            number,
            Pull {
                number,
                title: title.into(),
                body: (!body.is_empty()).then(|| body.to_string()),
                open: true,
                draft: false,
                merged: false,
                author: author.into(),
                head_ref: format!("{author}/patch-{number}"),
                base_ref,
                labels: Vec::new(),
                created_at: now,
                updated_at: now,
                closed_at: None,
                merged_at: None,
                files: Vec::new(),
                commits: Vec::new(),
            },
        );
        number
    }

    /// The files a pull request changes (a push changes them): each a path, or `old -> new` for
    /// a file it renames.
    pub fn set_pr_files(&self, repo: &str, number: u64, files: &[&str]) {
        let files = files
            .iter()
            .map(|f| match f.split_once(" -> ") {
                Some((from, to)) => PullFile {
                    filename: to.to_string(),
                    previous_filename: Some(from.to_string()),
                },
                None => PullFile {
                    filename: f.to_string(),
                    previous_filename: None,
                },
            })
            .collect();
        self.update_pr(repo, number, |p| p.files = files);
    }

    /// The commits of a pull request (a push changes them): each a SHA and whether GitHub
    /// verified its signature.
    pub fn set_pr_commits(&self, repo: &str, number: u64, commits: &[(&str, bool)]) {
        let commits = commits
            .iter()
            .map(|(sha, verified)| model::PullCommit {
                sha: sha.to_string(),
                verified: *verified,
            })
            .collect();
        self.update_pr(repo, number, |p| p.commits = commits);
    }

    pub fn update_pr(&self, repo: &str, number: u64, change: impl FnOnce(&mut Pull)) {
        let mut m = self.model();
        let pull = m
            .repo_mut(repo)
            .and_then(|r| r.pulls.get_mut(&number))
            .expect("unknown pull request");
        change(pull);
        pull.updated_at = Utc::now();
    }

    pub fn merge_pr(&self, repo: &str, number: u64) {
        self.update_pr(repo, number, |p| {
            let now = Utc::now();
            p.open = false;
            p.merged = true;
            p.merged_at = Some(now);
            p.closed_at = Some(now);
        });
    }

    pub fn close_pr(&self, repo: &str, number: u64) {
        self.update_pr(repo, number, |p| {
            p.open = false;
            p.closed_at = Some(Utc::now());
        });
    }

    pub fn reopen_pr(&self, repo: &str, number: u64) {
        self.update_pr(repo, number, |p| {
            p.open = true;
            p.closed_at = None;
        });
    }

    pub fn pull(&self, repo: &str, number: u64) -> Option<Pull> {
        self.model()
            .repo(repo)
            .and_then(|r| r.pulls.get(&number).cloned())
    }

    /// `admin`, `maintain`, `write`, `triage`, `read` or `none` for `login` on `repo`.
    /// `login`'s GitHub account was created at `at` (accounts not set here are years old).
    pub fn set_account_created(&self, login: &str, at: chrono::DateTime<chrono::Utc>) {
        self.model()
            .accounts_created
            .insert(login.to_lowercase(), at);
    }

    /// The account `old` is renamed to `new`: it keeps its id and age, and `old` names no
    /// account any more (`GET /users/{old}` is 404).
    pub fn rename_account(&self, old: &str, new: &str) {
        let mut m = self.model();
        let id = m.user_id(old);
        let (old, new) = (old.to_lowercase(), new.to_lowercase());
        m.user_ids.remove(&old);
        m.user_ids.insert(new.clone(), id);
        if let Some(at) = m.accounts_created.remove(&old) {
            m.accounts_created.insert(new.clone(), at);
        }
        m.renamed_logins.insert(old);
        m.renamed_logins.remove(&new);
    }

    /// A new account, created at `at`, takes the login `login` (a new id).
    pub fn new_account(&self, login: &str, at: chrono::DateTime<chrono::Utc>) {
        let mut m = self.model();
        let key = login.to_lowercase();
        let id = m.next_id();
        m.user_ids.insert(key.clone(), id);
        m.accounts_created.insert(key.clone(), at);
        m.renamed_logins.remove(&key);
    }

    /// The id of the account that `login` names now.
    pub fn user_id(&self, login: &str) -> u64 {
        self.model().user_id(login)
    }

    /// How GitHub relates `login` to `repo` in a comment's `author_association`.
    pub fn author_association(&self, repo: &str, login: &str) -> &'static str {
        self.model().author_association(repo, login)
    }

    pub fn set_permission(&self, repo: &str, login: &str, permission: &str) {
        let mut m = self.model();
        m.repo_mut(repo)
            .expect("unknown repo")
            .permissions
            .insert(login.to_lowercase(), permission.into());
    }

    /// A file on the default branch.
    pub fn set_file(&self, repo: &str, path: &str, content: &str) {
        let mut m = self.model();
        m.repo_mut(repo).expect("unknown repo").files.insert(
            path.trim_start_matches('/').into(),
            content.as_bytes().to_vec(),
        );
    }

    #[allow(
        dead_code,
        reason = "part of the fake's contents API, unused by today's stories"
    )]
    pub fn remove_file(&self, repo: &str, path: &str) {
        if let Some(r) = self.model().repo_mut(repo) {
            r.files.remove(path.trim_start_matches('/'));
        }
    }

    /// How long the installation tokens issued from now on live (GitHub: one hour).
    pub fn set_token_lifetime(&self, lifetime: TimeDelta) {
        self.model().token_lifetime = lifetime;
    }

    /// Every request matching `when` is answered `by` later from now on, as GitHub from far away
    /// or under load (`Duration::ZERO`: no longer). The requests already waiting wait `by` from
    /// when they came instead: a story holds requests with a long delay and lets them go with
    /// `Duration::ZERO` once it has seen what happens meanwhile.
    pub fn delay(&self, when: FailWhen, by: std::time::Duration) {
        {
            let mut m = self.model();
            m.latency.retain(|(w, _)| {
                (w.method.as_deref(), w.path_contains.as_deref())
                    != (when.method.as_deref(), when.path_contains.as_deref())
            });
            if !by.is_zero() {
                m.latency.push((when, by));
            }
        }
        self.shared.latency_changed.notify_waiters();
    }

    /// The next `times` requests matching `when` get `failure` instead of an answer.
    pub fn fail(&self, when: FailWhen, times: u32, failure: Failure) {
        self.model().fail_rules.push(FailRule {
            when,
            remaining: times,
            failure,
        });
    }

    /// Accepts `code` once at `POST /app-manifests/{code}/conversions`; returns the App
    /// credentials the conversion will hand out.
    pub fn add_manifest_code(&self, code: &str) -> Value {
        let mut m = self.model();
        let api = self.shared.api.clone();
        let owner = json::user(&api, &mut m, "manifest-owner");
        let credentials = json!({
            "id": TEST_APP_ID,
            "slug": "owp-pool-test",
            "node_id": "A_test",
            "name": "OWP Pool (test)",
            "owner": owner,
            "description": "",
            "external_url": "http://127.0.0.1",
            "html_url": "https://github.com/apps/owp-pool-test",
            "created_at": json::time(Utc::now()),
            "updated_at": json::time(Utc::now()),
            "permissions": json::permissions(),
            "events": APP_EVENTS,
            "client_id": TEST_CLIENT_ID,
            "client_secret": TEST_CLIENT_SECRET,
            "webhook_secret": "test-webhook-secret",
            "pem": TEST_APP_KEY,
        });
        m.manifest_codes.insert(code.into(), credentials.clone());
        credentials
    }

    // --- looking at what happened ---------------------------------------------------------------

    /// `login` deletes their account: REST answers show their issues, pull requests and comments
    /// with `user: null`, as GitHub may.
    pub fn delete_account(&self, login: &str) {
        self.shared
            .deleted_accounts
            .lock()
            .unwrap()
            .insert(login.to_lowercase());
    }

    /// Every distinct `User-Agent` sent to the fake so far.
    pub fn user_agents(&self) -> Vec<String> {
        self.shared.user_agents.lock().unwrap().clone()
    }

    /// The requests so far that GitHub's REST description refuses (unknown route, wrong method,
    /// a body or query its schemas refuse, missing `User-Agent` or `Accept`), and forgets them: a
    /// test that sends such a request on purpose takes them, so that dropping the fake does not
    /// fail it.
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut *self.shared.violations.lock().unwrap())
    }

    /// Every request answered so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.model().calls.clone()
    }

    /// How many requests had this method and a path containing `path_contains`.
    pub fn count_calls(&self, method: &str, path_contains: &str) -> usize {
        self.model()
            .calls
            .iter()
            .filter(|c| c.method == method && c.path.contains(path_contains))
            .count()
    }

    /// The comments of an issue or pull request, oldest first.
    pub fn comments(&self, repo: &str, number: u64) -> Vec<Comment> {
        self.model()
            .comments
            .values()
            .filter(|c| c.repo.eq_ignore_ascii_case(repo) && c.number == number)
            .cloned()
            .collect()
    }

    /// The comments the App wrote on an issue.
    pub fn bot_comments(&self, repo: &str, number: u64) -> Vec<Comment> {
        self.comments(repo, number)
            .into_iter()
            .filter(|c| c.author == BOT_LOGIN)
            .collect()
    }

    pub fn comment(&self, id: u64) -> Option<Comment> {
        self.model().comments.get(&id).cloned()
    }

    pub fn reactions(&self) -> Vec<Reaction> {
        self.model().reactions.clone()
    }

    /// Installation tokens issued so far.
    pub fn issued_tokens(&self) -> usize {
        self.model().tokens.len()
    }

    /// Delivery ids the App asked to redeliver.
    pub fn redelivery_requests(&self) -> Vec<u64> {
        self.model().redelivery_requests.clone()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.model().deliveries.clone()
    }

    /// Records `n` past deliveries of a ping, as if GitHub had sent them (for listings).
    pub fn record_deliveries(&self, n: u64) {
        let mut m = self.model();
        let first = m.deliveries.len() as u64 + 1;
        for id in first..first + n {
            m.deliveries.push(Delivery {
                id,
                guid: format!("recorded-{id}"),
                event: "ping".into(),
                action: None,
                status_code: 202,
                redelivery: false,
                delivered_at: Utc::now(),
                installation_id: None,
                payload: json!({}),
            });
        }
    }
}

/// An HTTP client that sends what GitHub requires of every client (`User-Agent`, and GitHub's
/// media type in `Accept`), for tests that call the fake by hand.
pub fn github_http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT,
        reqwest::header::HeaderValue::from_static("application/vnd.github+json"),
    );
    reqwest::Client::builder()
        .user_agent("owp-pool-tests")
        .default_headers(headers)
        .build()
        .unwrap()
}

pub(crate) fn insert_comment(
    m: &mut Model,
    repo: &str,
    number: u64,
    author: &str,
    body: &str,
) -> u64 {
    let r = m.repo(repo).expect("unknown repo");
    assert!(
        r.issues.contains_key(&number) || r.pulls.contains_key(&number),
        "no issue or pull request {repo}#{number}"
    );
    let full_name = r.full_name.clone();
    let id = m.next_id();
    let now = Utc::now();
    m.comments.insert(
        id,
        Comment {
            id,
            repo: full_name,
            number,
            body: body.into(),
            author: author.into(),
            author_is_bot: author.ends_with("[bot]"),
            created_at: now,
            updated_at: now,
        },
    );
    id
}

/// A fake GitHub with the test App installed as `installation` on `repo` (owner `octo-org`), and
/// the App's client pointed at it.
pub async fn fake_with_app(
    installation: u64,
    repo: &str,
) -> (FakeGithub, owp::github::app_auth::GithubApp) {
    use owp::github::app_auth::{AppCredentials, GithubApp};
    let fake = FakeGithub::start().await;
    fake.install(installation, "octo-org", &[repo]);
    let creds = AppCredentials::from_pem(fake.app_id(), fake.private_key_pem().as_bytes()).unwrap();
    let app = GithubApp::new(creds, fake.url()).unwrap();
    (fake, app)
}
