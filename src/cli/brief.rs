//! The task brief: one Markdown page that tells a person, or the AI tool they hand a lease to,
//! everything about the task and how the repository wants work done.

use std::fmt::Write;

use super::client::Task;
use super::client::present::issue_link;
use crate::domain::RepoContract;

/// The brief of a task: title, description, issue link, skills, area, estimate, the repo
/// contract's commands and instructions, and what "done" means.
pub fn render(task: &Task) -> String {
    let contract = task.contract.clone().flatten().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "# {}", one_line(&task.title));
    let _ = writeln!(out);
    let _ = writeln!(out, "- Repository: `{}`", task.repo);
    if let Some(key) = &task.key {
        let _ = writeln!(out, "- Key: `{key}`");
    }
    if let Some(url) = issue_url(task) {
        let _ = writeln!(out, "- Issue: {url}");
    }
    let _ = writeln!(out, "- Task id: `{}`", task.task_id);
    let _ = writeln!(
        out,
        "- Estimate: {} point{}; priority {}",
        task.estimate_points,
        if task.estimate_points == 1 { "" } else { "s" },
        task.priority.as_str()
    );
    if !task.required_skills.is_empty() {
        let _ = writeln!(out, "- Skills: {}", task.required_skills.join(", "));
    }
    if let Some(area) = &task.area {
        let _ = writeln!(
            out,
            "- Area: {area} (stay inside it: other work in this area waits for this task)"
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "## Description");
    let _ = writeln!(out);
    let description = task.description.trim();
    if description.is_empty() {
        let _ = writeln!(out, "(no description: the title is the whole task)");
    } else {
        let _ = writeln!(out, "{description}");
    }
    let commands = contract.commands();
    if !commands.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "## Commands of this repository");
        let _ = writeln!(out);
        for (name, command) in &commands {
            let _ = writeln!(out, "- {name}: `{}`", one_line(command));
        }
    }
    if let Some(instructions) = contract
        .instructions
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let _ = writeln!(out);
        let _ = writeln!(out, "## Instructions from the maintainers");
        let _ = writeln!(out);
        let _ = writeln!(out, "{instructions}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "## Done means");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "- The change does what the description asks, and nothing unrelated."
    );
    let _ = writeln!(
        out,
        "- It is committed on the current branch (commit your work; do not push, do not switch branches)."
    );
    for (name, command) in commands.iter().filter(|(n, _)| *n != "setup") {
        let _ = writeln!(out, "- `{}` passes ({name}).", one_line(command));
    }
    let _ = writeln!(
        out,
        "- A pull request is then opened for review{}.",
        issue_url(task)
            .map(|u| format!(", closing {u}"))
            .unwrap_or_default()
    );
    out
}

/// The task's issue page, when its key is a GitHub issue (`owner/name#N`).
pub fn issue_url(task: &Task) -> Option<String> {
    task.key.as_deref().and_then(issue_link)
}

/// The contract of a task (the default when the repository has none).
pub fn contract_of(task: &Task) -> RepoContract {
    task.contract.clone().flatten().unwrap_or_default()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A task with a contract, for tests.
#[cfg(test)]
pub(crate) fn tests_task() -> Task {
    tests::task()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn task() -> Task {
        serde_json::from_value(serde_json::json!({
            "task_id": "t-1", "repo": "acme/widgets", "key": "acme/widgets#7",
            "title": "Fix the\nparser", "description": "It breaks on empty input.",
            "estimate_points": 2, "priority": "high", "required_skills": ["rust"],
            "area": "parser", "tier": 0, "status": "leased", "assigned_worker_id": "w",
            "lease_id": "l", "lease_expires_at": null, "artifact": null, "attempts": 1,
            "status_reason": null, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "contract": {"setup": "make deps", "test": "make test", "lint": "make lint",
                         "instructions": "Keep it small."},
            "clone_url": "/srv/git/widgets.git"
        }))
        .unwrap()
    }

    #[test]
    fn brief_has_everything() {
        let b = render(&task());
        for part in [
            "# Fix the parser",
            "Issue: https://github.com/acme/widgets/issues/7",
            "Estimate: 2 points; priority high",
            "Skills: rust",
            "Area: parser",
            "It breaks on empty input.",
            "- setup: `make deps`",
            "- test: `make test`",
            "Keep it small.",
            "`make lint` passes (lint)",
            "closing https://github.com/acme/widgets/issues/7",
        ] {
            assert!(b.contains(part), "missing {part:?} in\n{b}");
        }
    }

    #[test]
    fn brief_without_contract() {
        let mut t = task();
        t.contract = Some(None);
        t.key = None;
        let b = render(&t);
        assert!(!b.contains("## Commands"), "{b}");
        assert!(!b.contains("Issue:"), "{b}");
        assert!(b.contains("## Done means"), "{b}");
    }
}
