//! The comment sender: writes what the outbox asks for, and never the same comment twice.
//!
//! - Installations go side by side, each one write at a time: a round claims the rows due now,
//!   at most one per installation and none of an installation with a row being sent (here or by
//!   another replica), and sends each in a task of its own (a lane), at most
//!   [`DEFAULT_CONCURRENCY`] (`OWP_GITHUB_OUTBOX_CONCURRENCY`) at once. A lane ending, a commit
//!   or a row coming due starts the next round, so one installation's slow answer, pause or
//!   used-up budget holds back none of the others.
//! - Rows are claimed with a conditional update, so with several replicas exactly one process
//!   sends each; an older pending row about the same issue goes first. A process that dies
//!   mid-write leaves its rows claimed until the claim runs out ([`CLAIM_MS`]); another sends
//!   them then.
//! - A status comment is rendered when it is sent, from the task as it is then, so pending edits
//!   of one status comment collapse into one request (and none when the text did not change).
//!   It is found again by its hidden marker when its id is not known.
//! - A new comment carries a hidden marker with the row's id. When a row is tried again (the
//!   process may have stopped between GitHub's answer and recording it), the issue's comments
//!   are searched for that marker first, so a comment is never posted twice.
//! - Failures: server errors and the network are retried with a growing delay; `Retry-After` and
//!   an exhausted rate limit pause the whole installation until GitHub says; a secondary limit
//!   named without a time pauses it a minute, doubling while it repeats (never failing the row);
//!   refusals (the issue is gone) mark the row failed.
//! - Pacing: content-creating requests stay under
//!   [`WRITES_PER_MINUTE`](crate::store::github::write_pacing::WRITES_PER_MINUTE) and
//!   [`WRITES_PER_HOUR`](crate::store::github::write_pacing::WRITES_PER_HOUR) per installation,
//!   about a second apart and one in flight at a time
//!   ([`WritePacing`](crate::store::github::write_pacing::WritePacing)), counted in the database
//!   across replicas. The claim that takes a row takes its write's turn in the same transaction:
//!   a row that would have to wait longer than that second is given back untried (nothing is
//!   read for it, and the wait does not count as an attempt); a row within the second gets the
//!   turn at its end, is read for meanwhile and sent then, so an installation's writes go a
//!   second apart. The transaction that ends the row settles its turn: counted from GitHub's
//!   answer, or taken back when nothing was written.

use std::sync::Arc;
use std::time::Duration;

use octocrab::Octocrab;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::api::{self, Answer, CallError};
use crate::domain::disclosure::{Disclosure, DisclosurePolicy};
use crate::domain::markers;
use crate::domain::proposals::ProposalState;
use crate::domain::{RepoContract, TaskStatus, VerifiedCommits};
use crate::messages::proposals::ShownProposal;
use crate::messages::{self, Budget, Commits, Holder, StatusView};
use crate::service::Github;
use crate::store::StoreError;
use crate::store::github::issues::GhTask;
use crate::store::github::outbox::{OutboxKind, OutboxRow};
use crate::store::proposals::Viewer;
use crate::store::rows::TaskRow;
use crate::waits;

/// How long a claimed row is reserved for the process sending it, unless configured (tests).
pub const CLAIM_MS: i64 = 60_000;

/// The first pause after a secondary rate limit without `Retry-After` (GitHub: at least a minute).
pub const LIMIT_WAIT_MS: i64 = 60_000;

/// The longest pause a repeated secondary rate limit grows to.
pub const LIMIT_WAIT_CAP_MS: i64 = 30 * 60_000;

/// Installations one process writes to at once, unless configured
/// (`OWP_GITHUB_OUTBOX_CONCURRENCY`): enough for about a thousand busy installations, each
/// writing at most once a second and GitHub answering a write in a fifth of one.
pub const DEFAULT_CONCURRENCY: usize = 200;

/// Failed attempts (server errors, network) before a row is given up.
pub const MAX_ATTEMPTS: i64 = 25;

/// Read connections of the comment sender's own (SQLite): rendering a status comment reads a
/// dozen rows, and the deliveries being applied keep the store's read connections.
pub const READ_CONNECTIONS: u32 = 2;

/// The longest pause between polls when nothing wakes the sender.
const IDLE_POLL: Duration = Duration::from_millis(1000);

