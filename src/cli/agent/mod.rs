//! `owp worker run --agent`: hand each lease to a command the person chose (their own AI coding
//! tool), in a git worktree of its own, then test, push and open the pull request with the
//! person's own tools. The scheduler never runs anything on anyone's machine: this is the
//! person's CLI running the person's tool.
//!
//! - [`workspace`]: the clone, the per-task worktree and branch, the push.
//! - [`process`]: the platform shell, quoting, logs, stopping a process tree.
//! - [`flow`]: one lease from claim to report.
//! - [`interrupt`]: the volunteer's Ctrl-C, passed to the running lease.
//! - [`acp`]: the agent driven over the Agent Client Protocol (`--acp`).
//! - [`plan_first`]: a plan proposed before the work, where a repository asks for one.
//! - [`pr`]: the pull request, opened with the person's `gh`.
//! - [`mod@env`]: the environment the agent and the pool's commands get (an allow-list).
//! - [`approve`]: showing the pool's commands and asking before they run.
//! - [`redact`]: what a failure tells the pool (no command line, secrets masked).

pub mod acp;
pub mod approve;
pub mod env;
pub mod flow;
pub mod interrupt;
mod plan_first;
pub mod pr;
pub mod process;
pub mod redact;
pub mod workspace;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail};
use serde::{Deserialize, Serialize};

use flow::AgentOptions;

/// The `[agent]` setting saved in a worker profile, so that `owp worker run` needs no flags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSettings {
    /// The command template.
    pub command: String,
    /// The work directory, when not the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<PathBuf>,
    /// Variables passed to the agent and the pool's commands beyond the allow-list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_env: Vec<String>,
    /// The command speaks the Agent Client Protocol (`--acp`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub acp: bool,
    /// Programs an ACP agent may run (`--acp-allow-command`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acp_allow_commands: Vec<String>,
    /// An ACP agent may fetch from the network (`--acp-allow-fetch`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub acp_allow_fetch: bool,
}

/// The default work directory: `owp/work` in the user's data directory (e.g.
/// `~/.local/share/owp/work`, `~/Library/Application Support/owp/work`, `%APPDATA%\owp\work`).
pub fn default_workdir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("owp").join("work"))
}

/// Handing leases to a local command (`owp worker run --agent …`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AgentArgs {
    /// Hand each lease to this command, run through the platform's shell in the task's git
    /// worktree. Placeholders (filled in quoted; never put them inside your own quotes):
    /// {brief} {workdir} {task_id} {title} {issue_url}. Saved in the profile, so later runs need
    /// no flags. It gets only the allow-listed environment and the --pass-env variables.
    #[arg(long, value_name = "COMMAND")]
    pub agent: Option<String>,
    /// Hand each lease to this command as an Agent Client Protocol agent (e.g. `gemini
    /// --experimental-acp`): owp opens a session in the task's worktree, prompts it with the
    /// brief, shows what it does, keeps its file writes inside the task's paths and its commands
    /// to those allowed with --acp-allow-command, and cancels it when the lease ends. Saved in the
    /// profile like --agent.
    #[arg(long, value_name = "COMMAND", conflicts_with = "agent")]
    pub acp: Option<String>,
    /// A program an ACP agent may run (repeatable), e.g. --acp-allow-command git. Anything else
    /// it asks to run is refused; nothing in a task can add to this list.
    #[arg(long = "acp-allow-command", value_name = "PROGRAM", value_parser = parse_program)]
    pub acp_allow_commands: Vec<String>,
    /// Let an ACP agent fetch from the network when it asks.
    #[arg(long)]
    pub acp_allow_fetch: bool,
    /// Pass this environment variable to the agent and the repository's commands (repeatable),
    /// e.g. --pass-env ANTHROPIC_API_KEY. Beyond PATH, HOME, the locale, the temporary directory,
    /// XDG_* and the Windows system variables nothing is passed unless named here. Saved in the
    /// profile with the agent command.
    #[arg(long = "pass-env", value_name = "NAME", value_parser = parse_pass_env)]
    pub pass_env: Vec<String>,
    /// Run the repository's setup, test and lint commands without asking (unattended use); they
    /// are still printed (with the clone URL and the instructions for the agent), and remembered
    /// as approved. Without it, a change of any of them asks again.
    #[arg(long)]
    pub yes: bool,
    /// Accept clone URLs that are paths on this machine (or file:// URLs); by default only https,
    /// ssh and git URLs are cloned.
    #[arg(long)]
    pub allow_local_clone: bool,
    /// Where clones, worktrees, briefs and logs go [default: owp/work in your data directory].
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Take one lease, then exit (0 only when it ended with a pull request).
    #[arg(long)]
    pub once: bool,
    /// Show every step for the next lease and change nothing (no clone, no ack, no push).
    #[arg(long)]
    pub dry_run: bool,
    /// Stop the agent (and give the task back) after this many minutes (fractions allowed).
    #[arg(long, value_name = "MINUTES", value_parser = parse_minutes)]
    pub max_minutes: Option<f64>,
    /// Use the prompt even when the profile has a saved agent command.
    #[arg(long, conflicts_with = "agent")]
    pub no_agent: bool,
    /// Seconds between lease renewals while the agent works [default: a third of the lease TTL].
    #[arg(long, env = "OWP_AGENT_RENEW_SECONDS")]
    pub renew_seconds: Option<u64>,
}

