//! The GitHub App: reading what GitHub sends, the App's workflow, and talking to GitHub.
//!
//! The parsers (signature, events, commands, closing references, the repository's file) and the
//! texts the App writes are pure and tested on their own; the workflow (inbox, apply, sync,
//! reconcile, outbox) changes the pool through the store's one door.
//!
//! Reading what GitHub sends:
//! - [`signature`]: verifies `X-Hub-Signature-256` on the raw body of a delivery.
//! - [`events`]: turns a delivery into our own typed [`events::Event`].
//! - [`commands`]: the markdown-aware parser of `/owp …` comment commands.
//! - `crate::domain::labels`: from an issue's labels to its task's fields (Beads imports use it too).
//! - [`closing_refs`]: the issues a pull request body closes.
//! - [`repo_config`]: a repository's `.github/owp.yml`.
//!
//! Writing to GitHub:
//! - [`messages`]: every comment text the App writes, with the markers that find them again.
//! - [`throttle`]: how often the App answers one person.
//!
//! Running (wired up here, above the pieces, so that the shared context imports none of them):
//! - [`service`]: the shared context [`service::Github`].
//! - [`webhook`]: taking in a verified delivery; [`login_link`]: link codes; their routes (and
//!   those of [`signin`] and [`setup`]) are in `http/`, beside the REST API. [`inbox`],
//!   [`outbox`], [`claim_clock`], [`reconcile`]: the background jobs, started by
//!   [`GithubParts::spawn`].
//! - [`apply`]: what each webhook event does; [`sync`]: bringing a repository, an issue or a pull
//!   request in line with GitHub, for `apply` and `reconcile` alike; [`credit`]: who a merge
//!   credits.
//! - [`GithubParts`] reads the configuration once and provides the App (or the setup flow), the
//!   jobs and a [`GithubHandle`] that lets the process (and tests) wait until the inbox and the
//!   outbox are drained. Without App credentials only the setup flow (`/github/setup`) is served.
//!
//! Talking to GitHub:
//! - [`app_auth`]: the App JWT and one client (and token cache) per installation;
//!   [`key_fingerprint`]: the fingerprint GitHub shows for each of the App's keys.
//! - [`api`]: the REST calls the running App makes; [`raw_calls`]: those where octocrab's typed
//!   API does not fit; [`volunteer_reads`]: the bounds on the reads a volunteer's action causes.
//! - [`manifest`]: the App manifest and the exchange of GitHub's code for credentials.
//! - [`oauth`]: the App's OAuth calls (code exchange with PKCE, device flow, `GET /user`);
//!   [`signin`]: maintainers signing in with GitHub, and what each maintains.

pub mod account_ids;
pub mod accounts;
pub mod api;
pub mod app_auth;
pub mod apply;
pub mod claim_clock;
pub mod closing_refs;
pub mod commands;
pub mod commits;
pub mod conditional;
pub mod credit;
pub mod events;
pub mod identity;
pub mod inbox;
pub mod key_fingerprint;
pub mod login_link;
pub mod manifest;
pub mod messages;
pub mod oauth;
pub mod observe;
pub mod outbox;
pub mod permissions;
pub mod pr_reports;
pub mod raw_calls;
pub mod reconcile;
pub mod repo_config;
pub mod repo_labels;
pub mod reviewer_accounts;
pub mod service;
pub mod settings;
pub mod setup;
pub mod signature;
pub mod signin;
pub mod sync;
pub mod throttle;
pub mod volunteer_reads;
pub mod vouch;
pub mod waits;
pub mod webhook;

use owp_protocol as domain;
use owp_store as store;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::app_auth::{AppCredentials, GithubApp};
use crate::service::{DEFAULT_STATUS_WINDOW_MS, Github};
use crate::settings::Serving;
use crate::signature::WebhookSecrets;
use crate::store::Store;
use crate::store::github::on_commit::OutboxTexts;

// ------------------------------------------------------------------------------------------------
// Wiring
// ------------------------------------------------------------------------------------------------

enum Mode {
    On(Arc<Github>),
    Setup(Arc<crate::setup::Setup>),
}

/// What `owp serve` needs from the GitHub App: routes, jobs and a handle.
pub struct GithubParts {
    mode: Mode,
}

