//! Tasks: import (idempotent by key), reads and listings.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::composed;
use super::engine::checked::checked_in_tx;
use super::rows::{TaskRow, WorkerRow};
use super::{NewEvent, Store, StoreError, WriteTx, new_id};
use crate::domain::limits;
use crate::domain::model::normalize_skills;
use crate::domain::paths::PathSource;
use crate::domain::{Priority, TaskStatus};

/// One task as imported by an admin or from a GitHub issue.
#[derive(Clone, Debug)]
pub struct TaskInput {
    pub key: Option<String>,
    pub title: String,
    pub description: String,
    pub estimate_points: i64,
    pub priority: Priority,
    pub required_skills: Vec<String>,
    pub area: Option<String>,
    pub tier: i64,
    pub extensions: Map<String, Value>,
    /// Keys of tasks of the same repository that must be merged or cancelled first: `Some`
    /// replaces the task's blockers, `None` leaves them as they are.
    pub blocked_by: Option<Vec<String>>,
    /// Capabilities a worker must declare with an equal value (rule 9); replaces the task's.
    pub requires: Map<String, Value>,
    /// The paths it changes (rule 10): `Some` replaces its declared patterns, `None` leaves them.
    pub paths: Option<Vec<String>>,
}

impl TaskInput {
    pub fn validate(&self, index: usize) -> Result<(), StoreError> {
        let at = |field: &str| format!("tasks[{index}].{field}");
        if self.title.trim().is_empty() {
            return Err(StoreError::invalid(
                "invalid_title",
                format!("{} must not be empty", at("title")),
            ));
        }
        limits::text(&at("title"), &self.title, limits::MAX_TITLE_CHARS)?;
        limits::lines(
            &at("description"),
            &self.description,
            limits::MAX_DESCRIPTION_CHARS,
        )?;
        limits::opt_text(&at("key"), self.key.as_deref(), limits::MAX_KEY_CHARS)?;
        limits::opt_text(&at("area"), self.area.as_deref(), limits::MAX_KEY_CHARS)?;
        limits::skills(&at("required_skills"), &self.required_skills)?;
        limits::range(
            &at("estimate_points"),
            "invalid_estimate_points",
            self.estimate_points,
            limits::ESTIMATE_POINTS,
        )?;
        limits::range(&at("tier"), "invalid_tier", self.tier, limits::TIER)?;
        limits::extensions(&format!("tasks[{index}]"), &self.extensions)?;
        limits::requires(&at("requires"), &self.requires)?;
        if let Some(p) = &self.paths {
            crate::domain::paths::check(&at("paths"), p)?;
        }
        if let Some(blockers) = &self.blocked_by {
            if blockers.len() > limits::MAX_BLOCKERS {
                return Err(StoreError::invalid(
                    "too_many_blockers",
                    format!(
                        "{} has {} keys; a task may wait on at most {}",
                        at("blocked_by"),
                        blockers.len(),
                        limits::MAX_BLOCKERS
                    ),
                ));
            }
            for (j, key) in blockers.iter().enumerate() {
                let field = format!("{}[{j}]", at("blocked_by"));
                limits::text(&field, key, limits::MAX_KEY_CHARS)?;
                if key.trim().is_empty() || key.chars().any(char::is_control) {
                    return Err(StoreError::invalid(
                        "invalid_key",
                        format!("{field} must be a task key"),
                    ));
                }
            }
        }
        if self.key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            return Err(StoreError::invalid(
                "invalid_key",
                format!("{} must not be empty when given", at("key")),
            ));
        }
        Ok(())
    }
}

/// Filters of a task listing.
#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    pub repo: Option<String>,
    pub status: Option<TaskStatus>,
    pub worker_id: Option<String>,
    /// `Some(true)`: only the frontier (`ready` tasks with an empty `waiting_on`); `Some(false)`:
    /// only `ready` tasks that still wait on a blocker.
    pub ready: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// Also the tasks of archived repositories (left out by default).
    pub archived: bool,
}

/// Tasks, read: by id, by key, a filtered list, a task's plan; imports in a transaction of their
/// own ([`Store::tasks`]).
pub struct Tasks<'s> {
    store: &'s Store,
}

/// Tasks inside a caller's write transaction: imported, read by id or key ([`WriteTx::tasks`]).
pub struct TasksTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The view of the store named by [`Tasks`].
    pub fn tasks(&self) -> Tasks<'_> {
        Tasks { store: self }
    }
}

impl WriteTx {
    /// The view of this transaction named by [`TasksTx`].
    pub fn tasks(&mut self) -> TasksTx<'_> {
        TasksTx { tx: self }
    }
}