/// A positive number of minutes, at most a week.
fn parse_minutes(text: &str) -> Result<f64, String> {
    let m: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of minutes"))?;
    if !(m > 0.0 && m <= 10_080.0) {
        return Err("give more than 0 and at most 10080 minutes (a week)".into());
    }
    Ok(m)
}

/// A program's name: letters, digits, `-`, `_`, `.` and `+`, at most 64 characters.
fn parse_program(text: &str) -> Result<String, String> {
    let t = text.trim();
    let fine = !t.is_empty()
        && t.len() <= 64
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'));
    if fine {
        Ok(t.to_string())
    } else {
        Err(format!(
            "{text:?} is not a program's name (e.g. git, cargo)"
        ))
    }
}

fn parse_pass_env(text: &str) -> Result<String, String> {
    match env::pass_env_problem(text) {
        Some(problem) => Err(problem),
        None => Ok(text.to_string()),
    }
}

/// The agent hand-off asked for by flags or the `saved` profile setting; `None` for the prompt.
pub fn options(
    a: &AgentArgs,
    saved: Option<AgentSettings>,
    wait: u64,
) -> anyhow::Result<Option<AgentOptions>> {
    let saved_pass_env = saved
        .as_ref()
        .map(|s| s.pass_env.clone())
        .unwrap_or_default();
    let flag = a.acp.as_ref().or(a.agent.as_ref());
    let (command, acp) = match (flag, &saved) {
        _ if a.no_agent => return Ok(None),
        (Some(c), _) => (c.trim().to_string(), a.acp.is_some()),
        (None, Some(s)) => (s.command.clone(), s.acp),
        (None, None) => {
            if a.once
                || a.dry_run
                || a.max_minutes.is_some()
                || a.workdir.is_some()
                || a.yes
                || a.allow_local_clone
                || !a.pass_env.is_empty()
                || !a.acp_allow_commands.is_empty()
                || a.acp_allow_fetch
            {
                bail!(
                    "--once, --dry-run, --max-minutes, --workdir, --pass-env, --yes, --allow-local-clone and --acp-allow-* go with --agent COMMAND or --acp COMMAND"
                );
            }
            return Ok(None);
        }
    };
    if command.is_empty() {
        bail!("--agent needs a command, e.g. --agent 'claude -p < {{brief}}'");
    }
    let acp = acp.then(|| acp::rules::Allowed {
        commands: if a.acp_allow_commands.is_empty() {
            saved
                .as_ref()
                .map(|s| s.acp_allow_commands.clone())
                .unwrap_or_default()
        } else {
            a.acp_allow_commands.clone()
        },
        fetch: a.acp_allow_fetch || saved.as_ref().is_some_and(|s| s.acp_allow_fetch),
    });
    let workdir = a
        .workdir
        .clone()
        .or_else(|| saved.and_then(|s| s.workdir))
        .or_else(default_workdir)
        .ok_or_else(|| anyhow!("cannot tell where to work: pass --workdir DIR"))?;
    let pass_env = if a.pass_env.is_empty() {
        saved_pass_env
    } else {
        a.pass_env.clone()
    };
    Ok(Some(AgentOptions {
        command,
        workdir,
        once: a.once,
        dry_run: a.dry_run,
        max_minutes: a.max_minutes,
        wait,
        renew_every: a.renew_seconds.map(|s| Duration::from_secs(s.max(1))),
        pass_env,
        yes: a.yes,
        allow_local_clone: a.allow_local_clone,
        approvals: None,
        acp,
        interrupt: interrupt::Interrupt::never(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> AgentArgs {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            agent: AgentArgs,
        }
        let mut all = vec!["owp"];
        all.extend_from_slice(list);
        <Cli as clap::Parser>::try_parse_from(all)
            .map(|c| c.agent)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn flags_then_the_saved_setting_then_the_prompt() {
        let saved = AgentSettings {
            command: "aider --message-file {brief}".into(),
            workdir: Some(PathBuf::from("/saved")),
            pass_env: vec!["OPENAI_API_KEY".into()],
            ..AgentSettings::default()
        };
        let o = options(
            &args(&["--agent", "x {brief}", "--once", "--max-minutes", "0.5"]),
            Some(saved.clone()),
            5,
        )
        .unwrap()
        .unwrap();
        assert_eq!(o.command, "x {brief}");
        assert_eq!(o.workdir, PathBuf::from("/saved"));
        assert!(o.once && !o.dry_run);
        assert_eq!(o.max_minutes, Some(0.5));
        assert_eq!(o.pass_env, ["OPENAI_API_KEY"]);
        let o = options(&args(&[]), Some(saved.clone()), 5)
            .unwrap()
            .unwrap();
        assert_eq!(o.command, saved.command);
        let o = options(
            &args(&["--pass-env", "A", "--pass-env", "B"]),
            Some(saved.clone()),
            5,
        )
        .unwrap()
        .unwrap();
        assert_eq!(o.pass_env, ["A", "B"]);
        assert!(
            options(&args(&["--no-agent"]), Some(saved), 5)
                .unwrap()
                .is_none()
        );
        assert!(options(&args(&[]), None, 5).unwrap().is_none());
        assert!(options(&args(&["--once"]), None, 5).is_err());
        assert!(options(&args(&["--agent", " "]), None, 5).is_err());
    }

    #[test]
    fn acp_flags_are_the_volunteers_and_are_saved() {
        let o = options(
            &args(&[
                "--acp",
                "gemini --experimental-acp",
                "--acp-allow-command",
                "git",
            ]),
            None,
            5,
        )
        .unwrap()
        .unwrap();
        assert_eq!(o.command, "gemini --experimental-acp");
        let allowed = o.acp.unwrap();
        assert_eq!(allowed.commands, ["git"]);
        assert!(!allowed.fetch);
        let saved = AgentSettings {
            command: "gemini --experimental-acp".into(),
            acp: true,
            acp_allow_commands: vec!["cargo".into()],
            acp_allow_fetch: true,
            ..AgentSettings::default()
        };
        let o = options(&args(&[]), Some(saved.clone()), 5)
            .unwrap()
            .unwrap();
        let allowed = o.acp.unwrap();
        assert_eq!(
            (allowed.commands, allowed.fetch),
            (vec!["cargo".into()], true)
        );
        // --agent replaces a saved ACP agent with a plain command.
        let o = options(&args(&["--agent", "x"]), Some(saved), 5)
            .unwrap()
            .unwrap();
        assert!(o.acp.is_none());
        assert!(options(&args(&["--acp-allow-command", "git"]), None, 5).is_err());
        for bad in ["git; curl", "", "a b", "../x"] {
            assert!(parse_program(bad).is_err(), "{bad:?}");
        }
    }

    /// The `owp worker run --acp …` lines of the README and docs/mcp.md parse as written.
    #[test]
    fn the_documented_acp_lines_parse() {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut seen = 0;
        for doc in ["README.md", "docs/mcp.md"] {
            let text = std::fs::read_to_string(format!("{root}/{doc}")).unwrap();
            for line in text
                .lines()
                .filter(|l| l.starts_with("owp worker run --acp "))
            {
                let words = shlex::split(line).unwrap();
                let rest: Vec<&str> = words[3..].iter().map(String::as_str).collect();
                let o = options(&args(&rest), None, 5).unwrap().unwrap();
                assert!(o.acp.is_some(), "{doc}: {line}");
                seen += 1;
            }
        }
        assert!(seen >= 2, "the docs show `owp worker run --acp`");
    }

    #[test]
    fn owp_tokens_are_refused_by_pass_env() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            agent: AgentArgs,
        }
        let refused = <Cli as clap::Parser>::try_parse_from([
            "owp",
            "--agent",
            "x",
            "--pass-env",
            "OWP_ADMIN_TOKEN",
        ]);
        assert!(refused.is_err());
    }

    #[test]
    fn minutes_are_positive_and_bounded() {
        assert_eq!(parse_minutes("0.05"), Ok(0.05));
        for bad in ["0", "-1", "x", "10081", "NaN"] {
            assert!(parse_minutes(bad).is_err(), "{bad}");
        }
    }
}
