//! A repository's contract: how work in it is done (set-up, test and lint commands, the branch
//! name, the pull request template, free-form instructions). Every field is optional text of a
//! bounded length.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::disclosure::DisclosurePolicy;
use crate::limits::Controls;

/// Longest `setup`, `test` or `lint` command, in characters.
pub const MAX_COMMAND_CHARS: usize = 2_000;
/// Longest `branch` template, in characters.
pub const MAX_BRANCH_CHARS: usize = 200;
/// Longest `pr_template` or `instructions`, in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;
/// Longest `clone_url`, in characters.
pub const MAX_CLONE_URL_CHARS: usize = 2_000;

/// The placeholders a `branch` template may use.
pub const BRANCH_PLACEHOLDERS: [&str; 4] = ["{key}", "{number}", "{slug}", "{task_id}"];

/// The default `branch` template.
pub const DEFAULT_BRANCH: &str = "owp/{key}";
/// The default `branch` template of a GitHub issue's task (a key `owner/name#N`): the issue's
/// number and title, as people name branches (`owp/4-fix-the-parser`), not the repository's name.
pub const DEFAULT_ISSUE_BRANCH: &str = "owp/{number}-{slug}";

/// How work in a repository is done, as its maintainers say.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepoContract {
    /// Run once in a fresh checkout before the work starts (e.g. `npm ci`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<String>,
    /// Must pass before a pull request is opened (e.g. `cargo test`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// Must pass before a pull request is opened (e.g. `cargo clippy -- -D warnings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lint: Option<String>,
    /// Branch name template with `{key}`, `{number}`, `{slug}`, `{task_id}` (default
    /// `owp/{number}-{slug}` for a GitHub issue's task, else `owp/{key}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The pull request body to start from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_template: Option<String>,
    /// Anything else a contributor (or their tool) should know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// `required`: every `pr_opened` report says which tool made the pull request
    /// (`artifact.disclosure`); `optional` (the default) lets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosure: Option<DisclosurePolicy>,
    /// `draft`: the runner opens each pull request as a draft and marks it ready once the
    /// worker's own checks (the `test` and `lint` commands) pass; `ready` (the default) opens
    /// it ready after them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_requests: Option<PullRequestStart>,
}

/// How the runner opens a pull request (`contract.pull_requests`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PullRequestStart {
    /// Ready for review, after the worker's checks passed (the default).
    #[default]
    Ready,
    /// A draft first (drafts do not count against GitHub's cap on the open pull requests of
    /// people without write access), marked ready when the worker's checks pass.
    Draft,
}

/// A contract field that is not acceptable: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {problem}")]
pub struct ContractError {
    /// `contract.test`, `clone_url`, …
    pub field: String,
    pub problem: String,
}

impl RepoContract {
    /// Whether a `pr_opened` report must say which tool made the pull request.
    pub fn disclosure_policy(&self) -> DisclosurePolicy {
        self.disclosure.unwrap_or_default()
    }

