//! `owp_task`: a task this worker holds, with its repository's policy and the rules of the pool
//! for the work, in the words of the brief (contract section 12, "Policy an agent can read").

use serde_json::{Value, json};

use crate::cli::brief::{self, PlanKnown};
use crate::cli::client::{OwpClient, Preview, PreviewRefusal, Task};
use crate::domain::TaskStatus;

/// The refusal code of rule 11 (plans first) in the preview.
const APPROVAL_REQUIRED: &str = "approval_required";
/// The most tasks wanting a plan whose title `owp_why` reads.
const TITLES_READ: usize = 5;

/// The answer of `owp_task` for `task` (as `GET /v1/tasks/{id}` gave it to its holder): the task
/// with its `policy`, this worker's approved plan for it (`approved_plan`, null when none), and
/// `rules`, the brief's section of rules (the same text, also returned as the Markdown block).
/// There is no checkout here, so the rules name `AGENTS.md` as a file to look for.
pub(super) async fn answer(client: &OwpClient, task: Task) -> (Value, String) {
    let plan = match client.approved_plan(&task).await {
        Ok(plan) => Some(plan),
        Err(e) => {
            tracing::warn!(task = %task.task_id, error = %e, "cannot read this worker's proposals");
            None
        }
    };
    let rules = brief::rules(&task, None, PlanKnown::from_read(&plan));
    let next = if task.status == TaskStatus::Ready {
        format!(
            "This task wants a plan first: write what you would change, where, and how you would \
             test it, then owp_propose {{task_id: \"{}\", plan}}; owp_proposals follows the answer, \
             and once a maintainer approves it owp_claim returns its lease.",
            task.task_id
        )
    } else {
        "Follow these rules for the work; owp_brief {task_id} shows the whole brief.".to_string()
    };
    let value = json!({
        "task": task,
        "approved_plan": plan.flatten(),
        "rules": rules,
        "next": next,
    });
    (value, rules)
}

/// The answer of `owp_why`: the preview, with each task refused only for wanting a plan first
/// given its title (read as a worker that may plan it, for the first few) and `next`, the tools
/// that read and propose for it.
pub(super) async fn why_answer(client: &OwpClient, preview: &Preview) -> Value {
    let mut value = json!(preview);
    let Some(refused) = value.get_mut("refused").and_then(Value::as_array_mut) else {
        return value;
    };
    let mut read = 0;
    for (entry, refusal) in refused.iter_mut().zip(&preview.refused) {
        let PreviewRefusal::Task(t) = refusal else {
            continue;
        };
        if !t.reasons.iter().any(|r| r.code == APPROVAL_REQUIRED) {
            continue;
        }
        if read < TITLES_READ {
            read += 1;
            if let Ok(task) = client.get_task(&t.task_id).await {
                entry["title"] = json!(task.title);
            }
        }
        let only_plan = t.reasons.iter().all(|r| r.code == APPROVAL_REQUIRED);
        entry["next"] = json!(format!(
            "{}owp_task {{task_id: \"{id}\"}} reads it; owp_propose {{task_id: \"{id}\", plan}} \
             proposes your plan for a maintainer to approve.",
            if only_plan {
                "It wants only a plan: "
            } else {
                "It wants a plan, and the other rules above: "
            },
            id = t.task_id
        ));
    }
    value
}
