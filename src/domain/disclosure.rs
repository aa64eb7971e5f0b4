//! Disclosure: which tool (and model) made a pull request, as its worker says in
//! `artifact.disclosure` of a `pr_opened` report. A repository's contract may require it
//! (`disclosure: required`); the status comment, the credit and the leaderboard show it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::limits::{self, OutOfBounds};

/// Longest `tool` or `model`, in characters.
pub const MAX_DISCLOSURE_CHARS: usize = 100;

/// Whether a repository asks every pull request to say which tool made it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisclosurePolicy {
    /// A worker may say which tool made its pull request (the default).
    #[default]
    Optional,
    /// A `pr_opened` report without `artifact.disclosure` is refused (`422 disclosure_required`).
    Required,
}

/// `artifact.disclosure`: the tool that made a pull request, and the model it ran, if known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Disclosure {
    /// The tool (`claude`, `codex`, `aider`, `none`, …), at most 100 characters.
    pub tool: String,
    /// The model the tool ran, at most 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl Disclosure {
    /// "TOOL" or "TOOL (MODEL)", as the status comment and the dashboard say it.
    pub fn made_with(&self) -> String {
        match &self.model {
            Some(model) => format!("{} ({model})", self.tool),
            None => self.tool.clone(),
        }
    }

    /// The disclosure an artifact carries, if it carries a well-formed one (for reading what
    /// was stored: anything else reads as none).
    pub fn of_artifact(artifact: Option<&Value>) -> Option<Disclosure> {
        let value = artifact?.get("disclosure")?;
        checked(value).ok().flatten()
    }

    /// What a worker's capabilities say about its tool: `agent` (and `model` when declared),
    /// trimmed, without control characters and cut to the bounds. `None` without an `agent`.
    pub fn from_capabilities(capabilities: &Map<String, Value>) -> Option<Disclosure> {
        let clean = |v: &Value| {
            let text = limits::strip_controls(v.as_str()?, limits::Controls::None);
            let text: String = text.trim().chars().take(MAX_DISCLOSURE_CHARS).collect();
            let text = text.trim().to_string();
            limits::has_visible(&text).then_some(text)
        };
        Some(Disclosure {
            tool: clean(capabilities.get("agent")?)?,
            model: capabilities.get("model").and_then(clean),
        })
    }
}

/// Checks a report's `artifact.disclosure`: absent or null is none; otherwise an object with a
/// one-line `tool` that shows something ([`limits::has_visible`]: a name of zero-width or blank
/// characters names no tool) and an optional one-line `model` (blank is none; given, it shows
/// something too), each at most [`MAX_DISCLOSURE_CHARS`] characters (`invalid_disclosure`,
/// `field_too_long` or `invalid_characters`, naming the field).
fn checked(value: &Value) -> Result<Option<Disclosure>, OutOfBounds> {
    let invalid = |detail: &str| OutOfBounds {
        code: "invalid_disclosure",
        detail: detail.to_string(),
    };
    let object = match value {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => {
            return Err(invalid(
                "`artifact.disclosure` must be an object {tool, model?}",
            ));
        }
    };
    let tool = match object.get("tool") {
        Some(Value::String(t)) if !t.trim().is_empty() => t,
        _ => {
            return Err(invalid(
                "`artifact.disclosure.tool` must be a non-empty string: the tool that made the \
                 pull request",
            ));
        }
    };
    limits::text("artifact.disclosure.tool", tool, MAX_DISCLOSURE_CHARS)?;
    if !limits::has_visible(tool) {
        return Err(invalid(
            "`artifact.disclosure.tool` has no visible character (only white space, zero-width \
             or blank characters): name the tool that made the pull request",
        ));
    }
    let model = match object.get("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) => {
            limits::text("artifact.disclosure.model", m, MAX_DISCLOSURE_CHARS)?;
            let m = m.trim();
            if !m.is_empty() && !limits::has_visible(m) {
                return Err(invalid(
                    "`artifact.disclosure.model` has no visible character (only white space, \
                     zero-width or blank characters): name the model, or leave it out",
                ));
            }
            Some(m.to_string()).filter(|m| !m.is_empty())
        }
        Some(_) => {
            return Err(invalid("`artifact.disclosure.model` must be a string"));
        }
    };
    Ok(Some(Disclosure {
        tool: tool.trim().to_string(),
        model,
    }))
}

