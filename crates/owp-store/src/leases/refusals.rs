//! Why a claim refuses: the claim's own conditions ([`crate::claim_rules`]: the same SQL text
//! the claim statements join), each read as a column of one statement, and each failed one put
//! into words ([`Refusal`]) with the figures a person needs. The preview (`store::preview`) reads
//! them over the first ready tasks, a claim by name ([`super::named_claim`]) over its one task:
//! a refusal is explained from the SQL condition that refuses, never from a second copy of a
//! rule.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use crate::claim_rules::{Condition, Pick, account_refusal};
use crate::composed::leases::refusals::statement;
use crate::domain::rules::{self, Refusal};
use crate::rows::{TaskRow, WorkerRow};
use crate::{Backend, HOUR_MS, NACK_COOLDOWN_MS, StoreError};

/// One task as a claim of the worker sees it now, and every condition that refuses it (none
/// when it is eligible), in the order of the rules of section 5.
#[derive(Clone, Debug)]
pub(crate) struct Explained {
    pub task: TaskRow,
    pub refusals: Vec<Refusal>,
    /// The task's repository is private.
    pub private: bool,
}

/// The claim's conditions for `worker` at the instant `now`, over the tasks `pick` names: the
/// first `limit` ready tasks in offer order ([`Pick::First`], what the preview shows), or one task
/// in whatever status ([`Pick::Named`]: a claim by name, which a specialist's reach does not
/// limit; the caller reads the task's status). `worker` is the worker's row as the
/// caller read it; the conditions read its row as the database holds it.
pub(crate) async fn explain<'c>(
    conn: impl Executor<'c, Database = Any>,
    backend: Backend,
    worker: &WorkerRow,
    pick: Pick,
    limit: i64,
    now: i64,
) -> Result<Vec<Explained>, StoreError> {
    let (conditions, sql) = statement(backend, pick.skills(worker), pick, limit);
    let rows = sql
        .query()
        .bind(&worker.id)
        .bind(now - NACK_COOLDOWN_MS)
        .bind(now - HOUR_MS)
        .bind(serde_json::to_string(&worker.skills).unwrap_or_else(|_| "[]".into()))
        .fetch_all(conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let task = TaskRow::decode(&row)?;
        let mut refusals = Vec::new();
        for (i, condition) in conditions.iter().enumerate() {
            let held: i64 = row.try_get(format!("c{i}").as_str())?;
            if held == 0 {
                let why = refusal(*condition, worker, pick, &task, &row)?;
                // A person's implicit worker holds as many tasks as the person may: one reason.
                if !refusals.contains(&why) {
                    refusals.push(why);
                }
            }
        }
        refusals.sort_by_key(Refusal::rule);
        let private = row.try_get::<i64, _>("r_private")? != 0;
        out.push(Explained {
            task,
            refusals,
            private,
        });
    }
    Ok(out)
}

/// A failed condition in words, with the figures a person needs.
fn refusal(
    condition: Condition,
    worker: &WorkerRow,
    pick: Pick,
    task: &TaskRow,
    row: &AnyRow,
) -> Result<Refusal, StoreError> {
    Ok(match condition {
        Condition::NotPaused => Refusal::Paused,
        Condition::TasksRoom => Refusal::ConcurrentTasks {
            active: row.try_get("w_active_tasks")?,
            max: row.try_get("w_max_tasks")?,
        },
        // One person's claims across their workers and comments are refused as one worker's.
        Condition::PersonClaimsRoom => Refusal::ConcurrentTasks {
            active: row.try_get("w_person_claims")?,
            max: row
                .try_get::<Option<i64>, _>("r_max_claims_per_user")?
                .unwrap_or_default(),
        },
        Condition::PointsRoom => Refusal::CapacityPoints {
            active: row.try_get("w_active_points")?,
            estimate: task.estimate_points,
            capacity: row.try_get("w_capacity")?,
        },
        Condition::NotWaiting => Refusal::Waiting {
            on: task.waiting_on.clone(),
        },
        Condition::BudgetRoom => Refusal::BudgetFull {
            open_prs: row.try_get("r_open_prs")?,
            active_leases: row.try_get("r_active_leases")?,
            max_open_prs: row.try_get("r_max_open_prs")?,
        },
        Condition::HourlyRoom => Refusal::HourlyCap {
            limit: row
                .try_get::<Option<i64>, _>("r_claims_per_hour")?
                .unwrap_or(0),
            from: row.try_get("r_hour_from")?,
        },
        Condition::AreaFree => Refusal::AreaLocked {
            area: task.area.clone().unwrap_or_default(),
            held_by: row.try_get("r_area_holder")?,
        },
        Condition::NotNackedRecently => Refusal::NackedRecently,
        Condition::TierTrusted => Refusal::TierTooHigh {
            tier: task.tier,
            trust_level: row.try_get("w_trust_level")?,
        },
        Condition::CapabilitiesHeld => Refusal::MissingCapabilities(rules::missing_capabilities(
            &worker.capabilities,
            &task.requires,
        )),
        Condition::SkillsHeld => {
            Refusal::MissingSkills(rules::missing_skills(&worker.skills, &task.required_skills))
        }
        Condition::InSpecialty => Refusal::OutsideSpecialty,
        Condition::AccountOldEnough => {
            let min_days: i64 = row.try_get("r_min_account_age_days")?;
            account_refusal(min_days, row.try_get("w_account_created")?)
        }
        Condition::PathsFree => Refusal::PathsHeld {
            by: task.path_holds.clone(),
        },
        Condition::FirstTimer => Refusal::NotFirstTimer {
            label: row
                .try_get::<Option<String>, _>("r_first_timers_label")?
                .unwrap_or_default(),
            merged: row.try_get("w_merged_here")?,
            insider: matches!(pick, Pick::Named { insider: true, .. }),
        },
        Condition::CooledDown => Refusal::CoolingDown {
            hours: row.try_get("r_cooldown_hours")?,
            until: row
                .try_get::<Option<i64>, _>("w_cooldown_ends")?
                .unwrap_or_default(),
        },
        Condition::ReviewerRoom => Refusal::NoReviewerRoom {
            room: row.try_get("r_reviewer_room")?,
            in_flight: row.try_get("r_active_leases")?,
        },
        Condition::Approved => Refusal::ApprovalRequired {
            skip_trust: row.try_get("r_approval_skip_trust")?,
        },
        Condition::NotDenounced => Refusal::Denounced,
        Condition::OnAllowlist => Refusal::NotOnAllowlist,
        Condition::PersonProven => Refusal::LinkRequired,
        Condition::VouchedIfRequired => Refusal::NotVouched {
            unread: row.try_get::<i64, _>("r_vouch_closed")? != 0,
        },
    })
}
