//! From an issue's labels to the fields of its task.
//!
//! With the default names: `pool:ready` makes the issue a task; `estimate:N`, `priority:LEVEL`,
//! `skills:NAME` (repeatable, or `skills:a,b`), `area:NAME` and `tier:N` fill its fields. A
//! repository can rename them in its `.github/owp.yml` ([`LabelNames`]); a Beads file's labels
//! are read with the default names. Names and prefixes are compared case-insensitively, as GitHub
//! treats label names.
//!
//! Labels are written by people, so nothing here fails: a label with a value that makes no sense
//! is skipped with a [`LabelWarning`] that can be shown to maintainers, and when two labels
//! disagree about a single-valued field the safer value wins (the larger estimate and tier, the
//! higher priority) with a warning.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::Priority;

/// Largest accepted `estimate:N`.
pub const MAX_ESTIMATE: u32 = 1000;

/// Largest accepted `tier:N`.
pub const MAX_TIER: u32 = 1000;

/// The label names a repository uses. `ready` is a whole label; the others are the part before the
/// colon, e.g. `estimate` for `estimate:3`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabelNames {
    pub ready: String,
    pub estimate: String,
    pub priority: String,
    pub skills: String,
    pub area: String,
    pub tier: String,
}

impl Default for LabelNames {
    fn default() -> Self {
        LabelNames {
            ready: "pool:ready".into(),
            estimate: "estimate".into(),
            priority: "priority".into(),
            skills: "skills".into(),
            area: "area".into(),
            tier: "tier".into(),
        }
    }
}

impl LabelNames {
    /// The prefixes with their keys, in a fixed order.
    pub fn prefixes(&self) -> [(&'static str, &str); 5] {
        [
            ("estimate", &self.estimate),
            ("priority", &self.priority),
            ("skills", &self.skills),
            ("area", &self.area),
            ("tier", &self.tier),
        ]
    }
}

/// The labels of these conventions a repository does not have yet, from the names of the labels
/// it has: the ready label itself when it is absent, then `PREFIX:…` (`estimate:N`,
/// `priority:LEVEL`, `skills:NAME`, `area:NAME`, `tier:N`) for each prefix of which it has no
/// label at all. GitHub offers people only labels that exist, and the App never creates them.
pub fn missing_labels<S: AsRef<str>>(names: &LabelNames, present: &[S]) -> Vec<String> {
    let has = |wanted: &dyn Fn(&str) -> bool| present.iter().any(|l| wanted(l.as_ref()));
    let mut missing = Vec::new();
    if !has(&|l| l.eq_ignore_ascii_case(&names.ready)) {
        missing.push(names.ready.clone());
    }
    for (key, prefix) in names.prefixes() {
        let start = format!("{}:", prefix.to_lowercase());
        if !has(&|l| l.to_lowercase().starts_with(&start)) {
            let value = match key {
                "estimate" | "tier" => "N",
                "priority" => "LEVEL",
                _ => "NAME",
            };
            missing.push(format!("{prefix}:{value}"));
        }
    }
    missing
}

/// How a task's tier is decided: its `tier:N` label or `default`, raised to the area's minimum.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TierRules {
    /// Tier of a task without a tier label.
    pub default: u32,
    /// Lowest tier of the tasks in an area (area names compared case-insensitively).
    pub areas: BTreeMap<String, u32>,
}

impl TierRules {
    /// The tier of a task with the given label tier and area.
    pub fn effective_tier(&self, label_tier: Option<u32>, area: Option<&str>) -> u32 {
        let base = label_tier.unwrap_or(self.default);
        let area_min = area
            .and_then(|area| {
                self.areas
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(area))
                    .map(|(_, tier)| *tier)
            })
            .unwrap_or(0);
        base.max(area_min)
    }
}

/// What an issue's labels say, before repository defaults are applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelMapping {
    /// The issue carries the ready label, so it is (or should become) a task.
    pub ready: bool,
    pub estimate_points: Option<u32>,
    pub priority: Option<Priority>,
    /// Skills in label order, duplicates (ignoring case) removed.
    pub required_skills: Vec<String>,
    pub area: Option<String>,
    pub tier: Option<u32>,
    /// Capabilities from `needs:NAME` labels (lower-case, in label order, without duplicates):
    /// the task requires each of them to be `true`.
    pub needs: Vec<String>,
    /// Labels that were skipped or overruled.
    pub warnings: Vec<LabelWarning>,
}

/// The task fields that come from labels, with defaults applied; field types follow the task
/// model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFields {
    pub estimate_points: i64,
    pub priority: Priority,
    pub required_skills: Vec<String>,
    pub area: Option<String>,
    pub tier: i64,
    /// The task's `requires`: each `needs:NAME` as `NAME: true`.
    pub requires: serde_json::Map<String, serde_json::Value>,
}

