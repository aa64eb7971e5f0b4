//! Why not me: the ready tasks a worker would be offered first, each with every rule that keeps
//! it from that worker now (`GET /v1/work/preview`). It changes nothing.
//!
//! The conditions are the claim's own (`worker_conditions`, `claim_conditions` and
//! `skill_conditions` of [`super::leases::claim_rules`]: the same SQL text the claim statements
//! join), read one by one as columns of one statement, with the worker's row as the database
//! holds it now.
//! So a task the preview calls eligible is one the claim would take at that moment, and the
//! first eligible task is the one `POST /v1/work` grants. `domain::rules::Refusal` puts each
//! failed condition into words.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::leases::claim_rules::{
    Condition, OFFER_ORDER, account_created, account_refusal, claim_conditions, skill_conditions,
    worker_conditions,
};
use super::rows::{TASK_SELECT, TaskRow, WorkerRow};
use super::{HOUR_MS, NACK_COOLDOWN_MS, Store, StoreError};
use crate::domain::rules::{self, Refusal};

/// How many ready tasks a preview looks at, first in offer order.
pub const PREVIEW_TASKS: i64 = 50;

/// One ready task and what keeps it from the worker (nothing when it is eligible).
#[derive(Clone, Debug)]
pub struct PreviewEntry {
    pub task: TaskRow,
    /// Every refusing rule, in the order of section 5.
    pub refusals: Vec<Refusal>,
}

impl Store {
    /// The first [`PREVIEW_TASKS`] ready tasks in offer order, each with what keeps it from
    /// `worker` now (see the module docs).
    pub async fn preview(&self, worker: &WorkerRow) -> Result<Vec<PreviewEntry>, StoreError> {
        let now = super::now_ms();
        let mut conditions = worker_conditions();
        conditions.extend(claim_conditions(self.backend, "$1", "$2", "$3"));
        conditions.extend(skill_conditions(self.backend, worker, "$4"));
        let columns: String = conditions
            .iter()
            .enumerate()
            .map(|(i, (_, sql))| {
                format!("CAST(CASE WHEN {sql} THEN 1 ELSE 0 END AS BIGINT) AS c{i}, ")
            })
            .collect();
        let select = TASK_SELECT
            .strip_prefix("SELECT ")
            .expect("TASK_SELECT starts with SELECT");
        let sql = format!(
            "SELECT {columns}r.max_open_prs AS r_max_open_prs, r.open_prs AS r_open_prs, \
               r.active_leases AS r_active_leases, r.claims_per_hour AS r_claims_per_hour, \
               r.min_account_age_days AS r_min_account_age_days, \
               {} AS w_account_created, \
               w.active_tasks AS w_active_tasks, \
               w.max_concurrent_tasks AS w_max_tasks, w.active_points AS w_active_points, \
               w.capacity_points AS w_capacity, w.trust_level AS w_trust_level, {select} \
               CROSS JOIN workers w \
             WHERE w.id = $1 AND t.status = 'ready' \
             {OFFER_ORDER} LIMIT {PREVIEW_TASKS}",
            account_created("$1")
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(&worker.id)
            .bind(now - NACK_COOLDOWN_MS)
            .bind(now - HOUR_MS)
            .bind(serde_json::to_string(&worker.skills).unwrap_or_else(|_| "[]".into()))
            .fetch_all(&self.read)
            .await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let task = TaskRow::decode(&row)?;
            let mut refusals = Vec::new();
            for (i, (condition, _)) in conditions.iter().enumerate() {
                let held: i64 = row.try_get(format!("c{i}").as_str())?;
                if held == 0 {
                    refusals.push(refusal(*condition, worker, &task, &row)?);
                }
            }
            refusals.sort_by_key(Refusal::rule);
            entries.push(PreviewEntry { task, refusals });
        }
        Ok(entries)
    }
}

/// A failed condition in words, with the figures a person needs.
fn refusal(
    condition: Condition,
    worker: &WorkerRow,
    task: &TaskRow,
    row: &AnyRow,
) -> Result<Refusal, StoreError> {
    Ok(match condition {
        Condition::NotPaused => Refusal::Paused,
        Condition::TasksRoom => Refusal::ConcurrentTasks {
            active: row.try_get("w_active_tasks")?,
            max: row.try_get("w_max_tasks")?,
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
        },
        Condition::AreaFree => Refusal::AreaLocked {
            area: task.area.clone().unwrap_or_default(),
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
    })
}
