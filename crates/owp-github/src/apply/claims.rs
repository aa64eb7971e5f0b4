//! The claim commands of a comment: `/owp claim`, `/owp release`, `/owp renew`, and a refusal
//! that names every rule that held the claim back.

use serde_json::json;

use crate::domain::TaskStatus;
use crate::domain::rules::Refusal;
use crate::messages::{self, Budget, ClaimRefusal, CommandRefusal, Holder};
use crate::service::{Github, RepoSettings};
use crate::store::HOUR_MS;
use crate::store::rows::TaskRow;
use crate::store::{NewEvent, StoreError, WriteTx};
use crate::sync::{holder_of, holds, let_go_if_out_of_pool, linked_worker, pr_url};

use super::CommentCtx;

/// What a `/owp claim` came to.
pub(super) enum Claim {
    /// The commenter holds the task.
    Taken,
    /// Refused, by each of these.
    Refused(Vec<ClaimRefusal>),
    /// The repository takes a plan first from the commenter (rule 11), and nothing but the room
    /// of the moment, which the approval checks again, refused the claim: the comment proposes.
    Propose,
}

/// Whether a claim refused by `refusals` makes a proposal instead: rule 11 refused it, and
/// every other refusal is about the room of the moment (budgets, reviewers, locks, waiting),
/// which a proposal does not take and the approval checks again. A rule about the person
/// (denounced, not vouched, account age, first timers, tiers, …) refuses as for any claim.
fn proposes(refusals: &[Refusal]) -> bool {
    refusals
        .iter()
        .any(|r| matches!(r, Refusal::ApprovalRequired { .. }))
        && refusals.iter().all(|r| {
            matches!(
                r,
                Refusal::ApprovalRequired { .. }
                    | Refusal::BudgetFull { .. }
                    | Refusal::NoReviewerRoom { .. }
                    | Refusal::AreaLocked { .. }
                    | Refusal::PathsHeld { .. }
                    | Refusal::ConcurrentTasks { .. }
                    | Refusal::CapacityPoints { .. }
                    | Refusal::HourlyCap { .. }
                    | Refusal::Waiting { .. }
            )
        })
}

pub(super) async fn try_claim(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    task: &TaskRow,
) -> Result<Claim, StoreError> {
    let config = &ctx.settings.config;
    // A link speaks for the account that proved it: a new account that took the login of a
    // linked one claims as itself.
    let linked = linked_worker(tx, ctx.account_id).await?;
    if !config.who_may_claim.allows(ctx.login, linked.is_some()) {
        return Ok(Claim::Refused(vec![match config.who_may_claim {
            crate::repo_config::WhoMayClaim::Workers => ClaimRefusal::WorkersOnly,
            _ => ClaimRefusal::NotOnAllowlist,
        }]));
    }
    if task.status != TaskStatus::Ready {
        return refusal_for_status(tx, ctx, task)
            .await
            .map(|r| Claim::Refused(vec![r]));
    }
    let person = linked.is_none();
    let worker_id = match linked {
        Some(id) => id,
        None => {
            let max = i64::from(config.max_claims_per_user.0.max(1));
            tx.workers()
                .implicit_github(ctx.login, ctx.account_id, max)
                .await?
                .id
        }
    };
    match tx.claim_task(&worker_id, &task.id, ctx.insider).await {
        Ok(lease) => {
            let claimer = Claimer {
                login: ctx.login,
                worker_id: &worker_id,
                person,
            };
            hold_by_comment(tx, &ctx.place(), &task.id, &lease.lease_id, &claimer).await?;
            Ok(Claim::Taken)
        }
        Err(StoreError::Refused(refusals)) if proposes(&refusals) => Ok(Claim::Propose),
        Err(StoreError::Refused(refusals)) => {
            let mut explained = Vec::with_capacity(refusals.len());
            for refusal in refusals {
                explained.push(explain_refusal(tx, task, &worker_id, refusal).await?);
            }
            Ok(Claim::Refused(explained))
        }
        Err(StoreError::Conflict {
            code: "task_not_ready",
            ..
        }) => {
            let fresh = tx.tasks().get(&task.id).await?;
            refusal_for_status(tx, ctx, &fresh)
                .await
                .map(|r| Claim::Refused(vec![r]))
        }
        Err(other) => Err(other),
    }
}

