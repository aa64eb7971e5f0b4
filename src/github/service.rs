//! The running GitHub App: what `owp serve` starts when GitHub App credentials are configured
//! (or the setup page when they are not).
//!
//! [`GithubParts::new`] reads the configuration once. With credentials it holds one shared
//! [`Github`] context (the store, the App client, the webhook secrets, the schedules, the wake-up
//! signals) and provides:
//! - the routes: `POST /github/webhook`, `POST /v1/workers/link-code`, `GET /github/help`;
//! - the change hook that writes the comment outbox in the transaction of every task change;
//! - the background jobs: the inbox consumer, the outbox sender, the claim clock and the
//!   scheduled reconciliation.
//!
//! Without credentials it serves the setup flow (`/github/setup`) and nothing else.
//! [`GithubHandle`] lets the process (and tests) wait until the inbox and the outbox are drained.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use futures_util::future::BoxFuture;
use sqlx::AnyConnection;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::ServeConfig;
use crate::domain::Event;
use crate::github::app_auth::{AppCredentials, GithubApp};
use crate::github::repo_config::RepoConfig;
use crate::github::rest::RepoPermission;
use crate::github::signature::WebhookSecrets;
use crate::github::{api, messages};
use crate::store::github::{self as gh, OutboxTarget};
use crate::store::{ChangeHook, Store, StoreError};

/// How long a maintainer check is trusted.
pub const PERMISSION_CACHE: Duration = Duration::from_secs(60);

/// How long a repository's `.github/owp.yml` is used before it is read again.
pub const CONFIG_MAX_AGE_MS: i64 = 5 * 60_000;

/// The shared context of the running App.
pub struct Github {
    pub(crate) store: Store,
    pub(crate) app: Arc<GithubApp>,
    pub(crate) secrets: Option<WebhookSecrets>,
    /// This process, as named in inbox and outbox claims.
    pub(crate) runner: String,
    base_url: RwLock<String>,
    pub(crate) claim_ttl_override_ms: Option<i64>,
    pub(crate) reconcile_schedule: cron::Schedule,
    pub(crate) redeliver_schedule: cron::Schedule,
    /// A delivery was stored.
    pub(crate) inbox_wake: Notify,
    /// Outbox rows may be due.
    pub(crate) outbox_wake: Notify,
    /// A background job finished a step (wakes [`GithubHandle::wait_idle`]).
    pub(crate) progress: Notify,
    permissions: Mutex<HashMap<(String, String), (RepoPermission, Instant)>>,
    pub(crate) reconcile_lock: tokio::sync::Mutex<()>,
    started: watch::Sender<bool>,
    /// Background steps under way (a delivery with its follow-up work, a reconciliation).
    busy: AtomicUsize,
    /// Set when the process stops: no new work is claimed.
    pub(crate) stopping: AtomicBool,
    /// Webhook deliveries being stored right now: background work lets them go first.
    pub(crate) receiving: AtomicUsize,
}

/// Counts a background step as under way while it lives.
pub(crate) struct Busy<'a>(&'a Github);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
        self.0.progressed();
    }
}

/// A repository's settings as the App applies them.
#[derive(Clone, Debug, Default)]
pub struct RepoSettings {
    pub config: RepoConfig,
    /// Why the repository's file is not in use, shown to maintainers.
    pub error: Option<String>,
}

impl Github {
    /// Where people read about the commands.
    pub fn help_url(&self) -> String {
        format!("{}/github/help", self.base_url())
    }

    /// The service's public base URL, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// The settings in force for a repository (the defaults when it has no readable file).
    pub async fn settings(&self, repo: &str) -> Result<RepoSettings, StoreError> {
        let row = self.store.gh_repo(repo).await?;
        Ok(settings_of(row.as_ref()))
    }

    /// How long comment claims live in a repository.
    pub fn claim_ttl_ms(&self, settings: &RepoSettings) -> i64 {
        self.claim_ttl_override_ms
            .unwrap_or_else(|| settings.config.claim.ttl().num_milliseconds())
    }