/// The pause while rows are due but none can be taken (their installations are being written
/// to, or an older row of their issue waits): a write of this process ending wakes the sender
/// sooner.
const BUSY_POLL: Duration = Duration::from_millis(100);

/// The least wait for an installation's pace a lane waits out holding its row (see
/// [`held_wait_ms`]).
const SHORT_WAIT_MS: i64 = 50;

/// The longest wait for an installation's pace a lane waits out holding its row: GitHub's
/// second between two writes (a longer wait, a used-up budget or GitHub's own pause, gives the
/// row back, and nothing is read for it), and at most a quarter of the row's claim, so that a
/// few such waits never outlast the claim.
fn held_wait_ms(github: &Github) -> i64 {
    github
        .pacing
        .spacing_ms
        .min(github.outbox_claim_ms / 4)
        .max(SHORT_WAIT_MS)
}

/// Sends outbox rows until the process stops: each claimed row in a task of its own (a lane),
/// at most `Github::outbox_concurrency` at once.
pub async fn run(github: Arc<Github>) {
    let mut lanes = JoinSet::new();
    loop {
        let woken = github.outbox_wake.notified();
        let changed = github.outbox_store.changed.notified();
        while let Some(ended) = lanes.try_join_next() {
            lane_ended(ended);
        }
        let room = github.outbox_concurrency.saturating_sub(lanes.len());
        if room > 0 {
            match dispatch(&github, &mut lanes, room).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "comment outbox: cannot read the next rows"),
            }
        }
        if let Ok((_, backlog)) = github.outbox_store.github_backlog().counts().await {
            crate::observe::report(|o| o.outbox_backlog(u64::try_from(backlog).unwrap_or(0)));
        }
        let pause = match github.outbox_store.github_backlog().next_due().await {
            Ok(Some(at)) => {
                let wait = at - crate::store::now_ms();
                if wait <= 0 {
                    BUSY_POLL
                } else {
                    Duration::from_millis(u64::try_from(wait.min(1000)).unwrap_or(1000))
                }
            }
            _ => IDLE_POLL,
        };
        tokio::select! {
            _ = woken => {}
            _ = changed => {}
            Some(ended) = lanes.join_next(), if !lanes.is_empty() => lane_ended(ended),
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

fn lane_ended(ended: Result<(), tokio::task::JoinError>) {
    if let Err(e) = ended {
        // Its row stays claimed until the claim runs out, then is sent again.
        tracing::error!(error = %e, "comment outbox: a write ended abruptly");
    }
}

/// Claims the rows due now, at most `room` and one per installation, and starts a lane for
/// each; returns how many.
async fn dispatch(
    github: &Arc<Github>,
    lanes: &mut JoinSet<()>,
    room: usize,
) -> Result<usize, StoreError> {
    if github.stopping.load(std::sync::atomic::Ordering::SeqCst) {
        return Ok(0);
    }
    let _busy = github.busy();
    let started = std::time::Instant::now();
    github.yield_to_webhooks().await;
    let now = crate::store::now_ms();
    let rows = github
        .outbox_store
        .outbox()
        .claim(
            &github.runner,
            now,
            now + github.outbox_claim_ms,
            i64::try_from(room).unwrap_or(i64::MAX),
            &github.pacing,
            held_wait_ms(github),
        )
        .await;
    crate::observe::report(|o| o.waited(waits::OUTBOX_CLAIM, started.elapsed()));
    let rows = rows?;
    let n = rows.len();
    for row in rows {
        let span = tracing::info_span!(
            "outbox",
            id = row.id,
            kind = row.kind.as_str(),
            installation = row.installation_id,
            repo = %row.repo,
            number = row.issue_number,
            attempt = row.attempts,
        );
        let busy = github.busy_owned();
        let github = Arc::clone(github);
        lanes.spawn(
            async move {
                let _busy = busy;
                let started = std::time::Instant::now();
                let sent = send(&github, &row).await;
                crate::observe::report(|o| o.waited(waits::OUTBOX_SEND, started.elapsed()));
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "comment outbox: the database failed while writing");
                }
            }
            .instrument(span),
        );
    }
    Ok(n)
}

