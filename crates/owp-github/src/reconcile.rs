//! Catching up with GitHub: what webhooks missed is found by looking.
//!
//! On start and on a schedule ([`DEFAULT_RECONCILE_CRON`], or `OWP_GITHUB_RECONCILE_CRON`), for
//! each installation: its repositories join or leave; in each repository the settings file is
//! read again when what the database remembers of it (its settings, or that it has none) is due
//! for the slow safety re-read (pushes that change it are read as they come), the open issues with the ready label become (or stay) tasks, tasks whose issue is
//! no longer open and labelled leave the pool, the open pull requests are linked, the linked ones
//! that closed meanwhile are applied, the commits of acting pull requests that GitHub did not
//! say were verified are asked again, and the live figures (`open_prs`, `active_leases`) are
//! corrected if they drifted.
//!
//! On start and on its own schedule ([`DEFAULT_REDELIVER_CRON`], or
//! `OWP_GITHUB_REDELIVER_CRON`), the App's failed webhook deliveries of the last three days are
//! listed and GitHub is asked to send each again once (its inbox ignores what it already has).
//!
//! A scheduled reconciliation spreads its installations over most of its period, each at its own
//! place ([`offset_in`]), [`RECONCILE_PARALLEL`] at a time; one installation's run stops early
//! rather than spend more than its share of the installation's hour ([`MAX_COUNTED_PER_RUN`],
//! [`RESERVE_REMAINING`]). The two jobs keep their own time.
//!
//! Scheduled runs are recorded per (job, slot) in the database, so with several replicas each slot
//! runs once. Everything is applied through the same functions as the webhooks
//! ([`sync::sync_issue`], [`sync::sync_pull`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use futures_util::StreamExt;
use octocrab::Octocrab;
use serde_json::json;
use tracing::Instrument;

use crate::accounts;
use crate::api::{self, CallError, IssueRead};
use crate::commits;
use crate::domain::TaskStatus;
use crate::events::{Issue, PullRequest};
use crate::identity;
use crate::service::Github;
use crate::store::NewEvent;
use crate::store::github::etags::EtagRow;
use crate::store::leases::{LeaseEnd, Move};
use crate::sync;
use crate::webhook::STORED_EVENTS;

/// Reconciliation: every 15 minutes.
pub const DEFAULT_RECONCILE_CRON: &str = "0 */15 * * * *";

/// Looking for failed deliveries: every 5 minutes.
pub const DEFAULT_REDELIVER_CRON: &str = "30 */5 * * * *";

/// Every cron expression the App ships with.
pub const DEFAULT_SCHEDULES: [&str; 2] = [DEFAULT_RECONCILE_CRON, DEFAULT_REDELIVER_CRON];

/// GitHub keeps deliveries for redelivery this long.
const REDELIVERY_WINDOW_MS: i64 = 3 * 24 * 3_600_000;

/// Pages of deliveries read per run.
const DELIVERY_PAGES: usize = 5;

const ACTOR: &str = "github:reconcile";

/// How much a reconciliation reads again of what the database remembers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// The scheduled and start-up runs: a repository's settings file is read again only when
    /// its remembered reading (or absence) is due for the slow safety re-read
    /// ([`crate::service::config_due`]); pushes to the default branch that change it
    /// are read as they come.
    Quiet,
    /// Every settings file is read again (an installation that changed, or one asked for).
    Full,
}

/// The start-up runs, then the schedules, until the process stops.
pub async fn run(github: Arc<Github>) {
    load_etags(&github).await;
    if let Err(e) = reconcile_all(&github, Depth::Quiet).await {
        tracing::warn!(error = %format!("{e:#}"), "start-up reconciliation failed; the schedule will retry");
    }
    if let Err(e) = redeliver_failed(&github).await {
        tracing::warn!(error = %format!("{e:#}"), "looking for failed deliveries failed; the schedule will retry");
    }
    github.inbox_wake.notify_one();
    github.outbox_wake.notify_one();
    github.mark_started();
    // The two jobs keep their own time: a reconciliation spread over its period never holds up
    // the search for failed deliveries.
    tokio::join!(
        scheduled(&github, Job::Reconcile),
        scheduled(&github, Job::Redeliver)
    );
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Job {
    Reconcile,
    Redeliver,
}

impl Job {
    fn name(self) -> &'static str {
        match self {
            Job::Reconcile => "reconcile",
            Job::Redeliver => "redeliver",
        }
    }
}

