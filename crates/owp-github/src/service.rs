//! The shared context of the running GitHub App: [`Github`] (the store, the App client, the
//! webhook secrets, the schedules, the wake-up signals, the reply limits), and the settings of a
//! repository as the App applies them. (What every task change writes to the comment outbox is
//! the store's: `store::github::on_commit`.)
//!
//! The background jobs that use this context (the webhook inbox, the outbox sender, the claim
//! clock, reconciliation) are wired up one level above, in the crate's root (`lib.rs`), and the
//! routes in the `owp` crate's `http/`, so this module imports none of them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::api;
use crate::app_auth::GithubApp;
use crate::domain::model::{CONFIG_BUDGET_FIELD, CONFIG_ERROR_FIELD, LABELS_MISSING_FIELD};
use crate::permissions::Ask;
use crate::raw_calls::FileText;
use crate::repo_config::{MaxClaims, RepoConfig};
use crate::signature::WebhookSecrets;
use crate::store::github::installations::GhRepo;
use crate::store::github::installations::RepoConfigColumns;
use crate::store::github::outbox::OutboxTarget;
use crate::store::github::write_pacing::WritePacing;
use crate::store::{Store, StoreError, WriteTx};

/// How long a task change waits before its status comment is written, unless configured
/// (`OWP_GITHUB_STATUS_WINDOW_MS`): the changes within it make one edit.
pub const DEFAULT_STATUS_WINDOW_MS: i64 = 3_000;

/// The slow safety re-read: the scheduled reconciliation reads a repository's settings file
/// again once this long after it last did (less up to [`CONFIG_SAFETY_SPREAD_MS`], by the
/// repository's name, so that the repositories of one installation are not all read in one run).
pub const CONFIG_SAFETY_REREAD_MS: i64 = 24 * crate::store::HOUR_MS;

/// See [`CONFIG_SAFETY_REREAD_MS`].
pub const CONFIG_SAFETY_SPREAD_MS: i64 = 4 * crate::store::HOUR_MS;

/// Whether the settings of `repo`, last read at `checked_at`, are due for the safety re-read.
/// (See [`settings_remembered`] for the whole rule.)
pub fn config_due(repo: &str, checked_at: i64, now: i64) -> bool {
    // FNV-1a: the same spread in every process and version.
    let hash = repo.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let spread = i64::try_from(hash % CONFIG_SAFETY_SPREAD_MS.unsigned_abs()).unwrap_or_default();
    now - checked_at >= CONFIG_SAFETY_REREAD_MS - spread
}

/// The one rule for reading a repository's `.github/owp.yml`, for webhook deliveries and
/// scheduled reconciliations alike: what the database remembers (the settings, or that there is
/// no file) is used until it is due for the slow safety re-read ([`config_due`]). A repository
/// the database does not know, or whose settings were never read, is read. A `push` to the
/// default branch that changes the file reads it at once, and so do a repository joining and a
/// full reconciliation (`force`): those do not ask this rule.
pub fn settings_remembered(repo: &str, row: Option<&GhRepo>, now: i64) -> bool {
    row.is_some_and(|r| r.config_checked_at > 0 && !config_due(repo, r.config_checked_at, now))
}