impl TasksTx<'_> {
    /// Imports tasks into `repo`, in order (their creation order is the list order). A task whose
    /// key already exists in the repo is updated, never duplicated.
    pub async fn import(
        &mut self,
        repo: &str,
        inputs: &[TaskInput],
        actor: &str,
    ) -> Result<Vec<TaskRow>, StoreError> {
        // An archived repository takes no tasks: adding it again brings it back.
        let repo_row = self
            .tx
            .repos()
            .by_name(repo)
            .await?
            .filter(|r| !r.archived)
            .ok_or_else(|| {
                StoreError::not_found("repo_not_found", format!("unknown repo `{repo}`"))
            })?;
        for (i, input) in inputs.iter().enumerate() {
            input.validate(i)?;
        }
        self.check_dependencies(repo_row.id, inputs).await?;
        let mut skill_sets: HashMap<String, i64> = HashMap::new();
        let mut ids = Vec::with_capacity(inputs.len());
        for input in inputs {
            let skills = normalize_skills(&input.required_skills).join(",");
            let skill_set_id = match skill_sets.get(&skills) {
                Some(id) => *id,
                None => {
                    let id = self.skill_set_id(&skills).await?;
                    skill_sets.insert(skills.clone(), id);
                    id
                }
            };
            let area = input
                .area
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string);
            let existing = match &input.key {
                Some(key) => checked_in_tx!(self.tx.conn(), tasks::by_key(repo_row.id, key))?,
                None => None,
            };
            let id = match existing {
                Some((id, old_ext)) => {
                    let mut ext: Map<String, Value> =
                        serde_json::from_str(&old_ext).unwrap_or_default();
                    ext.extend(input.extensions.clone());
                    // An in-flight task keeps its lock on its (possibly new) area.
                    let ext = Value::Object(ext).to_string();
                    let requires = Value::Object(input.requires.clone()).to_string();
                    let now = self.tx.now;
                    checked_in_tx!(
                        self.tx.conn(),
                        tasks::update(
                            &id,
                            &input.title,
                            &input.description,
                            input.estimate_points,
                            input.priority.rank(),
                            skill_set_id,
                            area.as_deref(),
                            input.tier,
                            now,
                            &ext,
                            &requires
                        )
                    )?;
                    self.tx.event(
                        NewEvent::new("task.updated", actor)
                            .repo(repo)
                            .task(&id)
                            .data(json!({"key": input.key})),
                    );
                    id
                }
                None => {
                    let id = new_id("t");
                    let ext = Value::Object(input.extensions.clone()).to_string();
                    let requires = Value::Object(input.requires.clone()).to_string();
                    let now = self.tx.now;
                    checked_in_tx!(
                        self.tx.conn(),
                        tasks::create(
                            &id,
                            repo_row.id,
                            input.key.as_deref(),
                            &input.title,
                            &input.description,
                            input.estimate_points,
                            input.priority.rank(),
                            skill_set_id,
                            area.as_deref(),
                            input.tier,
                            &ext,
                            now,
                            &requires
                        )
                    )?;
                    self.tx.event(
                        NewEvent::new("task.created", actor)
                            .repo(repo)
                            .task(&id)
                            .data(json!({"key": input.key, "status": "ready"})),
                    );
                    id
                }
            };
            ids.push(id);
        }
        for (input, id) in inputs.iter().zip(&ids) {
            if let Some(blockers) = &input.blocked_by {
                self.set_blockers(repo_row.id, id, blockers).await?;
            }
            if let Some(patterns) = &input.paths {
                let patterns = crate::domain::paths::check("paths", patterns)?;
                let task = self.get(id).await?;
                self.tx
                    .paths()
                    .set_task_paths(&task, PathSource::Declared, &patterns, actor)
                    .await?;
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.get(&id).await?);
        }
        Ok(out)
    }

    /// A Beads import: `inputs` are imported as any import is, then every task keyed by one of
    /// `closed` (beads closed or tombstoned since) that is not already `merged` or `cancelled`
    /// is cancelled, in the same transaction. Returns the imported and the ended tasks.
    pub async fn import_beads(
        &mut self,
        repo: &str,
        inputs: &[TaskInput],
        closed: &[String],
        actor: &str,
    ) -> Result<(Vec<TaskRow>, Vec<TaskRow>), StoreError> {
        let imported = self.import(repo, inputs, actor).await?;
        let mut ended = Vec::new();
        for key in closed {
            let Some(task) = self.by_key(repo, key).await? else {
                continue;
            };
            if matches!(task.status, TaskStatus::Merged | TaskStatus::Cancelled) {
                continue;
            }
            let row = self
                .tx
                .leases()
                .admin_status(
                    &task.id,
                    TaskStatus::Cancelled,
                    Some("closed in Beads".into()),
                    actor,
                )
                .await?;
            ended.push(row);
        }
        Ok((imported, ended))
    }

    /// Section 8: every key in a `blocked_by` names a task of the repository or of this import
    /// (`422 unknown_dependency`), and the blockers, with those already stored, form no cycle
    /// (`422 dependency_cycle`). Checked before anything is written.
    async fn check_dependencies(
        &mut self,
        repo_id: i64,
        inputs: &[TaskInput],
    ) -> Result<(), StoreError> {
        if inputs.iter().all(|i| i.blocked_by.is_none()) {
            return Ok(());
        }
        // The graph of the repository as stored (key -> its blockers' keys) ...
        let stored = checked_in_tx!(self.tx.conn(), tasks::stored_graph(repo_id))?;
        let mut graph: HashMap<String, Vec<String>> = HashMap::new();
        for (key, blocker) in stored {
            graph.entry(key).or_default().push(blocker);
        }
        // ... with this import's blockers in place of the stored ones.
        let imported: HashSet<&str> = inputs.iter().filter_map(|i| i.key.as_deref()).collect();
        for (i, input) in inputs.iter().enumerate() {
            let Some(blockers) = &input.blocked_by else {
                continue;
            };
            for (j, key) in blockers.iter().enumerate() {
                if imported.contains(key.as_str()) {
                    continue;
                }
                let known = checked_in_tx!(self.tx.conn(), tasks::seq_by_key(repo_id, key))?;
                if known.is_none() {
                    return Err(StoreError::invalid(
                        "unknown_dependency",
                        format!(
                            "tasks[{i}].blocked_by[{j}]: no task with key `{key}` in this repository \
                             or this import"
                        ),
                    ));
                }
            }
            // A task without a key can block nothing, so it closes no cycle.
            if let Some(key) = &input.key {
                graph.insert(key.clone(), blockers.clone());
            }
        }
        if let Some(cycle) = find_cycle(&graph) {
            return Err(StoreError::invalid(
                "dependency_cycle",
                format!(
                    "the blockers form a cycle: {} (a task cannot wait on itself, even through \
                     others)",
                    cycle.join(" -> ")
                ),
            ));
        }
        Ok(())
    }

    /// Replaces the blockers of task `id` with the tasks keyed `blockers` (all of them exist:
    /// see [`Self::check_dependencies`]).
    async fn set_blockers(
        &mut self,
        repo_id: i64,
        id: &str,
        blockers: &[String],
    ) -> Result<(), StoreError> {
        let seq = checked_in_tx!(self.tx.conn(), tasks::seq_of(id))?;
        // Blockers outside the pool (GitHub's own) are kept up by GitHub, not by imports.
        checked_in_tx!(self.tx.conn(), tasks::clear_blockers(seq))?;
        let mut seen = HashSet::new();
        for (position, key) in blockers.iter().enumerate() {
            if !seen.insert(key.as_str()) {
                continue;
            }
            let position = i64::try_from(position).unwrap_or(i64::MAX);
            checked_in_tx!(
                self.tx.conn(),
                tasks::add_blocker(seq, key, position, repo_id)
            )?;
        }
        Ok(())
    }

    /// The id of a canonical skill set, created on first use.
    async fn skill_set_id(&mut self, skills: &str) -> Result<i64, StoreError> {
        checked_in_tx!(self.tx.conn(), tasks::keep_skill_set(skills))?;
        let id = checked_in_tx!(self.tx.conn(), tasks::skill_set(skills))?;
        for skill in skills.split(',').filter(|s| !s.is_empty()) {
            checked_in_tx!(self.tx.conn(), tasks::skill_set_member(id, skill))?;
        }
        Ok(id)
    }

    /// A task, read inside this transaction (404 when unknown).
    pub async fn get(&mut self, task_id: &str) -> Result<TaskRow, StoreError> {
        self.get_opt(task_id).await?.ok_or_else(|| {
            StoreError::not_found("task_not_found", format!("unknown task `{task_id}`"))
        })
    }

    pub async fn get_opt(&mut self, task_id: &str) -> Result<Option<TaskRow>, StoreError> {
        let row = composed::tasks::by_id()
            .query()
            .bind(task_id)
            .fetch_optional(self.tx.conn())
            .await?;
        row.as_ref().map(TaskRow::decode).transpose()
    }

    /// A task of `repo` by its external key.
    pub async fn by_key(&mut self, repo: &str, key: &str) -> Result<Option<TaskRow>, StoreError> {
        let row = composed::tasks::by_key()
            .query()
            .bind(repo)
            .bind(key)
            .fetch_optional(self.tx.conn())
            .await?;
        row.as_ref().map(TaskRow::decode).transpose()
    }
}