/// A label that did not count as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelWarning {
    /// The label has a known prefix but a value that cannot be used; it was skipped.
    InvalidValue {
        label: String,
        expected: &'static str,
    },
    /// The label's prefix is a near miss of a known one (`skill:rust` for `skills:rust`): it
    /// was ignored, which for skills and tiers would open the task to more people than meant.
    NearMiss { label: String, meant: String },
    /// Several labels set one single-valued field; `chosen` is the value kept.
    Conflict {
        field: &'static str,
        labels: Vec<String>,
        chosen: String,
    },
}

impl fmt::Display for LabelWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelWarning::InvalidValue { label, expected } => {
                write!(
                    f,
                    "label `{}` was ignored: expected {expected}",
                    code_safe(label)
                )
            }
            LabelWarning::NearMiss { label, meant } => write!(
                f,
                "label `{}` was ignored: did you mean `{}`?",
                code_safe(label),
                code_safe(meant)
            ),
            LabelWarning::Conflict {
                field,
                labels,
                chosen,
            } => {
                let labels: Vec<String> = labels
                    .iter()
                    .map(|l| format!("`{}`", code_safe(l)))
                    .collect();
                write!(
                    f,
                    "labels {} disagree about the {field}; using {chosen}",
                    labels.join(", ")
                )
            }
        }
    }
}

/// A label name that stays inside its code span: no backticks (GitHub allows 50 characters).
fn code_safe(label: &str) -> String {
    label.replace('`', "'").chars().take(100).collect()
}

const EXPECT_ESTIMATE: &str = "a whole number of points from 1 to 1000";
const EXPECT_PRIORITY: &str = "low, normal, high or critical";
const EXPECT_SKILL: &str = "one or more skill names separated by commas";
const EXPECT_AREA: &str = "an area name";
const EXPECT_TIER: &str = "a whole number from 0 to 1000";
const EXPECT_NEED: &str = "a capability name of a-z, 0-9, `_`, `.` and `-` (at most 64 characters; \
     at most 16 `needs:` labels)";

/// The prefix of a capability a task needs (`needs:NAME` means `requires: {NAME: true}`).
pub const NEEDS_PREFIX: &str = "needs";

/// Reads an issue's label names.
pub fn map_labels<S: AsRef<str>>(labels: &[S], names: &LabelNames) -> LabelMapping {
    let mut mapping = LabelMapping::default();
    // (label, value) per single-valued field, to settle disagreements after the loop.
    let mut estimates: Vec<(String, u32)> = Vec::new();
    let mut priorities: Vec<(String, Priority)> = Vec::new();
    let mut areas: Vec<(String, String)> = Vec::new();
    let mut tiers: Vec<(String, u32)> = Vec::new();

    for label in labels {
        let label = label.as_ref().trim();
        if label.eq_ignore_ascii_case(&names.ready) {
            mapping.ready = true;
            continue;
        }
        if let Some((prefix, value)) = label.split_once(':')
            && prefix.trim().eq_ignore_ascii_case(NEEDS_PREFIX)
        {
            let name = value.trim().to_ascii_lowercase();
            let good = !name.is_empty()
                && name.len() <= crate::limits::MAX_CAPABILITY_NAME_CHARS
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
            if !good || mapping.needs.len() >= crate::limits::MAX_REQUIRES {
                mapping.warnings.push(LabelWarning::InvalidValue {
                    label: label.to_string(),
                    expected: EXPECT_NEED,
                });
            } else if !mapping.needs.contains(&name) {
                mapping.needs.push(name);
            }
            continue;
        }
        let Some((key, value)) = split_label(label, names) else {
            if let Some(meant) = near_miss(label, names) {
                mapping.warnings.push(LabelWarning::NearMiss {
                    label: label.to_string(),
                    meant,
                });
            }
            continue;
        };
        let invalid = |expected| LabelWarning::InvalidValue {
            label: label.to_string(),
            expected,
        };
        match key {
            "estimate" => match value.parse::<u32>() {
                Ok(n) if (1..=MAX_ESTIMATE).contains(&n) => estimates.push((label.into(), n)),
                _ => mapping.warnings.push(invalid(EXPECT_ESTIMATE)),
            },
            "priority" => match Priority::parse(&value.to_ascii_lowercase()) {
                Some(p) => priorities.push((label.into(), p)),
                None => mapping.warnings.push(invalid(EXPECT_PRIORITY)),
            },
            "tier" => match value.parse::<u32>() {
                Ok(n) if n <= MAX_TIER => tiers.push((label.into(), n)),
                _ => mapping.warnings.push(invalid(EXPECT_TIER)),
            },
            "area" if value.is_empty() => mapping.warnings.push(invalid(EXPECT_AREA)),
            "area" => areas.push((label.into(), value.to_string())),
            "skills" => {
                let skills: Vec<&str> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                if skills.is_empty() {
                    mapping.warnings.push(invalid(EXPECT_SKILL));
                }
                for skill in skills {
                    let known = mapping
                        .required_skills
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(skill));
                    if !known {
                        mapping.required_skills.push(skill.to_string());
                    }
                }
            }
            _ => unreachable!("split_label returns only the keys of LabelNames::prefixes"),
        }
    }

    let warnings = &mut mapping.warnings;
    mapping.estimate_points = settle("estimate", estimates, u32::max, u32::to_string, warnings);
    mapping.priority = settle(
        "priority",
        priorities,
        Priority::max,
        |p| p.as_str().to_string(),
        warnings,
    );
    mapping.tier = settle("tier", tiers, u32::max, u32::to_string, warnings);
    // No area is safer than another; take the first in alphabetical order, so the choice does
    // not depend on the order GitHub lists labels in.
    mapping.area = settle(
        "area",
        areas,
        |a, b| {
            if b.to_lowercase() < a.to_lowercase() {
                b
            } else {
                a
            }
        },
        String::clone,
        warnings,
    );
    mapping
}

