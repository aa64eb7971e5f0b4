//! Plans first (rule 11) by comment: a `/owp claim` that the repository takes as a proposal,
//! and a maintainer's `/owp approve @login` or `/owp decline @login [reason]`, or the proposer's
//! `/owp withdraw`. The proposals are the store's (`store::proposals`), the same rows a worker
//! proposes over the API; an approval is the store's approval, so every other rule of the claim
//! is checked again, and a person's plan becomes their comment claim in the same transaction,
//! whether the maintainer approves by comment or over the API ([`approve_over_api`]). Proposers
//! learn how their proposals ended from one reply per issue, written in the transaction that ended
//! them (`store::github::on_commit`) whichever path ended them.

use crate::domain::Lease;
use crate::domain::proposals::MAX_PLAN_CHARS;
use crate::messages::{self, ClaimRefusal, proposals as texts};
use crate::service::Github;
use crate::store::proposals::ProposalRow;
use crate::store::rows::TaskRow;
use crate::store::{DAY_MS, StoreError, WriteTx};
use crate::throttle;

use super::CommentCtx;
use super::claims::{
    Claim, ClaimPlace, Claimer, explain_refusal, hold_by_comment, refusal_for_status, try_claim,
};

/// `/owp claim`: the commenter holds the issue, is told why not, or proposes their plan where a
/// plan comes first.
pub(super) async fn claim(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    task: &TaskRow,
    plan: Option<&str>,
) -> Result<(), StoreError> {
    match try_claim(tx, ctx, task).await? {
        // The status comment, edited at once (within the status window), names the new holder:
        // a thumbs-up as well would tell nobody anything new, and costs a write.
        Claim::Taken => Ok(()),
        Claim::Refused(mut refusal) => {
            // With a plan given, wanting one is not why it was refused: only the other rules.
            if plan.is_some()
                && refusal
                    .iter()
                    .any(|r| !matches!(r, ClaimRefusal::ApprovalRequired))
            {
                refusal.retain(|r| !matches!(r, ClaimRefusal::ApprovalRequired));
            }
            let body = messages::claim_refused(ctx.login, &refusal);
            ctx.reply(tx, Some(&task.id), &body).await
        }
        Claim::Propose => propose(tx, ctx, task, plan).await,
    }
}

/// `/owp claim` where the commenter's claim waits for an approved plan: the lines after the
/// command are the plan. Nothing is stored without a plan, or with a plan too long; the same
/// person proposing again on the task changes nothing and gets no second reply (their comment
/// gets the `eyes` reaction: the answer is above).
pub(super) async fn propose(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    task: &TaskRow,
    plan: Option<&str>,
) -> Result<(), StoreError> {
    let Some(plan) = plan else {
        return ctx
            .reply(tx, Some(&task.id), &texts::plan_missing(ctx.login))
            .await;
    };
    let chars = plan.chars().count();
    if chars > MAX_PLAN_CHARS {
        let body = texts::plan_too_long(ctx.login, chars);
        return ctx.reply(tx, Some(&task.id), &body).await;
    }
    // A comment proposes as the person: their implicit worker, whose approval makes them the
    // comment claimer (a linked worker proposes over the API).
    let max = i64::from(ctx.settings.config.max_claims_per_user.0.max(1));
    let worker = tx
        .workers()
        .implicit_github(ctx.login, ctx.account_id, max)
        .await?;
    match tx
        .proposals()
        .propose(&worker, &task.id, plan, ctx.insider)
        .await
    {
        Ok(row) => {
            let days = ((row.expires_at - row.created_at) / DAY_MS).max(1);
            let body = texts::proposed(ctx.login, days);
            ctx.reply(tx, Some(&task.id), &body).await
        }
        Err(StoreError::Conflict {
            code: "already_proposed",
            ..
        }) => ctx.react_once(tx, throttle::COLLAPSED_REACTION).await,
        Err(StoreError::Conflict {
            code: "too_many_proposals",
            ..
        }) => {
            let body = texts::too_many_proposals(ctx.login);
            ctx.reply(tx, Some(&task.id), &body).await
        }
        Err(StoreError::Refused(refusals)) if !refusals.is_empty() => {
            let mut named = Vec::with_capacity(refusals.len());
            for refusal in refusals {
                named.push(explain_refusal(tx, task, &worker.id, refusal).await?);
            }
            let body = messages::claim_refused(ctx.login, &named);
            ctx.reply(tx, Some(&task.id), &body).await
        }
        Err(StoreError::Conflict {
            code: "task_not_ready",
            ..
        }) => {
            let fresh = tx.tasks().get(&task.id).await?;
            let refusal = refusal_for_status(tx, ctx, &fresh).await?;
            let body = messages::claim_refused(ctx.login, &[refusal]);
            ctx.reply(tx, Some(&task.id), &body).await
        }
        Err(e) => Err(e),
    }
}

