//! `owp worker run`: the claim loop, heartbeats, the prompt, and the agent hand-off.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal};
use std::time::Duration;

use anyhow::anyhow;
use chrono::Utc;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::cli::agent::flow::{AgentOptions, Outcome};
use crate::cli::agent::{self, AgentSettings};
use crate::cli::client::present::{clock, now_clock, relative, write_prompt};
use crate::cli::client::{ClientError, Lease, OwpClient, say, say_err};
use crate::cli::prompt::{PROMPT_HELP, PromptCommand, parse_prompt};
use crate::domain::model::WorkerStatus;

use super::*;

/// What the background claimer reports to the main loop.
enum Claimed {
    Lease(Box<Lease>, Option<String>),
    Warning(String),
    Fatal(ClientError),
}

/// Claims, acknowledges, and hands over leases until the receiver goes away.
async fn claim_loop(client: OwpClient, wait: u64, tx: mpsc::Sender<Claimed>) {
    let mut backoff = Duration::from_secs(2);
    loop {
        let started = tokio::time::Instant::now();
        match client.claim(Some(wait)).await {
            Ok(Some(lease)) => {
                backoff = Duration::from_secs(2);
                let expires = match client.ack(&lease.lease_id).await {
                    Ok(changed) => {
                        let mut lease = lease;
                        if let Some(task) = changed.task() {
                            lease.task = task;
                        }
                        let expires = changed.expires_at();
                        if tx
                            .send(Claimed::Lease(Box::new(lease), expires))
                            .await
                            .is_err()
                        {
                            return;
                        }
                        continue;
                    }
                    Err(e) if e.is_auth() => {
                        let _ = tx.send(Claimed::Fatal(e)).await;
                        return;
                    }
                    Err(e) => e,
                };
                let msg = format!(
                    "could not acknowledge the lease on “{}”: {expires}",
                    lease.task.title
                );
                if tx.send(Claimed::Warning(msg)).await.is_err() {
                    return;
                }
            }
            Ok(None) => {
                // A server that answers at once instead of holding the request: do not spin.
                if started.elapsed() < Duration::from_secs(1) {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
                continue;
            }
            Err(e) if e.is_auth() => {
                let _ = tx.send(Claimed::Fatal(e)).await;
                return;
            }
            Err(e) => {
                let msg = format!("claim failed: {e}; trying again in {}s", backoff.as_secs());
                if tx.send(Claimed::Warning(msg)).await.is_err() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Heartbeats forever; prints a line when one fails and when the server answers again.
pub(super) fn spawn_heartbeats(
    client: OwpClient,
    every: Duration,
    quiet: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        let mut failing = false;
        loop {
            ticker.tick().await;
            match client.heartbeat(None).await {
                Ok(_) => {
                    if failing && !quiet {
                        say_err!("{}  heartbeat ok again", now_clock());
                    }
                    failing = false;
                }
                Err(e) => {
                    if !failing && !quiet {
                        say_err!("{}  heartbeat failed: {e}", now_clock());
                    }
                    failing = true;
                }
            }
        }
    })
}

/// Reads terminal lines on a plain thread: a blocking read cannot be cancelled, and a thread of
/// its own never holds up the exit.
fn spawn_line_reader() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            match line {
                Ok(line) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    rx
}

struct Held {
    lease: Lease,
    expires_at: Option<String>,
}

/// Which of `held` leases a command means (0-based).
pub(super) fn pick(held: usize, index: Option<usize>) -> Result<usize, String> {
    match (index, held) {
        (_, 0) => Err("you hold no lease right now".into()),
        (Some(i), n) if i >= 1 && i <= n => Ok(i - 1),
        (Some(i), n) => Err(format!("there is no lease [{i}]; you hold {n}")),
        (None, 1) => Ok(0),
        (None, n) => Err(format!(
            "you hold {n} leases: say which, e.g. `nack 2` (see `list`)"
        )),
    }
}

pub(super) fn print_json_line(value: Value) {
    say!("{value}");
}

pub(super) async fn run_worker(args: RunArgs) -> anyhow::Result<()> {
    let session = Session::load(&args.common)?;
    if let Some(options) = agent_options(&args, &session)? {
        return run_agent(&args, session, options).await;
    }
    let client = session.client.clone();
    let json = session.json;
    client.heartbeat(None).await?;
    let me = client.me().await?;
    let w = &me.worker;
    let prompt = !args.no_prompt;
    let interactive = prompt && std::io::stdin().is_terminal() && !json;

    if json {
        print_json_line(serde_json::json!({"event": "started", "worker": w}));
    } else {
        say!(
            "{} ({}) on {} · skills {} · {} of {} points · {} of {} tasks",
            w.name,
            w.worker_id,
            client.base_url,
            if w.skills.is_empty() {
                "(none)".to_string()
            } else {
                w.skills.join(", ")
            },
            w.active_points,
            w.capacity_points,
            w.active_tasks,
            w.max_concurrent_tasks
        );
        if w.status == WorkerStatus::Paused {
            say!("this worker is paused: no new work until `owp worker heartbeat --resume`");
        }
    }

    let mut held: Vec<Held> = me
        .leases
        .into_iter()
        .filter(|l| l.task.status.is_active())
        .map(|lease| Held {
            lease,
            expires_at: None,
        })
        .collect();
    if !held.is_empty() && !json {
        say!("resuming {} lease(s) you already hold:", held.len());
        for (i, h) in held.iter().enumerate() {
            say!("{}", describe_lease(&h.lease, Some(i + 1), None));
        }
    }

    let heartbeats = spawn_heartbeats(client.clone(), session.heartbeat_every(), json);
    let (tx, mut claims) = mpsc::channel(4);
    let claimer = tokio::spawn(claim_loop(client.clone(), args.wait, tx));
    let mut lines = if prompt {
        Some(spawn_line_reader())
    } else {
        None
    };

    if !json {
        if prompt {
            say!("waiting for work · type `help` for commands · Ctrl-C to stop");
        } else {
            say!("waiting for work; holding leases and heartbeating · Ctrl-C to stop");
        }
    }
    let show_prompt = |held: usize| {
        if interactive {
            let count = if held > 0 {
                format!(" ({held})")
            } else {
                String::new()
            };
            write_prompt(format_args!("owp{count}> "));
        }
    };
    show_prompt(held.len());

    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let outcome: anyhow::Result<()> = loop {
        tokio::select! {
            _ = &mut ctrl_c => break Ok(()),
            claimed = claims.recv() => match claimed {
                Some(Claimed::Lease(lease, expires)) => {
                    if json {
                        print_json_line(serde_json::json!({"event": "lease", "lease": lease, "expires_at": expires}));
                    } else {
                        say!("\n{}  new lease, acknowledged:", now_clock());
                        say!("{}", describe_lease(&lease, Some(held.len() + 1), expires.as_deref()));
                    }
                    held.push(Held { lease: *lease, expires_at: expires });
                    show_prompt(held.len());
                }
                Some(Claimed::Warning(msg)) => {
                    say_err!("{}  {msg}", now_clock());
                    show_prompt(held.len());
                }
                Some(Claimed::Fatal(e)) => break Err(e.into()),
                None => break Err(anyhow!("the claim loop stopped unexpectedly")),
            },
            line = async { lines.as_mut()?.recv().await }, if lines.is_some() => {
                let Some(line) = line else {
                    lines = None;
                    if !json {
                        say!("input closed; holding leases and heartbeating · Ctrl-C to stop");
                    }
                    continue;
                };
                match parse_prompt(&line, held.len()) {
                    Ok(PromptCommand::Quit) => break Ok(()),
                    Ok(cmd) => act(&client, &mut held, cmd, json).await?,
                    Err(msg) => say_err!("{msg}"),
                }
                show_prompt(held.len());
            }
        }
    };
    claimer.abort();
    heartbeats.abort();
    if outcome.is_ok() && !json {
        say!();
        if held.is_empty() {
            say!("stopped; no leases held.");
        } else {
            say!(
                "stopped; you still hold {} lease(s). Without heartbeats they expire and return to the pool; run `owp worker run{}` again in time to resume them.",
                held.len(),
                profile_flag(&args.common)
            );
        }
    }
    outcome
}

/// The agent hand-off asked for by flags or the saved profile; `None` for the prompt.
fn agent_options(args: &RunArgs, session: &Session) -> anyhow::Result<Option<AgentOptions>> {
    agent::options(&args.agent, session.config.agent.clone(), args.wait)
}

/// Saves the agent command given on the command line (`--agent`, with its `--workdir` and
/// `--pass-env`) in the profile, so that `owp worker run` alone uses it next time.
pub(super) fn remember_agent(
    common: &CommonArgs,
    given: &agent::AgentArgs,
    options: &AgentOptions,
    config: &WorkerConfig,
) -> anyhow::Result<()> {
    let settings = AgentSettings {
        command: options.command.clone(),
        workdir: given.workdir.clone(),
        pass_env: options.pass_env.clone(),
        acp: options.acp.is_some(),
        acp_allow_commands: options
            .acp
            .as_ref()
            .map(|a| a.commands.clone())
            .unwrap_or_default(),
        acp_allow_fetch: options.acp.as_ref().is_some_and(|a| a.fetch),
    };
    if config.agent.as_ref() == Some(&settings) {
        return Ok(());
    }
    let mut config = config.clone();
    config.agent = Some(settings);
    let path = config_path(common)?;
    save_config(&path, &config)?;
    say!(
        "saved the agent command in {}: next time `owp worker run{}` is enough",
        path.display(),
        profile_flag(common)
    );
    Ok(())
}

/// `owp worker run --agent`: saves the setting in the profile, heartbeats, and hands leases to
/// the command until stopped (or after one with `--once`).
async fn run_agent(
    args: &RunArgs,
    session: Session,
    mut options: AgentOptions,
) -> anyhow::Result<()> {
    let client = session.client.clone();
    options.approvals = config_path(&args.common)?
        .parent()
        .map(|dir| dir.join(agent::approve::FILE_NAME));
    if (args.agent.agent.is_some() || args.agent.acp.is_some()) && !options.dry_run {
        remember_agent(&args.common, &args.agent, &options, &session.config)?;
    }
    client.heartbeat(None).await?;
    let heartbeats = spawn_heartbeats(client.clone(), session.heartbeat_every(), session.json);
    let (presses, interrupt) = agent::interrupt::channel();
    options.interrupt = interrupt;
    let result = until_stopped(agent::flow::run(&client, &options), &presses, &options).await;
    heartbeats.abort();
    let Some(result) = result else {
        return Ok(());
    };
    match result? {
        Outcome::PrOpened(_) | Outcome::Planned | Outcome::Interrupted(_) => Ok(()),
        Outcome::NotApproved(why) if options.once => Err(anyhow!("{why}")),
        other if options.once => Err(anyhow!(
            "the lease did not end with a pull request: {other}"
        )),
        _ => Ok(()),
    }
}

/// How long the run may still take after a second Ctrl-C: the agent's processes are stopped at
/// once, and the give-back has a few seconds ([`agent::flow`]).
const AFTER_SECOND_CTRL_C: Duration = Duration::from_secs(10);

/// Runs `flow` until it ends, passing each Ctrl-C to it ([`agent::interrupt`]); `None` when it
/// was left before its end (no lease held, or stopped at once while the pull request was being
/// reported), with what that means said.
async fn until_stopped(
    flow: impl std::future::Future<Output = anyhow::Result<Outcome>>,
    presses: &agent::interrupt::Presses,
    options: &AgentOptions,
) -> Option<anyhow::Result<Outcome>> {
    use agent::interrupt::{Doing, Level};
    tokio::pin!(flow);
    let mut listening = true;
    let mut hurry: Option<tokio::time::Instant> = None;
    loop {
        let deadline = hurry;
        tokio::select! {
            result = &mut flow => return Some(result),
            pressed = tokio::signal::ctrl_c(), if listening => {
                if pressed.is_err() {
                    // No handler for Ctrl-C on this system: it ends the process as it always has.
                    listening = false;
                    continue;
                }
                let doing = presses.doing();
                let (level, line) = presses.press(options.acp.is_some());
                say!("\n{}  {line}", now_clock());
                if doing == Doing::Waiting
                    || (level == Level::Now && doing == Doing::Finishing)
                {
                    return None;
                }
                if level == Level::Now {
                    listening = false;
                    hurry = Some(tokio::time::Instant::now() + AFTER_SECOND_CTRL_C);
                }
            }
            () = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                say!(
                    "{}  stopped; the lease stays this worker's until it expires",
                    now_clock()
                );
                return None;
            }
        }
    }
}

/// Carries out one prompt command. Server refusals are printed, not fatal; a refused token is.
async fn act(
    client: &OwpClient,
    held: &mut Vec<Held>,
    cmd: PromptCommand,
    json: bool,
) -> anyhow::Result<()> {
    let report = |e: ClientError| -> anyhow::Result<()> {
        if e.is_auth() {
            return Err(e.into());
        }
        say_err!("{}  {e}", now_clock());
        Ok(())
    };
    match cmd {
        PromptCommand::Keep => {
            if !json && !held.is_empty() {
                say!("keep going: {} lease(s) held", held.len());
            }
        }
        PromptCommand::Help => say!("{PROMPT_HELP}"),
        PromptCommand::List => match client.me().await {
            Ok(me) => {
                // Keep the numbering people already see; leases new to this list go last.
                let mut fresh: HashMap<String, Lease> = me
                    .leases
                    .into_iter()
                    .filter(|l| l.task.status.is_active())
                    .map(|l| (l.lease_id.clone(), l))
                    .collect();
                let mut kept: Vec<Held> = held
                    .drain(..)
                    .filter_map(|h| {
                        fresh.remove(&h.lease.lease_id).map(|lease| Held {
                            lease,
                            expires_at: None,
                        })
                    })
                    .collect();
                let mut rest: Vec<Lease> = fresh.into_values().collect();
                rest.sort_by(|a, b| a.lease_id.cmp(&b.lease_id));
                kept.extend(rest.into_iter().map(|lease| Held {
                    lease,
                    expires_at: None,
                }));
                *held = kept;
                if json {
                    let leases: Vec<&Lease> = held.iter().map(|h| &h.lease).collect();
                    print_json_line(serde_json::json!({"event": "leases", "leases": leases}));
                } else if held.is_empty() {
                    say!("no leases held");
                } else {
                    for (i, h) in held.iter().enumerate() {
                        say!("{}", describe_lease(&h.lease, Some(i + 1), None));
                    }
                }
            }
            Err(e) => return report(e),
        },
        PromptCommand::Pr { index, url } => {
            let i = match pick(held.len(), index) {
                Ok(i) => i,
                Err(msg) => {
                    say_err!("{msg}");
                    return Ok(());
                }
            };
            let task_id = held[i].lease.task.task_id.clone();
            let artifact = serde_json::json!({ "pr_url": url });
            match client
                .task_status(&task_id, "pr_opened", Some(artifact), None)
                .await
            {
                Ok(changed) => {
                    let h = held.remove(i);
                    if json {
                        print_json_line(
                            serde_json::json!({"event": "pr_opened", "task_id": task_id, "answer": changed}),
                        );
                    } else {
                        say!(
                            "{}  “{}” → pr_opened ({url}); the pull request now governs it",
                            now_clock(),
                            h.lease.task.title
                        );
                    }
                }
                Err(e) => return report(e),
            }
        }
        PromptCommand::Nack { index, reason } => {
            let i = match pick(held.len(), index) {
                Ok(i) => i,
                Err(msg) => {
                    say_err!("{msg}");
                    return Ok(());
                }
            };
            let lease_id = held[i].lease.lease_id.clone();
            match client.nack(&lease_id, reason.as_deref()).await {
                Ok(changed) => {
                    let h = held.remove(i);
                    if json {
                        print_json_line(
                            serde_json::json!({"event": "nack", "lease_id": lease_id, "answer": changed}),
                        );
                    } else {
                        say!(
                            "{}  gave back “{}”; it will not be offered to you again for an hour",
                            now_clock(),
                            h.lease.task.title
                        );
                    }
                }
                Err(e) => return report(e),
            }
        }
        PromptCommand::Block { index, reason } => {
            let i = match pick(held.len(), index) {
                Ok(i) => i,
                Err(msg) => {
                    say_err!("{msg}");
                    return Ok(());
                }
            };
            let task_id = held[i].lease.task.task_id.clone();
            match client
                .task_status(&task_id, "blocked", None, reason.as_deref())
                .await
            {
                Ok(changed) => {
                    let h = held.remove(i);
                    if json {
                        print_json_line(
                            serde_json::json!({"event": "blocked", "task_id": task_id, "answer": changed}),
                        );
                    } else {
                        say!(
                            "{}  “{}” → blocked; a maintainer will look at it",
                            now_clock(),
                            h.lease.task.title
                        );
                    }
                }
                Err(e) => return report(e),
            }
        }
        PromptCommand::Renew { index } => {
            let targets: Vec<usize> = match index {
                Some(_) => match pick(held.len(), index) {
                    Ok(i) => vec![i],
                    Err(msg) => {
                        say_err!("{msg}");
                        return Ok(());
                    }
                },
                None if held.is_empty() => {
                    say_err!("you hold no lease right now");
                    return Ok(());
                }
                None => (0..held.len()).collect(),
            };
            for i in targets {
                let lease_id = held[i].lease.lease_id.clone();
                match client.renew(&lease_id).await {
                    Ok(changed) => {
                        if let Some(task) = changed.task() {
                            held[i].lease.task = task;
                        }
                        held[i].expires_at = changed.expires_at();
                        if json {
                            print_json_line(
                                serde_json::json!({"event": "renewed", "lease_id": lease_id, "answer": changed}),
                            );
                        } else {
                            let until = held[i]
                                .expires_at
                                .as_deref()
                                .map(|t| {
                                    format!(" until {} ({})", clock(t), relative(t, Utc::now()))
                                })
                                .unwrap_or_default();
                            say!(
                                "{}  renewed “{}”{until}",
                                now_clock(),
                                held[i].lease.task.title
                            );
                        }
                    }
                    Err(e) => report(e)?,
                }
            }
        }
        PromptCommand::Quit => {}
    }
    Ok(())
}