async fn send(github: &Github, row: &OutboxRow) -> Result<(), StoreError> {
    // The claim reserved the row's write in its installation's pace (a row whose write would
    // have waited longer than a lane holds a row was given back, and nothing is read for it);
    // `sent` says when the write went out, and the transaction that ends the row settles it.
    let mut sent = None;
    let client = match api::installation(&github.app, row.installation_id).await {
        Ok(client) => client,
        Err(e) => return failed_attempt(github, row, e, sent).await,
    };
    let result = match row.kind {
        OutboxKind::Status => send_status(github, &client, row, &mut sent).await,
        OutboxKind::Comment => send_comment(github, &client, row, &mut sent).await,
        OutboxKind::Reaction => send_reaction(github, &client, row, &mut sent).await,
    };
    let store = &github.outbox_store;
    let marked = match result {
        Ok(Sent::Done(github_id)) => {
            store
                .outbox()
                .sent(row, &github.runner, github_id, sent)
                .await?
        }
        Ok(Sent::Status { task_id, id, body }) => {
            store
                .outbox()
                .status_sent(row, &github.runner, task_id, id, &body, sent)
                .await?
        }
        Err(Failure::Call(e)) => return failed_attempt(github, row, e, sent).await,
        Err(Failure::Store(e)) => {
            // Give the row back; the database hiccup is reported by the caller.
            let again = crate::store::now_ms() + 1000;
            let _ = store
                .outbox()
                .retry(row, &github.runner, again, None, sent)
                .await;
            return Err(e);
        }
    };
    if !marked {
        tracing::debug!("the task changed while its status was written; writing again");
    }
    Ok(())
}

/// What a send attempt did.
enum Sent<'a> {
    /// Done; GitHub's id of what was written, if anything was.
    Done(Option<i64>),
    /// A task's status comment `id` was written with `body`: it is remembered in the
    /// transaction that marks the row sent.
    Status {
        task_id: &'a str,
        id: i64,
        body: String,
    },
}

enum Failure {
    Call(CallError),
    Store(StoreError),
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        Failure::Call(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

async fn failed_attempt(
    github: &Github,
    row: &OutboxRow,
    error: CallError,
    sent: Option<i64>,
) -> Result<(), StoreError> {
    let now = crate::store::now_ms();
    let store = &github.outbox_store;
    match &error {
        CallError::Wait { until } => {
            tracing::warn!(until = %crate::store::format_ts(*until), "GitHub asked to wait; the installation pauses");
            store.pacing().block(row.installation_id, *until).await?;
            store
                .outbox()
                .retry(row, &github.runner, *until, Some(&error.to_string()), sent)
                .await
        }
        CallError::Limited => {
            let until = store
                .pacing()
                .back_off(
                    row.installation_id,
                    github.limit_wait_ms,
                    LIMIT_WAIT_CAP_MS.max(github.limit_wait_ms),
                )
                .await?;
            tracing::warn!(until = %crate::store::format_ts(until), "GitHub named a secondary rate limit; the installation backs off");
            crate::observe::report(|o| o.secondary_limit());
            store
                .outbox()
                .retry(row, &github.runner, until, Some(&error.to_string()), sent)
                .await
        }
        e if e.is_transient() && row.attempts < MAX_ATTEMPTS => {
            let at = now + backoff_ms(row.attempts);
            tracing::warn!(error = %error, "writing to GitHub failed; it will be tried again");
            store
                .outbox()
                .retry(row, &github.runner, at, Some(&error.to_string()), sent)
                .await
        }
        _ => {
            tracing::error!(error = %error, "writing to GitHub failed for good");
            store
                .outbox()
                .failed(row, &github.runner, &error.to_string(), sent)
                .await
        }
    }
}

/// Delay after `attempts` failed attempts: 0.5 s, 1 s, 2 s, … up to 10 minutes, with jitter.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 30) - 1)
        .unwrap_or(0)
        .min(12);
    let base = (500i64 << exp).min(600_000);
    base + i64::from(rand::random::<u8>()) * base / 1024
}

/// Sends `call` (a request that does nothing until awaited) at the time its row's claim
/// reserved for it in the installation's pace ([`OutboxRow::write_at`]), noting in `sent` when
/// it went out; the transaction that ends the row counts the write from GitHub's answer
/// ([`InstallationPacingTx::settled`]).
///
/// [`InstallationPacingTx::settled`]: owp_store::github::write_pacing::InstallationPacingTx::settled
async fn paced<T>(
    row: &OutboxRow,
    sent: &mut Option<i64>,
    call: impl std::future::Future<Output = Result<T, CallError>>,
) -> Result<T, CallError> {
    let wait = row.write_at - crate::store::now_ms();
    if wait > 0 {
        let pause = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
        waits::timed(waits::OUTBOX_PACE, tokio::time::sleep(pause)).await;
    }
    *sent = Some(crate::store::now_ms());
    waits::timed(waits::OUTBOX_GITHUB, call).await
}

/// A successful answer may say the rate limit is used up: pause the installation until it resets.
async fn note_limits(github: &Github, row: &OutboxRow, answer: &Answer) -> Result<(), StoreError> {
    if let Some(until) = answer.exhausted_until {
        github
            .outbox_store
            .pacing()
            .block(row.installation_id, until)
            .await?;
    }
    Ok(())
}

async fn send_comment(
    github: &Github,
    client: &Octocrab,
    row: &OutboxRow,
    sent: &mut Option<i64>,
) -> Result<Sent<'static>, Failure> {
    if row.attempts > 1 {
        // An earlier attempt may have been answered without being recorded.
        let comments = api::issue_comments(client, &row.repo, row.issue_number).await?;
        if let Some(found) = comments
            .iter()
            .find(|c| c.by_bot && markers::find_comment_marker(&c.body) == Some(row.uid.as_str()))
        {
            tracing::info!(
                comment = found.id,
                "the comment was already posted; not posting it again"
            );
            return Ok(Sent::Done(Some(found.id)));
        }
    }
    let body = messages::with_comment_marker(&row.body, &row.uid);
    let call = api::create_comment(client, &row.repo, row.issue_number, &body);
    let (id, answer) = paced(row, sent, call).await?;
    note_limits(github, row, &answer).await?;
    tracing::info!(comment = id, "comment posted");
    Ok(Sent::Done(Some(id)))
}

