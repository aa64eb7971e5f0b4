//! The Markdown brief of a task: what a person or their AI tool needs to start work on a lease.
//!
//! Title, description, issue link, skills, area, estimate, and the repository's contract (how work
//! in that repository is set up, tested and handed in) when the task carries one.

use serde_json::Value;

use super::client::Task;
use super::client::present::issue_link;

/// The fields of a repository contract, in the order the brief shows them.
const CONTRACT_COMMANDS: [(&str, &str); 3] =
    [("setup", "Setup"), ("test", "Test"), ("lint", "Lint")];

/// The task as a Markdown document.
pub fn render(task: &Task) -> String {
    let mut out = String::new();
    let key = task
        .key
        .as_deref()
        .map(|k| format!("{k}: "))
        .unwrap_or_default();
    out.push_str(&format!("# {key}{}\n\n", one_line(&task.title)));

    out.push_str(&format!("- Task: `{}`\n", task.task_id));
    out.push_str(&format!("- Repository: `{}`\n", task.repo));
    if let Some(link) = issue_url(task) {
        out.push_str(&format!("- Issue: {link}\n"));
    }
    out.push_str(&format!(
        "- Estimate: {} point{}\n",
        task.estimate_points,
        if task.estimate_points == 1 { "" } else { "s" }
    ));
    out.push_str(&format!("- Priority: {}\n", task.priority.as_str()));
    if !task.required_skills.is_empty() {
        out.push_str(&format!("- Skills: {}\n", task.required_skills.join(", ")));
    }
    if let Some(area) = task.area.as_deref().filter(|a| !a.is_empty()) {
        out.push_str(&format!("- Area: {area}\n"));
    }
    out.push_str(&format!("- Status: {}\n", task.status.as_str()));
    if let Some(expires) = task.lease_expires_at.as_deref() {
        out.push_str(&format!("- Lease expires: {expires}\n"));
    }

    out.push_str("\n## Description\n\n");
    let description = task.description.trim();
    if description.is_empty() {
        out.push_str("(no description: the title is the whole task)\n");
    } else {
        out.push_str(description);
        out.push('\n');
    }

    if let Some(contract) = task
        .extensions
        .get("contract")
        .and_then(Value::as_object)
        .filter(|c| !c.is_empty())
    {
        let text = |name: &str| {
            contract
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        out.push_str("\n## How work is done in this repository\n\n");
        for (field, label) in CONTRACT_COMMANDS {
            if let Some(command) = text(field) {
                out.push_str(&format!("- {label}: `{}`\n", one_line(command)));
            }
        }
        if let Some(branch) = text("branch") {
            out.push_str(&format!("- Branch: `{}`\n", one_line(branch)));
        }
        if let Some(instructions) = text("instructions") {
            out.push_str(&format!("\n{instructions}\n"));
        }
        if let Some(template) = text("pr_template") {
            out.push_str(&format!(
                "\nPull request description template:\n\n```\n{template}\n```\n"
            ));
        }
    }

    out.push_str("\n## Done means\n\n");
    out.push_str("A pull request that solves the task");
    if let Some(link) = issue_url(task) {
        out.push_str(&format!(" and links the issue ({link})"));
    }
    out.push_str(
        ", with the repository's tests passing, reported back as `pr_opened` with its URL.\n",
    );
    out
}

/// The task's issue page: a GitHub task key `owner/name#N`.
fn issue_url(task: &Task) -> Option<String> {
    task.key.as_deref().and_then(issue_link)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(extra: Value) -> Task {
        let mut value = serde_json::json!({
            "task_id": "t_1", "repo": "octo/widgets", "key": "octo/widgets#42",
            "title": "Fix the\nparser", "description": "The parser drops the last line.",
            "estimate_points": 3, "priority": "high", "required_skills": ["rust", "parsing"],
            "area": "cli", "tier": 0, "status": "leased", "assigned_worker_id": "w_1",
            "lease_id": "l_1", "lease_expires_at": "2030-01-01T00:30:00Z", "artifact": null,
            "attempts": 0, "status_reason": null,
            "created_at": "2030-01-01T00:00:00Z", "updated_at": "2030-01-01T00:00:00Z"
        });
        if let (Some(v), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        serde_json::from_value(value).expect("a task")
    }

    #[test]
    fn brief_names_the_task_and_its_issue() {
        let brief = render(&task(Value::Null));
        assert!(
            brief.starts_with("# octo/widgets#42: Fix the parser\n"),
            "{brief}"
        );
        assert!(brief.contains("- Issue: https://github.com/octo/widgets/issues/42\n"));
        assert!(brief.contains("- Estimate: 3 points\n"));
        assert!(brief.contains("- Skills: rust, parsing\n"));
        assert!(brief.contains("- Area: cli\n"));
        assert!(brief.contains("The parser drops the last line."));
        assert!(!brief.contains("How work is done"));
    }

    #[test]
    fn brief_carries_the_contract() {
        let brief = render(&task(serde_json::json!({"contract": {
            "setup": "cargo fetch", "test": "cargo test", "lint": "cargo clippy",
            "branch": "owp/{key}", "instructions": "Keep commits small.",
            "pr_template": "Fixes #{number}"
        }})));
        assert!(brief.contains("- Setup: `cargo fetch`\n"), "{brief}");
        assert!(brief.contains("- Test: `cargo test`\n"));
        assert!(brief.contains("- Lint: `cargo clippy`\n"));
        assert!(brief.contains("- Branch: `owp/{key}`\n"));
        assert!(brief.contains("Keep commits small."));
        assert!(brief.contains("Fixes #{number}"));
    }
}
