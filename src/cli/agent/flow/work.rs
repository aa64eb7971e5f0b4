//! The work of a held lease: the person's agent, then the repository's test and lint, the push,
//! the pull request and its report; and how a failed command is told to the pool.

use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use super::lease::{give_back, report_pr};
use super::{AgentOptions, Outcome, step};
use crate::cli::agent::interrupt::Doing;
use crate::cli::agent::pr::{open_pr, wait_for_pr_url};
use crate::cli::agent::process::{self, Ended};
use crate::cli::agent::redact::{self, mask_secrets};
use crate::cli::agent::workspace::{self, Layout, Prepared};
use crate::cli::brief;
use crate::cli::client::present::now_clock;
use crate::cli::client::{Lease, OwpClient, say};

/// Runs the agent and everything after it, while the keeper holds the lease.
pub(super) async fn work(
    client: &OwpClient,
    opts: &AgentOptions,
    lease: &Lease,
    (layout, prepared): (&Layout, &Prepared),
    command_line: &str,
    mut ran: Vec<serde_json::Value>,
    stop: watch::Receiver<Option<String>>,
) -> anyhow::Result<Outcome> {
    let task = &lease.task;
    let contract = brief::contract_of(task);
    step(
        false,
        &format!("running the agent: {}", mask_secrets(command_line)),
    );
    let limit = opts.max_minutes.map(|m| Duration::from_secs_f64(m * 60.0));
    let env = crate::cli::agent::env::for_agent(&layout.brief, &layout.worktree, task);
    let ended = match &opts.acp {
        Some(allowed) => {
            let mut session = crate::cli::agent::acp::for_lease(
                (&opts.pass_env, opts.max_minutes),
                lease,
                layout,
                command_line,
                allowed,
                env,
            )?;
            session.interrupt = opts.interrupt.clone();
            crate::cli::agent::acp::run(session, stop.clone()).await?
        }
        None => {
            let mut cmd = process::shell(command_line);
            crate::cli::agent::env::restrict(&mut cmd, &opts.pass_env);
            cmd.envs(env);
            let (dir, log) = (&layout.worktree, &layout.log);
            process::run_logged(cmd, dir, log, true, limit, stop.clone()).await?
        }
    };
    if let Some(why) = stop.borrow().clone() {
        return Ok(Outcome::Lost(why));
    }
    if !ended.success() {
        let reason = failure_reason("agent", &opts.command, &ended, &layout.log);
        give_back(client, &lease.lease_id, &reason).await;
        return Ok(Outcome::Nacked(reason));
    }
    let commits = workspace::new_commits(&layout.worktree, &prepared.base_ref).await?;
    if commits == 0 {
        let dirty = workspace::has_changes(&layout.worktree)
            .await
            .unwrap_or(false);
        let (reason, local) = if dirty {
            (
                "the agent made no commits (it left its changes uncommitted)",
                format!(
                    "your agent left uncommitted changes in {} and made no commits (the worktree is kept)",
                    layout.worktree.display()
                ),
            )
        } else {
            (
                "the agent made no commits",
                format!(
                    "your agent made no commits on {} (the worktree is kept at {})",
                    prepared.branch,
                    layout.worktree.display()
                ),
            )
        };
        give_back(client, &lease.lease_id, reason).await;
        return Ok(Outcome::Nacked(local));
    }
    step(
        false,
        &format!("{commits} new commit(s) on {}", prepared.branch),
    );
    let draft =
        crate::cli::agent::pr::draft_before_checks(task, prepared, &layout.worktree).await?;
    for (name, command) in contract
        .commands()
        .into_iter()
        .filter(|(n, _)| *n != "setup")
    {
        step(false, &format!("{name}: {command}"));
        let started = std::time::Instant::now();
        let ended = run_contract_command(command, layout, opts, stop.clone()).await?;
        if let Some(why) = stop.borrow().clone() {
            return Ok(Outcome::Lost(why));
        }
        if !ended.success() {
            let reason = failure_reason(name, command, &ended, &layout.log);
            if let Some(url) = &draft {
                say!(
                    "{}  {url} stays a draft: the {name} command failed",
                    now_clock()
                );
            }
            give_back(client, &lease.lease_id, &reason).await;
            return Ok(Outcome::Nacked(reason));
        }
        ran.push(evidence_of(name, command, started));
    }
    // From here on a Ctrl-C lets the pull request be opened and reported first.
    opts.interrupt.doing(Doing::Finishing);
    if let Some(why) = stop.borrow().clone() {
        return Ok(Outcome::Lost(why));
    }
    let sha = workspace::push(&layout.worktree, prepared).await?;
    step(
        false,
        &format!("pushed {} ({})", prepared.branch, &sha[..sha.len().min(12)]),
    );
    let opened = match draft {
        Some(url) => {
            crate::cli::agent::pr::ready_or_say(task, &url).await;
            Some(url)
        }
        None => open_pr(task, prepared, false).await?,
    };
    let url = match opened {
        Some(url) => url,
        None => match wait_for_pr_url(task, prepared).await {
            Some(url) => url,
            None => return Ok(Outcome::Pushed(prepared.branch.clone())),
        },
    };
    let mut artifact = json!({"pr_url": url, "branch": prepared.branch, "commit_sha": sha});
    if !ran.is_empty() && sha.len() == 40 {
        artifact["evidence"] = json!({"head_sha": sha, "commands": ran});
    }
    let artifact = crate::cli::disclosure::disclose(client, artifact).await;
    report_pr(client, &task.task_id, artifact).await?;
    workspace::remove(layout).await;
    Ok(Outcome::PrOpened(url))
}

/// One command of `artifact.evidence` (contract section 12): the repository's command as it
/// ran (secrets masked, on one line, at most 500 characters), which succeeded (a failure gives
/// the task back instead), and how long it took.
pub(super) fn evidence_of(
    name: &str,
    command: &str,
    started: std::time::Instant,
) -> serde_json::Value {
    let line = mask_secrets(command)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let line: String = line
        .chars()
        .take(crate::domain::evidence::MAX_EVIDENCE_COMMAND_CHARS)
        .collect();
    let seconds = started
        .elapsed()
        .as_secs_f64()
        .min(crate::domain::evidence::MAX_EVIDENCE_SECONDS);
    json!({"name": name, "command": line, "exit_code": 0, "seconds": (seconds * 10.0).round() / 10.0})
}

/// Runs one of the repository's commands in the worktree, with the chosen environment only.
pub(super) async fn run_contract_command(
    command: &str,
    layout: &Layout,
    opts: &AgentOptions,
    stop: watch::Receiver<Option<String>>,
) -> anyhow::Result<Ended> {
    let mut cmd = process::shell(command);
    crate::cli::agent::env::restrict(&mut cmd, &opts.pass_env);
    process::run_logged(cmd, &layout.worktree, &layout.log, true, None, stop).await
}

/// What the pool hears about a failed command: its kind, its program's name, how it ended and
/// the last lines of the log, masked ([`redact::failure_reason`]); never the command line.
pub(super) fn failure_reason(
    what: &str,
    command: &str,
    ended: &Ended,
    log: &std::path::Path,
) -> String {
    redact::failure_reason(
        what,
        &process::program_name(command),
        ended,
        &process::log_tail(log, 15),
    )
}
