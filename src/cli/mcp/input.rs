//! What the MCP tools take: their inputs, each checked before anything is sent to the server,
//! and the refusal of an input that does not fit (a tool error naming the field).

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{MAX_ID_LEN, MAX_PLAN_LEN, MAX_TEXT_LEN, MAX_URL_LEN, REPORT_STATUSES};
use crate::cli::client::MAX_CLAIM_WAIT_SECONDS;
use crate::cli::present::clip;
use crate::domain::disclosure::{Disclosure, MAX_DISCLOSURE_CHARS};
use crate::domain::limits;
use rmcp::model::JsonObject;

// ---- tool inputs ------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimParams {
    /// Seconds the server may wait for work to appear (0 to 30; default 0: answer at once).
    #[schemars(range(min = 0, max = 30))]
    pub wait_seconds: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseParams {
    /// The lease id from owp_claim or owp_current.
    #[schemars(length(min = 1, max = 128))]
    pub lease_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NackParams {
    /// The lease id from owp_claim or owp_current.
    #[schemars(length(min = 1, max = 128))]
    pub lease_id: String,
    /// Why the task goes back (shown to maintainers).
    #[schemars(length(max = 2000))]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskParams {
    /// The task id (`task.task_id` of a lease).
    #[schemars(length(min = 1, max = 128))]
    pub task_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// The task id (`task.task_id` of a lease).
    #[schemars(length(min = 1, max = 128))]
    pub task_id: String,
    /// `pr_opened` (with pr_url) when the pull request is open, `blocked` (with a note) when the
    /// task needs a maintainer's decision, `in_progress` to acknowledge.
    #[schemars(regex(pattern = r"^(in_progress|pr_opened|blocked)$"))]
    pub status: String,
    /// The pull request's http(s) URL; required for `pr_opened`.
    #[schemars(length(max = 2048))]
    pub pr_url: Option<String>,
    /// A short note for the maintainers (the reason, for `blocked`).
    #[schemars(length(max = 2000))]
    pub note: Option<String>,
    /// With `pr_opened`: which tool made the pull request (`{tool, model?}`, each at most 100
    /// characters; `{"tool": "none"}` for work done by hand). Absent, the worker's `agent` (and
    /// `model`) capability is used when it declares one.
    pub disclosure: Option<DisclosureParams>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisclosureParams {
    /// The tool that made the pull request (`claude-code`, `codex`, `aider`, `none`, …).
    #[schemars(length(min = 1, max = 100))]
    pub tool: String,
    /// The model the tool ran, if known.
    #[schemars(length(max = 100))]
    pub model: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeParams {
    /// The task id of a `ready` task of a repository that takes plans first.
    #[schemars(length(min = 1, max = 128))]
    pub task_id: String,
    /// What you mean to do, in your own words, for the maintainers to approve (at most 4,000
    /// characters).
    #[schemars(length(min = 1, max = 4000))]
    pub plan: String,
}

/// A refused input: the tool answers this line as an error without calling the server.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidInput(pub String);

pub fn check_id(field: &str, value: &str) -> Result<String, InvalidInput> {
    let value = value.trim();
    if value.is_empty() {
        return Err(InvalidInput(format!("{field} must not be empty")));
    }
    if value.chars().count() > MAX_ID_LEN {
        return Err(InvalidInput(format!(
            "{field} is longer than {MAX_ID_LEN} characters"
        )));
    }
    let first_ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(InvalidInput(format!(
            "{field} {:?} is not an OWP id (a letter or digit, then letters, digits, `-`, `_`, `.`, `:`)",
            clip(value, 40)
        )));
    }
    Ok(value.to_string())
}

pub fn check_text(field: &str, value: Option<&str>) -> Result<Option<String>, InvalidInput> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > MAX_TEXT_LEN {
        return Err(InvalidInput(format!(
            "{field} is longer than {MAX_TEXT_LEN} characters"
        )));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(InvalidInput(format!("{field} contains control characters")));
    }
    Ok(Some(value.to_string()))
}

/// `wait_seconds`, 0 to 30 (absent: 0).
pub fn check_wait(wait_seconds: Option<i64>) -> Result<u64, InvalidInput> {
    match wait_seconds {
        None => Ok(0),
        Some(w) if (0..=MAX_CLAIM_WAIT_SECONDS as i64).contains(&w) => Ok(w as u64),
        Some(w) => Err(InvalidInput(format!(
            "wait_seconds must be between 0 and {MAX_CLAIM_WAIT_SECONDS} (got {w})"
        ))),
    }
}

/// A pull request URL: absolute `http` or `https`, with a host, no spaces, bounded.
pub fn check_pr_url(url: &str) -> Result<String, InvalidInput> {
    let url = url.trim();
    if url.chars().count() > MAX_URL_LEN {
        return Err(InvalidInput(format!(
            "pr_url is longer than {MAX_URL_LEN} characters"
        )));
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| InvalidInput(format!("pr_url {:?} is not a URL ({e})", clip(url, 80))))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(InvalidInput(format!(
            "pr_url {:?} must be an http or https URL",
            clip(url, 80)
        )));
    }
    Ok(url.to_string())
}