/// Checks the disclosure of a worker's status report: well-formed when given, and present on a
/// move to `pr_opened` when the repository's contract requires it (`disclosure_required`).
pub fn check_report(
    artifact: Option<&Value>,
    policy: DisclosurePolicy,
    to_pr_opened: bool,
) -> Result<(), OutOfBounds> {
    let given = match artifact.and_then(|a| a.get("disclosure")) {
        Some(value) => checked(value)?,
        None => None,
    };
    if given.is_none() && to_pr_opened && policy == DisclosurePolicy::Required {
        return Err(OutOfBounds {
            code: "disclosure_required",
            detail: "this repository asks every pull request to say which tool made it: \
                     send `artifact.disclosure: {tool, model?}` (e.g. {\"tool\": \"none\"} for \
                     work done by hand)"
                .into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(artifact: Value, policy: DisclosurePolicy) -> Result<(), &'static str> {
        check_report(Some(&artifact), policy, true).map_err(|e| e.code)
    }

    #[test]
    fn reports_are_checked_against_the_policy_and_the_bounds() {
        use DisclosurePolicy::{Optional, Required};
        let url = json!({"pr_url": "https://x.test/pr/1"});
        assert_eq!(report(url.clone(), Optional), Ok(()));
        assert_eq!(report(url, Required), Err("disclosure_required"));
        let null = json!({"pr_url": "u", "disclosure": null});
        assert_eq!(report(null, Required), Err("disclosure_required"));
        let ok = json!({"disclosure": {"tool": "claude", "model": "opus"}});
        assert_eq!(report(ok, Required), Ok(()));
        let long = "x".repeat(MAX_DISCLOSURE_CHARS + 1);
        let cases = [
            (json!({"disclosure": "claude"}), "invalid_disclosure"),
            (json!({"disclosure": {}}), "invalid_disclosure"),
            (json!({"disclosure": {"tool": " "}}), "invalid_disclosure"),
            (json!({"disclosure": {"tool": 3}}), "invalid_disclosure"),
            (
                json!({"disclosure": {"tool": "a", "model": 1}}),
                "invalid_disclosure",
            ),
            (json!({"disclosure": {"tool": long}}), "field_too_long"),
            (
                json!({"disclosure": {"tool": "a", "model": long}}),
                "field_too_long",
            ),
            (
                json!({"disclosure": {"tool": "a\u{1b}[2J"}}),
                "invalid_characters",
            ),
            (
                json!({"disclosure": {"tool": "\u{200b}\u{2060} \u{3164}\u{feff}"}}),
                "invalid_disclosure",
            ),
            (
                json!({"disclosure": {"tool": "a", "model": "\u{200d}\u{fe0f}"}}),
                "invalid_disclosure",
            ),
        ];
        for (artifact, code) in cases {
            assert_eq!(report(artifact.clone(), Optional), Err(code), "{artifact}");
        }
        // Not a move to pr_opened: the bounds hold, the requirement does not.
        assert_eq!(check_report(None, Required, false), Ok(()));
        let exactly = "y".repeat(MAX_DISCLOSURE_CHARS);
        let at_bound = json!({"disclosure": {"tool": exactly, "model": exactly}});
        assert_eq!(report(at_bound, Required), Ok(()));
    }

    #[test]
    fn capabilities_name_the_tool() {
        let caps = |v: Value| v.as_object().cloned().unwrap();
        assert_eq!(Disclosure::from_capabilities(&caps(json!({}))), None);
        assert_eq!(
            Disclosure::from_capabilities(&caps(json!({"agent": " \u{7} "}))),
            None
        );
        let d = Disclosure::from_capabilities(&caps(json!({"agent": "claude", "model": "opus"})))
            .unwrap();
        assert_eq!(d.made_with(), "claude (opus)");
        let long = Disclosure::from_capabilities(&caps(json!({"agent": "z".repeat(500)}))).unwrap();
        assert_eq!(long.tool.chars().count(), MAX_DISCLOSURE_CHARS);
        assert_eq!(
            check_report(
                Some(&json!({"disclosure": long})),
                DisclosurePolicy::Required,
                true
            ),
            Ok(())
        );
    }
}
