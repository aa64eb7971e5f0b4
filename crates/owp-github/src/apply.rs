//! What each webhook event does to the pool.
//!
//! Every handler reads what it needs from GitHub first (a repository's settings file and the
//! installation serving it, [`RepoRead`]; an issue's blockers; a commenter's permission), writing
//! nothing, and hands back its transaction ([`Write`]), which [`apply`] runs on the database's
//! writer (SQLite's writer thread), so GitHub's latency is never spent there. In that one write
//! transaction the repository joins or follows its
//! visibility, its settings are recorded (`RepoRead::record`), tasks change through the store's
//! usual methods (import, claim, moves) with their audit events, the outbox hook asks for their
//! status comments, replies are queued and the delivery is marked applied — one commit, so a
//! delivery's effects are all there or none is, and a retry applies them whole. What follows the
//! commit and reads GitHub again (a new installation's or repository's reconciliation, [`After`])
//! runs off the writer too. What brings a repository, an issue
//! or a pull request in line with GitHub lives in `github::sync` ([`sync_issue`], [`sync_pull`]),
//! which reconciliation uses too for what it finds on GitHub.
//!
//! [`sync_issue`]: crate::sync::sync_issue
//! [`sync_pull`]: crate::sync::sync_pull
//!
//! One file per event kind, as the handlers of other bots are laid out:
//!
//! - `installation`: `installation`, `installation_repositories` and `repository` — repositories
//!   join the pool (budget 3 unless the repository's file or an admin says otherwise), follow
//!   their visibility, or leave it (tasks nobody holds are cancelled).
//! - `issues`: an open issue with the ready label is a task; labels map to its fields; closing it
//!   or removing the label cancels a task nobody holds, and tells the holder otherwise; GitHub's
//!   issue dependencies hold or free tasks.
//! - `comments`: `/owp` commands, and the claimer's activity that keeps a claim alive; `claims`
//!   the claim commands (`claim`, `release`, `renew`) and refusals that name their rule.
//! - `pulls`: a pull request closing a task's issue moves it to `pr_opened`; merged → `merged`;
//!   closed unmerged → `ready` with one more attempt; reopened → `pr_opened`.
//!
//! Check suites, check runs and commit statuses are recorded here, in [`apply`]'s own file.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use tracing::Instrument;

use crate::domain::Visibility;
use crate::events::{self, Event};
use crate::service::{ConfigRead, Github, RepoSettings, record_config, target};
use crate::store::github::inbox::DeliveryOutcome;
use crate::store::github::outbox::OutboxTarget;
use crate::store::{StoreError, WriteTx};
use crate::sync::{ApplyError, join_repo, show_checks, to_i64};
use crate::throttle;
use crate::waits;

mod claims;
mod comments;
mod installation;
mod issues;
mod proposals;
mod pulls;
mod reviewers;

use comments::comment_event;
use installation::{installation, installation_repositories, repository_event};
use issues::{dependency_event, issue_event};
pub use proposals::approve_over_api;
use pulls::pull_event;

/// An identical reply on the same issue within this long is not written again.
pub const REPEAT_WINDOW_MS: i64 = 10 * 60_000;

/// At most this many commands of one comment are carried out.
pub const MAX_COMMANDS_PER_COMMENT: usize = 5;

/// A delivery's write transaction, ready to run once GitHub has been read: it owns what it
/// needs, so that it can run on another thread (the writer's, on SQLite).
pub type Write =
    Box<dyn FnOnce(Arc<Github>) -> BoxFuture<'static, Result<After, ApplyError>> + Send>;

/// What follows a delivery's commit, off the writer: reading GitHub again for what joined.
#[derive(Debug, Default)]
pub enum After {
    #[default]
    Nothing,
    /// A new installation: its repositories' issues labelled before the App came.
    ReconcileInstallation(i64),
    /// Repositories that joined (or came back): their issues.
    ReconcileRepos(i64, Vec<String>),
    /// An installation that left or was suspended: its token is forgotten.
    ForgetInstallation(u64),
}

/// A transaction with no follow-up.
fn write<F, Fut>(work: F) -> Write
where
    F: FnOnce(Arc<Github>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), ApplyError>> + Send + 'static,
{
    Box::new(move |github| Box::pin(async move { work(github).await.map(|()| After::Nothing) }))
}