async fn send_reaction(
    github: &Github,
    client: &Octocrab,
    row: &OutboxRow,
    sent: &mut Option<i64>,
) -> Result<Sent<'static>, Failure> {
    let Some(comment_id) = row.comment_id else {
        return Ok(Sent::Done(None));
    };
    // GitHub keeps one reaction of a kind per account, so sending it again changes nothing.
    let call = api::react(client, &row.repo, comment_id, &row.body);
    let (id, answer) = paced(row, sent, call).await?;
    note_limits(github, row, &answer).await?;
    Ok(Sent::Done(Some(id)))
}

async fn send_status<'a>(
    github: &Github,
    client: &Octocrab,
    row: &'a OutboxRow,
    sent: &mut Option<i64>,
) -> Result<Sent<'a>, Failure> {
    let Some(task_id) = row.task_id.as_deref() else {
        return Ok(Sent::Done(None));
    };
    let Some((view, gh_task)) = status_view(github, task_id).await? else {
        return Ok(Sent::Done(None));
    };
    let body = messages::status_comment(&view);
    let mut known = gh_task.status_comment_id;
    let mut current = gh_task.status_body.clone();
    if known.is_none() {
        // Written before (by an earlier attempt, or before the database was restored)?
        let listed = api::issue_comments(client, &row.repo, row.issue_number);
        let comments = waits::timed(waits::OUTBOX_GITHUB, listed).await?;
        if let Some(found) = comments
            .iter()
            .find(|c| c.by_bot && markers::find_status_marker(&c.body) == Some(task_id))
        {
            known = Some(found.id);
            current = Some(found.body.clone());
            github
                .outbox_store
                .issues()
                .set_status_comment(task_id, known, current.as_deref())
                .await?;
        }
    }
    match known {
        Some(id) if current.as_deref() == Some(body.as_str()) => Ok(Sent::Done(Some(id))),
        Some(id) => {
            let answer = paced(row, sent, api::update_comment(client, &row.repo, id, &body)).await;
            match answer {
                Ok(answer) => {
                    note_limits(github, row, &answer).await?;
                    Ok(Sent::Status { task_id, id, body })
                }
                Err(CallError::Permanent { status: 404, .. }) => {
                    // Someone deleted it: the next attempt writes a new one.
                    github
                        .outbox_store
                        .issues()
                        .set_status_comment(task_id, None, None)
                        .await?;
                    Err(Failure::Call(CallError::Transient(
                        "the status comment was deleted".into(),
                    )))
                }
                Err(e) => Err(e.into()),
            }
        }
        None => {
            let call = api::create_comment(client, &row.repo, row.issue_number, &body);
            let (id, answer) = paced(row, sent, call).await?;
            note_limits(github, row, &answer).await?;
            tracing::info!(comment = id, "status comment posted");
            Ok(Sent::Status { task_id, id, body })
        }
    }
}

