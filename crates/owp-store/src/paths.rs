//! Path locks (rule 10): the patterns a task changes, stored one row per prefix of each pattern's
//! base (`domain::paths`, `migrations/*/0024_path_locks.sql`). Whether a row is held follows the
//! task's status (a trigger); the claim's condition is `claim_rules::paths_free`.

use crate::engine::tx_conn::TxConnection;
use serde_json::json;

use super::composed;
use super::engine::checked::checked_in_tx;
use super::in_flight::IN_FLIGHT_STATUSES;
use super::path_overlap::overlapping_paths;
use super::rows::TaskRow;
use super::{NewEvent, StoreError, WriteTx};
use crate::domain::paths::{self, PathSource};

/// Rows of one insert statement (6 parameters each, well under either backend's limit).
const ROWS_PER_INSERT: usize = 100;

/// The ready tasks of a repository that wait on paths, each with the keys of the tasks that
/// hold them ([`PathsTx::repo_waiting`]).
pub type WaitingOnPaths = Vec<(String, Vec<String>)>;

/// Who waited on whose paths in a repository when [`PathsTx::watch`] began.
#[must_use = "end the watch with `PathsTx::watched` after the changes"]
pub struct PathsWatch {
    /// The repository (id, name) and its waiting tasks then; `None` for an unknown repository.
    repo: Option<(i64, String, WaitingOnPaths)>,
}

/// Whether a task in `status` holds its paths, as [`crate::in_flight::in_flight`] says from the
/// status alone (a
/// `blocked` task is counted, as its holder's `blocked` holds them until a maintainer moves it).
pub fn holds_paths(status: &str) -> bool {
    IN_FLIGHT_STATUSES.contains(&status) || status == "blocked"
}

/// The ready tasks (ids, at most 100) whose paths overlap a path of task `task_id`: those that
/// start or stop waiting when it takes or lets go of its paths: the rule's overlap
/// (`path_overlap::overlapping_paths!`) seen from the holder's side, over every row
/// (`task_paths_prefix`).
pub async fn ready_tasks_sharing_paths(
    conn: &mut TxConnection,
    task_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(concat!(
        "SELECT DISTINCT w.id FROM (",
        overlapping_paths!(
            "h.task_seq",
            "tasks x JOIN task_paths m ON m.task_seq = x.seq",
            "",
            "x.id = $1"
        ),
        ") o JOIN tasks w ON w.seq = o.task_seq WHERE w.status = 'ready' \
             ORDER BY w.id LIMIT 100"
    ))
    .bind(task_id)
    .fetch_all(conn)
    .await?)
}

/// The paths each task changes inside a caller's write transaction, and the tasks waiting on them
/// ([`WriteTx::paths`]).
pub struct PathsTx<'t> {
    tx: &'t mut WriteTx,
}

impl WriteTx {
    /// The view of this transaction named by [`PathsTx`].
    pub fn paths(&mut self) -> PathsTx<'_> {
        PathsTx { tx: self }
    }
}