    /// Reads a repository's `.github/owp.yml` again when the cached one is older than
    /// [`CONFIG_MAX_AGE_MS`] (or always, with `force`). A file that does not parse keeps the last
    /// good settings and records the error; an unreachable GitHub keeps everything as it was.
    pub async fn refresh_config(
        &self,
        repo: &str,
        force: bool,
    ) -> Result<RepoSettings, StoreError> {
        let Some(row) = self.store.gh_repo(repo).await? else {
            return Ok(RepoSettings::default());
        };
        let now = crate::store::now_ms();
        let Some(installation) = row.installation_id else {
            return Ok(settings_of(Some(&row)));
        };
        if !force && now - row.config_checked_at < CONFIG_MAX_AGE_MS {
            return Ok(settings_of(Some(&row)));
        }
        let text = match api::installation(&self.app, installation).await {
            Ok(client) => {
                api::file_text(&client, repo, crate::github::repo_config::CONFIG_PATH).await
            }
            Err(e) => Err(e),
        };
        match text {
            Ok(None) => {
                self.store
                    .gh_set_repo_config(repo, Some((None, None)), None, now)
                    .await?;
            }
            Ok(Some(text)) => match RepoConfig::parse(&text) {
                Ok(config) => {
                    let json = serde_json::to_string(&config).unwrap_or_default();
                    let cap = config.pr_hourly_limit.map(|n| i64::from(n.get()));
                    self.store
                        .gh_set_repo_config(repo, Some((Some(&json), cap)), None, now)
                        .await?;
                }
                Err(e) => {
                    tracing::warn!(repo, error = %e, "the repository's settings file is not valid; the last good settings stay in force");
                    self.store
                        .gh_set_repo_config(repo, None, Some(&e.to_string()), now)
                        .await?;
                }
            },
            Err(e) => {
                tracing::warn!(repo, error = %e, "cannot read the repository's settings file");
                return Ok(settings_of(Some(&row)));
            }
        }
        let settings = self.settings(repo).await?;
        self.apply_budget(repo, &settings).await?;
        Ok(settings)
    }

    /// Applies the budget a settings file asks for, and shows its error on the repository policy.
    async fn apply_budget(&self, repo: &str, settings: &RepoSettings) -> Result<(), StoreError> {
        let Some(policy) = self.store.repo(repo).await? else {
            return Ok(());
        };
        let current = u32::try_from(policy.max_open_prs).unwrap_or(u32::MAX);
        let wanted = i64::from(settings.config.max_open_prs_or(current))
            .min(crate::domain::limits::MAX_OPEN_PRS.1);
        let shown_error = policy
            .extensions
            .get("x_github_config_error")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        if wanted == policy.max_open_prs && shown_error == settings.error {
            return Ok(());
        }
        let mut extensions = serde_json::Map::new();
        extensions.insert(
            "x_github_config_error".into(),
            settings
                .error
                .as_ref()
                .map_or(serde_json::Value::Null, |e| {
                    serde_json::Value::String(e.clone())
                }),
        );
        let upsert = crate::store::repos::RepoUpsert {
            name: repo.to_string(),
            max_open_prs: wanted,
            area_locks_enabled: None,
            extensions,
        };
        self.store.upsert_repo(&upsert, "github:config").await?;
        Ok(())
    }

    /// Whether `login` has write access or above on `repo` (asked of GitHub, remembered for
    /// [`PERMISSION_CACHE`]).
    pub async fn is_maintainer(
        &self,
        installation: i64,
        repo: &str,
        login: &str,
    ) -> Result<bool, api::CallError> {
        let key = (repo.to_lowercase(), login.to_lowercase());
        if let Ok(cache) = self.permissions.lock()
            && let Some((permission, at)) = cache.get(&key)
            && at.elapsed() < PERMISSION_CACHE
        {
            return Ok(permission.is_maintainer());
        }
        let client = api::installation(&self.app, installation).await?;
        let permission = api::permission(&client, repo, login).await?;
        if let Ok(mut cache) = self.permissions.lock() {
            cache.retain(|_, (_, at)| at.elapsed() < PERMISSION_CACHE);
            cache.insert(key, (permission, Instant::now()));
        }
        Ok(permission.is_maintainer())
    }

    /// Marks a background step under way until the guard is dropped.
    pub(crate) fn busy(&self) -> Busy<'_> {
        self.busy.fetch_add(1, Ordering::SeqCst);
        Busy(self)
    }

    /// Lets webhook deliveries being stored go first (they share the database's writer with the
    /// background jobs, and GitHub waits for their answer); waits at most a few milliseconds.
    pub(crate) async fn yield_to_webhooks(&self) {
        for _ in 0..10 {
            if self.receiving.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }

    /// Signals that background work made progress.
    pub(crate) fn progressed(&self) {
        self.progress.notify_waiters();
    }
}