    /// The disclosure policy of a contract as stored (JSON text); one that does not parse
    /// requires nothing.
    pub fn stored_disclosure_policy(stored: Option<&str>) -> DisclosurePolicy {
        stored
            .and_then(|t| serde_json::from_str::<RepoContract>(t).ok())
            .map(|c| c.disclosure_policy())
            .unwrap_or_default()
    }

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        *self == RepoContract::default()
    }

    /// Checks lengths and the branch template; `prefix` names the fields (`contract`).
    pub fn validate(&self, prefix: &str) -> Result<(), ContractError> {
        // Commands are shown to a volunteer before they run: nothing in them may be read by
        // a terminal as an escape.
        let lines = Controls::LineBreaks;
        let fields = [
            ("setup", &self.setup, MAX_COMMAND_CHARS, lines),
            ("test", &self.test, MAX_COMMAND_CHARS, lines),
            ("lint", &self.lint, MAX_COMMAND_CHARS, lines),
            ("branch", &self.branch, MAX_BRANCH_CHARS, Controls::None),
            ("pr_template", &self.pr_template, MAX_TEXT_CHARS, lines),
            ("instructions", &self.instructions, MAX_TEXT_CHARS, lines),
        ];
        for (name, value, max, controls) in fields {
            let field = format!("{prefix}.{name}");
            if let Some(v) = value {
                if v.chars().count() > max {
                    return Err(ContractError {
                        field,
                        problem: format!("is longer than {max} characters"),
                    });
                }
                if v.chars().any(|c| controls.refuses(c)) {
                    return Err(ContractError {
                        field,
                        problem: "must not contain control characters".into(),
                    });
                }
            }
        }
        if let Some(branch) = &self.branch {
            check_branch_template(branch).map_err(|problem| ContractError {
                field: format!("{prefix}.branch"),
                problem,
            })?;
        }
        Ok(())
    }

    /// The commands that are set, in the order they run: `setup`, `test`, `lint`.
    pub fn commands(&self) -> Vec<(&'static str, &str)> {
        [
            ("setup", &self.setup),
            ("test", &self.test),
            ("lint", &self.lint),
        ]
        .into_iter()
        .filter_map(|(n, c)| {
            c.as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| (n, c))
        })
        .collect()
    }
}

/// A branch template must be non-empty and use only the known placeholders.
fn check_branch_template(template: &str) -> Result<(), String> {
    if template.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        let Some(close) = after.find('}') else {
            return Err("has a `{` without its `}`".into());
        };
        let placeholder = &after[..=close];
        if !BRANCH_PLACEHOLDERS.contains(&placeholder) {
            return Err(format!(
                "uses the unknown placeholder `{placeholder}`; known: {}",
                BRANCH_PLACEHOLDERS.join(", ")
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Checks a `clone_url`: non-empty, bounded, one line.
pub fn validate_clone_url(url: &str) -> Result<(), ContractError> {
    let problem = if url.trim().is_empty() {
        Some("must not be empty".to_string())
    } else if url.chars().count() > MAX_CLONE_URL_CHARS {
        Some(format!("is longer than {MAX_CLONE_URL_CHARS} characters"))
    } else if url.chars().any(char::is_control) {
        Some("must be one line without control characters".to_string())
    } else if url.trim_start().starts_with('-') {
        Some("must not start with `-`".to_string())
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ContractError {
            field: "clone_url".into(),
            problem,
        }),
        None => Ok(()),
    }
}

/// Where a GitHub repository keyed `OWNER/NAME` is cloned from when its policy names no URL.
pub fn github_clone_url(repo: &str) -> String {
    format!("https://github.com/{repo}.git")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_the_field() {
        let c = RepoContract {
            test: Some("x".repeat(MAX_COMMAND_CHARS + 1)),
            ..Default::default()
        };
        let e = c.validate("contract").unwrap_err();
        assert_eq!(e.field, "contract.test");
        let ok = RepoContract {
            test: Some("x".repeat(MAX_COMMAND_CHARS)),
            ..Default::default()
        };
        ok.validate("contract").unwrap();
    }

    #[test]
    fn branch_templates() {
        for good in ["owp/{key}", "fix/{number}-{slug}", "plain", "t/{task_id}"] {
            check_branch_template(good).unwrap();
        }
        for bad in ["", "owp/{issue}", "owp/{key", "  "] {
            assert!(check_branch_template(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn commands_skip_blank_ones() {
        let c = RepoContract {
            setup: Some("  ".into()),
            test: Some("cargo test".into()),
            lint: Some("cargo clippy".into()),
            ..Default::default()
        };
        assert_eq!(
            c.commands(),
            vec![("test", "cargo test"), ("lint", "cargo clippy")]
        );
    }

    #[test]
    fn clone_urls() {
        validate_clone_url("https://example.com/a/b.git").unwrap();
        validate_clone_url("/srv/git/b.git").unwrap();
        assert!(validate_clone_url("").is_err());
        assert!(validate_clone_url("--upload-pack=evil").is_err());
        assert!(validate_clone_url("a\nb").is_err());
        assert_eq!(github_clone_url("o/n"), "https://github.com/o/n.git");
    }
}
