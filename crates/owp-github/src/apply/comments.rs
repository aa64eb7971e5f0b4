//! `issue_comment`: the `/owp` commands of a comment (at most a few per comment, each run
//! once even when the comment is edited), and the claimer's activity that keeps a claim alive.

use serde_json::json;
use tracing::Instrument;

use crate::accounts::{self, AccountReading};
use crate::commands::{self, Command, CommandError, ParsedCommand};
use crate::domain::TaskStatus;
use crate::domain::markers;
use crate::events::{CommentAction, CommentEvent};
use crate::messages::{self, ClaimRefusal, CommandRefusal};
use crate::permissions::Ask;
use crate::service::{Github, RepoSettings};
use crate::store::github::inbox::DeliveryOutcome;
use crate::store::github::vouch::VouchCommand;
use crate::store::github::worker_links::LinkRefusal;
use crate::store::{NewEvent, StoreError, WriteTx};
use crate::sync::{ApplyError, key_of, linked_worker};

use super::claims::{release, renew};
use super::proposals::claim;
use super::{
    CommentCtx, MAX_COMMANDS_PER_COMMENT, NOT_INSTALLED, Write, actor, ignore, read_repo, write,
};

pub(super) async fn comment_event(
    github: &Github,
    seq: i64,
    e: &CommentEvent,
) -> Result<Write, ApplyError> {
    let login = e.comment.author.login.as_str();
    if e.comment.author.is_bot()
        || e.sender.is_bot()
        || markers::find_status_marker(&e.comment.body).is_some()
        || markers::find_comment_marker(&e.comment.body).is_some()
    {
        return Ok(ignore(seq, "written by a bot"));
    }
    if e.issue.is_pull_request {
        return Ok(ignore(seq, "a pull request comment"));
    }
    let Some(read) = read_repo(github, &e.repo, e.installation_id, true).await? else {
        return Ok(ignore(seq, NOT_INSTALLED));
    };
    let installation = read.installation;
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
    let settings = read.settings();
    // A claim where only vouched people and maintainers claim asks too: the claim's rule reads
    // the answer GitHub gives (kept for five minutes).
    let vouch_required = settings.config.vouch.required;
    let needs_maintainer = parsed.iter().any(|c| {
        matches!(c, Ok(cmd) if cmd.requires_maintainer()
            || (vouch_required && *cmd == Command::Claim))
    });
    // A stranger's ask is counted per installation (GitHub's marks of insiders are not): past
    // the bound the stranger is answered as someone without write access.
    let insider = e.comment.by_insider();
    let ask = if insider {
        Ask::Uncounted
    } else {
        Ask::Counted
    };
    let asked = || github.is_maintainer(installation, repo, login, ask);
    let maintainer = if needs_maintainer {
        match asked().await {
            Ok(m) => Some(m),
            Err(crate::api::CallError::Wait { .. }) if !insider => {
                tracing::info!(
                    login,
                    "the installation's permission reads are spent; treating as no write access"
                );
                Some(false)
            }
            Err(crate::api::CallError::Permanent { status, message }) => {
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
            && github
                .replies
                .was_limited(
                    &github.store,
                    installation,
                    repo,
                    i64::try_from(e.issue.number).unwrap_or(i64::MAX),
                    i64::try_from(e.comment.author.id).unwrap_or(i64::MAX),
                )
                .await
            && asked().await.unwrap_or(false));
    let account =
        claimant_account(github, installation, &settings, &parsed, &e.comment.author).await?;
    let named = named_accounts(github, installation, maintainer, &parsed).await;
    // GitHub has been read; everything the delivery changes commits together from here.
    let e = e.clone();
    Ok(write(move |github| async move {
        let github = &*github;
        let login = e.comment.author.login.as_str();
        let repo = e.repo.full_name.as_str();
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
            account_id: i64::try_from(e.comment.author.id).unwrap_or(i64::MAX),
            insider: e.comment.by_insider(),
            plan: commands::plan_after_claim(&e.comment.body),
            reacted: Default::default(),
            denounced: Default::default(),
            actor: actor(login),
        };
        let mut tx = github.store.begin().await?;
        read.record(&mut tx, &ctx.actor).await?;
        ctx.denounced.store(
            !ctx.maintainer_known && tx.vouch().denounces(repo, ctx.account_id, login).await?,
            std::sync::atomic::Ordering::Relaxed,
        );
        // The commenter's login as GitHub sends it now: what the pool shows for this person.
        tx.person_links().seen(ctx.account_id, login).await?;
        if let Some(account) = account.filter(|a| a.asked) {
            tx.accounts()
                .remember(account.account_id, &account.login, account.created_at)
                .await?;
        }
        let key = key_of(repo, e.issue.number);
        // The claimer's own comments keep the claim alive.
        if let Some(task) = tx.tasks().by_key(repo, &key).await?
            && let Some(claim) = tx.comment_claims().get(&task.id).await?
            && task.lease_id.as_deref() == Some(claim.lease_id.as_str())
            && tx
                .person_links()
                .account_of_worker(&claim.worker_id)
                .await?
                == Some(ctx.account_id)
            && tx.comment_claims().touch(&claim).await?
        {
            tx.event(
                NewEvent::new("lease.renewed", &ctx.actor)
                    .repo(repo)
                    .task(&task.id)
                    .worker(task.worker_id.as_deref())
                    .data(json!({"lease_id": claim.lease_id, "reason": "activity"})),
            );
        }
        // A claim, a release or a block takes or frees path locks: the tasks waiting on them are told.
        let paths = tx.paths().watch(repo).await?;
        for command in parsed {
            run_command(&mut tx, &ctx, command).await?;
        }
        tx.vouch().resolve(repo, &named).await?;
        tx.paths().watched(paths, &ctx.actor).await?;
        tx.inbox()
            .finish(seq, DeliveryOutcome::Applied, None)
            .await?;
        tx.commit().await?;
        Ok(())
    }))
}

/// What is known of the commenter's GitHub account's age, when the repository takes claims only
/// from accounts of a minimum age and the comment claims, when the comment claims in a
/// repository that takes plans first (the plan's scorecard shows the age to maintainers), or
/// when the comment links a worker (whose claims over the API every repository with a minimum
/// age then checks). Asked of GitHub once per account (then kept, and an unknown one asked again
/// at most once per retry period). Fails closed: an age GitHub does not give stays unknown, and
/// the claim's rule refuses it.
async fn claimant_account(
    github: &Github,
    installation: i64,
    settings: &RepoSettings,
    parsed: &[ParsedCommand],
    author: &crate::events::Actor,
) -> Result<Option<AccountReading>, ApplyError> {
    let claim = &settings.config.claim;
    let claims = parsed.iter().any(|c| matches!(c, Ok(Command::Claim)))
        && (claim.min_account_age_days > 0
            || claim.approval == crate::domain::proposals::Approval::Plan);
    let links = parsed.iter().any(|c| matches!(c, Ok(Command::Link { .. })));
    if !claims && !links {
        return Ok(None);
    }
    let id = i64::try_from(author.id).unwrap_or(i64::MAX);
    Ok(accounts::account_age(github, installation, Some(id), &author.login, true).await?)
}

/// The account ids GitHub gives now for the logins a maintainer's `/owp vouch` or `/owp
/// denounce` names: the repository's list keeps the id (contract section 14), so a denounced
/// account that renames itself stays denounced. A login GitHub does not name stays unresolved
/// (a denouncement then refuses by login; a vouch grants nothing until GitHub names it).
async fn named_accounts(
    github: &Github,
    installation: i64,
    maintainer: Option<bool>,
    parsed: &[ParsedCommand],
) -> Vec<(String, i64)> {
    let logins: Vec<&str> = parsed
        .iter()
        .filter_map(|c| match c {
            Ok(Command::Vouch { login } | Command::Denounce { login, .. }) => Some(login.as_str()),
            _ => None,
        })
        .collect();
    if maintainer != Some(true) || logins.is_empty() {
        return Vec::new();
    }
    let client = match crate::api::installation(&github.app, installation).await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "cannot ask GitHub for the accounts a vouch command names");
            return Vec::new();
        }
    };
    let mut named = Vec::new();
    for login in logins {
        if let crate::account_ids::Lookup::Found(id) = github.account_ids.of(&client, login).await {
            named.push((login.to_ascii_lowercase(), id));
        }
    }
    named
}