impl LabelMapping {
    /// The task fields, with defaults for what the labels leave open and the repository's tier
    /// rules applied.
    pub fn task_fields(&self, tiers: &TierRules) -> TaskFields {
        TaskFields {
            estimate_points: i64::from(self.estimate_points.unwrap_or(1)),
            priority: self.priority.unwrap_or_default(),
            required_skills: self.required_skills.clone(),
            area: self.area.clone(),
            tier: i64::from(tiers.effective_tier(self.tier, self.area.as_deref())),
            requires: self
                .needs
                .iter()
                .map(|n| (n.clone(), serde_json::Value::Bool(true)))
                .collect(),
        }
    }
}

/// The label `label` was probably meant as, when its prefix is one edit away from a configured
/// prefix or `needs` (`skill:`, `skils:`, `tiers:`), or a short form of one (`prio:`, `est:`).
/// Labels of other schemes (`type:bug`, `status:triage`) are not near misses.
fn near_miss(label: &str, names: &LabelNames) -> Option<String> {
    let (prefix, value) = label.split_once(':')?;
    let prefix = prefix.trim().to_lowercase();
    if prefix.chars().count() < 3 || value.trim().is_empty() {
        return None;
    }
    let known = names
        .prefixes()
        .map(|(_, name)| name.to_lowercase())
        .into_iter()
        .chain([NEEDS_PREFIX.to_string()]);
    for name in known {
        let close = strsim::damerau_levenshtein(&prefix, &name) == 1 && name.chars().count() >= 4;
        let short = name.len() > prefix.len() && name.starts_with(&prefix);
        if close || short {
            return Some(format!("{name}:{}", value.trim()));
        }
    }
    None
}

/// `(key, value)` when `label` is `PREFIX:VALUE` for one of the configured prefixes.
fn split_label<'a>(label: &'a str, names: &LabelNames) -> Option<(&'static str, &'a str)> {
    let (prefix, value) = label.split_once(':')?;
    let prefix = prefix.trim();
    names
        .prefixes()
        .into_iter()
        .find(|(_, name)| name.eq_ignore_ascii_case(prefix))
        .map(|(key, _)| (key, value.trim()))
}

/// One value from several labels: none, the only one, or (with a warning when they differ) the
/// one `pick` prefers.
fn settle<T: Clone + PartialEq>(
    field: &'static str,
    found: Vec<(String, T)>,
    pick: impl Fn(T, T) -> T,
    show: impl Fn(&T) -> String,
    warnings: &mut Vec<LabelWarning>,
) -> Option<T> {
    let mut values = found.iter().map(|(_, v)| v.clone());
    let first = values.next()?;
    let chosen = values.fold(first, &pick);
    if found.iter().any(|(_, v)| *v != chosen) {
        warnings.push(LabelWarning::Conflict {
            field,
            labels: found.into_iter().map(|(label, _)| label).collect(),
            chosen: show(&chosen),
        });
    }
    Some(chosen)
}

#[cfg(test)]
mod tests {