/// Who holds a task by comment.
pub(super) struct Claimer<'a> {
    pub login: &'a str,
    pub worker_id: &'a str,
    /// The implicit worker of a person (not a linked worker).
    pub person: bool,
}

/// Where a comment claim is made, and by whom: what [`hold_by_comment`] needs of a comment, or
/// of an approval over the API.
pub(super) struct ClaimPlace<'a> {
    pub github: &'a Github,
    pub repo: &'a str,
    pub settings: &'a RepoSettings,
    /// Who made it, as the audit log names them.
    pub actor: &'a str,
}

/// A lease just taken becomes a comment claim of `claimer` (started at once, with the
/// repository's claim TTL and reminder), with its audit event: the end of `/owp claim`, and of
/// an approval of a person's plan (`/owp approve`, or over the API).
pub(super) async fn hold_by_comment(
    tx: &mut WriteTx,
    place: &ClaimPlace<'_>,
    task_id: &str,
    lease_id: &str,
    claimer: &Claimer<'_>,
) -> Result<(), StoreError> {
    let now = tx.now;
    tx.leases().ack(claimer.worker_id, lease_id).await?;
    let ttl = place.github.claim_ttl_ms(place.settings);
    tx.comment_claims()
        .set_deadline(task_id, lease_id, now + ttl)
        .await?;
    tx.comment_claims()
        .insert(
            task_id,
            lease_id,
            claimer.login,
            claimer.worker_id,
            claimer.person,
            ttl,
            place.settings.config.claim.reminder,
        )
        .await?;
    tx.event(
        NewEvent::new("github.claimed", place.actor)
            .repo(place.repo)
            .task(task_id)
            .worker(Some(claimer.worker_id))
            .data(json!({"lease_id": lease_id, "login": claimer.login,
                         "until": crate::store::format_ts(now + ttl)})),
    );
    Ok(())
}