/// Runs one job at each time of its schedule, once across replicas (the slot is claimed in the
/// database), until the process stops.
async fn scheduled(github: &Github, job: Job) {
    let schedule = match job {
        Job::Reconcile => &github.reconcile_schedule,
        Job::Redeliver => &github.redeliver_schedule,
    };
    let name = job.name();
    loop {
        let Some(at) = schedule.after(&Utc::now()).next() else {
            return;
        };
        let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::time::sleep(wait).await;
        if github.stopping.load(Ordering::SeqCst) {
            return;
        }
        let slot = at.timestamp_millis();
        match github
            .store
            .job_slots()
            .claim(name, slot, &github.runner)
            .await
        {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(job = name, error = %e, "cannot claim a job slot");
                continue;
            }
        }
        let span = tracing::info_span!("job", job = name, slot);
        let outcome = async {
            match job {
                Job::Reconcile => {
                    // The installations start at their own times over most of the period, so
                    // that no installation's hour (nor the App's) is spent in one burst.
                    let period = schedule
                        .after(&at)
                        .next()
                        .and_then(|next| (next - at).to_std().ok())
                        .unwrap_or(Duration::from_secs(900));
                    let spread = Spread {
                        start: tokio::time::Instant::now(),
                        window: period * SPREAD_SHARE_PERCENT / 100,
                    };
                    reconcile_spread(github, Depth::Quiet, Some(spread))
                        .await
                        .map(|()| "ok".to_string())
                }
                Job::Redeliver => redeliver_failed(github)
                    .await
                    .map(|n| format!("ok: {n} redelivered")),
            }
        }
        .instrument(span)
        .await;
        let text = match &outcome {
            Ok(text) => text.clone(),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "scheduled job failed");
                format!("failed: {e:#}")
            }
        };
        if let Err(e) = github.store.job_slots().finish(name, slot, &text).await {
            tracing::warn!(job = name, error = %e, "cannot record a job slot");
        }
        github.inbox_wake.notify_one();
        github.outbox_wake.notify_one();
    }
}

/// A scheduled reconciliation spreads the installations' start over this share of its period.
const SPREAD_SHARE_PERCENT: u32 = 75;

/// A reconciliation of one installation stops reading further repositories once it made this
/// many requests counted against the installation's hourly 5,000 (a tenth of it): the rest
/// waits for the next run.
pub const MAX_COUNTED_PER_RUN: u64 = 500;

/// … or once GitHub says fewer than this many requests are left of the installation's hour:
/// webhooks' reads and the comments keep a fifth of it.
pub const RESERVE_REMAINING: i64 = 1_000;

/// Installations reconciled at the same time by one process.
pub const RECONCILE_PARALLEL: usize = 16;

/// When a spread reconciliation started, and over how long its installations start.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    pub start: tokio::time::Instant,
    pub window: Duration,
}

/// Where in a window of `window` the reconciliation of `installation` starts: the same place
/// every period (so each installation is reconciled once a period, evenly apart), and the
/// installations evenly over the window (a fixed mix of the id, not its order).
pub fn offset_in(installation: i64, window: Duration) -> Duration {
    let millis = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        return Duration::ZERO;
    }
    // splitmix64's finaliser: consecutive ids land far apart.
    let mut z = (installation as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    Duration::from_millis(z % millis)
}

/// Waits until `at`; false when the process began to stop meanwhile.
async fn wait_until(github: &Github, at: tokio::time::Instant) -> bool {
    loop {
        if github.stopping.load(Ordering::SeqCst) {
            return false;
        }
        let now = tokio::time::Instant::now();
        if now >= at {
            return true;
        }
        tokio::time::sleep((at - now).min(Duration::from_millis(250))).await;
    }
}

/// GitHub's last answers to conditional requests, as the database remembers them: the first
/// reconciliation of this process is answered `304` where nothing changed.
async fn load_etags(github: &Github) {
    match github
        .store
        .known_answers()
        .etags(crate::conditional::MAX_ENTRIES)
        .await
    {
        Ok(rows) => github.app.etags().load(rows.into_iter().map(|r| {
            let stored = crate::conditional::Stored {
                etag: r.etag,
                body: r.body,
                next: r.next_page,
            };
            (r.path, stored)
        })),
        Err(e) => tracing::warn!(error = %e, "cannot read the remembered answers of GitHub"),
    }
}