/// The settings recorded for a repository row.
pub fn settings_of(row: Option<&gh::GhRepo>) -> RepoSettings {
    let config = row
        .and_then(|r| r.config.as_deref())
        .and_then(|json| serde_json::from_str::<RepoConfig>(json).ok())
        .unwrap_or_default();
    RepoSettings {
        config,
        error: row.and_then(|r| r.config_error.clone()),
    }
}

/// The target of an outbox row for an issue.
pub fn target(installation_id: i64, repo: &str, issue_number: i64) -> OutboxTarget<'_> {
    OutboxTarget {
        installation_id,
        repo,
        issue_number,
    }
}

// ------------------------------------------------------------------------------------------------
// The change hook: status comments and claim endings, in the transaction of the change
// ------------------------------------------------------------------------------------------------

/// Writes outbox rows for the task changes of GitHub issues, inside the change's transaction.
pub struct OutboxHook;

impl ChangeHook for OutboxHook {
    fn before_commit<'a>(
        &'a self,
        conn: &'a mut AnyConnection,
        events: &'a [Event],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let now = crate::store::now_ms();
            let task_events: Vec<(&Event, &str)> = events
                .iter()
                .filter(|e| !e.kind.starts_with("worker."))
                .filter_map(|e| e.task_id.as_deref().map(|task_id| (e, task_id)))
                .collect();
            let ids: Vec<&str> = task_events.iter().map(|&(_, id)| id).collect();
            let targets = gh::task_targets(conn, &ids).await?;
            let mut queued: HashSet<&str> = HashSet::new();
            for (event, task_id) in task_events {
                let Some((repo, number, installation)) = targets.get(task_id) else {
                    continue;
                };
                let to = target(*installation, repo, *number);
                if queued.insert(task_id) {
                    gh::enqueue_status(conn, now, &to, task_id).await?;
                }
                if let Some(claim) = gh::claim_of_task(conn, task_id).await?
                    && ends_lease(event, &claim.lease_id)
                {
                    if event.kind == "lease.expired" {
                        let body = messages::claim_expired(&claim.login, ttl_days(claim.ttl_ms));
                        gh::enqueue_comment(conn, now, &to, Some(task_id), &body).await?;
                    }
                    gh::delete_claim(conn, task_id).await?;
                }
            }
            Ok(())
        })
    }
}

/// Whether `event` ends lease `lease_id` (the task left `leased`/`in_progress`).
fn ends_lease(event: &Event, lease_id: &str) -> bool {
    let same_lease = event.data.get("lease_id").and_then(|v| v.as_str()) == Some(lease_id);
    let from_active = matches!(
        event.data.get("from").and_then(|v| v.as_str()),
        Some("leased" | "in_progress")
    );
    let to_active = matches!(
        event.data.get("status").and_then(|v| v.as_str()),
        Some("leased" | "in_progress")
    );
    same_lease && from_active && !to_active
}

/// A TTL in whole days for the texts (at least one).
pub fn ttl_days(ttl_ms: i64) -> u32 {
    let day = 86_400_000;
    u32::try_from(((ttl_ms + day - 1) / day).max(1)).unwrap_or(u32::MAX)
}

// ------------------------------------------------------------------------------------------------
// Wiring
// ------------------------------------------------------------------------------------------------

enum Mode {
    On(Arc<Github>),
    Setup(Arc<crate::github::setup::Setup>),
}

/// What `owp serve` needs from the GitHub App: routes, jobs and a handle.
pub struct GithubParts {
    mode: Mode,
}