/// Everything the status comment of a task shows, as it is now, with the GitHub side of the
/// task (its status comment), read through the comment sender's own read connections.
pub async fn status_view(
    github: &Github,
    task_id: &str,
) -> Result<Option<(StatusView, GhTask)>, StoreError> {
    let store = &github.outbox_store;
    let Some(task) = store.tasks().get(task_id).await? else {
        return Ok(None);
    };
    let Some(gh_task) = store.issues().task(task_id).await? else {
        return Ok(None);
    };
    let Some(repo) = store.repos().get(&task.repo).await? else {
        return Ok(None);
    };
    let settings = github.settings_read_from(store, &task.repo).await?;
    let claim = store.comment_claims().get(task_id).await?;
    let claim = claim.filter(|c| task.lease_id.as_deref() == Some(c.lease_id.as_str()));
    let shows_holder = matches!(
        task.status,
        TaskStatus::Leased | TaskStatus::InProgress | TaskStatus::PrOpened | TaskStatus::Merged
    );
    let mut holder = None;
    if shows_holder {
        if let Some(claim) = &claim {
            holder = Some(if claim.person {
                Holder::Person {
                    login: claim.login.clone(),
                }
            } else {
                worker_holder(github, &claim.worker_id).await?
            });
        } else if let Some(worker) = &task.worker_id {
            holder = Some(worker_holder(github, worker).await?);
        } else if let Some(link) = store.pulls().open_links_of_task(task_id).await?.first() {
            holder = Some(Holder::Person {
                login: link.author.clone(),
            });
        } else if let Some(login) = credited_login(&task) {
            // A merge credits the pull request's author even when no worker of theirs is known.
            holder = Some(Holder::Person { login });
        }
    }
    let (since, until) = if task.status.is_active() {
        let since = match &claim {
            Some(c) => Some(c.claimed_at),
            None => match &task.lease_id {
                Some(l) => store.comment_claims().lease_created_at(l).await?,
                None => None,
            },
        };
        (since, task.deadline)
    } else {
        (None, None)
    };
    let to_time = |ms: i64| chrono::DateTime::from_timestamp_millis(ms);
    let mut warnings = gh_task.label_warnings.clone();
    if let Some(why) = &gh_task.left_pool
        && shows_holder
    {
        warnings.push(messages::left_pool_note(why));
    }
    let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    let waiting_on = task
        .waiting_on
        .iter()
        .map(|k| messages::issue_ref(&task.repo, k))
        .collect();
    let path_holds = task
        .path_holds
        .iter()
        .map(|(key, pattern)| (messages::issue_ref(&task.repo, key), pattern.clone()))
        .collect();
    let view = StatusView {
        waiting_on,
        path_holds,
        task_id: task.id.clone(),
        status: task.status,
        holder,
        since: since.and_then(to_time),
        until: until.and_then(to_time),
        pr_url: crate::sync::pr_url(&task),
        reason: matches!(task.status, TaskStatus::Blocked | TaskStatus::Cancelled)
            .then(|| task.status_reason.clone())
            .flatten(),
        blocked_by: if task.status == TaskStatus::Blocked {
            store.signin().status_person(task_id).await?
        } else {
            None
        },
        estimate_points: task.estimate_points,
        priority: task.priority,
        required_skills: task.required_skills.clone(),
        area: task.area.clone(),
        tier: task.tier,
        budget: Budget {
            open_prs: count(repo.open_prs),
            active_leases: count(repo.active_leases),
            max_open_prs: count(repo.max_open_prs),
            full: repo.throttled,
        },
        label_warnings: warnings,
        config_error: settings.error,
        other_prs: store
            .pulls()
            .recorded_links_of_task(task_id)
            .await?
            .into_iter()
            .map(|l| (l.pr_url, l.author))
            .collect(),
        checks: (task.status == TaskStatus::PrOpened)
            .then(|| {
                task.artifact
                    .as_ref()
                    .and_then(|a| a.get("checks"))
                    .and_then(|c| c.as_str())
                    .map(str::to_string)
            })
            .flatten(),
        help_url: github.help_url(),
        made_with: shown_disclosure(&task).map(|d| d.made_with()),
        disclosure_missing: task.status == TaskStatus::PrOpened
            && shown_disclosure(&task).is_none()
            && RepoContract::stored_disclosure_policy(task.contract.as_deref())
                == DisclosurePolicy::Required,
        evidence: matches!(task.status, TaskStatus::PrOpened | TaskStatus::Merged)
            .then(|| crate::domain::evidence::Evidence::of_artifact(task.artifact.as_ref()))
            .flatten()
            .map(|e| e.shown()),
        commits: (task.status == TaskStatus::PrOpened)
            .then(|| shown_commits(&task))
            .flatten(),
        reviewer: if task.status == TaskStatus::PrOpened {
            store.reviewers().open_review(task.seq).await?
        } else {
            None
        },
        plan_first: repo.approval.approval == crate::domain::proposals::Approval::Plan,
        proposals: if task.status == TaskStatus::Ready {
            open_proposals(github, task_id).await?
        } else {
            Vec::new()
        },
    };
    Ok(Some((view, gh_task)))
}

