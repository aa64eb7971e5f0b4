//! The fields of a task in a task file (`POST /v1/admin/tasks`, `owp admin import-tasks`), and
//! what to say about the others.
//!
//! The wire format ignores unknown fields (contract section 1), but a person's task file is not a
//! wire message: `estimate: 3` or `skills: [docs]` would silently import a 1-point task open to
//! anyone. The import names the fields it ignored, with the field probably meant, and refuses
//! them when asked to be strict.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::limits::{self, Controls};

/// Every field an imported task may carry (besides `x_*` fields, which are kept as they are).
pub const TASK_FIELDS: &[&str] = &[
    "key",
    "title",
    "description",
    "estimate_points",
    "priority",
    "required_skills",
    "area",
    "tier",
    "blocked_by",
    "requires",
    "paths",
];

/// Names people write for a field, and the field they mean.
const ALIASES: &[(&str, &str)] = &[
    ("estimate", "estimate_points"),
    ("points", "estimate_points"),
    ("estimation", "estimate_points"),
    ("size", "estimate_points"),
    ("skills", "required_skills"),
    ("skill", "required_skills"),
    ("labels", "required_skills"),
    ("tags", "required_skills"),
    ("id", "key"),
    ("name", "title"),
    ("summary", "title"),
    ("body", "description"),
    ("details", "description"),
    ("depends_on", "blocked_by"),
    ("dependencies", "blocked_by"),
    ("blockers", "blocked_by"),
    ("after", "blocked_by"),
    ("needs", "requires"),
    ("files", "paths"),
    ("path", "paths"),
    ("globs", "paths"),
    ("prio", "priority"),
    ("component", "area"),
    ("level", "tier"),
];

/// Ignored fields listed per task.
pub const MAX_IGNORED_PER_TASK: usize = 20;
/// Tasks whose ignored fields are listed in one answer.
pub const MAX_TASKS_WITH_IGNORED: usize = 100;
/// Characters of an ignored field's name shown.
const MAX_NAME_CHARS: usize = 64;

/// A field of a task that the import did not read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct IgnoredField {
    /// The field's name, as written (control characters dropped, at most 64 characters).
    pub name: String,
    /// The task field it probably meant, if any.
    pub did_you_mean: Option<String>,
}

/// The ignored fields of one task of an import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct IgnoredFields {
    /// The task's place in the import (from 0).
    pub index: usize,
    /// The task's key, if it has one.
    pub key: Option<String>,
    /// At most 20 fields.
    pub fields: Vec<IgnoredField>,
}

/// The fields of one task the import does not read: neither a task field nor `x_*`.
pub fn ignored_in(task: &Map<String, Value>) -> Vec<IgnoredField> {
    task.keys()
        .filter(|k| !TASK_FIELDS.contains(&k.as_str()) && !k.starts_with("x_"))
        .take(MAX_IGNORED_PER_TASK)
        .map(|k| {
            let name: String = limits::strip_controls(k, Controls::None)
                .chars()
                .take(MAX_NAME_CHARS)
                .collect();
            IgnoredField {
                did_you_mean: did_you_mean(k).map(str::to_string),
                name,
            }
        })
        .collect()
}

/// The ignored fields of every task of an import that has some (at most
/// [`MAX_TASKS_WITH_IGNORED`] tasks), in import order.
pub fn ignored_in_all(tasks: &[Value]) -> Vec<IgnoredFields> {
    tasks
        .iter()
        .enumerate()
        .filter_map(|(index, task)| {
            let map = task.as_object()?;
            let fields = ignored_in(map);
            (!fields.is_empty()).then(|| IgnoredFields {
                index,
                key: match map.get("key") {
                    Some(Value::String(k)) => Some(limits::strip_controls(k, Controls::None)),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                },
                fields,
            })
        })
        .take(MAX_TASKS_WITH_IGNORED)
        .collect()
}

/// The task field a person probably meant by `name`: a known alias, a field that differs only
/// in case or separators, or the nearest field by spelling.
pub fn did_you_mean(name: &str) -> Option<&'static str> {
    let plain: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == '-' || c == ' ' { '_' } else { c })
        .collect();
    if let Some(&field) = TASK_FIELDS.iter().find(|f| **f == plain) {
        return Some(field);
    }
    if let Some((_, field)) = ALIASES.iter().find(|(alias, _)| *alias == plain) {
        return Some(field);
    }
    TASK_FIELDS
        .iter()
        .map(|f| (f, strsim::jaro_winkler(&plain, f)))
        .filter(|(_, score)| *score >= 0.85)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(f, _)| *f)
}

/// One line about an ignored field: `` `estimate` (did you mean `estimate_points`?) ``.
pub fn describe(field: &IgnoredField) -> String {
    match &field.did_you_mean {
        Some(meant) => format!("`{}` (did you mean `{meant}`?)", field.name),
        None => format!("`{}`", field.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typos_and_aliases_point_to_the_field_meant() {
        assert_eq!(did_you_mean("estimate"), Some("estimate_points"));
        assert_eq!(did_you_mean("skills"), Some("required_skills"));
        assert_eq!(did_you_mean("prioritty"), Some("priority"));
        assert_eq!(did_you_mean("Required-Skills"), Some("required_skills"));
        assert_eq!(did_you_mean("descripton"), Some("description"));
        assert_eq!(did_you_mean("flavour"), None);
        assert_eq!(did_you_mean("status"), None);
    }

    #[test]
    fn only_unread_fields_are_listed_and_the_list_is_bounded() {
        let task = json!({"title": "t", "estimate": 3, "x_team": "a", "priority": "high"});
        let ignored = ignored_in(task.as_object().unwrap());
        assert_eq!(
            ignored,
            vec![IgnoredField {
                name: "estimate".into(),
                did_you_mean: Some("estimate_points".into())
            }]
        );
        let mut many = Map::new();
        for i in 0..50 {
            many.insert(format!("junk{i}"), json!(1));
        }
        assert_eq!(ignored_in(&many).len(), MAX_IGNORED_PER_TASK);
        let tasks: Vec<Value> = (0..300).map(|_| json!({"title": "t", "oops": 1})).collect();
        assert_eq!(ignored_in_all(&tasks).len(), MAX_TASKS_WITH_IGNORED);
        let named = ignored_in_all(&[json!({"key": "K-1", "title": "t", "skill": ["a"]})]);
        assert_eq!(named[0].key.as_deref(), Some("K-1"));
        assert_eq!(
            describe(&named[0].fields[0]),
            "`skill` (did you mean `required_skills`?)"
        );
    }
}
