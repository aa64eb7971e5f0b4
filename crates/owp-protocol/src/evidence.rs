//! Evidence: what a worker ran before it opened its pull request, as it reports it in
//! `artifact.evidence` of a `pr_opened` report (contract section 12, "Work that shows its
//! proof"). The pool checks its shape and shows it as the contributor's own report; it never
//! claims the commands ran as said.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::limits::OutOfBounds;

/// Most commands one report may list.
pub const MAX_EVIDENCE_COMMANDS: usize = 10;
/// Longest command line, in characters.
pub const MAX_EVIDENCE_COMMAND_CHARS: usize = 500;
/// Longest duration a command may report, in seconds (a day).
pub const MAX_EVIDENCE_SECONDS: f64 = 86_400.0;

/// `artifact.evidence`: the commit the commands ran on and the commands, as reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Evidence {
    /// The commit the commands ran on: 40 hexadecimal characters.
    pub head_sha: String,
    /// At most 10 commands, in the order they ran.
    pub commands: Vec<EvidenceCommand>,
}

/// One command a worker ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvidenceCommand {
    /// `setup`, `test` or `lint`: which of the repository's commands it was.
    pub name: String,
    /// The command line, at most 500 characters.
    pub command: String,
    /// How it exited (0 is success).
    pub exit_code: i64,
    /// How long it ran, 0 to 86,400 seconds.
    pub seconds: f64,
}

impl Evidence {
    /// The evidence an artifact carries, if well formed (for reading what was stored).
    pub fn of_artifact(artifact: Option<&Value>) -> Option<Evidence> {
        checked(artifact?.get("evidence")?).ok().flatten()
    }

    /// What a status comment tells of it: the commit and each command's outcome.
    pub fn shown(&self) -> Shown {
        Shown {
            head_sha: self.head_sha.clone(),
            runs: self
                .commands
                .iter()
                .map(|c| Run {
                    command: c.command.clone(),
                    passed: c.exit_code == 0,
                    seconds: c.seconds.round() as u64,
                })
                .collect(),
        }
    }
}

/// Evidence as a status comment tells it (whole seconds, passed or not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    pub head_sha: String,
    pub runs: Vec<Run>,
}

/// One command's outcome, as reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub command: String,
    pub passed: bool,
    pub seconds: u64,
}

fn invalid(detail: impl Into<String>) -> OutOfBounds {
    OutOfBounds {
        code: "invalid_evidence",
        detail: detail.into(),
    }
}

/// Checks a report's `artifact.evidence`: absent or null is none; anything but the contract's
/// shape is `invalid_evidence`, naming what is wrong.
pub fn checked(value: &Value) -> Result<Option<Evidence>, OutOfBounds> {
    let object = match value {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => {
            return Err(invalid(
                "`artifact.evidence` must be an object {head_sha, commands}",
            ));
        }
    };
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "head_sha" | "commands"))
    {
        return Err(invalid(format!(
            "`artifact.evidence` has an unknown field `{}` (it holds `head_sha` and `commands`)",
            key.chars().take(40).collect::<String>()
        )));
    }
    let head_sha = match object.get("head_sha") {
        Some(Value::String(s)) if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            s.to_ascii_lowercase()
        }
        _ => {
            return Err(invalid(
                "`artifact.evidence.head_sha` must be the commit's 40 hexadecimal characters",
            ));
        }
    };
    let listed = match object.get("commands") {
        Some(Value::Array(list)) => list,
        _ => return Err(invalid("`artifact.evidence.commands` must be a list")),
    };
    if listed.len() > MAX_EVIDENCE_COMMANDS {
        return Err(invalid(format!(
            "`artifact.evidence.commands` lists {} commands; at most {MAX_EVIDENCE_COMMANDS}",
            listed.len()
        )));
    }
    let commands = listed
        .iter()
        .enumerate()
        .map(|(i, c)| command(i, c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Evidence { head_sha, commands }))
}

