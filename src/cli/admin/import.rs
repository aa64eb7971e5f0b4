//! `owp admin import-tasks`: task documents (YAML, JSON, JSONL) and Beads exports sent to the
//! pool in one request per file.

use std::collections::HashSet;

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

use super::super::client::say;
use super::{ImportTasksArgs, print_json, shell_word, typos};
use crate::domain::model::TaskStatus;

/// A task file, read: the repo named inside (if any) and its tasks as JSON objects.
#[derive(Debug, PartialEq)]
pub struct TaskDocument {
    pub repo: Option<String>,
    pub tasks: Vec<Value>,
}

/// Reads a task file: YAML or JSON, either a list of tasks or a mapping with `tasks:` (and
/// optionally `repo:`). Every task must be a mapping with a non-empty `title`.
pub fn parse_task_document(text: &str) -> anyhow::Result<TaskDocument> {
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => serde_yaml_ng::from_str(text).map_err(|e| anyhow!("{e}"))?,
    };
    let (repo, tasks) = match doc {
        Value::Array(tasks) => (None, tasks),
        Value::Object(mut map) => {
            let repo = match map.remove("repo") {
                None | Some(Value::Null) => None,
                Some(Value::String(r)) if !r.trim().is_empty() => Some(r.trim().to_string()),
                Some(_) => bail!("`repo` must be a non-empty string"),
            };
            match map.remove("tasks") {
                Some(Value::Array(tasks)) => (repo, tasks),
                Some(Value::Null) => (repo, Vec::new()),
                Some(_) => bail!("`tasks` must be a list"),
                None => bail!("expected a list of tasks, or a mapping with `tasks:`"),
            }
        }
        Value::Null => bail!("the file is empty"),
        _ => bail!("expected a list of tasks, or a mapping with `tasks:`"),
    };
    for (i, task) in tasks.iter().enumerate() {
        let n = i + 1;
        let Value::Object(map) = task else {
            bail!("task {n} is not a mapping of fields");
        };
        let title = map.get("title").and_then(Value::as_str).map(str::trim);
        if title.is_none_or(str::is_empty) {
            let key = map
                .get("key")
                .map(|k| format!(" (key {k})"))
                .unwrap_or_default();
            bail!("task {n}{key} has no title");
        }
    }
    Ok(TaskDocument { repo, tasks })
}

fn task_key(task: &Value) -> Option<String> {
    match task.get("key")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) async fn import_tasks(args: ImportTasksArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let jsonl = args
        .file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl"))
        || crate::domain::beads::looks_like_jsonl(&text);
    if jsonl {
        return import_beads(&args, text).await;
    }
    let doc = parse_task_document(&text).with_context(|| args.file.display().to_string())?;
    let repo = args
        .repo
        .clone()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .or(doc.repo.clone())
        .ok_or_else(|| {
            anyhow!(
                "which repo? pass --repo REPO ({} names none)",
                args.file.display()
            )
        })?;
    if doc.tasks.is_empty() {
        bail!("{} holds no tasks", args.file.display());
    }
    if args.strict
        && let Some(refusal) = typos::refusal(&doc.tasks, &args.file.display().to_string())
    {
        bail!("{refusal}");
    }
    let client = args.admin.client()?;

    // Which keys exist already, to tell new tasks from updated ones.
    let keys: Vec<String> = doc.tasks.iter().filter_map(task_key).collect();
    let existing: Option<HashSet<String>> = if keys.is_empty() {
        Some(HashSet::new())
    } else {
        match client.admin_state(Some(&repo)).await {
            Ok(state) => Some(state.tasks.into_iter().filter_map(|t| t.key).collect()),
            Err(e) if e.is_transport() || e.is_auth() => return Err(e.into()),
            Err(_) => None,
        }
    };

    let imported = match client.import_tasks(&repo, &doc.tasks).await {
        Ok(tasks) => tasks,
        Err(e) if e.status() == Some(404) => {
            bail!(
                "{e}; create the repo first: `owp admin init-repo {} --max-open-prs 3`",
                shell_word(&repo)
            )
        }
        Err(e) => return Err(e.into()),
    };
    if args.admin.json {
        return print_json(&serde_json::json!({ "tasks": imported }));
    }
    let n = imported.len();
    let noun = if n == 1 { "task" } else { "tasks" };
    match existing {
        Some(existing) => {
            let updated = imported
                .iter()
                .filter(|t| t.key.as_ref().is_some_and(|k| existing.contains(k)))
                .count();
            say!(
                "imported {n} {noun} into {repo}: {} new, {updated} updated",
                n - updated
            );
        }
        None => say!("imported {n} {noun} into {repo} (new or updated by key)"),
    }
    for line in typos::lines(&doc.tasks) {
        say!("{line}");
    }
    let ready = imported
        .iter()
        .filter(|t| t.status == TaskStatus::Ready)
        .count();
    if ready > 0 {
        say!(
            "{ready} ready for workers; watch with `owp admin state --repo {}`",
            shell_word(&repo)
        );
    }
    Ok(())
}