impl GithubParts {
    /// Reads the GitHub configuration. With App credentials, the App runs (and its change hook is
    /// registered on `store`); without, the setup page is offered.
    pub async fn new(config: &ServeConfig, store: &Store) -> anyhow::Result<GithubParts> {
        let gh_config = &config.github;
        let base_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}:{}", config.host, config.port))
            .trim_end_matches('/')
            .to_string();
        let credentials = AppCredentials::from_config(gh_config)
            .context("the GitHub App configuration is incomplete")?;
        let Some(credentials) = credentials else {
            let setup = crate::github::setup::Setup::new(config, base_url);
            return Ok(GithubParts {
                mode: Mode::Setup(Arc::new(setup)),
            });
        };
        let app = GithubApp::new(credentials, &gh_config.github_api_url)
            .context("cannot set up the GitHub App client")?;
        let secrets = gh_config
            .github_webhook_secret
            .as_ref()
            .and_then(|s| WebhookSecrets::parse(s.expose()));
        if secrets.is_none() {
            tracing::error!(
                "GITHUB_APP_ID is set but GITHUB_WEBHOOK_SECRET is not: every webhook delivery will be refused"
            );
        }
        let reconcile_schedule = schedule(
            gh_config.github_reconcile_cron.as_deref(),
            crate::github::reconcile::DEFAULT_RECONCILE_CRON,
            "OWP_GITHUB_RECONCILE_CRON",
        )?;
        let redeliver_schedule = schedule(
            gh_config.github_redeliver_cron.as_deref(),
            crate::github::reconcile::DEFAULT_REDELIVER_CRON,
            "OWP_GITHUB_REDELIVER_CRON",
        )?;
        let claim_ttl_override_ms = gh_config.github_claim_ttl_seconds.map(|s| {
            i64::try_from(s.saturating_mul(1000))
                .unwrap_or(i64::MAX)
                .max(1000)
        });
        let (started, _) = watch::channel(false);
        let github = Arc::new(Github {
            store: store.clone(),
            app: Arc::new(app),
            secrets,
            runner: format!("owp-{}", uuid::Uuid::new_v4().simple()),
            base_url: RwLock::new(base_url),
            claim_ttl_override_ms,
            reconcile_schedule,
            redeliver_schedule,
            inbox_wake: Notify::new(),
            outbox_wake: Notify::new(),
            progress: Notify::new(),
            permissions: Mutex::new(HashMap::new()),
            reconcile_lock: tokio::sync::Mutex::new(()),
            started,
            busy: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            receiving: AtomicUsize::new(0),
        });
        store.add_hook(Arc::new(OutboxHook));
        Ok(GithubParts {
            mode: Mode::On(github),
        })
    }

    /// The GitHub routes, to merge into the service's router.
    pub fn router(&self) -> Router {
        match &self.mode {
            Mode::On(github) => crate::github::webhook::router(Arc::clone(github))
                .merge(crate::github::link::router(Arc::clone(github)))
                .merge(help_router()),
            Mode::Setup(setup) => {
                crate::github::setup::router(Arc::clone(setup)).merge(help_router())
            }
        }
    }

    /// Tells the App the address the service listens on (used for links when no public URL is
    /// configured).
    pub fn set_local_addr(&self, addr: SocketAddr, public_url_configured: bool) {
        if public_url_configured {
            self.announce();
            return;
        }
        let url = format!("http://{addr}");
        match &self.mode {
            Mode::On(github) => {
                if let Ok(mut base) = github.base_url.write() {
                    *base = url;
                }
            }
            Mode::Setup(setup) => setup.set_base_url(url),
        }
        self.announce();
    }

    /// Tells the operator how to reach the setup page (when no App is configured).
    pub fn announce(&self) {
        match &self.mode {
            Mode::On(github) => {
                tracing::info!(app_id = github.app.app_id(), "GitHub App on");
            }
            Mode::Setup(setup) => {
                eprintln!(
                    "No GitHub App is configured (GitHub features are off). To create one, open {}",
                    setup.url()
                );
            }
        }
    }

    /// Starts the background jobs (none in setup mode).
    pub fn spawn(&self) -> Vec<JoinHandle<()>> {
        let Mode::On(github) = &self.mode else {
            return Vec::new();
        };
        vec![
            tokio::spawn(crate::github::inbox::run(Arc::clone(github))),
            tokio::spawn(crate::github::outbox::run(Arc::clone(github))),
            tokio::spawn(crate::github::claims::run(Arc::clone(github))),
            tokio::spawn(crate::github::reconcile::run(Arc::clone(github))),
        ]
    }

    /// A handle on the running App.
    pub fn handle(&self) -> GithubHandle {
        match &self.mode {
            Mode::On(github) => GithubHandle {
                github: Some(Arc::clone(github)),
                setup: None,
            },
            Mode::Setup(setup) => GithubHandle {
                github: None,
                setup: Some(Arc::clone(setup)),
            },
        }
    }
}

fn schedule(value: Option<&str>, default: &str, name: &str) -> anyhow::Result<cron::Schedule> {
    let expr = value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or(default);
    cron::Schedule::from_str(expr).with_context(|| {
        format!("{name}: `{expr}` is not a cron expression (6 fields, seconds first, e.g. `0 */15 * * * *`)")
    })
}