/// Saves the answers of GitHub read since the last save (see [`load_etags`]).
async fn save_etags(github: &Github) {
    let rows: Vec<EtagRow> = github
        .app
        .etags()
        .take_changed()
        .into_iter()
        .map(|(path, stored)| EtagRow {
            path,
            etag: stored.etag,
            body: stored.body,
            next_page: stored.next,
        })
        .collect();
    if let Err(e) = github.store.known_answers().save_etags(&rows).await {
        tracing::warn!(error = %e, "cannot save GitHub's answers; a restart reads them again");
    }
}

/// Reconciles every installation now (start-up, an operator's request).
pub async fn reconcile_all(github: &Github, depth: Depth) -> anyhow::Result<()> {
    reconcile_spread(github, depth, None).await
}

/// Reconciles every installation, at most [`RECONCILE_PARALLEL`] at a time, each starting at
/// its place in `spread` when given.
pub async fn reconcile_spread(
    github: &Github,
    depth: Depth,
    spread: Option<Spread>,
) -> anyhow::Result<()> {
    // A run of now is one at a time with the other runs of now; a spread run takes no lock: it
    // lasts most of its period, and an installation's own reconciliation (a delivery's) must
    // not wait for it.
    let _one_at_a_time = match spread {
        None => Some(github.reconcile_lock.lock().await),
        Some(_) => None,
    };
    // A run of now is busy throughout; a spread one only while it reads (not while it waits).
    let _busy_throughout = spread.is_none().then(|| github.busy());
    let result = {
        let _busy = github.busy();
        list_installations(github).await
    };
    let result = match result {
        Ok(installations) => each_installation(github, depth, spread, installations).await,
        Err(e) => Err(e),
    };
    save_etags(github).await;
    result
}

/// The App's installations as GitHub lists them now (recorded; those gone leave), or the known
/// ones when GitHub cannot say.
async fn list_installations(github: &Github) -> anyhow::Result<Vec<i64>> {
    match api::installations(&github.app, github.max_pages).await {
        Ok(listing) => {
            let listed = &listing.items;
            let known = github.store.installations().all().await?;
            let mut tx = github.store.begin().await?;
            for i in listed {
                tx.installations()
                    .upsert(i.id, &i.account, i.suspended)
                    .await?;
            }
            // A truncated listing says nothing about the installations it lacks.
            let complete = !listing.truncated;
            for gone in known
                .iter()
                .filter(|k| complete && !listed.iter().any(|i| i.id == k.id))
            {
                for repo in tx.installations().delete(gone.id).await? {
                    sync::leave_repo(&mut tx, &repo, ACTOR).await?;
                }
            }
            tx.commit().await?;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the App's installations; using the known ones")
        }
    }
    let installations = github.store.installations().all().await?;
    // Accounts whose age GitHub did not give yet are asked again (any installation may ask).
    if let Some(first) = installations.iter().find(|i| !i.suspended)
        && let Err(e) = accounts::read_unknown_accounts(github, first.id).await
    {
        tracing::warn!(error = %e, "cannot ask for unknown account ages");
    }
    Ok(installations
        .into_iter()
        .filter(|i| !i.suspended)
        .map(|i| i.id)
        .collect())
}