/// The disclosure the status comment shows: the worker's, while its pull request is open or
/// once it merged.
fn shown_disclosure(task: &TaskRow) -> Option<Disclosure> {
    matches!(task.status, TaskStatus::PrOpened | TaskStatus::Merged)
        .then(|| Disclosure::of_artifact(task.artifact.as_ref()))
        .flatten()
}

/// What the status comment shows of an open pull request's commits: what GitHub said, or, where
/// the repository requires verified commits and GitHub has not said yet, that it is not known
/// (never "nobody asked").
fn shown_commits(task: &TaskRow) -> Option<Commits> {
    Commits::of_artifact(task.artifact.as_ref()).or_else(|| {
        (task.policy.verified_commits == VerifiedCommits::Required).then(Commits::not_known)
    })
}

/// The GitHub login a merged task's credit names (see `github::credit`).
fn credited_login(task: &TaskRow) -> Option<String> {
    if task.status != TaskStatus::Merged {
        return None;
    }
    task.artifact.as_ref()?["credit"]["github_login"]
        .as_str()
        .map(str::to_string)
}

/// The open proposals of a task, oldest first, as maintainers see them (rule 11).
async fn open_proposals(github: &Github, task_id: &str) -> Result<Vec<ShownProposal>, StoreError> {
    let all = github
        .outbox_store
        .proposals()
        .of_task(task_id, &Viewer::Maintainer)
        .await?;
    let mut shown = Vec::new();
    for p in all.into_iter().filter(|p| p.state == ProposalState::Open) {
        let worker = match &p.login {
            Some(_) => String::new(),
            None => github
                .outbox_store
                .workers()
                .get(&p.worker_id)
                .await?
                .map_or_else(|| p.worker_id.clone(), |w| w.name),
        };
        shown.push(ShownProposal {
            login: p.login,
            worker,
            plan: p.plan,
            scorecard: p.scorecard,
        });
    }
    Ok(shown)
}

async fn worker_holder(github: &Github, worker_id: &str) -> Result<Holder, StoreError> {
    let worker = github.outbox_store.workers().get(worker_id).await?;
    let Some(worker) = worker else {
        return Ok(Holder::Worker {
            name: worker_id.to_string(),
            login: None,
        });
    };
    if worker.claims_by_comment() {
        return Ok(Holder::Person {
            login: worker.github_login.clone().unwrap_or(worker.name),
        });
    }
    let login = github
        .outbox_store
        .person_links()
        .login_of_worker(worker_id)
        .await?;
    Ok(Holder::Worker {
        name: worker.name,
        login,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_a_ceiling() {
        for _ in 0..50 {
            let first = backoff_ms(1);
            assert!((500..=625).contains(&first), "{first}");
            let third = backoff_ms(3);
            assert!((2000..=2500).contains(&third), "{third}");
            assert!(backoff_ms(40) <= 750_000);
        }
    }
}
