//! What each webhook event does to the pool.
//!
//! Every handler reads what it needs from GitHub first (a repository's settings, a commenter's
//! permission), then opens one write transaction in which it changes tasks through the store's
//! usual methods (import, claim, moves), queues its replies in the outbox and marks the delivery
//! applied — so a delivery's effects are all there or none is. What brings a repository, an issue
//! or a pull request in line with GitHub lives in `github::sync` ([`sync_issue`], [`sync_pull`]),
//! which reconciliation uses too for what it finds on GitHub.
//!
//! [`sync_issue`]: crate::github::sync::sync_issue
//! [`sync_pull`]: crate::github::sync::sync_pull
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

use crate::github::events::{self, Event};
use crate::github::service::{Github, RepoSettings, target};
use crate::github::sync::{ApplyError, join_repo, show_checks, to_i64};
use crate::github::throttle;
use crate::store::github::inbox::DeliveryOutcome;
use crate::store::github::outbox::OutboxTarget;
use crate::store::{StoreError, WriteTx};

mod claims;
mod comments;
mod installation;
mod issues;
mod pulls;

use comments::comment_event;
use installation::{follow_visibility, installation, installation_repositories, repository_event};
use issues::{dependency_event, issue_event};
use pulls::pull_event;

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
    /// A reaction was queued instead of a reply.
    reacted: std::sync::atomic::AtomicBool,
    actor: String,
}

impl CommentCtx<'_> {
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
        let since = tx.now - REPEAT_WINDOW_MS;
        if !self.maintainer_known && tx.gh_recent_reply(&self.target(), body, since).await? {
            tracing::info!(
                login = self.login,
                "an identical reply was just queued; reacting instead"
            );
            return self.react_once(tx, throttle::COLLAPSED_REACTION).await;
        }
        let allowed = self.maintainer_known
            || self.github.replies.allow(
                self.installation,
                self.repo,
                to_i64(self.number),
                self.login,
            );
        if !allowed {
            tracing::info!(login = self.login, "reply limit reached; reacting instead");
            return self.react_once(tx, throttle::THROTTLED_REACTION).await;
        }
        tx.gh_enqueue_comment(&self.target(), task_id, body).await
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
        tx.gh_enqueue_reaction(&self.target(), self.comment_id, content)
            .await
    }

    async fn thumbs_up(&self, tx: &mut WriteTx) -> Result<(), StoreError> {
        tx.gh_enqueue_reaction(&self.target(), self.comment_id, "+1")
            .await
    }
}
