//! What each webhook event does to the pool.
//!
//! Every handler reads what it needs from GitHub first (a repository's settings, a commenter's
//! permission), then opens one write transaction in which it changes tasks through the store's
//! usual methods (import, claim, moves), queues its replies in the outbox and marks the delivery
//! applied — so a delivery's effects are all there or none is. What brings a repository, an issue
//! or a pull request in line with GitHub lives in `github::sync` ([`sync_issue`], [`sync_pull`]),
//! which reconciliation uses too for what it finds on GitHub.
//!
//! - `installation`, `installation_repositories`: repositories join the pool (budget 3 unless the
//!   repository's file or an admin says otherwise) or leave it (tasks nobody holds are cancelled).
//! - `issues`: an open issue with the ready label is a task; labels map to its fields; closing it
//!   or removing the label cancels a task nobody holds, and tells the holder otherwise.
//! - `issue_comment`: `/owp` commands, and the claimer's activity that keeps a claim alive.
//! - `pull_request`: a pull request closing a task's issue moves it to `pr_opened`; merged →
//!   `merged`; closed unmerged → `ready` with one more attempt; reopened → `pr_opened`.

use serde_json::json;
use tracing::Instrument;

use crate::domain::rules::Refusal;
use crate::domain::{TaskStatus, Visibility};
use crate::github::commands::{self, Command, CommandError, ParsedCommand};
use crate::github::events::{
    self, CommentAction, CommentEvent, Event, InstallationAction, InstallationEvent,
    InstallationRepositoriesEvent, IssueAction, IssueEvent, PullRequestAction, PullRequestEvent,
    RepositoryAction, RepositoryEvent,
};
use crate::github::identity;
use crate::github::messages::{self, Budget, ClaimRefusal, CommandRefusal, Holder};
use crate::github::service::{Github, RepoSettings, target};
use crate::github::sync::{
    ApplyError, apply_blockers, holder_of, holds, join_repo, key_of, leave_repo,
    leave_repo_because, let_go_if_out_of_pool, linked_worker, pr_author_is_maintainer, pr_url,
    read_blockers, show_checks, sync_issue, sync_pull, to_i64,
};
use crate::store::deps::ExternalBlocker;
use crate::store::github::{DeliveryOutcome, LinkRefusal, OutboxTarget};
use crate::store::leases::{LeaseEnd, Move};
use crate::store::rows::TaskRow;
use crate::store::{NewEvent, StoreError, WriteTx};

/// An identical reply on the same issue within this long is not written again.
pub const REPEAT_WINDOW_MS: i64 = 10 * 60_000;

/// At most this many commands of one comment are carried out.
pub const MAX_COMMANDS_PER_COMMENT: usize = 5;

/// Applies one delivery (`seq` in the inbox): its effects and its `applied` mark commit together.
pub async fn apply(github: &Github, seq: i64, event: &Event) -> Result<(), ApplyError> {
    match event {
        Event::Ping { zen, .. } => {
            tracing::info!(zen, "ping from GitHub");
            finish(github, seq, DeliveryOutcome::Applied, None).await
        }
        Event::Ignored { reason, .. } => ignore(github, seq, reason).await,
        Event::Installation(e) => installation(github, seq, e).await,
        Event::InstallationRepositories(e) => installation_repositories(github, seq, e).await,
        Event::Issue(e) => issue_event(github, seq, e).await,
        Event::IssueComment(e) => comment_event(github, seq, e).await,
        Event::PullRequest(e) => pull_event(github, seq, e).await,
        Event::Checks(e) => checks_event(github, seq, e).await,
        Event::Repository(e) => repository_event(github, seq, e).await,
        Event::IssueDependency(e) => dependency_event(github, seq, e).await,
    }
}

