//! Why not me: the ready tasks a worker would be offered first, each with every rule that keeps
//! it from that worker now (`GET /v1/work/preview`). It changes nothing.
//!
//! The conditions are the claim's own (`worker_conditions`, `claim_conditions` and
//! `skill_conditions` of [`super::claim_rules`]: the same SQL text the claim statements
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

use super::claim_rules::Pick;
use super::leases::refusals::{Explained, explain};
use super::rows::{TaskRow, WorkerRow};
use super::{Store, StoreError};
use crate::domain::Task;
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

/// What a claim would give a worker, and a task as that worker would see it, without taking
/// anything ([`Store::previews`]).
pub struct Previews<'s> {
    store: &'s Store,
}

impl Store {
    /// The view of the store named by [`Previews`].
    pub fn previews(&self) -> Previews<'_> {
        Previews { store: self }
    }
}

impl Previews<'_> {
    /// The first [`PREVIEW_TASKS`] ready tasks in offer order, each with what keeps it from
    /// `worker` now (see the module docs).
    pub async fn of(&self, worker: &WorkerRow) -> Result<Preview, StoreError> {
        let now = super::now_ms();
        let explained = explain(
            &self.store.read,
            self.store.backend,
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
        self.unseen_of(worker, None, named).await
    }

    /// `task` as `worker` reads it (its lease, `GET /v1/tasks/{id}`, a lease move's answer): a
    /// task its `blocked_by`, `waiting_on` or `waiting_on_paths` names that the worker could not
    /// see (above its trust level, or in a private repository, as the preview decides; but the
    /// repository of the worker's own task is one it sees) is named [`ANOTHER_TASK`], once for
    /// each, so the count stays and nothing of it shows.
    pub async fn as_seen_by(&self, worker: &WorkerRow, mut task: Task) -> Result<Task, StoreError> {
        let named: Vec<&str> = task
            .blocked_by
            .iter()
            .chain(&task.waiting_on)
            .chain(&task.waiting_on_paths)
            .map(String::as_str)
            .collect();
        if named.is_empty() {
            return Ok(task);
        }
        let unseen = self.unseen_of(worker, Some(&task.repo), named).await?;
        if unseen.is_empty() {
            return Ok(task);
        }
        for name in task
            .blocked_by
            .iter_mut()
            .chain(&mut task.waiting_on)
            .chain(&mut task.waiting_on_paths)
        {
            if unseen.contains(name.as_str()) {
                *name = ANOTHER_TASK.to_string();
            }
        }
        Ok(task)
    }

    /// Of the tasks `named` (by key or id), those `worker` could not see: in a private
    /// repository (other than `seen_repo`), or above its trust level. A key names a task in any
    /// repository: where one of the tasks it names is unseen, it is.
    async fn unseen_of(
        &self,
        worker: &WorkerRow,
        seen_repo: Option<&str>,
        mut named: Vec<&str>,
    ) -> Result<HashSet<String>, StoreError> {
        named.sort_unstable();
        named.dedup();
        if named.is_empty() {
            return Ok(HashSet::new());
        }
        let mut query = crate::composed::tasks::unseen_of(named.len())
            .query_as::<(String, Option<String>)>()
            .bind(worker.trust_level)
            .bind(seen_repo.unwrap_or_default());
        for name in &named {
            query = query.bind(*name);
        }
        let mut unseen = HashSet::new();
        for (id, key) in query.fetch_all(&self.store.read).await? {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim_rules::Skills;
    use crate::composed::leases::refusals::statement;
    use crate::composed::sqlite::query_plan;
    use crate::repos::RepoUpsert;
    use crate::workers::WorkerInput;
    use crate::{Backend, Timing};

    /// Ready tasks in the pool, most of them waiting on another task.
    const POOL: i64 = 100_000;

    /// With 100,000 ready tasks, the preview's statement reads the tasks only through the two
    /// offer indexes, at most its 50 from each, in order: no scan of the table, no sort of the
    /// pool (SQLite's plan says which rows it visits and what it sorts). Its answer is still
    /// the first 50 ready tasks in offer order, waiting ones among them.
    #[tokio::test]
    async fn the_preview_reads_its_tasks_from_the_offer_indexes_whatever_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
        let store = Store::open(&url, Timing::default()).await.unwrap();
        let (repo, _) = store
            .repos()
            .upsert(
                &RepoUpsert {
                    name: "o/private".into(),
                    max_open_prs: 5,
                    ..Default::default()
                },
                "test",
            )
            .await
            .unwrap();
        let (worker, _) = store
            .workers()
            .register(&WorkerInput::plain("w", &[], 5, 1))
            .await
            .unwrap();
        sqlx::query("INSERT INTO skill_sets (skills) VALUES ('[]') ON CONFLICT DO NOTHING")
            .execute(&store.read)
            .await
            .unwrap();
        // Every third task waits (a count the schema's triggers would keep), priorities mixed.
        let load = "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < $1) \
             INSERT INTO tasks (id, repo_id, title, description, estimate_points, priority, \
               skill_set_id, tier, status, extensions, created_at, updated_at, waiting) \
             SELECT 't_' || n, $2, 'task', '', 1, n % 4, \
               (SELECT id FROM skill_sets WHERE skills = '[]'), n % 6, 'ready', '{}', 0, 0, \
               CASE WHEN n % 3 = 0 THEN 1 ELSE 0 END FROM g";
        sqlx::query(load)
            .bind(POOL)
            .bind(repo.id)
            .execute(&store.read)
            .await
            .unwrap();
        sqlx::query("ANALYZE").execute(&store.read).await.unwrap();

        let skills = Skills::of(&worker);
        let (_, sql) = statement(Backend::Sqlite, skills, Pick::First, PREVIEW_TASKS);
        let plan: Vec<(i64, i64, i64, String)> = query_plan(sql)
            .query_as()
            .bind(&worker.id)
            .bind(0_i64)
            .bind(0_i64)
            .bind("[]")
            .fetch_all(&store.read)
            .await
            .unwrap();
        let steps: Vec<&str> = plan.iter().map(|(_, _, _, s)| s.as_str()).collect();
        let of_q: Vec<String> = steps
            .iter()
            .filter(|s| s.contains(" q "))
            .map(|s| s.replace("COVERING ", ""))
            .collect();
        assert_eq!(
            of_q,
            [
                "SCAN q USING INDEX tasks_ready_queue",
                "SCAN q USING INDEX tasks_ready_waiting"
            ],
            "the first tasks come from the offer indexes, in order: {steps:#?}"
        );
        let t = steps
            .iter()
            .find(|s| s.contains(" t ") || s.ends_with(" t"))
            .unwrap();
        assert!(
            t.starts_with("SEARCH t USING INTEGER PRIMARY KEY"),
            "the outer query looks up the tasks it was given: {steps:#?}"
        );
        assert!(
            !steps
                .iter()
                .any(|s| s.starts_with("SCAN t") || s.starts_with("SCAN tasks")),
            "no scan of the pool: {steps:#?}"
        );
        for (i, step) in steps.iter().enumerate() {
            if step.starts_with("SCAN q") {
                assert!(
                    !steps[i + 1].starts_with("USE TEMP B-TREE"),
                    "the first tasks are read in order, not sorted: {steps:#?}"
                );
            }
        }

        // The first 50 in offer order: priority 3 first, by entry, waiting or not.
        let explained = explain(
            &store.read,
            Backend::Sqlite,
            &worker,
            Pick::First,
            PREVIEW_TASKS,
            0,
        )
        .await
        .unwrap();
        let first: Vec<i64> = explained.iter().map(|e| e.task.seq).collect();
        let expected: Vec<i64> = (1..=POOL).filter(|n| n % 4 == 3).take(50).collect();
        assert_eq!(first, expected);
        let preview = store.previews().of(&worker).await.unwrap();
        assert_eq!(
            preview.entries.len() + preview.hidden,
            PREVIEW_TASKS as usize
        );
        store.close().await;
    }
}