impl Tasks<'_> {
    /// Imports tasks in one transaction.
    pub async fn import(
        &self,
        repo: &str,
        inputs: &[TaskInput],
        actor: &str,
    ) -> Result<Vec<TaskRow>, StoreError> {
        let out = self
            .store
            .write_upsert(|mut tx| async move {
                let r = tx.tasks().import(repo, inputs, actor).await;
                (tx, r)
            })
            .await?;
        self.store.after_bulk_change(inputs.len()).await;
        Ok(out)
    }

    /// A task `worker` may read without holding it, to plan it: `ready`, in a repository that
    /// takes plans first and is not private, at or below the worker's trust (contract section
    /// 13: never a private repository's or a higher tier's text to a stranger). `None` otherwise.
    pub async fn to_plan(
        &self,
        task_id: &str,
        worker: &WorkerRow,
    ) -> Result<Option<TaskRow>, StoreError> {
        let row = composed::tasks::to_plan()
            .query()
            .bind(task_id)
            .bind(worker.trust_level)
            .fetch_optional(&self.store.read)
            .await?;
        row.as_ref().map(TaskRow::decode).transpose()
    }

    pub async fn get(&self, task_id: &str) -> Result<Option<TaskRow>, StoreError> {
        let row = composed::tasks::by_id()
            .query()
            .bind(task_id)
            .fetch_optional(&self.store.read)
            .await?;
        row.as_ref().map(TaskRow::decode).transpose()
    }

    pub async fn by_key(&self, repo: &str, key: &str) -> Result<Option<TaskRow>, StoreError> {
        let row = composed::tasks::by_key()
            .query()
            .bind(repo)
            .bind(key)
            .fetch_optional(&self.store.read)
            .await?;
        row.as_ref().map(TaskRow::decode).transpose()
    }

    /// Tasks in creation order, filtered.
    pub async fn list(&self, filter: &TaskFilter) -> Result<Vec<TaskRow>, StoreError> {
        let shape = composed::tasks::ListShape {
            archived: filter.archived,
            repo: filter.repo.is_some(),
            status: filter.status.is_some(),
            worker: filter.worker_id.is_some(),
            ready: filter.ready,
        };
        let mut q = composed::tasks::list(shape).query();
        if let Some(repo) = &filter.repo {
            q = q.bind(repo.clone());
        }
        if let Some(status) = filter.status {
            q = q.bind(status.as_str());
        }
        if let Some(w) = &filter.worker_id {
            q = q.bind(w.clone());
        }
        let q = q
            .bind(filter.limit.unwrap_or(i64::MAX / 2).max(0))
            .bind(filter.offset.unwrap_or(0).max(0));
        let rows = q.fetch_all(&self.store.read).await?;
        rows.iter().map(TaskRow::decode).collect()
    }
}