impl GithubParts {
    /// Reads the GitHub configuration. With App credentials, the App runs (and every task change
    /// of `store` writes its outbox rows: `Store::write_github_outbox`); without, the setup page is
    /// offered.
    pub async fn new(config: Serving<'_>, store: &Store) -> anyhow::Result<GithubParts> {
        let gh_config = config.github;
        let credentials = AppCredentials::from_config(gh_config)
            .context("the GitHub App configuration is incomplete")?;
        let Some(credentials) = credentials else {
            let setup = crate::setup::Setup::start(config, store).await?;
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
            crate::reconcile::DEFAULT_RECONCILE_CRON,
            "OWP_GITHUB_RECONCILE_CRON",
        )?;
        let redeliver_schedule = schedule(
            gh_config.github_redeliver_cron.as_deref(),
            crate::reconcile::DEFAULT_REDELIVER_CRON,
            "OWP_GITHUB_REDELIVER_CRON",
        )?;
        let claim_ttl_override_ms = gh_config.github_claim_ttl_seconds.map(|s| {
            i64::try_from(s.saturating_mul(1000))
                .unwrap_or(i64::MAX)
                .max(1000)
        });
        let (started, _) = watch::channel(false);
        let app = Arc::new(app);
        let permissions = crate::permissions::Permissions::new(
            store.clone(),
            Arc::clone(&app),
            gh_config
                .github_permission_max_age_ms
                .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
        );
        let outbox_store = store
            .with_own_reads(crate::outbox::READ_CONNECTIONS)
            .await
            .context("the comment sender's read connections cannot be opened")?;
        let github = Arc::new(Github {
            store: store.clone(),
            outbox_store,
            app,
            secrets,
            runner: format!("owp-{}", uuid::Uuid::new_v4().simple()),
            base_url: RwLock::new(config.base_url()),
            claim_ttl_override_ms,
            limit_wait_ms: gh_config
                .github_limit_wait_ms
                .map_or(crate::outbox::LIMIT_WAIT_MS, |ms| {
                    i64::try_from(ms).unwrap_or(i64::MAX).max(1)
                }),
            max_pages: gh_config
                .github_max_pages
                .map_or(crate::api::MAX_PAGES, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX).max(1)
                }),
            reconcile_schedule,
            redeliver_schedule,
            appliers: gh_config
                .github_appliers
                .map_or(crate::inbox::DEFAULT_APPLIERS, |n| {
                    usize::try_from(n).unwrap_or(1).max(1)
                }),
            inbox_wake: Notify::new(),
            outbox_wake: Notify::new(),
            progress: Notify::new(),
            permissions,
            account_ids: Default::default(),
            reconcile_lock: tokio::sync::Mutex::new(()),
            reconcile_resume: std::sync::Mutex::new(std::collections::HashMap::new()),
            started,
            busy: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            receiving: AtomicUsize::new(0),
            replies: Default::default(),
            pacing: write_pacing(gh_config),
            outbox_concurrency: gh_config
                .github_outbox_concurrency
                .map_or(crate::outbox::DEFAULT_CONCURRENCY, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX).max(1)
                }),
            outbox_claim_ms: outbox_claim_ms(gh_config),
            webhook_bodies: Arc::new(tokio::sync::Semaphore::new(crate::webhook::body_room(
                config.webhook_concurrency,
            ))),
        });
        store.write_github_outbox(
            gh_config
                .github_status_window_ms
                .map_or(DEFAULT_STATUS_WINDOW_MS, i64::from),
            OutboxTexts {
                claim_expired: messages::claim_expired,
                proposals_ended: messages::proposals::proposals_ended,
            },
        );
        Ok(GithubParts {
            mode: Mode::On(github),
        })
    }

    /// The one permission lookup, while the App runs: sign-in asks maintainers' permissions
    /// through it.
    pub fn permissions(&self) -> Option<Arc<crate::permissions::Permissions>> {
        match &self.mode {
            Mode::On(github) => Some(Arc::clone(&github.permissions)),
            Mode::Setup(_) => None,
        }
    }

    /// Whether the App runs (rather than the setup page).
    pub fn is_enabled(&self) -> bool {
        matches!(self.mode, Mode::On(_))
    }

    /// The running App (none in setup mode): the webhook's and the link code's routes serve it.
    pub fn app(&self) -> Option<Arc<Github>> {
        match &self.mode {
            Mode::On(github) => Some(Arc::clone(github)),
            Mode::Setup(_) => None,
        }
    }

    /// The setup flow (only while no App is configured).
    pub fn setup(&self) -> Option<Arc<crate::setup::Setup>> {
        match &self.mode {
            Mode::On(_) => None,
            Mode::Setup(setup) => Some(Arc::clone(setup)),
        }
    }

    /// Tells the App the address the service listens on (used for links when no public URL is
    /// configured), and the operator what runs (see [`GithubParts::announce`]).
    pub fn set_local_addr(&self, addr: SocketAddr, public_url_configured: bool, text_logs: bool) {
        if !public_url_configured {
            let url = format!("http://{addr}");
            match &self.mode {
                Mode::On(github) => {
                    if let Ok(mut base) = github.base_url.write() {
                        *base = url;
                    }
                }
                Mode::Setup(setup) => setup.set_base_url(url),
            }
        }
        self.announce(text_logs);
    }

    /// Tells the operator whether the App runs (and the id this process claims the App's queued
    /// rows under, their `claimed_by`), or how to reach the setup page. The setup link carries
    /// its key, a credential: it is printed in the text start-up block, meant for the person who
    /// starts the service, and never written to JSON logs, which are kept and shipped elsewhere:
    /// `text_logs` says which the service writes.
    pub fn announce(&self, text_logs: bool) {
        match &self.mode {
            Mode::On(github) => {
                tracing::info!(
                    app_id = github.app.app_id(),
                    instance = %github.runner,
                    "GitHub App on"
                );
            }
            Mode::Setup(setup) if text_logs => {
                eprintln!(
                    "No GitHub App is configured (GitHub features are off). To create one, open {}",
                    setup.url()
                );
            }
            Mode::Setup(setup) => {
                tracing::info!(
                    setup_page = %format!("{}{}", setup.base_url(), crate::setup::SETUP_PATH),
                    "No GitHub App is configured (GitHub features are off). The link that creates \
                     one carries a key, so it is not logged here: start `owp serve` once with \
                     OWP_LOG_FORMAT=text in a terminal to see it"
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
            tokio::spawn(crate::inbox::run(Arc::clone(github))),
            tokio::spawn(crate::outbox::run(Arc::clone(github))),
            tokio::spawn(crate::claim_clock::run(Arc::clone(github))),
            tokio::spawn(crate::reconcile::run(Arc::clone(github))),
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

/// The write pacing the configuration asks for (GitHub's limits where it says nothing).
fn write_pacing(
    config: &crate::settings::GithubConfig,
) -> crate::store::github::write_pacing::WritePacing {
    let default = crate::store::github::write_pacing::WritePacing::default();
    let windows = config
        .github_write_windows_ms
        .as_deref()
        .unwrap_or_default();
    crate::store::github::write_pacing::WritePacing {
        per_minute: config
            .github_writes_per_minute
            .map_or(default.per_minute, i64::from),
        per_hour: config
            .github_writes_per_hour
            .map_or(default.per_hour, i64::from),
        spacing_ms: config
            .github_write_spacing_ms
            .map_or(default.spacing_ms, i64::from),
        // A write is in flight at most as long as the claim on the row it sends.
        in_flight_ms: outbox_claim_ms(config),
        minute_ms: windows.first().map_or(default.minute_ms, |&w| i64::from(w)),
        hour_ms: windows.get(1).map_or(default.hour_ms, |&w| i64::from(w)),
    }
}

/// How long the comment sender holds a row it claimed.
fn outbox_claim_ms(config: &crate::settings::GithubConfig) -> i64 {
    config
        .github_outbox_claim_ms
        .map_or(crate::outbox::CLAIM_MS, i64::from)
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

/// A handle on the running GitHub App (inert when the App is not configured).
#[derive(Clone, Default)]
pub struct GithubHandle {
    github: Option<Arc<Github>>,
    setup: Option<Arc<crate::setup::Setup>>,
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
            let backlog = github
                .store
                .github_backlog()
                .counts()
                .await
                .unwrap_or((-1, -1));
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
        if let Err(e) = github
            .store
            .github_backlog()
            .release_claims(&github.runner)
            .await
        {
            tracing::warn!(error = %e, "cannot give back this process's inbox and outbox claims");
        }
    }

    /// Runs a full reconciliation now (and waits for it): every settings file is read again.
    pub async fn reconcile_now(&self) -> anyhow::Result<()> {
        self.reconcile_with(crate::reconcile::Depth::Full).await
    }

    /// Runs the reconciliation the schedule runs now (and waits for it): settings files are read
    /// again only when due for their safety re-read.
    pub async fn reconcile_scheduled_now(&self) -> anyhow::Result<()> {
        self.reconcile_with(crate::reconcile::Depth::Quiet).await
    }

    async fn reconcile_with(&self, depth: crate::reconcile::Depth) -> anyhow::Result<()> {
        if let Some(github) = &self.github {
            crate::reconcile::reconcile_all(github, depth).await?;
            github.inbox_wake.notify_one();
            github.outbox_wake.notify_one();
        }
        Ok(())
    }

    /// The store of the running App.
    pub fn store(&self) -> Option<&Store> {
        self.github.as_ref().map(|g| &g.store)
    }
}
