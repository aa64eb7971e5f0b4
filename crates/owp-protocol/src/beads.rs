//! Reading a Beads backlog (`.beads/issues.jsonl`): one JSON object a line, one bead each
//! (contract section 8, "Beads").
//!
//! What becomes a task: a bead with `status: open` whose `issue_type` is `task`, `bug`,
//! `feature` or `chore`, keyed by its `id`. Everything else is counted as skipped, by status or
//! by type. A `blocks` dependency (`depends_on_id` blocks `issue_id`) becomes `blocked_by` when
//! the blocker is itself imported as a task; a blocker that is closed or skipped holds nothing.
//! Other dependency types (`related`, `parent-child`, `discovered-from`, …) only describe the
//! backlog and are ignored. Closed and tombstoned beads are listed, so the import can end the
//! tasks they had become. A malformed line is an error naming its line number.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use super::model::Priority;

/// Beads whose `issue_type` is one of these can become tasks.
pub const TASK_TYPES: [&str; 4] = ["task", "bug", "feature", "chore"];
/// Beads in these statuses are done: the task they had become ends.
pub const CLOSED_STATUSES: [&str; 2] = ["closed", "tombstone"];
/// Lines in one file, as many as tasks in one import may be.
pub const MAX_LINES: usize = 5_000;

/// One bead as the file has it (fields this server does not use are ignored).
#[derive(Debug, Deserialize)]
struct RawBead {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    acceptance_criteria: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default)]
    issue_type: Option<String>,
    #[serde(default)]
    labels: Option<Vec<String>>,
    #[serde(default)]
    dependencies: Option<Vec<RawDependency>>,
}

#[derive(Debug, Deserialize)]
struct RawDependency {
    issue_id: String,
    depends_on_id: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

/// A bead that becomes (or stays) a task.
#[derive(Clone, Debug, PartialEq)]
pub struct BeadTask {
    /// The bead's `id`: the task's key.
    pub key: String,
    pub title: String,
    pub description: String,
    pub priority: Priority,
    /// The bead's labels, to be read by the label conventions.
    pub labels: Vec<String>,
    /// Keys of the imported beads that block it.
    pub blocked_by: Vec<String>,
    /// Its line in the file (1-based), for error messages.
    pub line: usize,
}

/// A whole file, read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Backlog {
    pub tasks: Vec<BeadTask>,
    /// Ids of beads that are closed or tombstoned.
    pub closed: Vec<String>,
    /// Beads skipped, by status (those not `open`).
    pub skipped_statuses: BTreeMap<String, u64>,
    /// Open beads skipped, by `issue_type`.
    pub skipped_types: BTreeMap<String, u64>,
}

impl Backlog {
    pub fn skipped(&self) -> u64 {
        self.skipped_statuses.values().sum::<u64>() + self.skipped_types.values().sum::<u64>()
    }
}

/// A line that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub detail: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.detail)
    }
}

/// Beads priority 0 (most urgent) … 4 in OWP's four levels.
pub fn priority_of(p: i64) -> Option<Priority> {
    match p {
        0 => Some(Priority::Critical),
        1 => Some(Priority::High),
        2 => Some(Priority::Normal),
        3 | 4 => Some(Priority::Low),
        _ => None,
    }
}

/// True when `text` looks like JSON Lines rather than one JSON or YAML document: its first
/// non-empty line is a whole JSON object and at least one more line follows, or it is a single
/// object with an `id` and no `tasks`.
pub fn looks_like_jsonl(text: &str) -> bool {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let Some(first) = lines.next() else {
        return false;
    };
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(first) else {
        return false;
    };
    lines.next().is_some() || (obj.contains_key("id") && !obj.contains_key("tasks"))
}