pub(super) async fn refusal_for_status(
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
            if holds(tx, task, ctx.account_id).await? {
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

pub(super) fn to_time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The scheduler's refusal in a volunteer's words.
pub(super) async fn explain_refusal(
    tx: &mut WriteTx,
    task: &TaskRow,
    worker_id: &str,
    refusal: Refusal,
) -> Result<ClaimRefusal, StoreError> {
    let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    Ok(match refusal {
        Refusal::NackedRecently => {
            let at = tx
                .comment_claims()
                .nacked_at(task.seq, worker_id)
                .await?
                .unwrap_or(tx.now);
            ClaimRefusal::RecentlyReleased {
                retry_at: to_time(at + crate::store::NACK_COOLDOWN_MS),
            }
        }
        Refusal::Paused => {
            let worker = tx.workers().get(worker_id).await?;
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
        Refusal::AreaLocked { area, held_by } => {
            let other_issue = held_by
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
            full: true,
        }),
        Refusal::TierTooHigh { tier, .. } => {
            // In a volunteer's words: the trust they have here, with what they earned.
            let (progress, rules) = tx
                .reputations()
                .trust_progress(worker_id, task.repo_id)
                .await?;
            let trust_level = progress.effective();
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
        Refusal::AccountTooNew {
            min_days,
            claim_from,
        } => ClaimRefusal::AccountTooNew {
            min_days: u32::try_from(min_days.max(0)).unwrap_or(u32::MAX),
            claim_from: chrono::DateTime::from_timestamp_millis(claim_from).unwrap_or_default(),
        },
        Refusal::AccountAgeUnknown { min_days } => ClaimRefusal::AccountAgeUnknown {
            min_days: u32::try_from(min_days.max(0)).unwrap_or(u32::MAX),
        },
        Refusal::PathsHeld { by } => ClaimRefusal::PathsHeld {
            by: by
                .into_iter()
                .map(|(key, pattern)| (messages::issue_ref(&task.repo, &key), pattern))
                .collect(),
        },
        Refusal::HourlyCap { limit, from } => ClaimRefusal::HourlyLimit {
            limit: u32::try_from(limit.max(0)).unwrap_or(u32::MAX),
            retry_at: to_time(from.unwrap_or(tx.now + HOUR_MS)),
        },
        Refusal::NotFirstTimer {
            label,
            merged,
            insider,
        } => ClaimRefusal::NotFirstTimer {
            label,
            merged: count(merged),
            insider,
        },
        Refusal::CoolingDown { hours, until } => ClaimRefusal::CoolingDown {
            hours: count(hours),
            retry_at: to_time(until),
        },
        Refusal::Denounced => ClaimRefusal::Denounced,
        Refusal::LinkRequired => ClaimRefusal::LinkRequired,
        Refusal::NotVouched { unread } => ClaimRefusal::NotVouched { unread },
        Refusal::NotOnAllowlist => ClaimRefusal::NotOnAllowlist,
        // A claim by name is a person's own pick, which a specialist's reach does not limit; the
        // skills the task needs are the nearest words.
        Refusal::OutsideSpecialty => ClaimRefusal::MissingSkills {
            missing: task.required_skills.clone(),
        },
        Refusal::NoReviewerRoom { room, in_flight } => {
            ClaimRefusal::NoReviewerRoom { room, in_flight }
        }
        Refusal::ApprovalRequired { .. } => ClaimRefusal::ApprovalRequired,
    })
}

pub(super) async fn release(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    task: &TaskRow,
) -> Result<(), StoreError> {
    if !(task.status.is_active() && holds(tx, task, ctx.account_id).await?) {
        let body =
            messages::command_refused(ctx.login, &CommandRefusal::NotHolder { command: "release" });
        return ctx.reply(tx, Some(&task.id), &body).await;
    }
    let (Some(worker), Some(lease)) = (task.worker_id.clone(), task.lease_id.clone()) else {
        return Ok(());
    };
    match tx
        .leases()
        .nack(&worker, &lease, Some("released by comment".into()))
        .await
    {
        Ok(_) => {
            let_go_if_out_of_pool(tx, &task.id, &ctx.actor).await?;
            let hours = ctx.settings.config.claim.cooldown_hours;
            if hours == 0 {
                return ctx.thumbs_up(tx).await;
            }
            // The release starts the person's cool-down here: say until when.
            let until = to_time(tx.now + i64::from(hours) * HOUR_MS);
            let body = messages::released_cooling_down(ctx.login, hours, until);
            ctx.reply(tx, Some(&task.id), &body).await
        }
        // The lease ended on the way (expired): nothing left to release.
        Err(StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

pub(super) async fn renew(
    tx: &mut WriteTx,
    ctx: &CommentCtx<'_>,
    task: &TaskRow,
) -> Result<(), StoreError> {
    if !(task.status.is_active() && holds(tx, task, ctx.account_id).await?) {
        let body =
            messages::command_refused(ctx.login, &CommandRefusal::NotHolder { command: "renew" });
        return ctx.reply(tx, Some(&task.id), &body).await;
    }
    // A comment claim was already renewed by this comment (activity); a lease taken over the API
    // is renewed by its TTL.
    if tx.comment_claims().get(&task.id).await?.is_none()
        && let (Some(worker), Some(lease)) = (task.worker_id.clone(), task.lease_id.clone())
    {
        match tx.leases().renew(&worker, &lease).await {
            Ok(_) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    ctx.thumbs_up(tx).await
}
