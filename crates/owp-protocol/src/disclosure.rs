//! Disclosure: which tool (and model) made a pull request, as its worker says in
//! `artifact.disclosure` of a `pr_opened` report. A repository's contract may require it
//! (`disclosure: required`); the status comment, the credit and the leaderboard show it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::limits::{self, OutOfBounds};

/// Longest `tool` or `model`, in characters.
pub const MAX_DISCLOSURE_CHARS: usize = 100;

/// The artifact's field for what an open pull request's description discloses (GitHub mode),
/// read where the worker reported none.
pub const PR_DISCLOSURE: &str = "pr_disclosure";

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
    /// was stored: anything else reads as none): the worker's own (`disclosure`), else what the
    /// pull request's description says (`pr_disclosure`, see [`Disclosure::from_pr_body`]).
    pub fn of_artifact(artifact: Option<&Value>) -> Option<Disclosure> {
        let artifact = artifact?;
        ["disclosure", PR_DISCLOSURE]
            .into_iter()
            .find_map(|field| checked(artifact.get(field)?).ok().flatten())
    }

    /// What a pull request's description says made it: its first line `Made with: TOOL` or
    /// `Made with: TOOL (MODEL)` (any case; a list item or bold words are read too), outside
    /// code blocks and quotes (a quote is someone else's words). The name is cut to the bounds
    /// and cleaned as [`Disclosure::from_capabilities`] cleans one; `None` without such a line,
    /// or when it names nothing visible.
    pub fn from_pr_body(body: &str) -> Option<Disclosure> {
        const LABEL: &str = "made with:";
        let mut fence: Option<&str> = None;
        for line in body.lines() {
            let text = line.trim();
            if let Some(open) = fence {
                if text.starts_with(open) {
                    fence = None;
                }
                continue;
            }
            if text.starts_with("```") || text.starts_with("~~~") {
                fence = Some(&text[..3]);
                continue;
            }
            if text.starts_with('>') || line.starts_with("    ") || line.starts_with('\t') {
                continue;
            }
            let text = text
                .trim_start_matches(['-', '*', '+'])
                .trim_start()
                .trim_start_matches(['*', '_']);
            let Some(head) = text.get(..LABEL.len()) else {
                continue;
            };
            if !head.eq_ignore_ascii_case(LABEL) {
                continue;
            }
            let named = text[LABEL.len()..]
                .trim()
                .trim_start_matches(['*', '_'])
                .trim_end_matches(['*', '_', '.'])
                .trim()
                .trim_matches('`')
                .trim();
            let (tool, model) = match named.strip_suffix(')').and_then(|n| n.rsplit_once('(')) {
                Some((tool, model)) if !tool.trim().is_empty() => (tool, Some(model)),
                _ => (named, None),
            };
            let clean = |v: &str| {
                let text = limits::strip_controls(v, limits::Controls::None);
                let text: String = text.trim().chars().take(MAX_DISCLOSURE_CHARS).collect();
                let text = text.trim().to_string();
                limits::has_visible(&text).then_some(text)
            };
            return Some(Disclosure {
                tool: clean(tool)?,
                model: model.and_then(clean),
            });
        }
        None
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
    // A closed object, as `evidence` is: a key it does not know is refused, naming it, so that
    // a typo (`modle`) is not kept as if it said something.
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "tool" | "model"))
    {
        let key: String = key.chars().filter(|c| !c.is_control()).take(64).collect();
        return Err(invalid(&format!(
            "`artifact.disclosure` has no field `{key}`: it is {{tool, model?}}"
        )));
    }
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

    #[test]
    fn a_pull_request_description_says_what_made_it() {
        let said = |body: &str| Disclosure::from_pr_body(body).map(|d| d.made_with());
        assert_eq!(
            said("Fixes #3.\n\nMade with: claude-code"),
            Some("claude-code".into())
        );
        assert_eq!(said("made with: Codex (o3)."), Some("Codex (o3)".into()));
        assert_eq!(said("- **Made with:** `aider`"), Some("aider".into()));
        assert_eq!(said("MADE WITH: none"), Some("none".into()));
        assert_eq!(said("Made with: a (b) (c)"), Some("a (b) (c)".into()));
        // The first line that says it counts.
        assert_eq!(said("Made with: one\nMade with: two"), Some("one".into()));
        // Not a disclosure: nothing named, quoted, in code, or words around the label.
        for body in [
            "",
            "Made with:",
            "Made with:   \u{200b} ",
            "> Made with: claude",
            "```\nMade with: claude\n```",
            "    Made with: claude",
            "This was made with: love",
            "Made with love",
        ] {
            assert_eq!(said(body), None, "{body:?}");
        }
        // After a closed fence, a line counts again.
        assert_eq!(said("```\nx\n```\nMade with: zed"), Some("zed".into()));
        let long = Disclosure::from_pr_body(&format!("Made with: {}", "x".repeat(300))).unwrap();
        assert_eq!(long.tool.chars().count(), MAX_DISCLOSURE_CHARS);
        let stored = json!({"pr_url": "u", "pr_disclosure": {"tool": "zed"}});
        assert_eq!(Disclosure::of_artifact(Some(&stored)).unwrap().tool, "zed");
        let both = json!({"disclosure": {"tool": "own"}, "pr_disclosure": {"tool": "zed"}});
        assert_eq!(Disclosure::of_artifact(Some(&both)).unwrap().tool, "own");
    }

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
                json!({"disclosure": {"tool": "a", "modle": "b"}}),
                "invalid_disclosure",
            ),
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
