//! Why not me: the ready tasks a worker would be offered first, each with every rule that keeps
//! it from that worker now (`GET /v1/work/preview`). It changes nothing.
//!
//! The conditions are the claim's own (`worker_conditions`, `claim_conditions` and
//! `skill_conditions` of [`super::leases::claim_rules`]: the same SQL text the claim statements
//! join), read one by one as columns of one statement ([`super::leases::refusals`], which a
//! refused claim by name reads too), with the worker's row as the database holds it now.
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

use sqlx::AssertSqlSafe;

use super::leases::claim_rules::Pick;
use super::leases::refusals::{Explained, explain};
use super::rows::{TaskRow, WorkerRow};
use super::{Store, StoreError};
use crate::domain::rules::Refusal;

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
        let explained = explain(
            &self.read,
            self.backend,
            worker,
            Pick::First,
            PREVIEW_TASKS,
            now,
        )
        .await?;
        let mut preview = Preview::default();
        for Explained {
            task,
            refusals,
            private,
        } in explained
        {
            let above_trust = refusals
                .iter()
                .any(|r| matches!(r, Refusal::TierTooHigh { .. }));
            if !refusals.is_empty() && (private || above_trust) {
                preview.hidden += 1;
                continue;
            }
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