/// `import-tasks` of a Beads `issues.jsonl`: the file goes to the server as it is (the server
/// reads it, so every client gets the same mapping); one line says what happened.
async fn import_beads(args: &ImportTasksArgs, text: String) -> anyhow::Result<()> {
    let repo = args
        .repo
        .clone()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            anyhow!(
                "which repo? pass --repo REPO (a Beads file names none): {}",
                args.file.display()
            )
        })?;
    let client = args.admin.client()?;
    let before: Option<HashSet<String>> = match client.admin_state(Some(&repo)).await {
        Ok(state) => Some(state.tasks.into_iter().filter_map(|t| t.key).collect()),
        Err(e) if e.is_transport() || e.is_auth() => return Err(e.into()),
        Err(_) => None,
    };
    let answer = match client.import_beads(&repo, text).await {
        Ok(answer) => answer,
        Err(e) if e.status() == Some(404) => {
            bail!(
                "{e}; create the repo first: `owp admin init-repo {} --max-open-prs 3`",
                shell_word(&repo)
            )
        }
        Err(e) => return Err(anyhow!("{}: {e}", args.file.display())),
    };
    if args.admin.json {
        return print_json(&answer);
    }
    let n = answer.tasks.len();
    let noun = if n == 1 { "task" } else { "tasks" };
    let new = match &before {
        Some(before) => {
            let updated = answer
                .tasks
                .iter()
                .filter(|t| t.key.as_ref().is_some_and(|k| before.contains(k)))
                .count();
            format!(": {} new, {updated} updated", n - updated)
        }
        None => String::new(),
    };
    let mut line = format!("imported {n} {noun} into {repo} from Beads{new}");
    if !answer.ended.is_empty() {
        line.push_str(&format!("; {} ended (closed in Beads)", answer.ended.len()));
    }
    if answer.skipped.total > 0 {
        let why: Vec<String> = answer
            .skipped
            .statuses
            .iter()
            .chain(answer.skipped.types.iter())
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        line.push_str(&format!(
            "; {} skipped ({})",
            answer.skipped.total,
            why.join(", ")
        ));
    }
    say!("{line}");
    let waiting = answer
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Ready && !t.waiting_on.is_empty())
        .count();
    if waiting > 0 {
        say!(
            "{waiting} waiting on blockers; the rest of the ready ones are offered now (`owp admin state --repo {}`)",
            shell_word(&repo)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_documents_in_every_shape() {
        let list = "- title: Fix login\n  key: DEMO-1\n- title: Docs\n";
        let doc = parse_task_document(list).unwrap();
        assert_eq!(doc.repo, None);
        assert_eq!(doc.tasks.len(), 2);
        assert_eq!(doc.tasks[0]["key"], "DEMO-1");

        let mapping = "repo: demo\ntasks:\n  - title: A\n    estimate_points: 3\n";
        let doc = parse_task_document(mapping).unwrap();
        assert_eq!(doc.repo.as_deref(), Some("demo"));
        assert_eq!(doc.tasks[0]["estimate_points"], 3);

        let json = r#"{"tasks": [{"title": "A", "required_skills": ["rust"]}]}"#;
        assert_eq!(parse_task_document(json).unwrap().tasks.len(), 1);
    }

    #[test]
    fn bad_task_documents_say_what_is_wrong() {
        let err = |text: &str| parse_task_document(text).unwrap_err().to_string();
        assert!(
            err("- key: A-1\n  estimate_points: 2\n").contains("task 1 (key \"A-1\") has no title")
        );
        assert!(err("- title: ok\n- just a string\n").contains("task 2 is not a mapping"));
        assert!(err("name: x\n").contains("tasks:"));
        assert!(err("").contains("empty"));
        assert!(err("tasks: 3\n").contains("must be a list"));
        // YAML syntax errors carry their position.
        assert!(err("- title: [unclosed\n").contains("line"));
    }

    #[test]
    fn the_demo_file_parses() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/demo/tasks.yaml"))
            .expect("demo/tasks.yaml exists");
        let doc = parse_task_document(&text).unwrap();
        assert!(doc.tasks.len() >= 12);
        let keys: HashSet<String> = doc.tasks.iter().filter_map(task_key).collect();
        assert_eq!(
            keys.len(),
            doc.tasks.len(),
            "every demo task has a unique key"
        );
        assert!(doc.tasks.iter().any(|t| t["tier"] == 1));
        for t in &doc.tasks {
            let points = t["estimate_points"].as_i64().unwrap();
            assert!((1..=5).contains(&points));
            assert!(
                crate::domain::model::Priority::parse(t["priority"].as_str().unwrap()).is_some()
            );
        }
    }
}
