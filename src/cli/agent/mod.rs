//! `owp worker run --agent`: hand each lease to a command the person chose (their own AI coding
//! tool), in a git worktree of its own, then test, push and open the pull request with the
//! person's own tools. The scheduler never runs anything on anyone's machine: this is the
//! person's CLI running the person's tool.
//!
//! - [`workspace`]: the clone, the per-task worktree and branch, the push.
//! - [`process`]: the platform shell, quoting, logs, stopping a process tree.
//! - [`flow`]: one lease from claim to report.

pub mod flow;
pub mod process;
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
    /// worktree. Placeholders (filled in quoted): {brief} {workdir} {task_id} {title} {issue_url}.
    /// Saved in the profile, so later runs need no flags.
    #[arg(long, value_name = "COMMAND")]
    pub agent: Option<String>,
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
    #[arg(long, env = "OWP_AGENT_RENEW_SECONDS", hide = true)]
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

/// The agent hand-off asked for by flags or the `saved` profile setting; `None` for the prompt.
pub fn options(
    a: &AgentArgs,
    saved: Option<AgentSettings>,
    wait: u64,
) -> anyhow::Result<Option<AgentOptions>> {
    let command = match (&a.agent, &saved) {
        _ if a.no_agent => return Ok(None),
        (Some(c), _) => c.trim().to_string(),
        (None, Some(s)) => s.command.clone(),
        (None, None) => {
            if a.once || a.dry_run || a.max_minutes.is_some() || a.workdir.is_some() {
                bail!("--once, --dry-run, --max-minutes and --workdir go with --agent COMMAND");
            }
            return Ok(None);
        }
    };
    if command.is_empty() {
        bail!("--agent needs a command, e.g. --agent 'claude -p \"$(cat {{brief}})\"'");
    }
    let workdir = a
        .workdir
        .clone()
        .or_else(|| saved.and_then(|s| s.workdir))
        .or_else(default_workdir)
        .ok_or_else(|| anyhow!("cannot tell where to work: pass --workdir DIR"))?;
    Ok(Some(AgentOptions {
        command,
        workdir,
        once: a.once,
        dry_run: a.dry_run,
        max_minutes: a.max_minutes,
        wait,
        renew_every: a.renew_seconds.map(|s| Duration::from_secs(s.max(1))),
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
        let o = options(&args(&[]), Some(saved.clone()), 5)
            .unwrap()
            .unwrap();
        assert_eq!(o.command, saved.command);
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
    fn minutes_are_positive_and_bounded() {
        assert_eq!(parse_minutes("0.05"), Ok(0.05));
        for bad in ["0", "-1", "x", "10081", "NaN"] {
            assert!(parse_minutes(bad).is_err(), "{bad}");
        }
    }
}