pub(super) async fn run_command(
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

pub(super) async fn command_in_span(
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
    if matches!(command, Command::Away { .. } | Command::Back) {
        return super::reviewers::away_or_back(tx, ctx, &command).await;
    }
    if command.requires_maintainer() && ctx.maintainer != Some(true) {
        return ctx
            .reply(tx, None, &messages::permission_refused(ctx.login, &command))
            .await;
    }
    if let Some((login, vouch, reason)) = vouch_command(&command) {
        // A maintainer's vouch, unvouch or denouncement, on any issue of the repository; the
        // login is not mentioned back (a denounced person is not pinged).
        tx.vouch()
            .command(ctx.repo, login, vouch, reason, &ctx.actor)
            .await?;
        return ctx.thumbs_up(tx).await;
    }
    let ready_label = ctx.settings.config.labels.ready.clone();
    let task = tx
        .tasks()
        .by_key(ctx.repo, &key_of(ctx.repo, ctx.number))
        .await?;
    let task = match task {
        Some(task) if task.status != TaskStatus::Cancelled => task,
        _ => {
            let body = if command == Command::Claim {
                messages::claim_refused(ctx.login, &[ClaimRefusal::NotATask { ready_label }])
            } else {
                messages::command_refused(ctx.login, &CommandRefusal::NotATask { ready_label })
            };
            return ctx.reply(tx, None, &body).await;
        }
    };
    match command {
        Command::Claim => claim(tx, ctx, &task, ctx.plan.as_deref()).await,
        Command::Approve { login } => super::proposals::approve(tx, ctx, &task, &login).await,
        Command::Decline { login, reason } => {
            super::proposals::decline(tx, ctx, &task, &login, reason.as_deref()).await
        }
        Command::Withdraw => super::proposals::withdraw(tx, ctx, &task).await,
        Command::Release => release(tx, ctx, &task).await,
        Command::Renew => renew(tx, ctx, &task).await,
        Command::Status => {
            tx.show_again(&task.id);
            ctx.thumbs_up(tx).await
        }
        Command::Block { reason } => {
            if matches!(
                task.status,
                TaskStatus::Ready | TaskStatus::Leased | TaskStatus::InProgress
            ) {
                tx.leases()
                    .admin_status(&task.id, TaskStatus::Blocked, Some(reason), &ctx.actor)
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
                tx.leases()
                    .admin_status(&task.id, TaskStatus::Ready, None, &ctx.actor)
                    .await?;
                ctx.thumbs_up(tx).await
            } else {
                let body = messages::command_refused(ctx.login, &CommandRefusal::NotBlocked);
                ctx.reply(tx, Some(&task.id), &body).await
            }
        }
        Command::Review { login } => super::reviewers::move_review(tx, ctx, &task, &login).await,
        Command::Link { .. }
        | Command::OptIn
        | Command::OptOut
        | Command::Away { .. }
        | Command::Back
        | Command::Vouch { .. }
        | Command::Unvouch { .. }
        | Command::Denounce { .. } => Ok(()),
    }
}

/// A vouch command's login, what it does and its reason.
fn vouch_command(command: &Command) -> Option<(&str, VouchCommand, Option<&str>)> {
    match command {
        Command::Vouch { login } => Some((login, VouchCommand::Vouch, None)),
        Command::Unvouch { login } => Some((login, VouchCommand::Unvouch, None)),
        Command::Denounce { login, reason } => {
            Some((login, VouchCommand::Denounce, reason.as_deref()))
        }
        _ => None,
    }
}

/// `/owp opt-in` / `/owp opt-out`: the commenter's worker (linked, or their implicit worker,
/// both found by the account id) has its outcomes counted and is listed on the leaderboard, or
/// no longer.
pub(super) async fn opt_in(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    on: bool,
) -> Result<(), StoreError> {
    let worker_id = match linked_worker(tx, ctx.account_id).await? {
        Some(id) => id,
        None => {
            let max = i64::from(ctx.settings.config.max_claims_per_user.0.max(1));
            tx.workers()
                .implicit_github(ctx.login, ctx.account_id, max)
                .await?
                .id
        }
    };
    tx.reputations()
        .set_opt_in(&worker_id, Some(on), Some(on))
        .await?;
    ctx.reply(tx, None, &messages::opted_in(ctx.login, on))
        .await
}

pub(super) async fn command_error(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    error: &CommandError,
) -> Result<(), StoreError> {
    let body = messages::command_error(ctx.login, error, &ctx.github.help_url());
    ctx.reply(tx, None, &body).await
}

pub(super) async fn link(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    code: &str,
) -> Result<(), StoreError> {
    let hash = crate::login_link::code_hash(code);
    match tx
        .person_links()
        .use_code(&hash, ctx.login, ctx.account_id)
        .await?
    {
        Ok((worker_id, moved)) => {
            tx.event(
                NewEvent::new("github.worker_linked", &ctx.actor)
                    .worker(Some(&worker_id))
                    .data(json!({"login": ctx.login, "left": moved.left})),
            );
            crate::login_link::tell_moved(tx, ctx.login, &worker_id, &moved).await?;
            if let Some(left) = &moved.left {
                let body = crate::login_link::relinked(
                    ctx.login,
                    &worker_id,
                    left,
                    crate::login_link::MovedHere::Nothing,
                );
                ctx.reply(tx, None, &body).await?;
            }
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