async fn each_installation(
    github: &Github,
    depth: Depth,
    spread: Option<Spread>,
    installations: Vec<i64>,
) -> anyhow::Result<()> {
    let mut order: Vec<(Duration, i64)> = installations
        .into_iter()
        .map(|id| {
            (
                spread.map_or(Duration::ZERO, |s| offset_in(id, s.window)),
                id,
            )
        })
        .collect();
    order.sort_unstable();
    let errors: Vec<anyhow::Error> = futures_util::stream::iter(order)
        .map(|(offset, installation)| async move {
            if let Some(s) = spread
                && !wait_until(github, s.start + offset).await
            {
                return None;
            }
            let _busy = github.busy();
            let started = tokio::time::Instant::now();
            let (result, cost) = api::costed(installation_inner(github, installation, depth)).await;
            crate::observe::report(|o| o.reconcile_cost(cost.counted, cost.not_modified));
            tracing::debug!(
                installation,
                ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                counted = cost.counted,
                not_modified = cost.not_modified,
                "installation reconciled"
            );
            result.err().map(|e| {
                tracing::warn!(installation, error = %format!("{e:#}"), "reconciling an installation failed");
                e
            })
        })
        .buffer_unordered(RECONCILE_PARALLEL)
        .filter_map(std::future::ready)
        .collect()
        .await;
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Reconciles one installation (its repositories, then each of them).
pub async fn reconcile_installation(github: &Github, installation: i64) -> anyhow::Result<()> {
    let _one_at_a_time = github.reconcile_lock.lock().await;
    installation_inner(github, installation, Depth::Full).await
}

/// Reconciles one repository of an installation.
pub async fn reconcile_repo(github: &Github, installation: i64, repo: &str) -> anyhow::Result<()> {
    let _one_at_a_time = github.reconcile_lock.lock().await;
    let client = api::installation(&github.app, installation).await?;
    repo_inner(github, installation, repo, &client, Depth::Full).await
}

async fn installation_inner(
    github: &Github,
    installation: i64,
    depth: Depth,
) -> anyhow::Result<()> {
    let client = api::installation(&github.app, installation)
        .await
        .with_context(|| format!("installation {installation}"))?;
    let listing =
        api::installation_repos(&client, Some(github.app.etags()), github.max_pages).await?;
    let listed = &listing.items;
    let known = github
        .store
        .installations()
        .repos(Some(installation))
        .await?;
    let mut tx = github.store.begin().await?;
    for repo in listed {
        let id = i64::try_from(repo.id).ok();
        sync::join_repo(
            &mut tx,
            &repo.full_name,
            id,
            repo.private,
            installation,
            ACTOR,
        )
        .await?;
    }
    // A repository is the same one when its id is (renamed or transferred: `join_repo` renamed
    // it above); only those GitHub no longer lists leave, and a truncated listing says nothing
    // about the repositories it lacks: then none leaves.
    let complete = !listing.truncated;
    for gone in known.iter().filter(|k| {
        complete
            && !listed.iter().any(|r| {
                r.full_name == k.repo || k.github_id.is_some_and(|id| i64::try_from(r.id) == Ok(id))
            })
    }) {
        sync::leave_repo(&mut tx, &gone.repo, ACTOR).await?;
    }
    tx.commit().await?;
    let mut first_error = None;
    // In GitHub's order; where the budget stopped the last run early, the next starts at the
    // repository it did not reach, so every repository has its turn.
    let resume = resume_at(github, installation, None);
    let start = resume
        .and_then(|name| listed.iter().position(|r| r.full_name == name))
        .unwrap_or(0);
    for repo in listed.iter().cycle().skip(start).take(listed.len()) {
        let cost = api::cost_so_far();
        if cost.counted >= MAX_COUNTED_PER_RUN
            || cost.remaining.is_some_and(|r| r < RESERVE_REMAINING)
        {
            tracing::warn!(
                installation,
                counted = cost.counted,
                remaining = ?cost.remaining,
                "reconciliation used its share of the installation's hour; its other repositories wait for the next run"
            );
            crate::observe::report(|o| o.reconcile_deferred());
            resume_at(github, installation, Some(repo.full_name.clone()));
            break;
        }
        if let Err(e) = repo_inner(github, installation, &repo.full_name, &client, depth).await {
            tracing::warn!(repo = %repo.full_name, error = %format!("{e:#}"), "reconciling a repository failed");
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Where the next reconciliation of `installation` starts: takes what was remembered, and
/// remembers `next` (a run stopped early) in its place.
fn resume_at(github: &Github, installation: i64, next: Option<String>) -> Option<String> {
    let mut resume = github
        .reconcile_resume
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match next {
        Some(name) => resume.insert(installation, name),
        None => resume.remove(&installation),
    }
}

/// What GitHub says about a repository, read before anything is changed.
struct Snapshot {
    ready_issues: Vec<Issue>,
    /// Issues of tasks that are no longer in the ready list (closed, unlabelled, or gone).
    left_issues: Vec<Result<Issue, u64>>,
    /// Issues of tasks that GitHub moved to another repository: the number here, and where
    /// they are now.
    moved_issues: Vec<(u64, Option<String>, u64)>,
    open_pulls: Vec<PullRequest>,
    /// Linked pull requests that are no longer open.
    closed_pulls: Vec<PullRequest>,
}

async fn repo_inner(
    github: &Github,
    installation: i64,
    repo: &str,
    client: &Octocrab,
    depth: Depth,
) -> anyhow::Result<()> {
    let span = tracing::info_span!("reconcile", repo);
    repo_in_span(github, installation, repo, client, depth)
        .instrument(span)
        .await
}

async fn repo_in_span(
    github: &Github,
    installation: i64,
    repo: &str,
    client: &Octocrab,
    depth: Depth,
) -> anyhow::Result<()> {
    let settings = match depth {
        Depth::Full => github.refresh_config(repo, true).await?,
        Depth::Quiet => github.refresh_config_if_due(repo).await?,
    };
    let snapshot = read_repo(github, client, repo, &settings.config.labels.ready).await?;
    let mut maintainer_pulls = HashSet::new();
    for pr in &snapshot.open_pulls {
        if sync::pr_author_is_maintainer(github, installation, repo, pr).await? {
            maintainer_pulls.insert(pr.number);
        }
    }
    let mut blockers = Vec::with_capacity(snapshot.ready_issues.len());
    for issue in &snapshot.ready_issues {
        blockers.push(
            sync::read_blockers(github, installation, Some(client), repo, issue, &settings)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    // The commits GitHub did not say were verified are asked again (unknown is never ready).
    let commits = commits::asked_again(github, client, repo).await?;
    let mut tx = github.store.begin().await?;
    // What it corrects may free or take path locks: the tasks waiting on them are told.
    let paths = tx.paths().watch(repo).await?;
    for (issue, blockers) in snapshot.ready_issues.iter().zip(&blockers) {
        if let Some(task) =
            sync::sync_issue(&mut tx, installation, repo, issue, &settings, false, ACTOR).await?
        {
            sync::apply_blockers(&mut tx, &task, blockers, ACTOR).await?;
        }
    }
    for issue in snapshot.left_issues.iter().filter_map(|i| i.as_ref().ok()) {
        sync::sync_issue(&mut tx, installation, repo, issue, &settings, false, ACTOR).await?;
        // A closed issue of this repository no longer holds what it blocks.
        tx.external_blockers()
            .state(&format!("{repo}#{}", issue.number), issue.open, ACTOR)
            .await?;
    }
    for (number, to_repo, to_number) in &snapshot.moved_issues {
        let to = identity::MovedTo {
            repo: to_repo.as_deref(),
            repo_id: None,
            number: i64::try_from(*to_number).ok(),
        };
        let number = i64::try_from(*number).unwrap_or_default();
        identity::issue_moved(&mut tx, repo, number, to, ACTOR).await?;
    }
    for number in snapshot.left_issues.iter().filter_map(|i| i.as_ref().err()) {
        // The issue is gone (deleted or moved): its task leaves the pool.
        if let Some(task) = tx.tasks().by_key(repo, &format!("{repo}#{number}")).await?
            && !matches!(task.status, TaskStatus::Merged | TaskStatus::Cancelled)
        {
            let mv = Move {
                reason: Some("the issue no longer exists".into()),
                ..Move::to(TaskStatus::Cancelled, LeaseEnd::Admin)
            };
            tx.leases().apply_move(&task, &mv, ACTOR).await?;
        }
    }
    for pr in snapshot.open_pulls.iter().chain(&snapshot.closed_pulls) {
        let maintainer = maintainer_pulls.contains(&pr.number);
        sync::sync_pull(&mut tx, repo, pr, false, maintainer, None, ACTOR).await?;
    }
    for (task_id, shown) in commits {
        tx.pr_checks()
            .set_task_commits(&task_id, Some(shown), ACTOR)
            .await?;
    }
    tx.paths().watched(paths, ACTOR).await?;
    if let Some((before, after)) = tx.installations().recount_repo(repo).await? {
        tracing::warn!(
            ?before,
            ?after,
            "the repository's live figures had drifted; corrected"
        );
        tx.event(
            NewEvent::new("repo.recounted", ACTOR)
                .repo(repo)
                .data(json!({
                    "open_prs": {"from": before.0, "to": after.0},
                    "active_leases": {"from": before.1, "to": after.1},
                })),
        );
    }
    tx.commit().await?;
    tracing::debug!(
        ready = snapshot.ready_issues.len(),
        open_pulls = snapshot.open_pulls.len(),
        "repository reconciled"
    );
    Ok(())
}

async fn read_repo(
    github: &Github,
    client: &Octocrab,
    repo: &str,
    ready_label: &str,
) -> anyhow::Result<Snapshot> {
    let etags = github.app.etags();
    let ready_issues = api::open_issues_with_label(client, etags, repo, ready_label).await?;
    let listed: HashSet<u64> = ready_issues.iter().map(|i| i.number).collect();
    let mut left_issues = Vec::new();
    let mut moved_issues = Vec::new();
    for gh_task in github.store.issues().tasks_of_repo(repo).await? {
        let number = u64::try_from(gh_task.issue_number).unwrap_or_default();
        if listed.contains(&number) {
            continue;
        }
        let Some(task) = github.store.tasks().get(&gh_task.task_id).await? else {
            continue;
        };
        let in_pool = matches!(
            task.status,
            TaskStatus::Ready | TaskStatus::Blocked | TaskStatus::Leased | TaskStatus::InProgress
        ) || (task.status == TaskStatus::PrOpened && gh_task.left_pool.is_none());
        if !in_pool {
            continue;
        }
        match api::issue_where(client, repo, gh_task.issue_number).await {
            Ok(IssueRead::Here(issue)) => left_issues.push(Ok(issue)),
            Ok(IssueRead::Moved {
                repo: to_repo,
                number: to_number,
            }) => moved_issues.push((number, to_repo, to_number)),
            Err(CallError::Permanent {
                status: 404 | 410, ..
            }) => left_issues.push(Err(number)),
            Err(e) => return Err(e.into()),
        }
    }
    let open_pulls = api::open_pulls(client, etags, repo).await?;
    let open: HashSet<u64> = open_pulls.iter().map(|p| p.number).collect();
    let mut closed_pulls = Vec::new();
    let mut seen = HashSet::new();
    for link in github.store.pulls().open_links_of_repo(repo).await? {
        let number = u64::try_from(link.pr_number).unwrap_or_default();
        if link.repo != repo || open.contains(&number) || !seen.insert(number) {
            continue;
        }
        match api::pull(client, repo, link.pr_number).await {
            Ok(pr) => closed_pulls.push(pr),
            Err(CallError::Permanent {
                status: 404 | 410, ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Snapshot {
        ready_issues,
        left_issues,
        moved_issues,
        open_pulls,
        closed_pulls,
    })
}

/// Asks GitHub to send again the deliveries of the last three days that failed and that the
/// inbox does not have; returns how many were asked for.
pub async fn redeliver_failed(github: &Github) -> anyhow::Result<usize> {
    let _busy = github.busy();
    let deliveries = api::deliveries(&github.app, DELIVERY_PAGES).await?;
    let cutoff = crate::store::now_ms() - REDELIVERY_WINDOW_MS;
    let delivered: HashSet<&str> = deliveries
        .iter()
        .filter(|d| d.succeeded())
        .map(|d| d.guid.as_str())
        .collect();
    let mut asked: HashSet<&str> = HashSet::new();
    for d in &deliveries {
        let used = d
            .event
            .as_deref()
            .is_none_or(|e| STORED_EVENTS.contains(&e));
        let recent = d
            .delivered_at
            .is_none_or(|t| t.timestamp_millis() >= cutoff);
        if d.succeeded() || !used || !recent || delivered.contains(d.guid.as_str()) {
            continue;
        }
        if asked.contains(d.guid.as_str())
            || github.store.inbox().known(&d.guid).await?
            || github.store.inbox().redelivery_requested(&d.guid).await?
        {
            continue;
        }
        match api::redeliver(&github.app, d.id).await {
            Ok(()) => {
                tracing::info!(guid = %d.guid, event = ?d.event, "asked GitHub to redeliver a failed delivery");
                github
                    .store
                    .inbox()
                    .record_redelivery(&d.guid, d.id)
                    .await?;
                asked.insert(d.guid.as_str());
            }
            Err(e) => tracing::warn!(guid = %d.guid, error = %e, "GitHub refused to redeliver"),
        }
    }
    Ok(asked.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn every_shipped_cron_expression_parses() {
        for expr in DEFAULT_SCHEDULES {
            let schedule = cron::Schedule::from_str(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
            assert!(
                schedule.upcoming(Utc).next().is_some(),
                "{expr} never fires"
            );
        }
    }

    #[test]
    fn installations_start_evenly_over_the_window_and_always_at_the_same_place() {
        let window = Duration::from_secs(675);
        let mut tenths = [0u32; 10];
        for id in 1..=10_000i64 {
            let offset = offset_in(id, window);
            assert!(offset < window);
            assert_eq!(offset, offset_in(id, window), "installation {id} moved");
            tenths[(offset.as_millis() * 10 / window.as_millis()) as usize] += 1;
        }
        // Consecutive ids (as GitHub numbers installations) land in every tenth alike.
        for (tenth, n) in tenths.iter().enumerate() {
            assert!((900..=1100).contains(n), "tenth {tenth}: {n} of 10,000");
        }
        assert_eq!(offset_in(7, Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn five_field_crontab_lines_are_refused() {
        assert!(cron::Schedule::from_str("*/15 * * * *").is_err());
    }
}