impl PathsTx<'_> {
    /// Replaces the patterns `task` holds from `source` with `patterns` (already checked and
    /// normalised, see `domain::paths`); the rows are held at once if the task is in flight.
    /// Records `task.paths` when they changed, and returns whether they did. Who waits on whom
    /// may change with it: a caller that wants the waiting tasks told (their status comments)
    /// reads [`PathsTx::repo_waiting`] before its changes and passes it to
    /// [`PathsTx::waiting_changed`] after them.
    pub async fn set_task_paths(
        &mut self,
        task: &TaskRow,
        source: PathSource,
        patterns: &[String],
        actor: &str,
    ) -> Result<bool, StoreError> {
        let before = checked_in_tx!(self.tx.conn(), paths::patterns(task.seq, source.as_str()))?;
        let mut after: Vec<String> = patterns.to_vec();
        after.sort();
        after.dedup();
        if before == after {
            return Ok(false);
        }
        checked_in_tx!(self.tx.conn(), paths::forget(task.seq, source.as_str()))?;
        let rows: Vec<(&str, String, bool)> = after
            .iter()
            .flat_map(|p| {
                paths::prefixes(p)
                    .into_iter()
                    .map(move |(prefix, exact)| (p.as_str(), prefix, exact))
            })
            .collect();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut q = composed::paths::insert_rows(chunk.len()).query();
            for (pattern, prefix, exact) in chunk {
                q = q
                    .bind(task.seq)
                    .bind(task.repo_id)
                    .bind(source.as_str())
                    .bind(*pattern)
                    .bind(prefix.as_str())
                    .bind(i64::from(*exact));
            }
            q.execute(self.tx.conn()).await?;
        }
        // Whether the task has paths now, of any source: the path rule of the claim and the
        // path-lock trigger read it (migration 0043). First, so that the task's row is locked
        // before its paths are marked held as it is.
        checked_in_tx!(self.tx.conn(), paths::has_paths(task.seq))?;
        // Held as the task is now (the trigger keeps it from here on).
        composed::paths::held()
            .query()
            .bind(task.seq)
            .bind(source.as_str())
            .execute(self.tx.conn())
            .await?;
        self.tx.event(
            NewEvent::new("task.paths", actor)
                .repo(&task.repo)
                .task(&task.id)
                .data(json!({"source": source.as_str(), "paths": after})),
        );
        Ok(true)
    }

    /// Whether a task of the repository holds a path now (one probe of the index of held rows):
    /// while none does, no task of it waits on paths.
    pub async fn repo_holds(&mut self, repo_id: i64) -> Result<bool, StoreError> {
        Ok(checked_in_tx!(self.tx.conn(), paths::repo_holds(repo_id))?)
    }

    /// Starts watching who waits on whose paths in `repo` (by name), before changes that may move
    /// path locks: [`PathsTx::watched`] after them records `task.waiting` on each ready task
    /// whose holders changed, so its status comment is refreshed in the same transaction. Costs
    /// one probe while no task of the repository holds a path, and nothing for an unknown one.
    pub async fn watch(&mut self, repo: &str) -> Result<PathsWatch, StoreError> {
        let Some(repo_id) = self.repo_id(repo).await? else {
            return Ok(PathsWatch { repo: None });
        };
        let before = if self.repo_holds(repo_id).await? {
            self.repo_waiting(repo_id).await?
        } else {
            Vec::new()
        };
        Ok(PathsWatch {
            repo: Some((repo_id, repo.to_string(), before)),
        })
    }

    /// Ends a [`PathsTx::watch`]: tells the tasks whose path holders changed since.
    pub async fn watched(&mut self, watch: PathsWatch, actor: &str) -> Result<(), StoreError> {
        let Some((repo_id, repo, before)) = watch.repo else {
            return Ok(());
        };
        if before.is_empty() && !self.repo_holds(repo_id).await? {
            return Ok(());
        }
        self.waiting_changed(repo_id, &repo, before, actor).await
    }

    async fn repo_id(&mut self, repo: &str) -> Result<Option<i64>, StoreError> {
        Ok(checked_in_tx!(self.tx.conn(), repos::id(repo))?)
    }

    /// The ready tasks of a repository that wait on another's paths, with what they wait on (as
    /// `TaskRow::waiting_on_paths` reads it), before a change of the repository's locks.
    pub async fn repo_waiting(&mut self, repo_id: i64) -> Result<WaitingOnPaths, StoreError> {
        // The held paths that overlap those of every ready task of the repository, at once.
        let rows: Vec<(String, String)> = sqlx::query_as(concat!(
            "SELECT DISTINCT o.id, COALESCE(ht.key, ht.id) FROM (",
            overlapping_paths!(
                "t.id, h.task_seq",
                "tasks t JOIN task_paths m ON m.task_seq = t.seq",
                " AND h.held = 1",
                "t.repo_id = $1 AND t.status = 'ready'"
            ),
            ") o JOIN tasks ht ON ht.seq = o.task_seq ORDER BY 1, 2"
        ))
        .bind(repo_id)
        .fetch_all(self.tx.conn())
        .await?;
        let mut out: WaitingOnPaths = Vec::new();
        for (task, holder) in rows {
            match out.last_mut() {
                Some((t, holders)) if *t == task => holders.push(holder),
                _ => out.push((task, vec![holder])),
            }
        }
        Ok(out)
    }

    /// Records `task.waiting` on every ready task of the repository whose path holders differ
    /// from `before` (see [`PathsTx::repo_waiting`]).
    pub async fn waiting_changed(
        &mut self,
        repo_id: i64,
        repo: &str,
        before: WaitingOnPaths,
        actor: &str,
    ) -> Result<(), StoreError> {
        let after = self.repo_waiting(repo_id).await?;
        let mut ids: Vec<&String> = before
            .iter()
            .filter(|b| !after.contains(b))
            .chain(after.iter().filter(|a| !before.contains(a)))
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            let holders = after
                .iter()
                .find(|(t, _)| t == id)
                .map(|(_, h)| h.clone())
                .unwrap_or_default();
            self.tx.event(
                NewEvent::new("task.waiting", actor)
                    .repo(repo)
                    .task(id)
                    .data(json!({"waiting_on_paths": holders, "status": "ready"})),
            );
        }
        Ok(())
    }
}