fn help_router() -> Router {
    Router::new().route(
        "/github/help",
        axum::routing::get(|| async {
            (
                [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                crate::github::setup::HELP_PAGE,
            )
        }),
    )
}

/// A handle on the running GitHub App (inert when the App is not configured).
#[derive(Clone, Default)]
pub struct GithubHandle {
    github: Option<Arc<Github>>,
    setup: Option<Arc<crate::github::setup::Setup>>,
}

impl GithubHandle {
    /// Whether the App runs in this process.
    pub fn is_enabled(&self) -> bool {
        self.github.is_some()
    }

    /// The setup page's address (with its key), when no App is configured.
    pub fn setup_url(&self) -> Option<String> {
        self.setup.as_ref().map(|s| s.url())
    }

    /// Waits until the start-up reconciliation is done and neither the webhook inbox nor the
    /// comment outbox holds anything pending (including rows waiting for a retry), or until
    /// `timeout`. Returns the remaining `(deliveries, outbox rows)` on timeout.
    pub async fn wait_idle(&self, timeout: Duration) -> Result<(), (i64, i64)> {
        let Some(github) = &self.github else {
            return Ok(());
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut started = github.started.subscribe();
        loop {
            let progress = github.progress.notified();
            let backlog = github.store.gh_backlog().await.unwrap_or((-1, -1));
            let busy = github.busy.load(Ordering::SeqCst);
            if *started.borrow_and_update() && backlog == (0, 0) && busy == 0 {
                return Ok(());
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(backlog);
            }
            // Progress is signalled by the jobs; the short pause covers work of other processes.
            let pause = (deadline - now).min(Duration::from_millis(50));
            tokio::select! {
                _ = progress => {}
                _ = started.changed() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Stops taking new work, lets the step under way finish (up to a few seconds) and gives back
    /// what this process had claimed, so that a restart (or another replica) carries on at once.
    /// A comment whose sending was cut short is found by its marker before it is sent again.
    pub async fn shutdown(&self) {
        let Some(github) = &self.github else {
            return;
        };
        github.stopping.store(true, Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while github.busy.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            let progress = github.progress.notified();
            tokio::select! {
                _ = progress => {}
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
        if let Err(e) = github.store.gh_release_claims(&github.runner).await {
            tracing::warn!(error = %e, "cannot give back this process's inbox and outbox claims");
        }
    }

    /// Runs a full reconciliation now (and waits for it).
    pub async fn reconcile_now(&self) -> anyhow::Result<()> {
        if let Some(github) = &self.github {
            crate::github::reconcile::reconcile_all(github).await?;
            github.inbox_wake.notify_one();
            github.outbox_wake.notify_one();
        }
        Ok(())
    }

    /// Asks GitHub to redeliver failed deliveries now; returns how many were asked for.
    pub async fn redeliver_now(&self) -> anyhow::Result<usize> {
        match &self.github {
            Some(github) => Ok(crate::github::reconcile::redeliver_failed(github).await?),
            None => Ok(0),
        }
    }

    /// The store of the running App.
    pub fn store(&self) -> Option<&Store> {
        self.github.as_ref().map(|g| &g.store)
    }
}

impl Github {
    /// Marks the start-up reconciliation done.
    pub(crate) fn mark_started(&self) {
        self.started.send_replace(true);
        self.progressed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_days_round_up() {
        assert_eq!(ttl_days(7 * 86_400_000), 7);
        assert_eq!(ttl_days(1), 1);
        assert_eq!(ttl_days(86_400_001), 2);
    }

    #[test]
    fn lease_ends_are_recognised() {
        let event = |kind: &str, data: serde_json::Value| Event {
            id: 1,
            kind: kind.into(),
            at: String::new(),
            repo: None,
            task_id: Some("t".into()),
            worker_id: None,
            actor: "system".into(),
            data,
        };
        let expired = event(
            "lease.expired",
            serde_json::json!({"from": "in_progress", "status": "ready", "lease_id": "l1"}),
        );
        assert!(ends_lease(&expired, "l1"));
        assert!(!ends_lease(&expired, "l2"));
        let acked = event(
            "task.status",
            serde_json::json!({"from": "leased", "status": "in_progress", "lease_id": "l1"}),
        );
        assert!(!ends_lease(&acked, "l1"));
    }
}
