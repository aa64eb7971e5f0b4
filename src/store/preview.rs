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
//!
//! It shows only what the worker may see (contract section 13): a refused task in a private
//! repository, or above the worker's trust (rule 7 refuses it), is only counted
//! ([`Preview::hidden`]), and a reason that names another task (what it waits on, who holds its
//! paths) names one only when the worker could see it: a task of a public repository within the
//! worker's own trust level. Any other is "another task".

use std::collections::HashSet;

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

/// What a worker's preview shows.
#[derive(Clone, Debug, Default)]
pub struct Preview {
    /// The ready tasks looked at that the worker may see, in offer order.
    pub entries: Vec<PreviewEntry>,
    /// How many refused tasks the worker may not see (a private repository's, or above its
    /// trust): counted, never named.
    pub hidden: usize,
}

/// What a reason says instead of a task the worker could not see.
pub const ANOTHER_TASK: &str = "another task";

impl Store {
    /// The first [`PREVIEW_TASKS`] ready tasks in offer order, each with what keeps it from
    /// `worker` now (see the module docs).
    pub async fn preview(&self, worker: &WorkerRow) -> Result<Preview, StoreError> {
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
               w.capacity_points AS w_capacity, w.trust_level AS w_trust_level, \
               r.private AS r_private, {select} \
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
        let mut preview = Preview::default();
        for row in rows {
            let task = TaskRow::decode(&row)?;
            let mut refusals = Vec::new();
            for (i, (condition, _)) in conditions.iter().enumerate() {
                let held: i64 = row.try_get(format!("c{i}").as_str())?;
                if held == 0 {
                    refusals.push(refusal(*condition, worker, &task, &row)?);
                }
            }
            let private = row.try_get::<i64, _>("r_private")? != 0;
            let above_trust = refusals
                .iter()
                .any(|r| matches!(r, Refusal::TierTooHigh { .. }));
            if !refusals.is_empty() && (private || above_trust) {
                preview.hidden += 1;
                continue;
            }
            refusals.sort_by_key(Refusal::rule);
            preview.entries.push(PreviewEntry { task, refusals });
        }
        let unseen = self.unseen_tasks(worker, &preview.entries).await?;
        if !unseen.is_empty() {
            for entry in &mut preview.entries {
                let paths = entry.task.paths.clone();
                for r in &mut entry.refusals {
                    name_only_seen(r, &unseen, &paths);
                }
            }
        }
        Ok(preview)
    }

    /// Of the tasks the reasons of `entries` name (by key or id), those `worker` could not see:
    /// in a private repository, or above its trust level.
    async fn unseen_tasks(
        &self,
        worker: &WorkerRow,
        entries: &[PreviewEntry],
    ) -> Result<HashSet<String>, StoreError> {
        let mut named: Vec<&str> = Vec::new();
        for r in entries.iter().flat_map(|e| &e.refusals) {
            match r {
                Refusal::Waiting { on } => named.extend(on.iter().map(String::as_str)),
                Refusal::PathsHeld { by } => named.extend(by.iter().map(|(k, _)| k.as_str())),
                _ => {}
            }
        }
        named.sort_unstable();
        named.dedup();
        if named.is_empty() {
            return Ok(HashSet::new());
        }
        let list: String = (0..named.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT t.id, t.key FROM tasks t JOIN repos r ON r.id = t.repo_id \
             WHERE (t.key IN ({list}) OR t.id IN ({list})) AND (r.private <> 0 OR t.tier > $1)"
        );
        let mut query = sqlx::query_as::<_, (String, Option<String>)>(AssertSqlSafe(sql))
            .bind(worker.trust_level);
        for name in &named {
            query = query.bind(*name);
        }
        let mut unseen = HashSet::new();
        for (id, key) in query.fetch_all(&self.read).await? {
            unseen.insert(id);
            unseen.extend(key);
        }
        Ok(unseen)
    }
}

/// `r` naming no task of `unseen`: each is "another task"; a path it holds is shown as the
/// refused task's own pattern that it overlaps (`own`), so nothing of it shows.
fn name_only_seen(r: &mut Refusal, unseen: &HashSet<String>, own: &[String]) {
    match r {
        Refusal::Waiting { on } => {
            let mut named: Vec<String> = Vec::with_capacity(on.len());
            for name in on.drain(..) {
                let name = if unseen.contains(&name) {
                    ANOTHER_TASK.to_string()
                } else {
                    name
                };
                if !named.contains(&name) {
                    named.push(name);
                }
            }
            *on = named;
        }
        Refusal::PathsHeld { by } => {
            for (holder, pattern) in by.iter_mut() {
                if unseen.contains(holder.as_str()) {
                    *holder = ANOTHER_TASK.to_string();
                    *pattern = own
                        .iter()
                        .find(|p| crate::domain::paths::overlap(p, pattern))
                        .or(own.first())
                        .cloned()
                        .unwrap_or_default();
                }
            }
        }
        _ => {}
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
