//! A story DSL over the fake GitHub and the real service.
//!
//! A [`Story`] runs `owp serve` in-process (`server::start`) with `GITHUB_API_URL` pointing at a
//! [`FakeGithub`], installs the test App on one repository and then plays what people do on
//! GitHub: [`Story::label_issue`], [`Story::comment`], [`Story::open_pr`], [`Story::merge_pr`], …
//! Each step changes the fake's world, sends the matching webhook — a real payload from
//! `tests/fixtures/github/` with its repository, numbers, labels and people replaced, signed as
//! GitHub signs it — and waits until the service's inbox and outbox are drained.
//!
//! What the App wrote is checked with [`Story::expect_status`] and [`Story::expect_comment`].
//! Every comment the App writes must be asserted: a story that ends with a bot comment nobody
//! looked at fails.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use owp::config::ServeConfig;
use owp::domain::secret::Secret;
use owp::server::{self, Running};
use owp::store::rows::{RepoRow, TaskRow};
use serde_json::{Value, json};

use super::{BOT_LOGIN, Comment, FakeGithub, TEST_APP_KEY};

mod persons;
mod snapshot;

/// The repository of a story.
pub const REPO: &str = "octo-org/hello";
/// A cron schedule that never fires (its one year is past).
pub const NEVER: &str = "0 0 0 1 1 * 2000";
/// GitHub's id of [`REPO`].
pub const REPO_ID: u64 = 4711;
/// Its owner (the account the App is installed on).
pub const OWNER: &str = "octo-org";
/// The installation.
pub const INSTALLATION: u64 = 77;
/// The webhook secret GitHub signs with.
pub const SECRET: &str = "story-webhook-secret";
/// The admin token of the service.
pub const ADMIN: &str = "owpa_story_admin_token";
/// How long a step may take to settle (a first reconciliation of an installation of 1,000
/// repositories reads each one's settings and labels, which takes tens of seconds on a busy machine).
pub const SETTLE: Duration = Duration::from_secs(60);

/// A real payload from `tests/fixtures/github/`.
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/github")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// With `OWP_TEST_DATABASE_URL` set (a PostgreSQL server), a new empty database on it for one
/// story (its URL, and the guard that drops it); otherwise `None` (SQLite in the story's
/// directory).
async fn fresh_postgres_database() -> Option<(String, StoryDatabase)> {
    let Some(base) = crate::services::postgres_url() else {
        crate::services::missing(
            "postgres",
            "this PostgreSQL story",
            "OWP_TEST_DATABASE_URL is not set: it runs on SQLite instead",
        );
        return None;
    };
    let base = base.as_str();
    let name = super::pg_scratch::create_migrated(base, "owp_story").await;
    let url = owp::store::database_url::url_with_database(base, &name);
    Some((
        url,
        StoryDatabase {
            server_url: base.to_string(),
            name,
        },
    ))
}

/// The PostgreSQL database of one story, dropped (`DROP DATABASE … WITH (FORCE)`, which ends the
/// connections a service still holds) when the story ends, however it ends.
pub struct StoryDatabase {
    /// Where to connect to drop it (the maintenance database of `OWP_TEST_DATABASE_URL`).
    server_url: String,
    name: String,
}

impl Drop for StoryDatabase {
    fn drop(&mut self) {
        super::pg_scratch::drop_blocking(&self.server_url, &self.name);
    }
}

/// A stable fake id for a login.
fn user_id(login: &str) -> u64 {
    login.bytes().fold(1_000u64, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    }) % 90_000_000
        + 1_000
}

/// Puts a person into a user object of a fixture.
fn set_user(user: &mut Value, login: &str) {
    user["login"] = json!(login);
    user["id"] = json!(user_id(login));
    user["node_id"] = json!(format!("U_{}", user_id(login)));
    user["type"] = json!(if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    });
    user["html_url"] = json!(format!("https://github.com/{login}"));
    user["url"] = json!(format!("https://api.github.com/users/{login}"));
}

/// Puts the story's repository, installation and sender into a fixture.
fn set_context(payload: &mut Value, repo: &str, sender: &str) {
    let (owner, name) = repo.split_once('/').unwrap();
    let r = &mut payload["repository"];
    r["id"] = json!(4711);
    r["name"] = json!(name);
    r["full_name"] = json!(repo);
    r["default_branch"] = json!("main");
    r["html_url"] = json!(format!("https://github.com/{repo}"));
    set_user(&mut r["owner"], owner);
    set_user(&mut payload["sender"], sender);
    payload["installation"] = json!({"id": INSTALLATION, "node_id": format!("IN_{INSTALLATION}")});
}