    #[test]
    fn missing_labels_names_the_ready_label_and_each_absent_prefix() {
        let names = LabelNames::default();
        let none: [&str; 0] = [];
        assert_eq!(
            missing_labels(&names, &none),
            [
                "pool:ready",
                "estimate:N",
                "priority:LEVEL",
                "skills:NAME",
                "area:NAME",
                "tier:N"
            ]
        );
        let some = [
            "Pool:Ready",
            "estimate:3",
            "Priority:high",
            "bug",
            "skill:rust",
        ];
        assert_eq!(
            missing_labels(&names, &some),
            ["skills:NAME", "area:NAME", "tier:N"]
        );
        let renamed = LabelNames {
            ready: "help wanted".into(),
            ..LabelNames::default()
        };
        assert_eq!(missing_labels(&renamed, &some)[0], "help wanted");
    }
    use super::*;

    fn map(labels: &[&str]) -> LabelMapping {
        map_labels(labels, &LabelNames::default())
    }

    #[test]
    fn no_labels() {
        let m = map(&[]);
        assert_eq!(m, LabelMapping::default());
        assert_eq!(
            m.task_fields(&TierRules::default()),
            TaskFields {
                estimate_points: 1,
                priority: Priority::Normal,
                required_skills: vec![],
                area: None,
                tier: 0,
                requires: Default::default(),
            }
        );
    }

    #[test]
    fn every_default_label() {
        let m = map(&[
            "pool:ready",
            "estimate:3",
            "priority:high",
            "skills:rust",
            "skills:sql,docs",
            "area:scheduler",
            "tier:2",
            "needs:can_run_tests",
            "Needs: GPU",
            "needs:gpu",
            "bug",
        ]);
        assert!(m.ready);
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        assert_eq!(
            m.task_fields(&TierRules::default()),
            TaskFields {
                estimate_points: 3,
                priority: Priority::High,
                required_skills: vec!["rust".into(), "sql".into(), "docs".into()],
                area: Some("scheduler".into()),
                tier: 2,
                requires: serde_json::json!({"can_run_tests": true, "gpu": true})
                    .as_object()
                    .unwrap()
                    .clone(),
            }
        );
    }

    #[test]
    fn needs_labels_are_bounded_and_checked() {
        let m = map(&["needs:", "needs:has space", "needs:ok-1.x_y"]);
        assert_eq!(m.needs, ["ok-1.x_y"]);
        assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
        let many: Vec<String> = (0..20).map(|i| format!("needs:c{i}")).collect();
        let m = map_labels(&many, &LabelNames::default());
        assert_eq!(m.needs.len(), crate::limits::MAX_REQUIRES);
        assert_eq!(m.warnings.len(), 4);
    }

    #[test]
    fn ready_label_alone() {
        let m = map(&["pool:ready"]);
        assert!(m.ready);
        assert_eq!(m.estimate_points, None);
    }

    #[test]
    fn without_the_ready_label_fields_are_still_read() {
        let m = map(&["estimate:2"]);
        assert!(!m.ready);
        assert_eq!(m.estimate_points, Some(2));
    }

    #[test]
    fn names_and_prefixes_ignore_case_and_spaces() {
        let m = map(&[
            "Pool:Ready",
            "Estimate: 5",
            "PRIORITY:Critical",
            " area : UI ",
        ]);
        assert!(m.ready);
        assert_eq!(m.estimate_points, Some(5));
        assert_eq!(m.priority, Some(Priority::Critical));
        assert_eq!(m.area.as_deref(), Some("UI"));
    }

    #[test]
    fn skills_are_deduplicated_ignoring_case_and_keep_their_spelling() {
        let m = map(&["skills:TypeScript", "skills:typescript, Go ,,", "skills:go"]);
        assert_eq!(m.required_skills, ["TypeScript", "Go"]);
        assert!(m.warnings.is_empty());
    }

    #[test]
    fn unrelated_labels_are_ignored_silently() {
        let m = map(&["bug", "good first issue", "status:triage", "pool:later"]);
        assert_eq!(m, LabelMapping::default());
        let m = map(&[
            "type:bug",
            "kind:feature",
            "size:L",
            "good-first-issue:yes",
            "os:linux",
        ]);
        assert_eq!(m, LabelMapping::default());
    }

