//! The reviewers' commands (rule 13): `/owp away [DAYS]` and `/owp back` by a reviewer of the
//! repository (found by the commenter's GitHub account id), for themselves, on any of its issues; `/owp review @login` by a maintainer, on a
//! task's issue, moves its pull request's review to another of the repository's reviewers.

use crate::commands::Command;
use crate::domain::TaskStatus;
use crate::messages::reviewers as words;
use crate::store::github::reviewers::AWAY_UNTIL_BACK;
use crate::store::rows::TaskRow;
use crate::store::{DAY_MS, StoreError, WriteTx};

use super::CommentCtx;

/// `/owp away [DAYS]` or `/owp back` (`command`) by the commenter, for themselves.
pub(super) async fn away_or_back(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    command: &Command,
) -> Result<(), StoreError> {
    // The commenter's person, never their login: a new account on a reviewer's freed login is
    // not that reviewer (their comment has resolved an entry of its login not resolved yet).
    let reviewer = match tx.repos().by_name(ctx.repo).await? {
        Some(repo) => tx.reviewers().of_person(repo.id, ctx.account_id).await?,
        None => None,
    };
    let Some(reviewer) = reviewer else {
        return ctx.reply(tx, None, &words::not_a_reviewer(ctx.login)).await;
    };
    let body = match command {
        Command::Away { days } => {
            let until = days.map_or(AWAY_UNTIL_BACK, |d| tx.now + i64::from(d) * DAY_MS);
            tx.reviewers()
                .set_away(ctx.repo, &reviewer, Some(until), &ctx.actor)
                .await?;
            let shown = days.and_then(|_| chrono::DateTime::from_timestamp_millis(until));
            words::away(ctx.login, shown, reviewer.open)
        }
        _ => {
            tx.reviewers()
                .set_away(ctx.repo, &reviewer, None, &ctx.actor)
                .await?;
            words::back(ctx.login)
        }
    };
    ctx.reply(tx, None, &body).await
}

/// `/owp review @login` by a maintainer on `task`'s issue: `login`, one of the repository's
/// reviewers, reviews its open pull request from now on.
pub(super) async fn move_review(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    task: &TaskRow,
    login: &str,
) -> Result<(), StoreError> {
    if task.status != TaskStatus::PrOpened {
        return ctx
            .reply(tx, Some(&task.id), &words::no_review(ctx.login))
            .await;
    }
    // A reviewer whose login names no account yet cannot be given a review.
    let reviewer = tx
        .reviewers()
        .by_login(task.repo_id, login)
        .await?
        .filter(|r| r.account_id.is_some());
    let Some(reviewer) = reviewer else {
        return ctx
            .reply(
                tx,
                Some(&task.id),
                &words::unknown_reviewer(ctx.login, login),
            )
            .await;
    };
    let current = tx.reviewers().open_review_of(task).await?;
    if current.as_ref().map(|(id, _)| *id) != Some(reviewer.account_id) {
        let from = current.as_ref().map(|(_, login)| login.as_str());
        tx.reviewers()
            .record_review(task, &reviewer, from, &ctx.actor)
            .await?;
    }
    ctx.thumbs_up(tx).await
}