/// Label objects shaped like the fixture's, with these names.
fn labels(template: &Value, repo: &str, names: &[String]) -> Value {
    Value::Array(
        names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut l = template.clone();
                l["id"] = json!(9000 + i);
                l["name"] = json!(name);
                l["url"] = json!(format!("https://api.github.com/repos/{repo}/labels/{name}"));
                l["default"] = json!(false);
                l
            })
            .collect(),
    )
}

/// An outbox row shown when a story does not settle: id, kind, attempts, next attempt, claimer,
/// last error.
type PendingRow = (i64, String, i64, i64, Option<String>, Option<String>);

/// A running service, a fake GitHub, and what the story has asserted so far.
pub struct Story {
    pub fake: FakeGithub,
    pub running: Option<Running>,
    pub config: ServeConfig,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    /// Issue and pull request numbers the story made.
    numbers: Mutex<BTreeSet<u64>>,
    /// Bot comments (ids) the story looked at.
    asserted: Mutex<HashSet<u64>>,
    /// Comment bodies last seen by [`Story::expect_status`], per comment id.
    seen_bodies: Mutex<std::collections::HashMap<u64, String>>,
    /// The reviewed snapshot the story's comments are checked against, when not its own (see
    /// [`Story::share_snapshot`]).
    snapshot: Mutex<Option<String>>,
    /// The story's PostgreSQL database, if it has one. Declared last: dropped after everything
    /// else of the story, the service included.
    _database: Option<StoryDatabase>,
}

impl Story {
    /// A story with the App installed on [`REPO`] and the default settings.
    pub async fn start() -> Story {
        Story::with(None, |_| {}).await
    }

    /// A story whose repository has `.github/owp.yml` = `settings` (when given), with the
    /// service configured by `configure`: on SQLite, the default backend, unless
    /// `OWP_TEST_BACKEND` is `postgres` (the stories named for PostgreSQL use [`Story::on`]).
    pub async fn with(settings: Option<&str>, configure: impl FnOnce(&mut ServeConfig)) -> Story {
        Story::on(crate::services::postgres_by_default(), settings, configure).await
    }

    /// A story on SQLite (`postgres` false), or on PostgreSQL when `OWP_TEST_DATABASE_URL` names
    /// a server (`postgres` true; SQLite otherwise), so that one story can run on both.
    pub async fn on(
        postgres: bool,
        settings: Option<&str>,
        configure: impl FnOnce(&mut ServeConfig),
    ) -> Story {
        Story::among(postgres, &[], settings, configure).await
    }

    /// [`Story::on`], where GitHub has an account of each of `people` before the App is
    /// installed (as a repository's settings name its reviewers: `GET /users/{login}` of anyone
    /// else is 404).
    pub async fn among(
        postgres: bool,
        people: &[&str],
        settings: Option<&str>,
        configure: impl FnOnce(&mut ServeConfig),
    ) -> Story {
        let fake = FakeGithub::start().await;
        for login in people {
            fake.user_id(login);
        }
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServeConfig::for_tests(&dir.path().join("owp.db"), ADMIN);
        let database = if postgres {
            fresh_postgres_database().await
        } else {
            None
        };
        if database.is_none() {
            crate::sqlite_scratch::migrated_copy(&config.db).await;
        }
        config.database_url = database.as_ref().map(|(url, _)| url.clone());
        config.database_pool = crate::support::TEST_PG_CONNECTIONS
            .parse()
            .expect("a number");
        config.github.github_app_id = Some(fake.app_id());
        config.github.github_private_key = Some(Secret::new(TEST_APP_KEY));
        config.github.github_webhook_secret = Some(Secret::new(SECRET));
        config.github.github_api_url = fake.url().to_string();
        config.github.github_env_file = Some(dir.path().join("env.local"));
        // A story reconciles when it says so (`reconcile_now`), never because the clock crossed a
        // quarter hour while it ran: this schedule's only time is in the past.
        config.github.github_reconcile_cron = Some(NEVER.into());
        // Nor does it look for failed deliveries because the clock crossed a fifth minute: the
        // start-up look is the one a story sees.
        config.github.github_redeliver_cron = Some(NEVER.into());
        configure(&mut config);
        let mut story = Story {
            fake,
            running: None,
            config,
            dir,
            http: reqwest::Client::new(),
            numbers: Mutex::new(BTreeSet::new()),
            asserted: Mutex::new(HashSet::new()),
            seen_bodies: Mutex::new(Default::default()),
            snapshot: Mutex::new(None),
            _database: database.map(|(_, guard)| guard),
        };
        story.boot().await;
        // GitHub: the owner installs the App on the repository.
        story.fake.install(INSTALLATION, OWNER, &[REPO]);
        // The id the story's payloads give the repository.
        story.fake.set_repo_id(REPO, REPO_ID);
        if let Some(settings) = settings {
            story.fake.set_file(REPO, ".github/owp.yml", settings);
        }
        let mut payload = fixture("installation.created");
        payload["installation"]["id"] = json!(INSTALLATION);
        set_user(&mut payload["installation"]["account"], OWNER);
        set_user(&mut payload["sender"], OWNER);
        payload["repositories"] = json!([{
            "id": 4711, "node_id": "R_4711", "name": "hello", "full_name": REPO, "private": false
        }]);
        story.send("installation", &payload).await;
        story
    }

