//! What `owp admin import-tasks` says about fields of a task file the import does not read
//! (`estimate: 3` for `estimate_points: 3`), with the same rule as the server (see
//! [`crate::domain::task_fields`]).

use serde_json::Value;

use crate::domain::task_fields::{self, IgnoredFields};

/// One line per ignored field: `D-1: ignored `estimate` (did you mean `estimate_points`?)`.
pub fn lines(tasks: &[Value]) -> Vec<String> {
    task_fields::ignored_in_all(tasks)
        .iter()
        .flat_map(|t| {
            let who = label(t);
            t.fields
                .iter()
                .map(move |f| format!("{who}: ignored {}", task_fields::describe(f)))
        })
        .collect()
}

/// With `--strict`: one line refusing the file when it has fields the import does not read.
pub fn refusal(tasks: &[Value], file: &str) -> Option<String> {
    let ignored = task_fields::ignored_in_all(tasks);
    if ignored.is_empty() {
        return None;
    }
    let listed: Vec<String> = ignored
        .iter()
        .flat_map(|t| {
            let who = label(t);
            t.fields
                .iter()
                .map(move |f| format!("{who} {}", task_fields::describe(f)))
        })
        .collect();
    Some(format!(
        "{file}: fields the import does not read (--strict): {}; nothing imported",
        listed.join(", ")
    ))
}

/// A task as the lines name it: its key, or its place in the file (from 1).
fn label(t: &IgnoredFields) -> String {
    match &t.key {
        Some(k) => k.clone(),
        None => format!("task {}", t.index + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typos_are_named_with_the_field_meant() {
        let tasks = [
            json!({"key": "D-1", "title": "t", "estimate": 3, "skills": ["docs"]}),
            json!({"title": "u", "colour": "red"}),
        ];
        assert_eq!(
            lines(&tasks),
            [
                "D-1: ignored `estimate` (did you mean `estimate_points`?)",
                "D-1: ignored `skills` (did you mean `required_skills`?)",
                "task 2: ignored `colour`",
            ]
        );
        let refused = refusal(&tasks, "tasks.yaml").unwrap();
        assert!(refused.starts_with("tasks.yaml: fields the import does not read"));
        assert!(!refused.contains('\n'));
        assert!(refusal(&[json!({"title": "ok", "x_team": 1})], "f").is_none());
    }
}