/// Reads a Beads `issues.jsonl`. Blank lines are allowed; anything else that is not one bead
/// object is an error naming its line.
pub fn parse(text: &str) -> Result<Backlog, BadLine> {
    let mut beads: Vec<(usize, RawBead)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if beads.len() >= MAX_LINES {
            return Err(BadLine {
                line: n,
                detail: format!("a file may hold at most {MAX_LINES} beads"),
            });
        }
        let bad = |detail: String| BadLine { line: n, detail };
        let value: Value =
            serde_json::from_str(line).map_err(|e| bad(format!("not a JSON object: {e}")))?;
        if !value.is_object() {
            return Err(bad("not a JSON object".into()));
        }
        let bead: RawBead =
            serde_json::from_value(value).map_err(|e| bad(format!("not a bead: {e}")))?;
        if bead.id.trim().is_empty() {
            return Err(bad("`id` must not be empty".into()));
        }
        if let Some(first) = seen.insert(bead.id.clone(), n) {
            return Err(bad(format!(
                "bead `{}` is already on line {first}",
                bead.id
            )));
        }
        if let Some(p) = bead.priority
            && priority_of(p).is_none()
        {
            return Err(bad(format!("`priority` must be 0 to 4 (got {p})")));
        }
        beads.push((n, bead));
    }

    let status_of = |b: &RawBead| b.status.clone().unwrap_or_else(|| "open".into());
    let type_of = |b: &RawBead| b.issue_type.clone().unwrap_or_else(|| "task".into());
    let imported: HashSet<&str> = beads
        .iter()
        .filter(|(_, b)| status_of(b) == "open" && TASK_TYPES.contains(&type_of(b).as_str()))
        .map(|(_, b)| b.id.as_str())
        .collect();

    let mut backlog = Backlog::default();
    for (line, bead) in &beads {
        let status = status_of(bead);
        let kind = type_of(bead);
        if CLOSED_STATUSES.contains(&status.as_str()) {
            backlog.closed.push(bead.id.clone());
        }
        if status != "open" {
            *backlog.skipped_statuses.entry(status).or_default() += 1;
            continue;
        }
        if !TASK_TYPES.contains(&kind.as_str()) {
            *backlog.skipped_types.entry(kind).or_default() += 1;
            continue;
        }
        if bead.title.trim().is_empty() {
            return Err(BadLine {
                line: *line,
                detail: format!("bead `{}` has no title", bead.id),
            });
        }
        let mut blocked_by: Vec<String> = Vec::new();
        for dep in bead.dependencies.iter().flatten() {
            let blocks = dep.kind.as_deref().unwrap_or("blocks") == "blocks";
            if blocks
                && dep.issue_id == bead.id
                && imported.contains(dep.depends_on_id.as_str())
                && !blocked_by.contains(&dep.depends_on_id)
            {
                blocked_by.push(dep.depends_on_id.clone());
            }
        }
        let mut description = bead.description.clone().unwrap_or_default();
        if let Some(ac) = bead.acceptance_criteria.as_deref().map(str::trim)
            && !ac.is_empty()
        {
            if !description.is_empty() {
                description.push_str("\n\n");
            }
            description.push_str("## Acceptance criteria\n\n");
            description.push_str(ac);
        }
        backlog.tasks.push(BeadTask {
            key: bead.id.clone(),
            title: bead.title.clone(),
            description,
            priority: priority_of(bead.priority.unwrap_or(2)).unwrap_or_default(),
            labels: bead.labels.clone().unwrap_or_default(),
            blocked_by,
            line: *line,
        });
    }
    Ok(backlog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_work_becomes_tasks_and_the_rest_is_counted() {
        let text = r#"
{"id":"bd-1","title":"Schema","status":"open","priority":0,"issue_type":"task"}
{"id":"bd-2","title":"API","status":"open","priority":1,"issue_type":"feature","dependencies":[{"issue_id":"bd-2","depends_on_id":"bd-1","type":"blocks"},{"issue_id":"bd-2","depends_on_id":"bd-9","type":"parent-child"}]}
{"id":"bd-3","title":"Old","status":"closed","priority":2,"issue_type":"bug"}
{"id":"bd-9","title":"Epic","status":"open","priority":2,"issue_type":"epic"}
{"id":"bd-4","title":"After old","status":"open","priority":4,"issue_type":"chore","dependencies":[{"issue_id":"bd-4","depends_on_id":"bd-3","type":"blocks"}]}
"#;
        let b = parse(text).unwrap();
        let keys: Vec<&str> = b.tasks.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["bd-1", "bd-2", "bd-4"]);
        assert_eq!(b.tasks[0].priority, Priority::Critical);
        assert_eq!(b.tasks[1].blocked_by, ["bd-1"]);
        assert!(
            b.tasks[2].blocked_by.is_empty(),
            "a closed blocker holds nothing"
        );
        assert_eq!(b.tasks[2].priority, Priority::Low);
        assert_eq!(b.closed, ["bd-3"]);
        assert_eq!(b.skipped(), 2);
    }

    #[test]
    fn a_malformed_line_is_named() {
        let text = "{\"id\":\"a\",\"title\":\"x\"}\n\n{\"id\": \"b\", \"title\": \n";
        assert_eq!(parse(text).unwrap_err().line, 3);
        assert_eq!(parse("[1]\n").unwrap_err().line, 1);
        let dup = "{\"id\":\"a\",\"title\":\"x\"}\n{\"id\":\"a\",\"title\":\"y\"}\n";
        assert_eq!(parse(dup).unwrap_err().line, 2);
        let prio = "{\"id\":\"a\",\"title\":\"x\",\"priority\":7}\n";
        assert_eq!(parse(prio).unwrap_err().line, 1);
    }

    #[test]
    fn jsonl_is_told_from_yaml_and_json() {
        assert!(looks_like_jsonl("{\"id\":\"a\"}\n{\"id\":\"b\"}\n"));
        assert!(looks_like_jsonl("{\"id\":\"a\",\"title\":\"x\"}\n"));
        assert!(!looks_like_jsonl("{\"repo\": \"r\", \"tasks\": []}"));
        assert!(!looks_like_jsonl("repo: r\ntasks: []\n"));
        assert!(!looks_like_jsonl("{\n  \"tasks\": []\n}\n"));
    }
}