/// A check suite, check run or commit status: recorded for its commit, and shown on the tasks
/// whose linked pull request has that head.
async fn checks_event(
    github: &Github,
    seq: i64,
    e: &crate::github::events::ChecksEvent,
) -> Result<(), ApplyError> {
    let who = actor(e.sender.as_ref().map_or("github", |s| s.login.as_str()));
    let repo = e.repo.full_name.as_str();
    if installation_for(github, &e.repo, e.installation_id, &who)
        .await?
        .is_none()
    {
        return ignore(github, seq, NOT_INSTALLED).await;
    }
    let mut tx = github.store.begin().await?;
    // New commits pushed to a pull request: GitHub names it on the new head's checks.
    for number in &e.pull_requests {
        tx.gh_set_pr_head(repo, to_i64(*number), &e.sha).await?;
    }
    tx.gh_record_check(repo, &e.sha, &e.check, e.state.as_str())
        .await?;
    show_checks(&mut tx, repo, &e.sha, &who).await?;
    tx.gh_finish_delivery(seq, DeliveryOutcome::Applied, None)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn finish(
    github: &Github,
    seq: i64,
    outcome: DeliveryOutcome,
    note: Option<&str>,
) -> Result<(), ApplyError> {
    let mut tx = github.store.begin().await?;
    tx.gh_finish_delivery(seq, outcome, note).await?;
    tx.commit().await?;
    Ok(())
}

/// Why a delivery about a repository the App is not installed on is ignored.
const NOT_INSTALLED: &str = "the App is not installed there";

/// Marks a delivery ignored, saying why.
async fn ignore(github: &Github, seq: i64, why: &str) -> Result<(), ApplyError> {
    finish(github, seq, DeliveryOutcome::Ignored, Some(why)).await
}

fn actor(login: &str) -> String {
    format!("github:{login}")
}

// ------------------------------------------------------------------------------------------------
// Installations
// ------------------------------------------------------------------------------------------------

async fn installation(github: &Github, seq: i64, e: &InstallationEvent) -> Result<(), ApplyError> {
    let id = to_i64(e.installation_id);
    let who = actor(&e.sender.login);
    let mut tx = github.store.begin().await?;
    match e.action {
        InstallationAction::Created | InstallationAction::Unsuspended => {
            tx.gh_upsert_installation(id, &e.account, false).await?;
            for repo in &e.repositories {
                let github_id = Some(to_i64(repo.id));
                join_repo(&mut tx, &repo.full_name, github_id, repo.private, id, &who).await?;
            }
        }
        InstallationAction::Suspended => {
            tx.gh_upsert_installation(id, &e.account, true).await?;
        }
        InstallationAction::Deleted => {
            let repos = tx.gh_delete_installation(id).await?;
            for repo in repos {
                leave_repo(&mut tx, &repo, &who).await?;
            }
        }
    }
    tx.gh_finish_delivery(seq, DeliveryOutcome::Applied, None)
        .await?;
    tx.commit().await?;
    match e.action {
        InstallationAction::Created | InstallationAction::Unsuspended => {
            // Issues labelled before the App came: picked up now, not at the next schedule.
            if let Err(err) = crate::github::reconcile::reconcile_installation(github, id).await {
                tracing::warn!(installation = id, error = %err, "reconciling a new installation failed; the schedule will retry");
            }
        }
        InstallationAction::Deleted | InstallationAction::Suspended => {
            github.app.forget_installation(e.installation_id);
        }
    }
    Ok(())
}

async fn installation_repositories(
    github: &Github,
    seq: i64,
    e: &InstallationRepositoriesEvent,
) -> Result<(), ApplyError> {
    let id = to_i64(e.installation_id);
    let who = actor(&e.sender.login);
    let mut tx = github.store.begin().await?;
    for repo in &e.added {
        let github_id = Some(to_i64(repo.id));
        join_repo(&mut tx, &repo.full_name, github_id, repo.private, id, &who).await?;
    }
    for repo in &e.removed {
        // Only the installation that serves a repository can take it out of the pool.
        let serving = tx.gh_repo(&repo.full_name).await?;
        if serving.is_some_and(|r| r.installation_id == Some(id)) {
            leave_repo(&mut tx, &repo.full_name, &who).await?;
        } else {
            tracing::warn!(repo = %repo.full_name, installation = id, "a removal by an installation that does not serve the repository; ignored");
        }
    }
    tx.gh_finish_delivery(seq, DeliveryOutcome::Applied, None)
        .await?;
    tx.commit().await?;
    for repo in &e.added {
        if let Err(err) =
            crate::github::reconcile::reconcile_repo(github, id, &repo.full_name).await
        {
            tracing::warn!(repo = %repo.full_name, error = %err, "reconciling a new repository failed; the schedule will retry");
        }
    }
    Ok(())
}

/// The installation serving `repo` for an event: the repository joins first when an installation
/// names it but the App did not know it yet. `None` when the App is not installed there. The
/// board's visibility follows what the event says about the repository, so a repository made
/// private on GitHub leaves the public board with its next event.
async fn installation_for(
    github: &Github,
    repo: &events::Repo,
    from_event: Option<u64>,
    actor: &str,
) -> Result<Option<i64>, ApplyError> {
    let known = github.store.gh_repo(&repo.full_name).await?;
    if let Some(id) = known.as_ref().and_then(|r| r.installation_id) {
        follow_visibility(github, repo, actor).await?;
        return Ok(Some(id));
    }
    let Some(id) = from_event.map(to_i64) else {
        return Ok(None);
    };
    let mut tx = github.store.begin().await?;
    let github_id = Some(to_i64(repo.id));
    join_repo(&mut tx, &repo.full_name, github_id, repo.private, id, actor).await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// Records GitHub's visibility of a known repository when it differs from ours.
async fn follow_visibility(
    github: &Github,
    repo: &events::Repo,
    actor: &str,
) -> Result<(), ApplyError> {
    let Some(private) = repo.private else {
        return Ok(());
    };
    let current = github.store.repo(&repo.full_name).await?;
    if current.is_none_or(|r| r.private == private) {
        return Ok(());
    }
    let mut tx = github.store.begin().await?;
    tx.set_repo_visibility(&repo.full_name, Visibility::from_private(private), actor)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// `repository` events. A rename or transfer renames the repository in place (found by its id);
/// deleting or archiving it takes it out of the pool (archived repositories are read-only, so
/// nothing could be written there) and unarchiving brings it back; a change of visibility
/// follows GitHub.
async fn repository_event(
    github: &Github,
    seq: i64,
    e: &RepositoryEvent,
) -> Result<(), ApplyError> {
    let who = actor(&e.sender.login);
    let github_id = Some(to_i64(e.repo.id));
    let mut tx = github.store.begin().await?;
    let known = match tx.gh_repo_by_github_id(to_i64(e.repo.id)).await? {
        Some(r) => Some(r),
        None => tx.gh_repo(&e.repo.full_name).await?,
    };
    let Some(known) = known else {
        drop(tx);
        return ignore(github, seq, NOT_INSTALLED).await;
    };
    let name = e.repo.full_name.as_str();
    let mut rejoin = None;
    match e.action {
        RepositoryAction::Renamed | RepositoryAction::Transferred => {
            identity::follow_rename(&mut tx, name, github_id, &who).await?;
            // A transfer may bring the repository to another installation of the App.
            let serving = e.installation_id.map(to_i64).or(known.installation_id);
            if let Some(installation) = serving
                && known.installation_id.is_some()
            {
                tx.gh_attach_repo(name, github_id, installation).await?;
                tx.gh_outbox_follow_installation(name, installation).await?;
            }
        }
        RepositoryAction::Deleted => {
            if known.installation_id.is_some() {
                leave_repo_because(&mut tx, &known.repo, "the repository was deleted", &who)
                    .await?;
            }
        }
        RepositoryAction::Archived => {
            if known.installation_id.is_some() {
                leave_repo_because(&mut tx, &known.repo, "the repository was archived", &who)
                    .await?;
            }
        }
        RepositoryAction::Unarchived => {
            if let Some(installation) = e.installation_id.map(to_i64) {
                join_repo(&mut tx, name, github_id, e.repo.private, installation, &who).await?;
                rejoin = Some(installation);
            }
        }
        RepositoryAction::Privatized | RepositoryAction::Publicized => {
            let private = e.action == RepositoryAction::Privatized;
            identity::follow_rename(&mut tx, name, github_id, &who).await?;
            tx.set_repo_visibility(name, Visibility::from_private(private), &who)
                .await?;
        }
    }
    tx.gh_finish_delivery(seq, DeliveryOutcome::Applied, None)
        .await?;
    tx.commit().await?;
    if let Some(installation) = rejoin
        && let Err(err) = crate::github::reconcile::reconcile_repo(github, installation, name).await
    {
        tracing::warn!(repo = name, error = %err, "reconciling an unarchived repository failed; the schedule will retry");
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Issues
// ------------------------------------------------------------------------------------------------

async fn issue_event(github: &Github, seq: i64, e: &IssueEvent) -> Result<(), ApplyError> {
    let who = actor(&e.sender.login);
    let repo = e.repo.full_name.as_str();
    if e.issue.is_pull_request {
        return ignore(github, seq, "a pull request").await;
    }
    let Some(installation) = installation_for(github, &e.repo, e.installation_id, &who).await?
    else {
        return ignore(github, seq, NOT_INSTALLED).await;
    };
    let settings = github.refresh_config(repo, false).await?;
    let blockers = read_blockers(github, installation, None, repo, &e.issue, &settings).await?;
    let mut tx = github.store.begin().await?;
    // A closed (or deleted, or moved) issue stops holding the tasks it blocks; reopened, it
    // holds them again.
    let gone = matches!(
        e.action,
        IssueAction::Deleted | IssueAction::Transferred { .. }
    );
    tx.external_blocker_state(&key_of(repo, e.issue.number), e.issue.open && !gone, &who)
        .await?;
    match &e.action {
        IssueAction::Transferred {
            new_repo,
            new_repo_id,
            new_number,
        } => {
            let to = identity::MovedTo {
                repo: new_repo.as_deref(),
                repo_id: new_repo_id.map(to_i64),
                number: new_number.map(to_i64),
            };
            identity::issue_moved(&mut tx, repo, to_i64(e.issue.number), to, &who).await?;
        }
        IssueAction::Deleted => {
            let why = "the issue was deleted";
            if let Some(task) = tx.task_by_key(repo, &key_of(repo, e.issue.number)).await?
                && !matches!(task.status, TaskStatus::Merged | TaskStatus::Cancelled)
            {
                let mv = Move {
                    reason: Some(why.into()),
                    ..Move::to(TaskStatus::Cancelled, LeaseEnd::Admin)
                };
                tx.apply_move(&task, &mv, &who).await?;
            }
            tx.gh_drop_issue_outbox(repo, to_i64(e.issue.number))
                .await?;
        }
        _ => {
            if let Some(task) =
                sync_issue(&mut tx, installation, repo, &e.issue, &settings, &who).await?
            {
                apply_blockers(&mut tx, &task, &blockers, &who).await?;
            }
        }
    }
    tx.gh_finish_delivery(seq, DeliveryOutcome::Applied, None)
        .await?;
    tx.commit().await?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Dependencies (GitHub's "blocked by")
// ------------------------------------------------------------------------------------------------

/// `issue_dependencies`: the blocked issue's task (if it is one) gains or loses the blocker. A
/// task already claimed keeps its holder: the rule decides offers, not who keeps a claim.
async fn dependency_event(
    github: &Github,
    seq: i64,
    e: &events::DependencyEvent,
) -> Result<(), ApplyError> {
    let who = actor(&e.sender.login);
    let key = key_of(&e.blocked.repo, e.blocked.number);
    let mut tx = github.store.begin().await?;
    if let Some(task) = tx.task_by_key(&e.blocked.repo, &key).await?
        && tx.gh_task(&task.id).await?.is_some()
    {
        let blocker = ExternalBlocker {
            key: key_of(&e.blocking.repo, e.blocking.number),
            open: e.blocking.open,
        };
        tx.set_external_blocker(&task, &blocker, e.added, &who)
            .await?;
    }
    tx.gh_finish_delivery(seq, DeliveryOutcome::Applied, None)
        .await?;
    tx.commit().await?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Comments and commands
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
    /// A reaction was queued instead of a reply.
    reacted: std::sync::atomic::AtomicBool,
    actor: String,
}

impl CommentCtx<'_> {
    fn target(&self) -> OutboxTarget<'_> {
        target(self.installation, self.repo, to_i64(self.number))
    }

    /// Answers the commenter: a reply comment, unless they had as many replies as one person
    /// gets in a while (then a reaction on their comment) or the same reply was just queued on
    /// this issue (an identical repeat collapses into it). Maintainers are always answered.
    async fn reply(
        &self,
        tx: &mut WriteTx,
        task_id: Option<&str>,
        body: &str,
    ) -> Result<(), StoreError> {
        let since = tx.now - REPEAT_WINDOW_MS;
        if !self.maintainer_known && tx.gh_recent_reply(&self.target(), body, since).await? {
            tracing::info!(
                login = self.login,
                "an identical reply was just queued; not repeated"
            );
            return Ok(());
        }
        let allowed = self.maintainer_known
            || self.github.replies.allow(
                self.installation,
                self.repo,
                to_i64(self.number),
                self.login,
            );
        if !allowed {
            if !self
                .reacted
                .swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                tracing::info!(login = self.login, "reply limit reached; reacting instead");
                tx.gh_enqueue_reaction(
                    &self.target(),
                    self.comment_id,
                    crate::github::throttle::THROTTLED_REACTION,
                )
                .await?;
            }
            return Ok(());
        }
        tx.gh_enqueue_comment(&self.target(), task_id, body).await
    }

    async fn thumbs_up(&self, tx: &mut WriteTx) -> Result<(), StoreError> {
        tx.gh_enqueue_reaction(&self.target(), self.comment_id, "+1")
            .await
    }
}

async fn comment_event(github: &Github, seq: i64, e: &CommentEvent) -> Result<(), ApplyError> {
    let login = e.comment.author.login.as_str();
    let who = actor(login);
    if e.comment.author.is_bot()
        || e.sender.is_bot()
        || messages::find_status_marker(&e.comment.body).is_some()
        || messages::find_comment_marker(&e.comment.body).is_some()
    {
        return ignore(github, seq, "written by a bot").await;
    }
    if e.issue.is_pull_request {
        return ignore(github, seq, "a pull request comment").await;
    }
    let Some(installation) = installation_for(github, &e.repo, e.installation_id, &who).await?
    else {
        return ignore(github, seq, NOT_INSTALLED).await;
    };
    let repo = e.repo.full_name.as_str();
    let mut parsed: Vec<ParsedCommand> = match &e.action {
        CommentAction::Created => commands::parse_commands(&e.comment.body),
        CommentAction::Edited {
            previous_body: Some(previous),
        } => commands::new_commands(previous, &e.comment.body),
        CommentAction::Edited {
            previous_body: None,
        } => Vec::new(),
    };
    parsed.truncate(MAX_COMMANDS_PER_COMMENT);
    let settings = github.refresh_config(repo, false).await?;
    let needs_maintainer = parsed
        .iter()
        .any(|c| matches!(c, Ok(cmd) if cmd.requires_maintainer()));
    let maintainer = if needs_maintainer {
        match github.is_maintainer(installation, repo, login).await {
            Ok(m) => Some(m),
            Err(crate::github::api::CallError::Permanent { status, message }) => {
                tracing::warn!(
                    status,
                    message,
                    "cannot check a commenter's permission; treating as no write access"
                );
                Some(false)
            }
            Err(e) => {
                return Err(ApplyError::Retry(format!(
                    "cannot check {login}'s permission: {e}"
                )));
            }
        }
    } else {
        None
    };
    // Maintainers are always answered: known from this comment's commands, from GitHub's recent
    // answer, or asked now when the commenter already hit the reply limit.
    let maintainer_known = maintainer == Some(true)
        || github.known_maintainer(repo, login)
        || (!parsed.is_empty()
            && github.replies.was_limited(installation, login)
            && github
                .is_maintainer(installation, repo, login)
                .await
                .unwrap_or(false));
    let ctx = CommentCtx {
        github,
        installation,
        repo,
        number: e.issue.number,
        login,
        comment_id: i64::try_from(e.comment.id).unwrap_or(i64::MAX),
        settings: &settings,
        maintainer,
        maintainer_known,
        reacted: Default::default(),
        actor: who,
    };
    let mut tx = github.store.begin().await?;
    let key = key_of(repo, e.issue.number);
    // The claimer's own comments keep the claim alive.
    if let Some(task) = tx.task_by_key(repo, &key).await?
        && let Some(claim) = tx.gh_claim(&task.id).await?
        && claim.login.eq_ignore_ascii_case(login)
        && task.lease_id.as_deref() == Some(claim.lease_id.as_str())
        && tx.gh_touch_claim(&claim).await?
    {
        tx.event(
            NewEvent::new("lease.renewed", &ctx.actor)
                .repo(repo)
                .task(&task.id)
                .worker(task.worker_id.as_deref())
                .data(json!({"lease_id": claim.lease_id, "reason": "activity"})),
        );
    }
    for command in parsed {
        run_command(&mut tx, &ctx, command).await?;
    }
    tx.gh_finish_delivery(seq, DeliveryOutcome::Applied, None)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn run_command(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    command: ParsedCommand,
) -> Result<(), StoreError> {
    let span = tracing::info_span!(
        "command",
        repo = ctx.repo,
        issue = ctx.number,
        actor = ctx.login
    );
    command_in_span(tx, ctx, command).instrument(span).await
}

async fn command_in_span(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    command: ParsedCommand,
) -> Result<(), StoreError> {
    let command = match command {
        Ok(c) => c,
        Err(error) => return command_error(tx, ctx, &error).await,
    };
    tracing::info!(command = command.name(), "comment command");
    if let Command::Link { code } = &command {
        return link(tx, ctx, code).await;
    }
    if matches!(command, Command::OptIn | Command::OptOut) {
        return opt_in(tx, ctx, command == Command::OptIn).await;
    }
    if command.requires_maintainer() && ctx.maintainer != Some(true) {
        return ctx
            .reply(tx, None, &messages::permission_refused(ctx.login, &command))
            .await;
    }
    let ready_label = ctx.settings.config.labels.ready.clone();
    let task = tx
        .task_by_key(ctx.repo, &key_of(ctx.repo, ctx.number))
        .await?;
    let task = match task {
        Some(task) if task.status != TaskStatus::Cancelled => task,
        _ => {
            let body = if command == Command::Claim {
                messages::claim_refused(ctx.login, &ClaimRefusal::NotATask { ready_label })
            } else {
                messages::command_refused(ctx.login, &CommandRefusal::NotATask { ready_label })
            };
            return ctx.reply(tx, None, &body).await;
        }
    };
    match command {
        Command::Claim => claim(tx, ctx, &task).await,
        Command::Release => release(tx, ctx, &task).await,
        Command::Renew => renew(tx, ctx, &task).await,
        Command::Status => {
            tx.gh_enqueue_status(&ctx.target(), &task.id).await?;
            ctx.thumbs_up(tx).await
        }
        Command::Block { reason } => {
            if matches!(
                task.status,
                TaskStatus::Ready | TaskStatus::Leased | TaskStatus::InProgress
            ) {
                tx.admin_status(&task.id, TaskStatus::Blocked, Some(reason), &ctx.actor)
                    .await?;
                ctx.thumbs_up(tx).await
            } else {
                let body = messages::command_refused(
                    ctx.login,
                    &CommandRefusal::NotBlockable {
                        status: task.status,
                    },
                );
                ctx.reply(tx, Some(&task.id), &body).await
            }
        }
        Command::Unblock => {
            if task.status == TaskStatus::Blocked {
                tx.admin_status(&task.id, TaskStatus::Ready, None, &ctx.actor)
                    .await?;
                ctx.thumbs_up(tx).await
            } else {
                let body = messages::command_refused(ctx.login, &CommandRefusal::NotBlocked);
                ctx.reply(tx, Some(&task.id), &body).await
            }
        }
        Command::Link { .. } | Command::OptIn | Command::OptOut => Ok(()),
    }
}

/// `/owp opt-in` / `/owp opt-out`: the commenter's worker (linked, or the implicit worker of
/// their login) has its outcomes counted and is listed on the leaderboard, or no longer.
async fn opt_in(tx: &mut WriteTx, ctx: &CommentCtx<'_>, on: bool) -> Result<(), StoreError> {
    let worker_id = match linked_worker(tx, ctx.login).await? {
        Some(id) => id,
        None => {
            let max = i64::from(ctx.settings.config.max_claims_per_user.0.max(1));
            tx.implicit_github_worker(ctx.login, max).await?.id
        }
    };
    tx.set_opt_in(&worker_id, Some(on), Some(on)).await?;
    ctx.reply(tx, None, &messages::opted_in(ctx.login, on))
        .await
}

async fn command_error(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    error: &CommandError,
) -> Result<(), StoreError> {
    let body = messages::command_error(ctx.login, error, &ctx.github.help_url());
    ctx.reply(tx, None, &body).await
}

async fn link(tx: &mut WriteTx, ctx: &CommentCtx<'_>, code: &str) -> Result<(), StoreError> {
    let hash = crate::github::login_link::code_hash(code);
    match tx.gh_use_link_code(&hash, ctx.login).await? {
        Ok(worker_id) => {
            tx.event(
                NewEvent::new("github.worker_linked", &ctx.actor)
                    .worker(Some(&worker_id))
                    .data(json!({"login": ctx.login})),
            );
            ctx.thumbs_up(tx).await
        }
        Err(refusal) => {
            let refusal = match refusal {
                LinkRefusal::UnknownCode => CommandRefusal::UnknownLinkCode,
                LinkRefusal::LinkedElsewhere => CommandRefusal::WorkerLinkedElsewhere,
            };
            ctx.reply(tx, None, &messages::command_refused(ctx.login, &refusal))
                .await
        }
    }
}

async fn claim(tx: &mut WriteTx, ctx: &CommentCtx<'_>, task: &TaskRow) -> Result<(), StoreError> {
    match try_claim(tx, ctx, task).await? {
        None => ctx.thumbs_up(tx).await,
        Some(refusal) => {
            let body = messages::claim_refused(ctx.login, &refusal);
            ctx.reply(tx, Some(&task.id), &body).await
        }
    }
}

async fn try_claim(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    task: &TaskRow,
) -> Result<Option<ClaimRefusal>, StoreError> {
    let config = &ctx.settings.config;
    let linked = linked_worker(tx, ctx.login).await?;
    if !config.who_may_claim.allows(ctx.login, linked.is_some()) {
        return Ok(Some(match config.who_may_claim {
            crate::github::repo_config::WhoMayClaim::Workers => ClaimRefusal::WorkersOnly,
            _ => ClaimRefusal::NotOnAllowlist,
        }));
    }
    if task.status != TaskStatus::Ready {
        return refusal_for_status(tx, ctx, task).await.map(Some);
    }
    let now = tx.now;
    if let Some(limit) = config.pr_hourly_limit {
        let (count, oldest) = tx.gh_claims_since(task.repo_id, now - 3_600_000).await?;
        if count >= i64::from(limit.get()) {
            let retry_at = oldest.unwrap_or(now) + 3_600_000;
            return Ok(Some(ClaimRefusal::HourlyLimit {
                limit: limit.get(),
                retry_at: to_time(retry_at),
            }));
        }
    }
    let person = linked.is_none();
    let worker_id = match linked {
        Some(id) => id,
        None => {
            let max = i64::from(config.max_claims_per_user.0.max(1));
            tx.implicit_github_worker(ctx.login, max).await?.id
        }
    };
    match tx.claim_task(&worker_id, &task.id).await {
        Ok(lease) => {
            tx.ack(&worker_id, &lease.lease_id).await?;
            let ttl = ctx.github.claim_ttl_ms(ctx.settings);
            tx.gh_set_claim_deadline(&task.id, &lease.lease_id, now + ttl)
                .await?;
            tx.gh_insert_claim(
                &task.id,
                &lease.lease_id,
                ctx.login,
                &worker_id,
                person,
                ttl,
                config.claim.reminder,
            )
            .await?;
            tx.event(
                NewEvent::new("github.claimed", &ctx.actor)
                    .repo(ctx.repo)
                    .task(&task.id)
                    .worker(Some(&worker_id))
                    .data(json!({"lease_id": lease.lease_id, "login": ctx.login, "until": crate::store::format_ts(now + ttl)})),
            );
            Ok(None)
        }
        Err(StoreError::Refused(refusal)) => explain_refusal(tx, task, &worker_id, refusal)
            .await
            .map(Some),
        Err(StoreError::Conflict {
            code: "task_not_ready",
            ..
        }) => {
            let fresh = tx.task(&task.id).await?;
            refusal_for_status(tx, ctx, &fresh).await.map(Some)
        }
        Err(other) => Err(other),
    }
}

async fn refusal_for_status(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    task: &TaskRow,
) -> Result<ClaimRefusal, StoreError> {
    Ok(match task.status {
        TaskStatus::Ready => ClaimRefusal::AlreadyClaimed {
            holder: Holder::Person {
                login: "someone".into(),
            },
        },
        TaskStatus::Leased | TaskStatus::InProgress => {
            if holds(tx, task, ctx.login).await? {
                ClaimRefusal::AlreadyYours
            } else {
                let holder = match &task.worker_id {
                    Some(w) => holder_of(tx, w).await?,
                    None => Holder::Person {
                        login: "someone".into(),
                    },
                };
                ClaimRefusal::AlreadyClaimed { holder }
            }
        }
        TaskStatus::Blocked => ClaimRefusal::Blocked {
            reason: task.status_reason.clone(),
        },
        TaskStatus::PrOpened => ClaimRefusal::PrOpen {
            pr_url: pr_url(task),
        },
        TaskStatus::Merged => ClaimRefusal::Merged,
        TaskStatus::Cancelled => ClaimRefusal::NotATask {
            ready_label: ctx.settings.config.labels.ready.clone(),
        },
    })
}

fn to_time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The scheduler's refusal in a volunteer's words.
async fn explain_refusal(
    tx: &mut WriteTx,
    task: &TaskRow,
    worker_id: &str,
    refusal: Refusal,
) -> Result<ClaimRefusal, StoreError> {
    let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    Ok(match refusal {
        Refusal::NotReady(_) => ClaimRefusal::AlreadyClaimed {
            holder: Holder::Person {
                login: "someone".into(),
            },
        },
        Refusal::NackedRecently => {
            let at = tx
                .gh_nacked_at(task.seq, worker_id)
                .await?
                .unwrap_or(tx.now);
            ClaimRefusal::RecentlyReleased {
                retry_at: to_time(at + crate::store::NACK_COOLDOWN_MS),
            }
        }
        Refusal::Offline | Refusal::Paused => {
            let worker = tx.worker(worker_id).await?;
            ClaimRefusal::WorkerPaused {
                worker: worker.name,
            }
        }
        Refusal::MissingSkills(missing) => ClaimRefusal::MissingSkills { missing },
        Refusal::CapacityPoints {
            active,
            estimate,
            capacity,
        } => ClaimRefusal::CapacityExceeded {
            estimate_points: estimate,
            active_points: active,
            capacity_points: capacity,
        },
        Refusal::ConcurrentTasks { active, max } => ClaimRefusal::TooManyClaims {
            active: count(active),
            max: count(max),
        },
        Refusal::AreaLocked { area } => {
            let other = tx.gh_area_holder_key(task.repo_id, &area, &task.id).await?;
            let other_issue = other
                .as_deref()
                .and_then(|k| k.strip_prefix(&format!("{}#", task.repo)))
                .and_then(|n| n.parse().ok());
            ClaimRefusal::AreaLocked { area, other_issue }
        }
        Refusal::BudgetFull {
            open_prs,
            active_leases,
            max_open_prs,
        } => ClaimRefusal::ReviewBudgetFull(Budget {
            open_prs: count(open_prs),
            active_leases: count(active_leases),
            max_open_prs: count(max_open_prs),
        }),
        Refusal::TierTooHigh { tier, trust_level } => {
            let (progress, rules) = tx.trust_progress(worker_id, task.repo_id).await?;
            match progress.rule_for(tier, &rules) {
                Some(rule) => ClaimRefusal::TierNotYetEarned {
                    tier,
                    trust_level,
                    more_merged: (rule.merged - progress.merged_here).max(0),
                    opted_in: progress.opted_in,
                },
                None => ClaimRefusal::TierTooHigh { tier, trust_level },
            }
        }
        Refusal::MissingCapabilities(missing) => ClaimRefusal::MissingCapabilities { missing },
        Refusal::Waiting { on } => ClaimRefusal::Waiting {
            on: on
                .iter()
                .map(|k| messages::issue_ref(&task.repo, k))
                .collect(),
        },
    })
}

async fn release(tx: &mut WriteTx, ctx: &CommentCtx<'_>, task: &TaskRow) -> Result<(), StoreError> {
    if !(task.status.is_active() && holds(tx, task, ctx.login).await?) {
        let body =
            messages::command_refused(ctx.login, &CommandRefusal::NotHolder { command: "release" });
        return ctx.reply(tx, Some(&task.id), &body).await;
    }
    let (Some(worker), Some(lease)) = (task.worker_id.clone(), task.lease_id.clone()) else {
        return Ok(());
    };
    match tx
        .nack(&worker, &lease, Some("released by comment".into()))
        .await
    {
        Ok(_) => {
            let_go_if_out_of_pool(tx, &task.id, &ctx.actor).await?;
            ctx.thumbs_up(tx).await
        }
        // The lease ended on the way (expired): nothing left to release.
        Err(StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn renew(tx: &mut WriteTx, ctx: &CommentCtx<'_>, task: &TaskRow) -> Result<(), StoreError> {
    if !(task.status.is_active() && holds(tx, task, ctx.login).await?) {
        let body =
            messages::command_refused(ctx.login, &CommandRefusal::NotHolder { command: "renew" });
        return ctx.reply(tx, Some(&task.id), &body).await;
    }
    // A comment claim was already renewed by this comment (activity); a lease taken over the API
    // is renewed by its TTL.
    if tx.gh_claim(&task.id).await?.is_none()
        && let (Some(worker), Some(lease)) = (task.worker_id.clone(), task.lease_id.clone())
    {
        match tx.renew(&worker, &lease).await {
            Ok(_) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    ctx.thumbs_up(tx).await
}

// ------------------------------------------------------------------------------------------------
// Pull requests
// ------------------------------------------------------------------------------------------------

async fn pull_event(github: &Github, seq: i64, e: &PullRequestEvent) -> Result<(), ApplyError> {
    let who = actor(&e.sender.login);
    let repo = e.repo.full_name.as_str();
    let Some(installation) = installation_for(github, &e.repo, e.installation_id, &who).await?
    else {
        return ignore(github, seq, NOT_INSTALLED).await;
    };
    let maintainer = pr_author_is_maintainer(github, installation, repo, &e.pull_request).await?;
    let mut tx = github.store.begin().await?;
    let unlink_missing = matches!(e.action, PullRequestAction::Edited { .. });
    sync_pull(
        &mut tx,
        repo,
        &e.pull_request,
        unlink_missing,
        maintainer,
        &who,
    )
    .await?;
    tx.gh_finish_delivery(seq, DeliveryOutcome::Applied, None)
        .await?;
    tx.commit().await?;
    if e.action == PullRequestAction::Closed
        && e.pull_request.merged
        && e.repo.default_branch.as_deref() == Some(e.pull_request.base_ref.as_str())
    {
        // The merge may have changed `.github/owp.yml`.
        github.store.gh_config_stale(repo).await?;
    }
    Ok(())
}