fn command(i: usize, value: &Value) -> Result<EvidenceCommand, OutOfBounds> {
    let at = format!("`artifact.evidence.commands[{i}]`");
    let Value::Object(o) = value else {
        return Err(invalid(format!(
            "{at} must be an object {{name, command, exit_code, seconds}}"
        )));
    };
    if let Some(key) = o
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "command" | "exit_code" | "seconds"))
    {
        return Err(invalid(format!(
            "{at} has an unknown field `{}`",
            key.chars().take(40).collect::<String>()
        )));
    }
    let name = match o.get("name").and_then(Value::as_str) {
        Some(n @ ("setup" | "test" | "lint")) => n.to_string(),
        _ => return Err(invalid(format!("{at}.name must be setup, test or lint"))),
    };
    let command = match o.get("command").and_then(Value::as_str) {
        Some(c)
            if !c.trim().is_empty()
                && c.chars().count() <= MAX_EVIDENCE_COMMAND_CHARS
                && !c.chars().any(char::is_control) =>
        {
            c.to_string()
        }
        _ => {
            return Err(invalid(format!(
                "{at}.command must be one line of 1 to {MAX_EVIDENCE_COMMAND_CHARS} characters"
            )));
        }
    };
    let exit_code = match o.get("exit_code") {
        Some(Value::Number(n)) if n.is_i64() => n.as_i64().unwrap_or_default(),
        _ => return Err(invalid(format!("{at}.exit_code must be an integer"))),
    };
    let seconds = match o.get("seconds").and_then(Value::as_f64) {
        Some(s) if (0.0..=MAX_EVIDENCE_SECONDS).contains(&s) => s,
        _ => {
            return Err(invalid(format!(
                "{at}.seconds must be a number from 0 to 86,400"
            )));
        }
    };
    Ok(EvidenceCommand {
        name,
        command,
        exit_code,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn good() -> Value {
        json!({"head_sha": SHA, "commands": [
            {"name": "test", "command": "cargo test", "exit_code": 0, "seconds": 12.4},
            {"name": "lint", "command": "cargo clippy", "exit_code": 1, "seconds": 3}
        ]})
    }

    #[test]
    fn a_well_formed_report_reads_back() {
        let e = checked(&good()).unwrap().unwrap();
        assert_eq!(e.commands.len(), 2);
        let shown = e.shown();
        assert_eq!(
            shown.runs,
            vec![
                Run {
                    command: "cargo test".into(),
                    passed: true,
                    seconds: 12
                },
                Run {
                    command: "cargo clippy".into(),
                    passed: false,
                    seconds: 3
                }
            ]
        );
        assert_eq!(checked(&Value::Null).unwrap(), None);
    }

    #[test]
    fn anything_else_is_invalid_evidence() {
        let cases: Vec<Value> = vec![
            json!("ran the tests"),
            json!({"head_sha": "abc", "commands": []}),
            json!({"head_sha": format!("{}z", &SHA[..39]), "commands": []}),
            json!({"head_sha": SHA}),
            json!({"head_sha": SHA, "commands": {}}),
            json!({"head_sha": SHA, "commands": [], "signed": true}),
            json!({"head_sha": SHA, "commands": [{"name": "build", "command": "make", "exit_code": 0, "seconds": 1}]}),
            json!({"head_sha": SHA, "commands": [{"name": "test", "command": "", "exit_code": 0, "seconds": 1}]}),
            json!({"head_sha": SHA, "commands": [{"name": "test", "command": "a\nb", "exit_code": 0, "seconds": 1}]}),
            json!({"head_sha": SHA, "commands": [{"name": "test", "command": "x".repeat(501), "exit_code": 0, "seconds": 1}]}),
            json!({"head_sha": SHA, "commands": [{"name": "test", "command": "t", "exit_code": 0.5, "seconds": 1}]}),
            json!({"head_sha": SHA, "commands": [{"name": "test", "command": "t", "exit_code": "0", "seconds": 1}]}),
            json!({"head_sha": SHA, "commands": [{"name": "test", "command": "t", "exit_code": 0, "seconds": -1}]}),
            json!({"head_sha": SHA, "commands": [{"name": "test", "command": "t", "exit_code": 0, "seconds": 86401}]}),
            json!({"head_sha": SHA, "commands": [{"name": "test", "command": "t", "exit_code": 0}]}),
            json!({"head_sha": SHA, "commands": vec![json!({"name": "test", "command": "t", "exit_code": 0, "seconds": 1}); 11]}),
        ];
        for case in cases {
            let err = checked(&case).expect_err(&case.to_string());
            assert_eq!(err.code, "invalid_evidence", "{case}");
        }
        let at_the_bounds = json!({"head_sha": SHA.to_uppercase(), "commands":
            vec![json!({"name": "setup", "command": "y".repeat(500), "exit_code": -9, "seconds": 86400}); 10]});
        assert!(checked(&at_the_bounds).unwrap().is_some());
    }
}
