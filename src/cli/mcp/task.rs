//! `owp_task`: a task this worker holds, with its repository's policy and the rules of the pool
//! for the work, in the words of the brief (contract section 12, "Policy an agent can read").

use serde_json::{Value, json};

use crate::cli::brief::{self, PlanKnown};
use crate::cli::client::{OwpClient, Task};

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
    let value = json!({
        "task": task,
        "approved_plan": plan.flatten(),
        "rules": rules,
        "next": "Follow these rules for the work; owp_brief {task_id} shows the whole brief.",
    });
    (value, rules)
}