/// A transaction whose commit is followed by [`After`].
fn write_then<F, Fut>(work: F) -> Write
where
    F: FnOnce(Arc<Github>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<After, ApplyError>> + Send + 'static,
{
    Box::new(move |github| Box::pin(work(github)))
}

/// Applies one delivery (`seq` in the inbox): reads GitHub, then runs its transaction on the
/// writer — its effects and its `applied` mark commit together — then what follows it.
pub async fn apply(github: &Arc<Github>, seq: i64, event: Event) -> Result<(), ApplyError> {
    let write = waits::timed(waits::APPLY_READ, read(github, seq, &event)).await?;
    let (writer, span) = (Arc::clone(github), tracing::Span::current());
    let written = github
        .store
        .on_writer(move |_| async move { Ok(write(writer).await) }.instrument(span));
    let after = waits::timed(waits::APPLY_WRITE, written)
        .await
        .unwrap_or_else(|e| Err(ApplyError::Store(e)))?;
    after.run(github).await;
    Ok(())
}

impl After {
    async fn run(self, github: &Github) {
        match self {
            After::Nothing => {}
            After::ReconcileInstallation(id) => {
                if let Err(err) = crate::reconcile::reconcile_installation(github, id).await {
                    tracing::warn!(installation = id, error = %err, "reconciling a new installation failed; the schedule will retry");
                }
            }
            After::ReconcileRepos(installation, repos) => {
                for repo in repos {
                    if let Err(err) =
                        crate::reconcile::reconcile_repo(github, installation, &repo).await
                    {
                        tracing::warn!(repo, error = %err, "reconciling a repository that joined failed; the schedule will retry");
                    }
                }
            }
            After::ForgetInstallation(id) => github.app.forget_installation(id),
        }
    }
}

/// Reads what a delivery needs (from GitHub and the database, writing nothing) and returns its
/// transaction.
async fn read(github: &Github, seq: i64, event: &Event) -> Result<Write, ApplyError> {
    match event {
        Event::Ping { zen, .. } => {
            tracing::info!(zen, "ping from GitHub");
            Ok(finish(seq, DeliveryOutcome::Applied, None))
        }
        Event::Ignored { reason, .. } => Ok(ignore(seq, reason)),
        Event::Installation(e) => Ok(installation(seq, e)),
        Event::InstallationRepositories(e) => Ok(installation_repositories(seq, e)),
        Event::Issue(e) => issue_event(github, seq, e).await,
        Event::IssueComment(e) => comment_event(github, seq, e).await,
        Event::PullRequest(e) => pull_event(github, seq, e).await,
        Event::Checks(e) => checks_event(github, seq, e).await,
        Event::Repository(e) => Ok(repository_event(seq, e)),
        Event::IssueDependency(e) => Ok(dependency_event(seq, e)),
        Event::VouchListPushed(e) => vouch_list_pushed(github, seq, e).await,
    }
}

/// A push changed a vouch list or the settings file on the default branch: the repository's
/// settings and lists are read again (conditionally) and recorded with the delivery. When what
/// the files say changed (the settings, or the errors of the file or of a list), the status
/// comments of the repository's unfinished tasks are written again, so that maintainers see at
/// once on GitHub whether the change took effect: one request per task, which joins a pending
/// one (the outbox writes each task's comment once however many pushes came within its window),
/// and none for a push that changed nothing the comments show.
async fn vouch_list_pushed(
    github: &Github,
    seq: i64,
    e: &crate::events::PushEvent,
) -> Result<Write, ApplyError> {
    let who = actor(e.sender.as_ref().map_or("github", |s| s.login.as_str()));
    let known = github.store.installations().repo(&e.repo.full_name).await?;
    let Some(installation) = known.as_ref().and_then(|r| r.installation_id) else {
        return Ok(ignore(seq, NOT_INSTALLED));
    };
    let config = github
        .read_config_and_lists(&e.repo.full_name, known, Some(installation), true, e.lists)
        .await;
    let read = RepoRead {
        repo: e.repo.clone(),
        installation,
        joins: false,
        config: Some(config),
    };
    let name = e.repo.full_name.clone();
    Ok(write(move |github| async move {
        let mut tx = github.store.begin().await?;
        let before = file_shown(&mut tx, &name).await?;
        read.record(&mut tx, &who).await?;
        if file_shown(&mut tx, &name).await? != before {
            for task_id in tx.issues().open_tasks_of_repo(&name).await? {
                tx.show_again(&task_id);
            }
        }
        tx.inbox()
            .finish(seq, DeliveryOutcome::Applied, None)
            .await?;
        tx.commit().await?;
        Ok(())
    }))
}

/// What is recorded of a repository's settings files: its settings (the last good ones), why
/// the present file is not used, and why its vouch lists are not wholly applied or a listed
/// reviewer is not counted.
async fn file_shown(
    tx: &mut WriteTx,
    repo: &str,
) -> Result<(Option<String>, Option<String>, Vec<String>), StoreError> {
    let (config, error) = tx
        .installations()
        .repo(repo)
        .await?
        .map(|row| (row.config, row.config_error))
        .unwrap_or_default();
    let mut lists = tx.vouch().list_errors_of(repo).await?;
    lists.extend(tx.reviewers().problems_of(repo).await?);
    Ok((config, error, lists))
}

/// A check suite, check run or commit status: recorded for its commit, and shown on the tasks
/// whose linked pull request has that head.
async fn checks_event(
    github: &Github,
    seq: i64,
    e: &crate::events::ChecksEvent,
) -> Result<Write, ApplyError> {
    let who = actor(e.sender.as_ref().map_or("github", |s| s.login.as_str()));
    let Some(read) = read_repo(github, &e.repo, e.installation_id, false).await? else {
        return Ok(ignore(seq, NOT_INSTALLED));
    };
    let e = e.clone();
    Ok(write(move |github| async move {
        let repo = e.repo.full_name.as_str();
        let mut tx = github.store.begin().await?;
        read.record(&mut tx, &who).await?;
        // New commits pushed to a pull request: GitHub names it on the new head's checks.
        for number in &e.pull_requests {
            tx.pr_checks()
                .set_head(repo, to_i64(*number), &e.sha)
                .await?;
        }
        tx.pr_checks()
            .record(repo, &e.sha, &e.check, e.state.as_str())
            .await?;
        show_checks(&mut tx, repo, &e.sha, &who).await?;
        tx.inbox()
            .finish(seq, DeliveryOutcome::Applied, None)
            .await?;
        tx.commit().await?;
        Ok(())
    }))
}

/// A transaction that only marks the delivery done.
fn finish(seq: i64, outcome: DeliveryOutcome, note: Option<&str>) -> Write {
    let note = note.map(str::to_string);
    write(move |github| async move {
        let mut tx = github.store.begin().await?;
        tx.inbox().finish(seq, outcome, note.as_deref()).await?;
        tx.commit().await?;
        Ok(())
    })
}

/// Why a delivery about a repository the App is not installed on is ignored.
const NOT_INSTALLED: &str = "the App is not installed there";

/// Marks a delivery ignored, saying why.
fn ignore(seq: i64, why: &str) -> Write {
    finish(seq, DeliveryOutcome::Ignored, Some(why))
}

fn actor(login: &str) -> String {
    format!("github:{login}")
}

/// What a delivery about a repository reads before its transaction: the installation serving
/// the repository (the one the event names, when the App did not know the repository yet) and,
/// when asked, its `.github/owp.yml`.
struct RepoRead {
    repo: events::Repo,
    installation: i64,
    /// The repository joins the pool with this delivery.
    joins: bool,
    config: Option<ConfigRead>,
}

/// Reads what a delivery about `repo` needs from the database and GitHub, writing nothing.
/// `None` when the App is not installed there.
async fn read_repo(
    github: &Github,
    repo: &events::Repo,
    from_event: Option<u64>,
    with_config: bool,
) -> Result<Option<RepoRead>, ApplyError> {
    let known = github.store.installations().repo(&repo.full_name).await?;
    let (installation, joins) = match known.as_ref().and_then(|r| r.installation_id) {
        Some(id) => (id, false),
        None => match from_event.map(to_i64) {
            Some(id) => (id, true),
            None => return Ok(None),
        },
    };
    let config = if with_config {
        let read = github.read_config(&repo.full_name, known, Some(installation), false);
        Some(read.await)
    } else {
        None
    };
    Ok(Some(RepoRead {
        repo: repo.clone(),
        installation,
        joins,
        config,
    }))
}

impl RepoRead {
    /// The repository's settings, as the delivery's transaction will record them.
    fn settings(&self) -> RepoSettings {
        self.config
            .as_ref()
            .map(ConfigRead::settings)
            .unwrap_or_default()
    }

    /// The first step of the delivery's transaction: the repository joins (or its board follows
    /// the visibility the event says, so a repository made private on GitHub leaves the public
    /// board with its next event), and its settings are recorded.
    async fn record(&self, tx: &mut WriteTx, actor: &str) -> Result<(), StoreError> {
        let name = self.repo.full_name.as_str();
        if self.joins {
            let github_id = Some(to_i64(self.repo.id));
            join_repo(
                tx,
                name,
                github_id,
                self.repo.private,
                self.installation,
                actor,
            )
            .await?;
        } else if let Some(private) = self.repo.private {
            tx.repos()
                .set_visibility(name, Visibility::from_private(private), actor)
                .await?;
        }
        if let Some(config) = &self.config {
            record_config(tx, name, config).await?;
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------------
// What the comment handlers share
// ------------------------------------------------------------------------------------------------

/// What a comment handler needs besides the transaction.
struct CommentCtx<'a> {
    github: &'a Github,
    installation: i64,
    repo: &'a str,
    number: u64,
    login: &'a str,
    comment_id: i64,
    settings: &'a RepoSettings,
    maintainer: Option<bool>,
    /// Whether the commenter is known to be a maintainer (never throttled).
    maintainer_known: bool,
    /// The commenter's GitHub account id (the account their claims and links speak for).
    account_id: i64,
    /// GitHub marks the comment as a collaborator's, member's or owner's (rule 14).
    insider: bool,
    /// The text after the comment's `/owp claim` line: a plan, where a plan comes first.
    plan: Option<String>,
    /// A reaction was queued instead of a reply.
    reacted: std::sync::atomic::AtomicBool,
    /// The repository's vouch list denounces the commenter: they are answered at most once per
    /// issue.
    denounced: std::sync::atomic::AtomicBool,
    actor: String,
}

impl CommentCtx<'_> {
    /// Where a claim this comment makes is held, and by whom.
    fn place(&self) -> claims::ClaimPlace<'_> {
        claims::ClaimPlace {
            github: self.github,
            repo: self.repo,
            settings: self.settings,
            actor: &self.actor,
        }
    }

    fn target(&self) -> OutboxTarget<'_> {
        target(self.installation, self.repo, to_i64(self.number))
    }

    /// Answers the commenter: a reply comment, unless they had as many replies as one person
    /// gets in a while (then a `confused` reaction on their comment) or the same reply was just
    /// queued on this issue (an identical repeat collapses into it, and their comment gets an
    /// `eyes` reaction: the answer is above). Every command gets an answer, in the same
    /// transaction as the decision. Maintainers are always answered.
    async fn reply(
        &self,
        tx: &mut WriteTx,
        task_id: Option<&str>,
        body: &str,
    ) -> Result<(), StoreError> {
        if self.denounced.load(std::sync::atomic::Ordering::Relaxed)
            && tx.outbox().replied_to(&self.target(), self.login).await?
        {
            tracing::info!(
                login = self.login,
                "a denounced person was answered on this issue"
            );
            return Ok(());
        }
        let since = tx.now - REPEAT_WINDOW_MS;
        if !self.maintainer_known
            && tx
                .outbox()
                .recent_reply(&self.target(), body, since)
                .await?
        {
            tracing::info!(
                login = self.login,
                "an identical reply was just queued; reacting instead"
            );
            return self.react_once(tx, throttle::COLLAPSED_REACTION).await;
        }
        let allowed = self.maintainer_known
            || self
                .github
                .replies
                .allow(
                    tx,
                    self.installation,
                    self.repo,
                    to_i64(self.number),
                    self.account_id,
                )
                .await?;
        if !allowed {
            tracing::info!(login = self.login, "reply limit reached; reacting instead");
            return self.react_once(tx, throttle::THROTTLED_REACTION).await;
        }
        tx.outbox()
            .enqueue_comment(&self.target(), task_id, body)
            .await
    }

    /// Reacts to the command comment with `content`, once per comment (a comment with several
    /// commands that are not answered gets one reaction).
    async fn react_once(&self, tx: &mut WriteTx, content: &str) -> Result<(), StoreError> {
        if self
            .reacted
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        tx.outbox()
            .enqueue_reaction(&self.target(), self.comment_id, content)
            .await
    }

    async fn thumbs_up(&self, tx: &mut WriteTx) -> Result<(), StoreError> {
        tx.outbox()
            .enqueue_reaction(&self.target(), self.comment_id, "+1")
            .await
    }
}