    #[test]
    fn near_misses_of_a_prefix_warn_with_the_label_meant() {
        let m = map(&[
            "skill:rust",
            "Prio:high",
            "tiers:2",
            "estimates:3",
            "need:gpu",
            "are:cli",
        ]);
        let texts: Vec<String> = m.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "label `skill:rust` was ignored: did you mean `skills:rust`?",
                "label `Prio:high` was ignored: did you mean `priority:high`?",
                "label `tiers:2` was ignored: did you mean `tier:2`?",
                "label `estimates:3` was ignored: did you mean `estimate:3`?",
                "label `need:gpu` was ignored: did you mean `needs:gpu`?",
                "label `are:cli` was ignored: did you mean `area:cli`?",
            ]
        );
        assert!(m.required_skills.is_empty() && m.tier.is_none());
    }

    #[test]
    fn invalid_values_warn_and_are_skipped() {
        let m = map(&[
            "estimate:big",
            "estimate:0",
            "estimate:-1",
            "estimate:1001",
            "priority:urgent",
            "tier:x",
            "tier:-1",
            "skills:",
            "skills: , ",
            "area:",
        ]);
        assert_eq!(m.estimate_points, None);
        assert_eq!(m.priority, None);
        assert_eq!(m.tier, None);
        assert_eq!(m.area, None);
        assert!(m.required_skills.is_empty());
        let labels: Vec<&str> = m
            .warnings
            .iter()
            .map(|w| match w {
                LabelWarning::InvalidValue { label, .. } => label.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            labels,
            [
                "estimate:big",
                "estimate:0",
                "estimate:-1",
                "estimate:1001",
                "priority:urgent",
                "tier:x",
                "tier:-1",
                "skills:",
                "skills: ,",
                "area:",
            ]
        );
    }

    #[test]
    fn a_valid_label_still_counts_beside_an_invalid_one() {
        let m = map(&["estimate:lots", "estimate:2"]);
        assert_eq!(m.estimate_points, Some(2));
        assert_eq!(m.warnings.len(), 1);
    }

    #[test]
    fn conflicts_take_the_safer_value() {
        let m = map(&[
            "estimate:2",
            "estimate:5",
            "priority:low",
            "priority:high",
            "tier:3",
            "tier:1",
            "area:ui",
            "area:api",
        ]);
        assert_eq!(m.estimate_points, Some(5));
        assert_eq!(m.priority, Some(Priority::High));
        assert_eq!(m.tier, Some(3));
        assert_eq!(m.area.as_deref(), Some("api"));
        let fields: Vec<&str> = m
            .warnings
            .iter()
            .map(|w| match w {
                LabelWarning::Conflict { field, .. } => *field,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(fields, ["estimate", "priority", "tier", "area"]);
    }

    #[test]
    fn equal_duplicates_are_not_a_conflict() {
        let m = map(&["estimate:2", "Estimate:2", "area:ui", "area:UI"]);
        assert_eq!(m.estimate_points, Some(2));
        // `ui` and `UI` are different spellings: reported, first alphabetically (ignoring case).
        assert_eq!(m.warnings.len(), 1);
        assert_eq!(m.area.as_deref(), Some("ui"));
    }

    #[test]
    fn warning_texts() {
        let m = map(&["estimate:big", "priority:low", "priority:high"]);
        let texts: Vec<String> = m.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "label `estimate:big` was ignored: expected a whole number of points from 1 to 1000",
                "labels `priority:low`, `priority:high` disagree about the priority; using high",
            ]
        );
    }

    #[test]
    fn renamed_labels() {
        let names = LabelNames {
            ready: "help wanted".into(),
            estimate: "size".into(),
            priority: "prio".into(),
            skills: "lang".into(),
            area: "component".into(),
            tier: "level".into(),
        };
        let m = map_labels(
            &[
                "help wanted",
                "size:8",
                "prio:low",
                "lang:rust",
                "component:cli",
                "level:1",
                "pool:ready",
                "estimate:3",
            ],
            &names,
        );
        assert!(m.ready);
        assert_eq!(m.estimate_points, Some(8));
        assert_eq!(m.priority, Some(Priority::Low));
        assert_eq!(m.required_skills, ["rust"]);
        assert_eq!(m.area.as_deref(), Some("cli"));
        assert_eq!(m.tier, Some(1));
        assert!(m.warnings.is_empty());
    }

    #[test]
    fn tier_rules_apply() {
        let tiers = TierRules {
            default: 1,
            areas: [("security".to_string(), 3)].into(),
        };
        assert_eq!(map(&[]).task_fields(&tiers).tier, 1);
        assert_eq!(map(&["tier:0"]).task_fields(&tiers).tier, 0);
        assert_eq!(map(&["area:Security"]).task_fields(&tiers).tier, 3);
        assert_eq!(
            map(&["area:security", "tier:5"]).task_fields(&tiers).tier,
            5
        );
    }

    #[test]
    fn label_with_only_a_colon_never_panics() {
        let m = map(&[":", "::", ":3", "estimate::3"]);
        assert_eq!(m.estimate_points, None);
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings); // estimate::3
    }
}