/// The shared context of the running App.
pub struct Github {
    pub store: Store,
    /// The store as the comment sender uses it: with read connections of its own (SQLite), so
    /// that rendering status comments takes none from the deliveries being applied.
    pub(crate) outbox_store: Store,
    pub app: Arc<GithubApp>,
    pub secrets: Option<WebhookSecrets>,
    /// This process, as named in inbox and outbox claims.
    pub(crate) runner: String,
    pub(crate) base_url: RwLock<String>,
    pub(crate) claim_ttl_override_ms: Option<i64>,
    /// The first pause after a secondary rate limit GitHub named without `Retry-After`.
    pub(crate) limit_wait_ms: i64,
    /// Pages read at most from the listings whose missing items would be taken as gone.
    pub(crate) max_pages: usize,
    pub(crate) reconcile_schedule: cron::Schedule,
    pub(crate) redeliver_schedule: cron::Schedule,
    /// Deliveries this process applies at once (`OWP_GITHUB_APPLIERS`).
    pub(crate) appliers: usize,
    /// A delivery was stored, or one was applied (the next of its lane may go).
    pub(crate) inbox_wake: Notify,
    /// Outbox rows may be due.
    pub(crate) outbox_wake: Notify,
    /// A background job finished a step (wakes [`GithubHandle::wait_idle`]).
    ///
    /// [`GithubHandle::wait_idle`]: crate::GithubHandle::wait_idle
    pub(crate) progress: Notify,
    /// The one way to ask GitHub what a person may do on a repository.
    pub(crate) permissions: Arc<crate::permissions::Permissions>,
    /// The one way to ask GitHub which account a login names (vouch lists), once for
    /// concurrent asks.
    pub(crate) account_ids: crate::account_ids::AccountIds,
    pub(crate) reconcile_lock: tokio::sync::Mutex<()>,
    /// Where an installation's last reconciliation stopped early (the repository it did not
    /// reach): its next run starts there.
    pub(crate) reconcile_resume: std::sync::Mutex<std::collections::HashMap<i64, String>>,
    pub(crate) started: watch::Sender<bool>,
    /// Background steps under way (a delivery with its follow-up work, a reconciliation).
    pub(crate) busy: AtomicUsize,
    /// Set when the process stops: no new work is claimed.
    pub(crate) stopping: AtomicBool,
    /// Webhook deliveries being stored right now: background work lets them go first.
    pub(crate) receiving: AtomicUsize,
    /// Room for webhook bodies being read, in MiB: `OWP_WEBHOOK_CONCURRENCY` bodies of GitHub's
    /// largest size (see `webhook::body_room`).
    pub webhook_bodies: Arc<tokio::sync::Semaphore>,
    /// How often the App answers one person.
    pub(crate) replies: crate::throttle::ReplyThrottle,
    /// How the App's comments, edits and reactions are paced per installation.
    pub(crate) pacing: WritePacing,
    /// Installations the comment sender writes to at once.
    pub(crate) outbox_concurrency: usize,
    /// How long the comment sender holds a row it claimed.
    pub(crate) outbox_claim_ms: i64,
}

/// Counts a background step as under way while it lives: borrowing the context, or holding it
/// (`Busy<Arc<Github>>`, for a spawned task, counted from before the task starts).
pub(crate) struct Busy<G: std::ops::Deref<Target = Github>>(G);

impl<G: std::ops::Deref<Target = Github>> Drop for Busy<G> {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
        self.0.progressed();
    }
}

/// A repository's settings as the App applies them.
#[derive(Clone, Debug, Default)]
pub struct RepoSettings {
    pub config: RepoConfig,
    /// Why the repository's file is not in use, shown to maintainers, one problem a line (each
    /// starting with the file's path). [`Github::settings`] adds, on lines of their own, why a
    /// vouch list is not wholly applied (each starting with the list's `owner/name/path`), for
    /// the status comments.
    pub error: Option<String>,
}