    /// Starts (or restarts) the service on the story's database.
    pub async fn boot(&mut self) {
        let running = server::start(self.config.clone(), false).await.unwrap();
        self.fake
            .set_webhook_target(&format!("http://{}/github/webhook", running.addr), SECRET);
        self.running = Some(running);
        self.settle().await;
    }

    /// Stops the service (as a deployment would).
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("the service is running")
    }

    /// The service's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.running().addr)
    }

    /// Waits until the inbox and the outbox are drained.
    pub async fn settle(&self) {
        self.settle_within(SETTLE).await;
    }

    /// [`Story::settle`] for a story whose setup is large (a thousand repositories joining at
    /// once): it may take longer than [`SETTLE`] on a busy machine, and what it checks is not
    /// how long it took.
    pub async fn settle_within(&self, limit: Duration) {
        if let Err(backlog) = self.running().github.wait_idle(limit).await {
            let pending: Vec<PendingRow> = sqlx::query_as(
                "SELECT id, kind, attempts, next_attempt_at, claimed_by, last_error FROM gh_outbox \
                 WHERE state = 'pending'",
            )
            .fetch_all(self.running().store.read_pool())
            .await
            .unwrap_or_default();
            panic!(
                "the service did not settle in {limit:?}: {backlog:?} (deliveries, outbox rows) left; \
                 pending outbox rows: {pending:?}; calls: {:#?}",
                self.fake
                    .calls()
                    .iter()
                    .rev()
                    .take(8)
                    .map(|c| format!("{} {} {}", c.method, c.path, c.status))
                    .collect::<Vec<_>>()
            );
        }
    }

    /// Sends a webhook as GitHub would and waits for its effects.
    pub async fn send(&self, event: &str, payload: &Value) -> u16 {
        let status = self.fake.send_webhook(event, payload).await;
        assert!(
            (200..300).contains(&status),
            "{event} delivery answered {status}"
        );
        self.settle().await;
        status
    }

    /// Sends a webhook as GitHub would and waits until it is applied, but not for the comments
    /// it asks for (a story that looks at what several deliveries in a row write).
    #[allow(dead_code, reason = "used by the stories that count writes")]
    pub async fn deliver(&self, event: &str, payload: &Value) {
        let status = self.fake.send_webhook(event, payload).await;
        assert!(
            (200..300).contains(&status),
            "{event} delivery answered {status}"
        );
        let deadline = std::time::Instant::now() + SETTLE;
        loop {
            if self.pending_deliveries().await == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{event} delivery not applied in {SETTLE:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// How many deliveries the running server's inbox has not applied yet.
    pub async fn pending_deliveries(&self) -> i64 {
        let (deliveries, _) = self
            .running()
            .store
            .github_backlog()
            .counts()
            .await
            .unwrap();
        deliveries
    }

    fn remember(&self, number: u64) {
        self.numbers.lock().unwrap().insert(number);
    }

    /// Counts an issue made directly in the fake GitHub as part of the story (its bot comments
    /// must be asserted too).
    pub fn remember_number(&self, number: u64) {
        self.remember(number);
    }

    /// Marks a comment as looked at (for bot comments the story wrote itself).
    pub fn mark_asserted(&self, comment_id: u64) {
        self.asserted.lock().unwrap().insert(comment_id);
    }

    // --- issues -----------------------------------------------------------------------------

    fn issue_payload(&self, fixture_name: &str, number: u64, sender: &str) -> Value {
        self.issue_payload_in(fixture_name, REPO, number, sender)
    }

    /// The payload `fixture_name` about issue `number` of `repo` as it is in the fake GitHub.
    pub fn issue_payload_in(
        &self,
        fixture_name: &str,
        repo: &str,
        number: u64,
        sender: &str,
    ) -> Value {
        let issue = self.fake.issue(repo, number).expect("unknown issue");
        let mut payload = fixture(fixture_name);
        set_context(&mut payload, repo, sender);
        payload["repository"]["id"] = json!(self.fake.repo_id(repo));
        let template = payload["issue"]["labels"]
            .get(0)
            .cloned()
            .or_else(|| payload.get("label").cloned())
            .unwrap_or_else(|| json!({"id": 1, "name": "x", "color": "ededed", "default": false}));
        let i = &mut payload["issue"];
        i["number"] = json!(number);
        i["id"] = json!(5_000_000 + number);
        i["title"] = json!(issue.title);
        i["body"] = json!(issue.body);
        i["state"] = json!(if issue.open { "open" } else { "closed" });
        i["closed_at"] = issue
            .closed_at
            .map_or(Value::Null, |t| json!(t.to_rfc3339()));
        i["labels"] = labels(&template, repo, &issue.labels);
        i["html_url"] = json!(format!("https://github.com/{repo}/issues/{number}"));
        i["url"] = json!(format!(
            "https://api.github.com/repos/{repo}/issues/{number}"
        ));
        set_user(&mut i["user"], &issue.author);
        i["issue_dependencies_summary"] = self.fake.dependency_summary(REPO, number);
        if let Some(obj) = i.as_object_mut() {
            obj.remove("pull_request");
        }
        payload
    }

    /// A maintainer marks issue `number` blocked by `blocking_repo`#`blocking_number` —
    /// GitHub's `issue_dependencies.blocked_by_added`, sent to this repository.
    pub async fn block_issue(&self, number: u64, blocking_repo: &str, blocking_number: u64) {
        self.fake
            .add_dependency(REPO, number, blocking_repo, blocking_number);
        let payload =
            self.dependency_payload("blocked_by_added", number, blocking_repo, blocking_number);
        self.send("issue_dependencies", &payload).await;
    }

    /// The dependency is removed — `issue_dependencies.blocked_by_removed`.
    pub async fn unblock_issue(&self, number: u64, blocking_repo: &str, blocking_number: u64) {
        self.fake
            .remove_dependency(REPO, number, blocking_repo, blocking_number);
        let payload =
            self.dependency_payload("blocked_by_removed", number, blocking_repo, blocking_number);
        self.send("issue_dependencies", &payload).await;
    }

    fn dependency_payload(
        &self,
        action: &str,
        number: u64,
        blocking_repo: &str,
        blocking_number: u64,
    ) -> Value {
        let blocked = self.issue_payload("issues.opened", number, "maintainer")["issue"].clone();
        let other = self
            .fake
            .issue(blocking_repo, blocking_number)
            .expect("unknown blocking issue");
        let mut blocking = blocked.clone();
        blocking["number"] = json!(blocking_number);
        blocking["id"] = json!(6_000_000 + blocking_number);
        blocking["title"] = json!(other.title);
        blocking["body"] = json!(other.body);
        blocking["state"] = json!(if other.open { "open" } else { "closed" });
        blocking["labels"] = json!([]);
        blocking["html_url"] = json!(format!(
            "https://github.com/{blocking_repo}/issues/{blocking_number}"
        ));
        blocking["url"] = json!(format!(
            "https://api.github.com/repos/{blocking_repo}/issues/{blocking_number}"
        ));
        blocking["repository_url"] = json!(format!("https://api.github.com/repos/{blocking_repo}"));
        blocking["issue_dependencies_summary"] =
            self.fake.dependency_summary(blocking_repo, blocking_number);
        let mut payload = fixture("issue_dependencies.blocked_by_added.derived");
        set_context(&mut payload, REPO, "maintainer");
        payload["action"] = json!(action);
        payload["blocked_issue_id"] = blocked["id"].clone();
        payload["blocked_issue"] = blocked;
        payload["blocking_issue_id"] = blocking["id"].clone();
        payload["blocking_issue"] = blocking;
        let mut repo = payload["repository"].clone();
        let (owner, name) = blocking_repo.split_once('/').unwrap();
        repo["full_name"] = json!(blocking_repo);
        repo["name"] = json!(name);
        repo["owner"]["login"] = json!(owner);
        if blocking_repo != REPO {
            repo["id"] = json!(4712);
        }
        payload["blocking_issue_repo"] = repo;
        payload
    }

    /// Closes `blocking_repo`#`number`, an issue of a repository the App does not see: no
    /// webhook comes (only reconciliation finds it).
    pub fn close_issue_elsewhere(&self, blocking_repo: &str, number: u64) {
        self.fake.close_issue(blocking_repo, number);
    }

    /// A maintainer opens an issue (with labels, but not the pool's) — `issues.opened`.
    pub async fn open_issue(&self, title: &str, labels: &[&str]) -> u64 {
        let number = self
            .fake
            .create_issue(REPO, "maintainer", title, "What needs doing.", labels);
        self.remember(number);
        let payload = self.issue_payload("issues.opened", number, "maintainer");
        self.send("issues", &payload).await;
        number
    }

    /// A maintainer opens an issue with `labels` and then adds `pool:ready` — the way an issue
    /// enters the pool.
    pub async fn label_issue(&self, title: &str, labels: &[&str]) -> u64 {
        let number = self.open_issue(title, labels).await;
        self.add_label(number, "pool:ready").await;
        number
    }

    /// The `issues.labeled` payload of an issue as it is in the fake GitHub.
    pub fn labeled_payload(&self, number: u64, label: &str) -> Value {
        let mut payload = self.issue_payload("issues.labeled", number, "maintainer");
        payload["label"]["name"] = json!(label);
        payload
    }

    /// A maintainer adds a label — `issues.labeled`.
    pub async fn add_label(&self, number: u64, label: &str) {
        self.fake.add_label(REPO, number, label);
        let mut payload = self.issue_payload("issues.labeled", number, "maintainer");
        payload["label"]["name"] = json!(label);
        self.send("issues", &payload).await;
    }

    /// A maintainer removes a label — `issues.unlabeled`.
    pub async fn remove_label(&self, number: u64, label: &str) {
        self.fake.remove_label(REPO, number, label);
        let mut payload = self.issue_payload("issues.unlabeled", number, "maintainer");
        if payload.get("label").is_some() {
            payload["label"]["name"] = json!(label);
        } else {
            payload["label"] = json!({"id": 1, "name": label, "color": "ededed", "default": false});
        }
        self.send("issues", &payload).await;
    }

    /// A maintainer changes the issue's title — `issues.edited`.
    pub async fn retitle_issue(&self, number: u64, title: &str) {
        let old = self.fake.issue(REPO, number).unwrap().title;
        self.fake
            .update_issue(REPO, number, |i| i.title = title.into());
        let mut payload = self.issue_payload("issues.edited", number, "maintainer");
        payload["changes"] = json!({"title": {"from": old}});
        self.send("issues", &payload).await;
    }

    /// A maintainer closes the issue — `issues.closed`.
    pub async fn close_issue(&self, number: u64) {
        self.fake.close_issue(REPO, number);
        let payload = self.issue_payload("issues.closed.derived", number, "maintainer");
        self.send("issues", &payload).await;
    }

    // --- comments -----------------------------------------------------------------------------

    pub fn comment_payload(&self, comment_id: u64, action: &str, previous: Option<&str>) -> Value {
        let c = self.fake.comment(comment_id).expect("unknown comment");
        let mut payload = self.issue_payload_in(
            if action == "edited" {
                "issue_comment.edited"
            } else {
                "issue_comment.created"
            },
            &c.repo,
            c.number,
            &c.author,
        );
        payload["action"] = json!(action);
        let comment = &mut payload["comment"];
        comment["id"] = json!(c.id);
        comment["node_id"] = json!(format!("IC_{}", c.id));
        comment["body"] = json!(c.body);
        comment["html_url"] = json!(format!(
            "https://github.com/{}/issues/{}#issuecomment-{}",
            c.repo, c.number, c.id
        ));
        comment["created_at"] = json!(c.created_at.to_rfc3339());
        comment["updated_at"] = json!(c.updated_at.to_rfc3339());
        set_user(&mut comment["user"], &c.author);
        comment["author_association"] = json!(self.fake.author_association(&c.repo, &c.author));
        // The commenter's id is the one GitHub gives their account now.
        let id = json!(self.fake.user_id(&c.author));
        payload["comment"]["user"]["id"] = id.clone();
        payload["sender"]["id"] = id;
        match previous {
            Some(p) => payload["changes"] = json!({"body": {"from": p}}),
            None => {
                if let Some(obj) = payload.as_object_mut() {
                    obj.remove("changes");
                }
            }
        }
        payload
    }

    /// `login` comments on an issue — `issue_comment.created`. Returns the comment id.
    pub async fn comment(&self, number: u64, login: &str, body: &str) -> u64 {
        let id = self.fake.add_comment(REPO, number, login, body);
        let payload = self.comment_payload(id, "created", None);
        self.send("issue_comment", &payload).await;
        id
    }

    /// `login` comments on issue `number` of `repo` — `issue_comment.created`.
    pub async fn comment_in(&self, repo: &str, number: u64, login: &str, body: &str) -> u64 {
        let id = self.fake.add_comment(repo, number, login, body);
        let payload = self.comment_payload(id, "created", None);
        self.send("issue_comment", &payload).await;
        id
    }

    /// The author edits a comment — `issue_comment.edited`.
    pub async fn edit_comment(&self, comment_id: u64, body: &str) {
        let previous = self.fake.comment(comment_id).unwrap().body;
        self.fake.edit_comment(comment_id, body);
        let payload = self.comment_payload(comment_id, "edited", Some(&previous));
        self.send("issue_comment", &payload).await;
    }

    // --- pull requests ------------------------------------------------------------------------

    pub fn pr_payload(&self, fixture_name: &str, number: u64, sender: &str) -> Value {
        let pr = self.fake.pull(REPO, number).expect("unknown pull request");
        let mut payload = fixture(fixture_name);
        set_context(&mut payload, REPO, sender);
        payload["number"] = json!(number);
        let p = &mut payload["pull_request"];
        p["number"] = json!(number);
        p["id"] = json!(6_000_000 + number);
        p["title"] = json!(pr.title);
        p["body"] = json!(pr.body);
        p["state"] = json!(if pr.open { "open" } else { "closed" });
        p["draft"] = json!(pr.draft);
        p["merged"] = json!(pr.merged);
        p["merged_at"] = pr.merged_at.map_or(Value::Null, |t| json!(t.to_rfc3339()));
        p["closed_at"] = pr.closed_at.map_or(Value::Null, |t| json!(t.to_rfc3339()));
        p["html_url"] = json!(format!("https://github.com/{REPO}/pull/{number}"));
        p["url"] = json!(format!(
            "https://api.github.com/repos/{REPO}/pulls/{number}"
        ));
        p["base"]["ref"] = json!("main");
        p["head"]["sha"] = json!(Story::head_sha(number));
        set_user(&mut p["user"], &pr.author);
        // The author's and the sender's ids are the ones GitHub gives their accounts now.
        let author = self.fake.user_id(&pr.author);
        payload["pull_request"]["user"]["id"] = json!(author);
        payload["pull_request"]["user"]["node_id"] = json!(format!("U_{author}"));
        let sender = self.fake.user_id(sender);
        payload["sender"]["id"] = json!(sender);
        payload["sender"]["node_id"] = json!(format!("U_{sender}"));
        payload
    }

    /// The head commit of pull request `number` in a story (one per pull request).
    pub fn head_sha(number: u64) -> String {
        format!("{number:0>40x}")
    }

    /// `login` opens a pull request with this description — `pull_request.opened`.
    pub async fn open_pr(&self, login: &str, body: &str) -> u64 {
        let number = self.fake.open_pr(REPO, login, "A fix", body);
        self.remember(number);
        let payload = self.pr_payload("pull_request.opened", number, login);
        self.send("pull_request", &payload).await;
        number
    }

    /// `login` opens a draft pull request with this description — `pull_request.opened`.
    pub async fn open_draft_pr(&self, login: &str, body: &str) -> u64 {
        let number = self.fake.open_pr(REPO, login, "A draft", body);
        self.fake.update_pr(REPO, number, |p| p.draft = true);
        self.remember(number);
        let payload = self.pr_payload("pull_request.opened", number, login);
        self.send("pull_request", &payload).await;
        number
    }

    /// Its author edits its description — `pull_request.edited`, with the body it had.
    pub async fn edit_pr_body(&self, number: u64, body: &str) {
        let before = self.fake.pull(REPO, number).expect("unknown pull request");
        self.fake
            .update_pr(REPO, number, |p| p.body = Some(body.to_string()));
        let mut payload = self.pr_payload("pull_request.edited.derived", number, &before.author);
        payload["changes"] = json!({"body": {"from": before.body}});
        self.send("pull_request", &payload).await;
    }

    /// A maintainer merges it — `pull_request.closed` with `merged: true`.
    pub async fn merge_pr(&self, number: u64) {
        self.fake.merge_pr(REPO, number);
        let payload = self.pr_payload("pull_request.closed.merged.derived", number, "maintainer");
        self.send("pull_request", &payload).await;
    }

    /// A maintainer closes it without merging — `pull_request.closed`.
    pub async fn close_pr(&self, number: u64) {
        self.fake.close_pr(REPO, number);
        let payload = self.pr_payload("pull_request.closed", number, "maintainer");
        self.send("pull_request", &payload).await;
    }

    /// Its author reopens it — `pull_request.reopened`.
    pub async fn reopen_pr(&self, number: u64) {
        self.fake.reopen_pr(REPO, number);
        let author = self.fake.pull(REPO, number).unwrap().author;
        let payload = self.pr_payload("pull_request.reopened", number, &author);
        self.send("pull_request", &payload).await;
    }

    // --- what the App wrote -------------------------------------------------------------------

    fn bot_comments(&self, number: u64) -> Vec<Comment> {
        self.fake.bot_comments(REPO, number)
    }

    fn is_status(c: &Comment) -> bool {
        c.body.starts_with("<!-- owp:status task=")
    }

    /// The issue's one status comment, which must contain every one of `texts`.
    pub fn expect_status(&self, number: u64, texts: &[&str]) -> Comment {
        let statuses: Vec<Comment> = self
            .bot_comments(number)
            .into_iter()
            .filter(Self::is_status)
            .collect();
        assert_eq!(
            statuses.len(),
            1,
            "#{number} should have exactly one status comment, has {}: {statuses:#?}",
            statuses.len()
        );
        let status = statuses.into_iter().next().unwrap();
        for text in texts {
            assert!(
                status.body.contains(text),
                "the status comment of #{number} lacks {text:?}:\n{}",
                status.body
            );
        }
        self.asserted.lock().unwrap().insert(status.id);
        self.seen_bodies
            .lock()
            .unwrap()
            .insert(status.id, status.body.clone());
        status
    }

    /// The status line of an issue's status comment (its bold line: **Ready** — …), or `""`
    /// while it has none. For transcripts: it asserts nothing.
    pub fn status_line(&self, number: u64) -> String {
        self.bot_comments(number)
            .into_iter()
            .find(Self::is_status)
            .and_then(|c| {
                c.body
                    .lines()
                    .find(|l| l.starts_with("**") && !l.starts_with("**OWP Pool**"))
                    .map(str::to_string)
            })
            .unwrap_or_default()
    }

    /// The one bot comment on an issue, not asserted before, that contains `text` (and is not the
    /// status comment).
    pub fn expect_comment(&self, number: u64, text: &str) -> Comment {
        let asserted = self.asserted.lock().unwrap().clone();
        let fresh: Vec<Comment> = self
            .bot_comments(number)
            .into_iter()
            .filter(|c| !Self::is_status(c) && !asserted.contains(&c.id))
            .collect();
        let matching: Vec<&Comment> = fresh.iter().filter(|c| c.body.contains(text)).collect();
        assert!(
            matching.len() == 1,
            "expected one new bot comment on #{number} containing {text:?}, found {}; new bot comments: {:#?}",
            matching.len(),
            fresh.iter().map(|c| &c.body).collect::<Vec<_>>()
        );
        let found = matching[0].clone();
        self.asserted.lock().unwrap().insert(found.id);
        found
    }

    /// Asserts that the App wrote no comment on the issue that was not asserted yet.
    pub fn expect_no_new_comments(&self, number: u64) {
        let unasserted = self.unasserted(number);
        assert!(
            unasserted.is_empty(),
            "unexpected bot comments on #{number}: {unasserted:#?}"
        );
    }

    fn unasserted(&self, number: u64) -> Vec<String> {
        let asserted = self.asserted.lock().unwrap();
        self.bot_comments(number)
            .into_iter()
            .filter(|c| !asserted.contains(&c.id))
            .map(|c| c.body)
            .collect()
    }

    /// Whether the App reacted with `content` on a comment.
    pub fn reacted(&self, comment_id: u64, content: &str) -> bool {
        self.fake
            .reactions()
            .iter()
            .any(|r| r.comment_id == comment_id && r.content == content && r.user == BOT_LOGIN)
    }

    /// Polls the fake GitHub (with a deadline) until `condition` holds; for effects that come at a
    /// time of their own (a reminder, an expiry).
    pub async fn eventually(
        &self,
        what: &str,
        timeout: Duration,
        condition: impl Fn(&Story) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !condition(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // --- the pool ---------------------------------------------------------------------------------

    /// The task of an issue.
    pub async fn task(&self, number: u64) -> TaskRow {
        self.maybe_task(number)
            .await
            .unwrap_or_else(|| panic!("#{number} is not a task"))
    }

    pub async fn maybe_task(&self, number: u64) -> Option<TaskRow> {
        self.running()
            .store
            .tasks()
            .by_key(REPO, &format!("{REPO}#{number}"))
            .await
            .unwrap()
    }

    /// The repository's policy and live figures.
    pub async fn policy(&self) -> RepoRow {
        self.running()
            .store
            .repos()
            .get(REPO)
            .await
            .unwrap()
            .expect("the repository joined")
    }

    /// An admin request to the service.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let changes = method != reqwest::Method::GET;
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url()))
            .header("x-admin-token", ADMIN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let body = res.json().await.unwrap_or(Value::Null);
        if changes {
            self.settle().await;
        }
        (status, body)
    }

    /// POSTs `body` to the service (as a worker with `token`) and waits for its effects.
    pub async fn post_json(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.url())).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let answer = res.json().await.unwrap_or(Value::Null);
        // Like a webhook, a request's effects on GitHub are awaited before the story goes on.
        self.settle().await;
        (status, answer)
    }

    /// `GET /v1/work/preview` for the worker of `token`.
    pub async fn preview(&self, token: &str) -> Value {
        let (status, preview) = self.get_json("/v1/work/preview", token).await;
        assert_eq!(status, 200, "{preview}");
        preview
    }

    /// `GET path` with the worker's `token`: the status and the JSON answer (null when none).
    pub async fn get_json(&self, path: &str, token: &str) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// With the service stopped: makes the database forget that the App's last comments on an
    /// issue were sent — as if the process had stopped after GitHub answered and before it
    /// recorded the answer.
    pub async fn forget_sent_comments(&self, number: u64) {
        assert!(self.running.is_none(), "stop the service first");
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.config.database_url())
            .await
            .unwrap();
        let n = i64::try_from(number).unwrap();
        let changed = sqlx::query(
            "UPDATE gh_outbox SET state = 'pending', attempts = 1, next_attempt_at = 0, \
             claimed_by = NULL, claimed_until = NULL, sent_at = NULL \
             WHERE repo = $1 AND issue_number = $2 AND state = 'sent' AND (kind = 'comment' \
               OR id IN (SELECT MAX(id) FROM gh_outbox WHERE repo = $1 AND issue_number = $2 \
                         AND kind = 'status' AND state = 'sent' GROUP BY task_id))",
        )
        .bind(REPO)
        .bind(n)
        .execute(&pool)
        .await
        .unwrap()
        .rows_affected();
        assert!(
            changed >= 2,
            "a status comment and a reply to forget, found {changed}"
        );
        sqlx::query(
            "UPDATE gh_tasks SET status_comment_id = NULL, status_body = NULL \
             WHERE repo = $1 AND issue_number = $2",
        )
        .bind(REPO)
        .bind(n)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }

    /// As if `hours` had passed since every lease of the story ended (a cool-down counts from
    /// the end of a claim): the ends move that far back in the database.
    pub async fn age_ended_leases(&self, hours: i64) {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.config.database_url())
            .await
            .unwrap();
        sqlx::query("UPDATE leases SET ended_at = ended_at - $1 WHERE ended_at IS NOT NULL")
            .bind(hours * 3_600_000)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }

    /// Forgets the failures the fake GitHub was told to produce.
    pub fn github_recovers(&self) {
        self.fake.model().fail_rules.clear();
    }

    /// The time now, for comparisons with the fake's timestamps.
    pub fn now(&self) -> chrono::DateTime<Utc> {
        Utc::now()
    }

    /// The story's comments must read exactly as those of the story `name` (another test's,
    /// without its backend): two ways to the same end leave the same words on GitHub.
    pub fn share_snapshot(&self, name: &str) {
        *self.snapshot.lock().unwrap() = Some(name.to_string());
    }

    /// For measurements: the comments written are not the point, so none has to be asserted.
    pub fn stop_checking_comments(&self) {
        self.numbers.lock().unwrap().clear();
    }

    /// Every bot comment must have been asserted by the end of the story.
    pub fn check_all_comments_asserted(&self) {
        let numbers: Vec<u64> = self.numbers.lock().unwrap().iter().copied().collect();
        let mut missed = Vec::new();
        for number in numbers {
            for body in self.unasserted(number) {
                missed.push(format!("#{number}: {body}"));
            }
        }
        assert!(
            missed.is_empty(),
            "the story never asserted these comments of the App:\n{}",
            missed.join("\n---\n")
        );
    }
}