/// A report checked before it is sent: `(task_id, status, artifact, note)`.
pub type CheckedReport = (String, &'static str, Option<Value>, Option<String>);

pub fn check_report(params: &ReportParams) -> Result<CheckedReport, InvalidInput> {
    let task_id = check_id("task_id", &params.task_id)?;
    let wanted = params.status.trim();
    let Some(status) = REPORT_STATUSES.iter().copied().find(|s| *s == wanted) else {
        let hint = if wanted == "merged" {
            " (a maintainer or GitHub decides `merged`)"
        } else {
            ""
        };
        return Err(InvalidInput(format!(
            "status {:?} is not one of {}{hint}",
            clip(wanted, 40),
            REPORT_STATUSES.join(", ")
        )));
    };
    let pr_url = match params.pr_url.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => Some(check_pr_url(url)?),
        _ => None,
    };
    if status == "pr_opened" && pr_url.is_none() {
        return Err(InvalidInput(
            "status pr_opened needs pr_url: the pull request's URL".into(),
        ));
    }
    let note = check_text("note", params.note.as_deref())?;
    let disclosure = match &params.disclosure {
        Some(d) => Some(check_disclosure(d)?),
        None => None,
    };
    let artifact = pr_url.map(|url| match disclosure {
        Some(d) => json!({ "pr_url": url, "disclosure": d }),
        None => json!({ "pr_url": url }),
    });
    Ok((task_id, status, artifact, note))
}

/// A disclosure for `owp_report`: a `tool` that shows something and an optional `model`, each
/// one line of at most [`MAX_DISCLOSURE_CHARS`] characters (as `artifact.disclosure` wants).
pub fn check_disclosure(given: &DisclosureParams) -> Result<Disclosure, InvalidInput> {
    fn line(field: &str, value: &str) -> Result<Option<String>, InvalidInput> {
        let value = value.trim();
        if value.chars().count() > MAX_DISCLOSURE_CHARS {
            return Err(InvalidInput(format!(
                "{field} is longer than {MAX_DISCLOSURE_CHARS} characters"
            )));
        }
        if value.chars().any(char::is_control) {
            return Err(InvalidInput(format!("{field} contains control characters")));
        }
        Ok(limits::has_visible(value).then(|| value.to_string()))
    }
    let tool = line("disclosure.tool", &given.tool)?.ok_or_else(|| {
        InvalidInput(
            "disclosure.tool must name the tool that made the pull request (`none` for work done by hand)"
                .into(),
        )
    })?;
    let model = match given.model.as_deref() {
        Some(m) if !m.trim().is_empty() => Some(line("disclosure.model", m)?.ok_or_else(|| {
            InvalidInput("disclosure.model shows nothing: name the model, or leave it out".into())
        })?),
        _ => None,
    };
    Ok(Disclosure { tool, model })
}

/// A plan for `owp_propose`: not empty, at most [`MAX_PLAN_LEN`] characters, no control
/// characters but line breaks and tabs.
pub fn check_plan(plan: &str) -> Result<String, InvalidInput> {
    let plan = plan.trim();
    if plan.is_empty() {
        return Err(InvalidInput("plan must not be empty".into()));
    }
    if plan.chars().count() > MAX_PLAN_LEN {
        return Err(InvalidInput(format!(
            "plan is longer than {MAX_PLAN_LEN} characters"
        )));
    }
    if plan
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(InvalidInput("plan contains control characters".into()));
    }
    Ok(plan.to_string())
}

/// Why `arguments` do not fit `tool`'s input, naming the field (`wait_seconds: invalid type …`).
pub fn argument_error(tool: &str, arguments: Option<&JsonObject>) -> Option<String> {
    fn first_error<T: DeserializeOwned>(value: &Value) -> Option<String> {
        let error = serde_path_to_error::deserialize::<_, T>(value).err()?;
        let path = error.path().to_string();
        Some(if path == "." {
            error.inner().to_string()
        } else {
            format!("{path}: {}", error.inner())
        })
    }
    let value = Value::Object(arguments.cloned().unwrap_or_default());
    match tool {
        "owp_claim" => first_error::<ClaimParams>(&value),
        "owp_ack" | "owp_renew" => first_error::<LeaseParams>(&value),
        "owp_nack" => first_error::<NackParams>(&value),
        "owp_report" => first_error::<ReportParams>(&value),
        "owp_brief" | "owp_proposals" | "owp_task" => first_error::<TaskParams>(&value),
        "owp_propose" => first_error::<ProposeParams>(&value),
        _ => None,
    }
}
