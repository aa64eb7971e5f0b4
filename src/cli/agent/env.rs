//! The environment of the agent and of the repository contract's commands: only what the volunteer
//! chose. The process environment of `owp` may hold the operator's admin token, cloud keys or API
//! keys; the agent command and the pool's `setup`/`test`/`lint` start from an empty environment and
//! get the variables a program needs to run and to find its own configuration ([`ALLOWED`],
//! [`ALLOWED_PREFIXES`]), plus those named with `--pass-env NAME`. OWP's own secrets are never
//! passed.

use std::ffi::{OsStr, OsString};

/// Variables every program needs to run and find its configuration, on Unix and on Windows.
pub const ALLOWED: &[&str] = &[
    // Where programs and the person's files are.
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TMPDIR",
    "TEMP",
    "TMP",
    // Language and terminal.
    "LANG",
    "LANGUAGE",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "TZ",
    // Windows: the system, the shell, the user's profile and application data.
    "SYSTEMROOT",
    "SYSTEMDRIVE",
    "WINDIR",
    "COMSPEC",
    "PATHEXT",
    "USERPROFILE",
    "USERNAME",
    "USERDOMAIN",
    "HOMEDRIVE",
    "HOMEPATH",
    "APPDATA",
    "LOCALAPPDATA",
    "PROGRAMDATA",
    "PROGRAMFILES",
    "PROGRAMFILES(X86)",
    "PROGRAMW6432",
    "COMMONPROGRAMFILES",
    "NUMBER_OF_PROCESSORS",
    "PROCESSOR_ARCHITECTURE",
    "OS",
];

/// Prefixes of variables passed as well: the XDG base directories (where tools keep their
/// configuration on Linux) and the locale categories.
pub const ALLOWED_PREFIXES: &[&str] = &["XDG_", "LC_"];

/// Variables never passed, even when named with `--pass-env`: OWP's own credentials.
pub const NEVER: &[&str] = &["OWP_ADMIN_TOKEN", "OWP_WORKER_TOKEN", "OWP_TOKEN"];

/// Why `name` cannot be passed with `--pass-env` (`None` when it can).
pub fn pass_env_problem(name: &str) -> Option<String> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && !name.contains('=')
        && !name.contains('\0')
        && !name.chars().any(char::is_whitespace);
    if !valid {
        return Some(format!(
            "--pass-env takes a variable's name (like ANTHROPIC_API_KEY), not {name:?}"
        ));
    }
    let upper = name.to_ascii_uppercase();
    if NEVER.contains(&upper.as_str()) || (upper.starts_with("OWP_") && upper.contains("TOKEN")) {
        return Some(format!(
            "--pass-env {name}: OWP's own tokens are never handed to the agent or the pool's commands"
        ));
    }
    None
}

/// Whether a variable is passed: allowed by name (case-insensitively, as Windows names are),
/// by prefix, or named by the volunteer; never one of [`NEVER`].
pub fn passes(name: &OsStr, pass: &[String]) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    let upper = name.to_ascii_uppercase();
    if NEVER.contains(&upper.as_str()) {
        return false;
    }
    ALLOWED.contains(&upper.as_str())
        || ALLOWED_PREFIXES.iter().any(|p| upper.starts_with(p))
        || pass.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// The variables of `vars` (the process environment) that a child gets.
pub fn chosen(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
    pass: &[String],
) -> Vec<(OsString, OsString)> {
    vars.into_iter().filter(|(k, _)| passes(k, pass)).collect()
}

/// Gives `cmd` only the chosen environment of this process.
pub fn restrict(cmd: &mut tokio::process::Command, pass: &[String]) {
    cmd.env_clear();
    cmd.envs(chosen(std::env::vars_os(), pass));
}

/// The variables the agent gets beyond its environment: where the brief and the worktree are,
/// and which task it works on.
pub fn for_agent(
    brief: &std::path::Path,
    worktree: &std::path::Path,
    task: &crate::cli::client::Task,
) -> Vec<(&'static str, String)> {
    vec![
        ("OWP_BRIEF", brief.display().to_string()),
        ("OWP_WORKDIR", worktree.display().to_string()),
        ("OWP_TASK_ID", task.task_id.clone()),
        ("OWP_TITLE", task.title.clone()),
        (
            "OWP_ISSUE_URL",
            crate::cli::brief::issue_url(task).unwrap_or_default(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(vars: &[(&str, &str)], pass: &[&str]) -> Vec<String> {
        let pass: Vec<String> = pass.iter().map(|s| s.to_string()).collect();
        chosen(
            vars.iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v))),
            &pass,
        )
        .into_iter()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect()
    }

    #[test]
    fn only_chosen_variables_pass() {
        let vars = [
            ("PATH", "/bin"),
            ("HOME", "/home/a"),
            ("SystemRoot", "C:\\Windows"),
            ("XDG_CONFIG_HOME", "/home/a/.config"),
            ("OWP_ADMIN_TOKEN", "admin"),
            ("GITHUB_PRIVATE_KEY", "pem"),
            ("AWS_SECRET_ACCESS_KEY", "aws"),
            ("ANTHROPIC_API_KEY", "sk-x"),
        ];
        assert_eq!(
            names(&vars, &[]),
            ["PATH", "HOME", "SystemRoot", "XDG_CONFIG_HOME"]
        );
        assert_eq!(
            names(&vars, &["anthropic_api_key", "OWP_ADMIN_TOKEN"]),
            [
                "PATH",
                "HOME",
                "SystemRoot",
                "XDG_CONFIG_HOME",
                "ANTHROPIC_API_KEY"
            ]
        );
    }

    #[test]
    fn owp_tokens_cannot_be_passed() {
        assert!(pass_env_problem("ANTHROPIC_API_KEY").is_none());
        for bad in [
            "OWP_ADMIN_TOKEN",
            "owp_admin_token",
            "OWP_WORKER_TOKEN",
            "A=B",
            "",
            "A B",
        ] {
            assert!(pass_env_problem(bad).is_some(), "{bad}");
        }
    }
}