/// The problems of a repository's settings files, one a line: those of `.github/owp.yml`
/// (`config`), then those of its vouch lists; `None` when there are none.
pub fn shown_problems(config: Option<String>, lists: &[String]) -> Option<String> {
    let lines: Vec<&str> = config
        .as_deref()
        .into_iter()
        .chain(lists.iter().map(String::as_str))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
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

    /// The settings in force for a repository (the defaults when it has no readable file), with
    /// what its status comments show of its settings files: why `.github/owp.yml` is not used,
    /// and then why a vouch list is not wholly applied (see [`RepoSettings::error`]).
    pub async fn settings(&self, repo: &str) -> Result<RepoSettings, StoreError> {
        self.settings_read_from(&self.store, repo).await
    }

    /// [`Github::settings`], read through `store` (the comment sender's own reads).
    pub(crate) async fn settings_read_from(
        &self,
        store: &Store,
        repo: &str,
    ) -> Result<RepoSettings, StoreError> {
        let row = store.installations().repo(repo).await?;
        let mut settings = settings_of(row.as_ref());
        let mut lists = store.vouch().list_errors_of(repo).await?;
        lists.extend(store.reviewers().problems_of(repo).await?);
        settings.error = shown_problems(settings.error.take(), &lists);
        Ok(settings)
    }

    /// How long comment claims live in a repository.
    pub fn claim_ttl_ms(&self, settings: &RepoSettings) -> i64 {
        self.claim_ttl_override_ms
            .unwrap_or_else(|| settings.config.claim.ttl().num_milliseconds())
    }

    /// The settings of a repository for the scheduled reconciliation: what the database
    /// remembers (its file, or that it has none), read again from GitHub only when no longer
    /// [`settings_remembered`] (pushes to the default branch that change the file are read as
    /// they come).
    pub async fn refresh_config_if_due(&self, repo: &str) -> Result<RepoSettings, StoreError> {
        let row = self.store.installations().repo(repo).await?;
        if !settings_remembered(repo, row.as_ref(), crate::store::now_ms()) {
            return self.refresh_config(repo, true).await;
        }
        // The vouch lists are read at every reconciliation all the same (conditionally: an
        // unchanged list costs a 304, a list known to be absent is asked for once a day).
        let read = self.read_lists_only(repo, row).await;
        if read.vouch.is_none() {
            return Ok(read.settings());
        }
        let mut tx = self.store.begin().await?;
        let settings = record_config(&mut tx, repo, &read).await?;
        tx.commit().await?;
        Ok(settings)
    }

    /// The remembered settings of `repo`, with its vouch lists read again (none when GitHub
    /// cannot be asked).
    async fn read_lists_only(&self, repo: &str, row: Option<GhRepo>) -> ConfigRead {
        let checked_at = crate::store::now_ms();
        let mut read = ConfigRead {
            news: ConfigNews::Unchanged,
            labels: None,
            vouch: None,
            reviewers: None,
            checked_at,
            row,
        };
        let Some(installation) = read.row.as_ref().and_then(|r| r.installation_id) else {
            return read;
        };
        let client = match api::installation(&self.app, installation).await {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(repo, error = %e, "cannot read the repository's vouch lists");
                return read;
            }
        };
        let vouch = read.settings().config.vouch;
        let known = self.store.vouch().lists(repo).await.unwrap_or_default();
        let logins = self.store.vouch().logins(repo).await.unwrap_or_default();
        let lists = crate::vouch::Lists {
            etags: self.app.etags(),
            known: &known,
            logins: &logins,
            asks: &self.account_ids,
            store: &self.store,
            installation,
            now: checked_at,
        };
        // Side by side, as in a full read of the settings.
        let (vouch, reviewers) = tokio::join!(
            crate::vouch::read(&client, &lists, repo, &vouch),
            self.read_reviewers(&client, repo, &read, installation),
        );
        read.vouch = Some(vouch);
        read.reviewers = Some(reviewers);
        read
    }

    /// The accounts of the reviewers `read`'s settings list, not resolved before (see
    /// [`crate::reviewer_accounts::read`]).
    async fn read_reviewers(
        &self,
        client: &octocrab::Octocrab,
        repo: &str,
        read: &ConfigRead,
        installation: i64,
    ) -> crate::reviewer_accounts::ReviewerRead {
        let listed: Vec<String> = read
            .settings()
            .config
            .review
            .list()
            .into_iter()
            .map(|(login, _)| login)
            .collect();
        let asker = crate::vouch::Asker {
            asks: &self.account_ids,
            store: &self.store,
            installation,
            now: read.checked_at,
        };
        crate::reviewer_accounts::read(client, &asker, repo, &listed).await
    }

    /// Reads a repository's `.github/owp.yml` again when the remembered settings are not
    /// [`settings_remembered`] any more (or always, with `force`), and records what it found in its own
    /// transaction (reconciliation; a delivery records it in its own, see [`Github::read_config`]).
    pub async fn refresh_config(
        &self,
        repo: &str,
        force: bool,
    ) -> Result<RepoSettings, StoreError> {
        let row = self.store.installations().repo(repo).await?;
        let installation = row.as_ref().and_then(|r| r.installation_id);
        let read = self.read_config(repo, row, installation, force).await;
        if matches!(read.news, ConfigNews::Unchanged) {
            return Ok(read.settings());
        }
        let mut tx = self.store.begin().await?;
        let settings = record_config(&mut tx, repo, &read).await?;
        tx.commit().await?;
        Ok(settings)
    }

    /// Reads a repository's `.github/owp.yml` from GitHub (through `installation`) when what
    /// `row` remembers of it is not [`settings_remembered`] any more (or always, with `force`):
    /// a webhook delivery costs no request for the settings of a repository the App knows. Writes
    /// nothing: [`record_config`] records what was found, in the caller's transaction. A file that
    /// does not parse keeps the last good settings and records the error; an unreachable GitHub
    /// keeps everything as it was.
    pub async fn read_config(
        &self,
        repo: &str,
        row: Option<GhRepo>,
        installation: Option<i64>,
        force: bool,
    ) -> ConfigRead {
        self.read_config_and_lists(repo, row, installation, force, false)
            .await
    }

    /// [`Github::read_config`], and every vouch list of the repository read again, whatever was
    /// known of them (`lists_pushed`: a push changed one); otherwise a list known to be absent is
    /// asked for again only once a day (a push that adds one says so at once).
    pub async fn read_config_and_lists(
        &self,
        repo: &str,
        row: Option<GhRepo>,
        installation: Option<i64>,
        force: bool,
        lists_pushed: bool,
    ) -> ConfigRead {
        let checked_at = crate::store::now_ms();
        let unchanged = |row| ConfigRead {
            row,
            news: ConfigNews::Unchanged,
            labels: None,
            vouch: None,
            reviewers: None,
            checked_at,
        };
        let Some(installation) = installation else {
            return unchanged(row);
        };
        if !force && settings_remembered(repo, row.as_ref(), checked_at) {
            return unchanged(row);
        }
        let client = match api::installation(&self.app, installation).await {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(repo, error = %e, "cannot read the repository's settings file");
                return ConfigRead {
                    news: ConfigNews::Unreadable,
                    ..unchanged(row)
                };
            }
        };
        let text = api::file_text(
            &client,
            Some(self.app.etags()),
            repo,
            crate::repo_config::CONFIG_PATH,
            crate::repo_config::MAX_CONFIG_BYTES,
        )
        .await;
        let news = match text {
            Ok(FileText::Missing) => ConfigNews::Missing,
            Ok(FileText::TooLarge(size)) => ConfigNews::Invalid(format!(
                "{}: the file is {size} bytes or more; at most {} are read",
                crate::repo_config::CONFIG_PATH,
                crate::repo_config::MAX_CONFIG_BYTES
            )),
            Ok(FileText::Text(text)) => match parse_bounded(text).await {
                Ok(config) => ConfigNews::Parsed(Box::new(config)),
                Err(e) => ConfigNews::Invalid(e),
            },
            Err(e) => {
                tracing::warn!(repo, error = %e, "cannot read the repository's settings file");
                ConfigNews::Unreadable
            }
        };
        if let ConfigNews::Invalid(e) = &news {
            tracing::warn!(repo, error = %e, "the repository's settings file is not valid; the last good settings stay in force");
        }
        let mut read = ConfigRead {
            row,
            news,
            labels: None,
            vouch: None,
            reviewers: None,
            checked_at,
        };
        // Which of the labels the settings name the repository lacks, read with new settings.
        let labels_due = !matches!(read.news, ConfigNews::Unchanged | ConfigNews::Unreadable);
        let names = read.settings().config.labels;
        // The vouch lists, read with the settings (conditionally: an unchanged list costs a 304).
        let vouch = read.settings().config.vouch;
        let known = match lists_pushed {
            true => Vec::new(),
            false => self.store.vouch().lists(repo).await.unwrap_or_default(),
        };
        let logins = self.store.vouch().logins(repo).await.unwrap_or_default();
        let lists = crate::vouch::Lists {
            etags: self.app.etags(),
            known: &known,
            logins: &logins,
            asks: &self.account_ids,
            store: &self.store,
            installation,
            now: checked_at,
        };
        // The labels, the vouch lists and the listed reviewers' accounts depend on the settings
        // and not on each other: they are read side by side, so that a repository's first
        // delivery waits for GitHub once for all three (GitHub allows 100 requests at once).
        let labels = async {
            if !labels_due {
                return None;
            }
            Some(crate::repo_labels::check(&client, self.app.etags(), repo, &names).await)
        };
        let (labels, vouch, reviewers) = tokio::join!(
            labels,
            crate::vouch::read(&client, &lists, repo, &vouch),
            self.read_reviewers(&client, repo, &read, installation),
        );
        read.labels = labels;
        read.vouch = Some(vouch);
        read.reviewers = Some(reviewers);
        read
    }

    /// Whether `login` has write access or above on `repo` (asked of GitHub through the one
    /// permission lookup: trusted for at most five minutes, once for concurrent asks). An
    /// [`Ask::Counted`] read GitHub must answer is counted per installation first (past the
    /// bound, `CallError::Wait` and nothing asked): an action of anyone. [`Ask::Uncounted`] is
    /// for someone GitHub marks as the repository's collaborator, member or owner (a comment's
    /// `author_association`): few, so not counted with strangers.
    pub async fn is_maintainer(
        &self,
        installation: i64,
        repo: &str,
        login: &str,
        ask: Ask,
    ) -> Result<bool, api::CallError> {
        let permission = self.permissions.of(installation, repo, login, ask).await?;
        Ok(permission.is_maintainer())
    }

    /// Whether `login` is known to have write access or above on `repo`, from what GitHub said
    /// lately (never asks GitHub).
    pub fn known_maintainer(&self, repo: &str, login: &str) -> bool {
        self.permissions
            .known(repo, login)
            .is_some_and(|p| p.is_maintainer())
    }

    /// Marks a background step under way until the guard is dropped.
    pub(crate) fn busy(&self) -> Busy<&Github> {
        self.busy.fetch_add(1, Ordering::SeqCst);
        Busy(self)
    }

    /// [`Github::busy`] for a spawned task: the guard moves into it.
    pub(crate) fn busy_owned(self: &Arc<Self>) -> Busy<Arc<Github>> {
        self.busy.fetch_add(1, Ordering::SeqCst);
        Busy(Arc::clone(self))
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

/// Every problem of a refused settings file, one a line: what is recorded and shown as its
/// error.
pub fn problems_text(problems: &[crate::repo_config::RepoConfigError]) -> String {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// How long reading one `.github/owp.yml` may take before it counts as a settings error.
pub const CONFIG_PARSE_LIMIT: Duration = Duration::from_secs(2);

/// Parses a settings file off the async workers, within [`CONFIG_PARSE_LIMIT`], so that one
/// repository's file never holds up other deliveries for long (its size and shape are bounded
/// by [`RepoConfig::parse_reporting`] as well, which reads the file at most ten times).
async fn parse_bounded(text: String) -> Result<RepoConfig, String> {
    let parse = tokio::task::spawn_blocking(move || RepoConfig::parse_reporting(&text));
    match tokio::time::timeout(CONFIG_PARSE_LIMIT, parse).await {
        Ok(Ok(result)) => result.map_err(|problems| problems_text(&problems)),
        Ok(Err(_)) => Err(format!(
            "{}: the file could not be read",
            crate::repo_config::CONFIG_PATH
        )),
        Err(_) => Err(format!(
            "{}: reading the file took too long; simplify it",
            crate::repo_config::CONFIG_PATH
        )),
    }
}

/// What reading a repository's `.github/owp.yml` found, before anything is recorded.
#[derive(Clone, Debug)]
pub enum ConfigNews {
    /// Nothing to record: the recorded settings are young enough, no installation serves the
    /// repository, or GitHub could not be asked (everything stays as it was).
    Unchanged,
    /// GitHub could not be asked: the settings in force stay, and the next delivery or
    /// reconciliation reads the file again.
    Unreadable,
    /// There is no file: the defaults.
    Missing,
    Parsed(Box<RepoConfig>),
    /// The file is not valid: the last good settings stay in force, with this error shown.
    Invalid(String),
}

/// A repository's settings as read from GitHub, before a transaction records them.
#[derive(Clone, Debug)]
pub struct ConfigRead {
    /// The repository's row as it was read (none before it joins).
    pub row: Option<GhRepo>,
    pub news: ConfigNews,
    /// Which labels the repository lacks (`LABELS_MISSING_FIELD`), read with the settings; none
    /// when the settings were not read.
    pub labels: Option<serde_json::Value>,
    /// The vouch lists (rule 12), read with the settings; none when GitHub was not asked.
    pub vouch: Option<crate::vouch::VouchRead>,
    /// The accounts of the listed reviewers (rule 13) not resolved before, read with the
    /// settings; none when GitHub was not asked.
    pub reviewers: Option<crate::reviewer_accounts::ReviewerRead>,
    /// When the file was read.
    pub checked_at: i64,
}

impl ConfigRead {
    /// The settings in force once [`record_config`] has recorded this.
    pub fn settings(&self) -> RepoSettings {
        let recorded = || settings_of(self.row.as_ref());
        match &self.news {
            ConfigNews::Unchanged | ConfigNews::Unreadable => recorded(),
            ConfigNews::Missing => RepoSettings::default(),
            ConfigNews::Parsed(config) => RepoSettings {
                config: config.as_ref().clone(),
                error: None,
            },
            ConfigNews::Invalid(e) => RepoSettings {
                config: recorded().config,
                error: Some(e.clone()),
            },
        }
    }
}

/// Records what [`Github::read_config`] found, in `tx`: the settings, the budget they ask for
/// (with their error shown on the repository policy) and the promotion rules. Returns the
/// settings in force.
pub async fn record_config(
    tx: &mut WriteTx,
    repo: &str,
    read: &ConfigRead,
) -> Result<RepoSettings, StoreError> {
    let at = read.checked_at;
    let news = !matches!(read.news, ConfigNews::Unchanged | ConfigNews::Unreadable);
    if read.vouch.is_some() || news {
        let vouch = read.settings().config.vouch;
        crate::vouch::record(tx, repo, &vouch, read.vouch.as_ref()).await?;
    }
    let no_accounts = Default::default();
    let accounts = read
        .reviewers
        .as_ref()
        .map_or(&no_accounts, |r| &r.accounts);
    if let Some(reviewers) = &read.reviewers {
        crate::reviewer_accounts::record(tx, repo, reviewers, "github:config").await?;
    }
    match &read.news {
        ConfigNews::Unchanged => return Ok(read.settings()),
        ConfigNews::Unreadable => {
            tx.installations().config_stale(repo).await?;
            return Ok(read.settings());
        }
        ConfigNews::Missing => {
            let defaults = RepoConfigColumns {
                max_claims_per_user: Some(i64::from(MaxClaims::default().0)),
                ..Default::default()
            };
            tx.installations()
                .set_repo_config(repo, Some(defaults), None, at)
                .await?;
        }
        ConfigNews::Parsed(config) => {
            let json = serde_json::to_string(config).unwrap_or_default();
            let cap = config.pr_hourly_limit.map(|n| i64::from(n.get()));
            let contract = config
                .contract
                .as_ref()
                .filter(|c| !c.is_empty())
                .and_then(|c| serde_json::to_string(c).ok());
            let allowlist = config.who_may_claim.allowlist_column();
            let columns = RepoConfigColumns {
                config: Some(&json),
                claims_per_hour: cap,
                contract: contract.as_deref(),
                min_account_age_days: i64::from(config.claim.min_account_age_days),
                first_timers_label: config.claim.first_timers_label.as_deref(),
                cooldown_hours: i64::from(config.claim.cooldown_hours),
                approval: config.claim.approval_policy(),
                verified_commits: config.claim.verified_commits,
                verified_commits_below_trust: config.claim.verified_commits_below_trust,
                max_claims_per_user: Some(i64::from(config.max_claims_per_user.0.max(1))),
                claim_allowlist: allowlist.as_deref(),
            };
            tx.installations()
                .set_repo_config(repo, Some(columns), None, at)
                .await?;
        }
        ConfigNews::Invalid(e) => {
            tx.installations()
                .set_repo_config(repo, None, Some(e), at)
                .await?;
        }
    }
    let settings = read.settings();
    apply_budget(tx, repo, &settings, read.labels.as_ref()).await?;
    if settings.error.is_none()
        && let Some(trust) = &settings.config.trust
    {
        tx.reputations()
            .set_repo_promotions(repo, &trust.promote, "github:config")
            .await?;
    }
    if settings.error.is_none() {
        tx.reviewers()
            .set(
                repo,
                &settings.config.review.list(),
                accounts,
                "github:config",
            )
            .await?;
    }
    Ok(settings)
}

/// Applies the budget a settings file asks for, and shows its error and the labels the repository
/// lacks (when they were read) on the repository policy.
async fn apply_budget(
    tx: &mut WriteTx,
    repo: &str,
    settings: &RepoSettings,
    labels: Option<&serde_json::Value>,
) -> Result<(), StoreError> {
    let Some(policy) = tx.repos().by_name(repo).await? else {
        return Ok(());
    };
    let current = u32::try_from(policy.max_open_prs).unwrap_or(u32::MAX);
    let wanted = i64::from(settings.config.max_open_prs_or(current))
        .min(crate::domain::limits::MAX_OPEN_PRS.1);
    let shown_error = policy
        .extensions
        .get(CONFIG_ERROR_FIELD)
        .and_then(|v| v.as_str())
        .map(str::to_string);
    // The budget the file sets (null: it leaves the budget to the admin), so that whoever
    // changes the budget elsewhere is told which one wins.
    let from_file = settings
        .config
        .max_open_prs
        .map_or(serde_json::Value::Null, serde_json::Value::from);
    let shown_from_file = policy
        .extensions
        .get(CONFIG_BUDGET_FIELD)
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    let shown_labels = policy.extensions.get(LABELS_MISSING_FIELD);
    if wanted == policy.max_open_prs
        && shown_error == settings.error
        && shown_from_file == from_file
        && (labels.is_none() || shown_labels == labels)
    {
        return Ok(());
    }
    let mut extensions = serde_json::Map::new();
    extensions.insert(
        CONFIG_ERROR_FIELD.into(),
        settings
            .error
            .as_ref()
            .map_or(serde_json::Value::Null, |e| {
                serde_json::Value::String(e.clone())
            }),
    );
    extensions.insert(CONFIG_BUDGET_FIELD.into(), from_file);
    if let Some(labels) = labels {
        extensions.insert(LABELS_MISSING_FIELD.into(), labels.clone());
    }
    let upsert = crate::store::repos::RepoUpsert {
        name: repo.to_string(),
        max_open_prs: wanted,
        area_locks_enabled: None,
        extensions,
        by: crate::store::repos::Steering::RepoFile,
        ..Default::default()
    };
    tx.repos().upsert(&upsert, "github:config").await?;
    Ok(())
}

/// The settings recorded for a repository row.
pub fn settings_of(row: Option<&GhRepo>) -> RepoSettings {
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
    fn remembered_settings_are_read_again_after_20_to_24_hours_spread_by_name() {
        let hour = crate::store::HOUR_MS;
        let mut spread = std::collections::HashSet::new();
        for i in 0..50 {
            let repo = format!("octo-org/project-{i:02}");
            assert!(!config_due(&repo, 0, hour), "{repo}: read an hour ago");
            assert!(!config_due(&repo, 0, 20 * hour - 1), "{repo}");
            assert!(config_due(&repo, 0, 24 * hour), "{repo}: a day old");
            let first_due = (20 * hour..=24 * hour)
                .step_by(usize::try_from(hour / 4).unwrap())
                .find(|&now| config_due(&repo, 0, now));
            spread.insert(first_due);
        }
        assert!(spread.len() > 5, "not spread out: {spread:?}");
    }
}
