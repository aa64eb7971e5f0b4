//! A holder's `pr_opened` report on its task that is in `pr_opened` already. In GitHub mode the
//! App's webhook for the holder's pull request may move the task before the worker's own report
//! arrives; the report that follows is no move, but what it says about the pull request (its
//! `artifact.disclosure`, a `commit_sha`, …) is recorded on the task's artifact, merged as a move
//! merges it, with a `task.artifact` audit event (which also refreshes the status comment). A
//! report that changes nothing (a retry) writes nothing.

use serde_json::{Map, Value, json};

use super::{check_report, concurrent_change};
use crate::domain::TaskStatus;
use crate::engine::checked::checked_in_tx;
use crate::rows::TaskRow;
use crate::{NewEvent, StoreError, WriteTx};

/// What a later `pr_opened` report changes on `task`'s artifact: the keys it sets anew (empty
/// when it changes nothing). The report must name the task's own pull request (`409
/// invalid_transition` otherwise) and is checked as a first report is (`pr_url`, disclosure,
/// bounds, and no key that GitHub decides: `422 not_reported_by_workers`).
pub(super) fn later_pr_report(
    task: &TaskRow,
    artifact: Option<&Value>,
    note: Option<&str>,
) -> Result<Map<String, Value>, StoreError> {
    check_report(task, TaskStatus::PrOpened, artifact, note)?;
    let stored = task.artifact.as_ref().and_then(Value::as_object);
    let reported = artifact.and_then(Value::as_object);
    let url_of = |a: Option<&Map<String, Value>>| {
        a.and_then(|a| a.get("pr_url"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if let (Some(ours), Some(theirs)) = (url_of(stored), url_of(reported))
        && !same_pr_url(&ours, &theirs)
    {
        return Err(StoreError::conflict(
            "invalid_transition",
            format!(
                "the task's pull request is already open at {ours}; a later pr_opened report \
                 must name it"
            ),
        ));
    }
    let mut changes = Map::new();
    for (key, value) in reported.into_iter().flatten() {
        // The pull request the task waits on stays the one it names.
        if key == "pr_url" {
            continue;
        }
        if stored.and_then(|s| s.get(key)) != Some(value) {
            changes.insert(key.clone(), value.clone());
        }
    }
    Ok(changes)
}

/// Whether two `pr_url`s name the same pull request (GitHub's names ignore case; a trailing
/// slash changes nothing).
fn same_pr_url(a: &str, b: &str) -> bool {
    let norm = |u: &str| u.trim().trim_end_matches('/').to_ascii_lowercase();
    norm(a) == norm(b)
}

impl WriteTx {
    /// Records a holder's later `pr_opened` report on `task` (in `pr_opened`, held by
    /// `worker_id`; see the module docs).
    pub(super) async fn record_pr_report(
        &mut self,
        task: &TaskRow,
        worker_id: &str,
        artifact: Option<&Value>,
        note: Option<String>,
    ) -> Result<TaskRow, StoreError> {
        let changes = later_pr_report(task, artifact, note.as_deref())?;
        if changes.is_empty() {
            return Ok(task.clone());
        }
        let mut merged = match &task.artifact {
            Some(Value::Object(old)) => old.clone(),
            _ => Map::new(),
        };
        merged.extend(changes.clone());
        let (artifact, now) = (Value::Object(merged).to_string(), self.now);
        let changed = checked_in_tx!(
            self.conn(),
            tasks::later_report(&artifact, now, task.seq, worker_id)
        )?;
        if changed == 0 {
            return Err(concurrent_change());
        }
        let mut data = json!({"artifact": changes});
        if let Some(n) = &note {
            data["note"] = json!(n);
        }
        self.event(
            NewEvent::new("task.artifact", format!("worker:{worker_id}"))
                .repo(&task.repo)
                .task(&task.id)
                .worker(Some(worker_id))
                .data(data),
        );
        self.tasks().get(&task.id).await
    }
}

#[cfg(test)]
mod tests {
    use super::same_pr_url;

    #[test]
    fn pull_request_urls_compare_as_github_names_them() {
        assert!(same_pr_url(
            "https://github.com/Acme/Web/pull/7",
            "https://github.com/acme/web/pull/7/"
        ));
        assert!(!same_pr_url(
            "https://github.com/acme/web/pull/7",
            "https://github.com/acme/web/pull/70"
        ));
    }
}