/// `/owp approve @login` (a maintainer): that login's open plan for the issue is approved
/// ([`approve_plan`]), and its author holds the issue — a person as a comment claimer, a linked
/// worker with a lease to acknowledge. Refused by another rule: the reply names each, the plan
/// stays open.
pub(super) async fn approve(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    task: &TaskRow,
    login: &str,
) -> Result<(), StoreError> {
    let Some(found) = tx.proposals().open_of_person(&task.id, login).await? else {
        let body = texts::no_open_proposal(ctx.login, login);
        return ctx.reply(tx, Some(&task.id), &body).await;
    };
    match approve_plan(tx, &ctx.place(), &found.id).await {
        Ok(_) => ctx.thumbs_up(tx).await,
        Err(StoreError::Refused(refusals)) if !refusals.is_empty() => {
            let mut named = Vec::with_capacity(refusals.len());
            for refusal in refusals {
                let (rule, code) = (refusal.rule(), refusal.code());
                let explained = explain_refusal(tx, task, &found.worker_id, refusal).await?;
                named.push((rule, code, explained));
            }
            let body = texts::approve_refused(ctx.login, login, &named);
            ctx.reply(tx, Some(&task.id), &body).await
        }
        Err(StoreError::Conflict { .. }) => {
            let body = texts::no_open_proposal(ctx.login, login);
            ctx.reply(tx, Some(&task.id), &body).await
        }
        Err(e) => Err(e),
    }
}

/// The one approval of a plan, whether a maintainer comments `/owp approve @login` or approves
/// over the API (`POST /v1/admin/proposals/{id}/approve`, the dashboard's Approve): the store's
/// approval (every other rule of the claim checked again, every other open plan of the task
/// `not_chosen`, each with its audit event) and, for a plan proposed by comment, its author's
/// comment claim (the repository's time limit and reminder), in the caller's transaction. The
/// outbox hook tells every proposer how their plan ended when it commits. Returns the approved
/// proposal, and the lease a worker is to acknowledge (none for a comment claimer, who holds the
/// issue already).
async fn approve_plan(
    tx: &mut WriteTx,
    place: &ClaimPlace<'_>,
    id: &str,
) -> Result<(ProposalRow, Option<Lease>), StoreError> {
    let (row, lease) = tx.proposals().approve(id, place.actor).await?;
    let worker = tx.workers().get(&row.worker_id).await?;
    if !worker.claims_by_comment() {
        return Ok((row, Some(lease)));
    }
    let login = row
        .login
        .clone()
        .or_else(|| worker.github_login.clone())
        .unwrap_or_default();
    let claimer = Claimer {
        login: &login,
        worker_id: &row.worker_id,
        person: true,
    };
    hold_by_comment(tx, place, &row.task_id, &lease.lease_id, &claimer).await?;
    Ok((row, None))
}

/// `POST /v1/admin/proposals/{id}/approve` while the App runs (the caller has checked that
/// `actor` may steer `repo`, the proposal's repository): [`approve_plan`] in a transaction of its
/// own, with the repository's settings as the App last read them — what `/owp approve @login`
/// does, without a comment to react to. A refusal leaves everything as it was.
pub async fn approve_over_api(
    github: &Github,
    repo: &str,
    id: &str,
    actor: &str,
) -> Result<(ProposalRow, Option<Lease>), StoreError> {
    let settings = github.settings(repo).await?;
    let place = ClaimPlace {
        github,
        repo,
        settings: &settings,
        actor,
    };
    let place = &place;
    github
        .store
        .write(|mut tx| async move {
            let r = approve_plan(&mut tx, place, id).await;
            (tx, r)
        })
        .await
}

/// `/owp decline @login [reason]` (a maintainer): that login's open plan for the issue ends.
pub(super) async fn decline(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    task: &TaskRow,
    login: &str,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    let Some(found) = tx.proposals().open_of_person(&task.id, login).await? else {
        let body = texts::no_open_proposal(ctx.login, login);
        return ctx.reply(tx, Some(&task.id), &body).await;
    };
    match tx.proposals().decline(&found.id, reason, &ctx.actor).await {
        Ok(_) => ctx.thumbs_up(tx).await,
        Err(StoreError::Conflict { .. }) => {
            let body = texts::no_open_proposal(ctx.login, login);
            ctx.reply(tx, Some(&task.id), &body).await
        }
        Err(e) => Err(e),
    }
}

/// `/owp withdraw`: the commenter's own open plan for the issue ends.
pub(super) async fn withdraw(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    task: &TaskRow,
) -> Result<(), StoreError> {
    let Some(found) = tx.proposals().open_of_person(&task.id, ctx.login).await? else {
        let body = texts::nothing_to_withdraw(ctx.login);
        return ctx.reply(tx, Some(&task.id), &body).await;
    };
    match tx.proposals().withdraw(&found.worker_id, &found.id).await {
        Ok(_) => ctx.thumbs_up(tx).await,
        Err(StoreError::Conflict { .. }) => {
            let body = texts::nothing_to_withdraw(ctx.login);
            ctx.reply(tx, Some(&task.id), &body).await
        }
        Err(e) => Err(e),
    }
}