/// A cycle in `graph` (task key -> the keys it waits on), as the keys along it with the first
/// repeated at the end; `None` when there is none. Iterative, so a long chain cannot overflow
/// the stack.
fn find_cycle(graph: &HashMap<String, Vec<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = HashMap::new();
    let mut starts: Vec<&str> = graph.keys().map(String::as_str).collect();
    starts.sort_unstable();
    for start in starts {
        if marks.contains_key(start) {
            continue;
        }
        // (node, index of its next edge to follow)
        let mut path: Vec<(&str, usize)> = vec![(start, 0)];
        marks.insert(start, Mark::Open);
        while let Some((node, next)) = path.last_mut() {
            let edges = graph.get(*node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(to) = edges.get(*next) {
                *next += 1;
                match marks.get(to.as_str()) {
                    Some(Mark::Open) => {
                        let from = path.iter().position(|(n, _)| *n == to.as_str())?;
                        let mut cycle: Vec<String> =
                            path[from..].iter().map(|(n, _)| n.to_string()).collect();
                        cycle.push(to.clone());
                        return Some(cycle);
                    }
                    Some(Mark::Done) => {}
                    None => {
                        marks.insert(to.as_str(), Mark::Open);
                        path.push((to.as_str(), 0));
                    }
                }
            } else {
                marks.insert(*node, Mark::Done);
                path.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::find_cycle;
    use std::collections::HashMap;

    fn graph(edges: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn chains_and_diamonds_have_no_cycle() {
        assert_eq!(
            find_cycle(&graph(&[("c", &["b"]), ("b", &["a"]), ("d", &["a", "b"])])),
            None
        );
    }

    #[test]
    fn a_cycle_is_named_along_its_keys() {
        let cycle = find_cycle(&graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])])).unwrap();
        assert_eq!(cycle.len(), 4);
        assert_eq!(cycle.first(), cycle.last());
        assert_eq!(
            find_cycle(&graph(&[("a", &["a"])])),
            Some(vec!["a".into(), "a".into()])
        );
    }
}
