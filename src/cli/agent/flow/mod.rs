//! One lease, from claim to pull request: workspace, brief, set-up, ack, the person's agent
//! command (kept alive, logged, stopped when the lease is lost or the time is up), the contract's
//! test and lint, push, `gh pr create`, and the report. Every failure is a `nack` whose reason
//! says what failed.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use tokio::sync::watch;

use super::approve::{self, Decision};
use super::interrupt::{self, Doing, Interrupt};
use super::plan_first::{PlanFirst, PlanRun};
use super::pr::pr_command_preview;
pub use super::pr::{find_on_path, pr_body};
use super::process;
use super::redact::mask_secrets;
use super::workspace::{self, Layout};
use crate::cli::brief;
use crate::cli::client::present::{is_github_repo, now_clock};
use crate::cli::client::{Lease, OwpClient, Task, say};
use crate::domain::TaskStatus;

mod lease;
mod work;

use lease::{Aborted, acknowledge, forward_interrupt, give_back, given_back_on_interrupt};
use lease::{keep_alive, renew_every};
use work::{evidence_of, failure_reason, run_contract_command, work};

/// What `owp worker run --agent` was asked to do.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The command template (`{brief}`, `{workdir}`, `{task_id}`, `{title}`, `{issue_url}`).
    pub command: String,
    pub workdir: PathBuf,
    pub once: bool,
    pub dry_run: bool,
    pub max_minutes: Option<f64>,
    /// Seconds each claim waits on the server.
    pub wait: u64,
    /// How often the lease is renewed while work goes on (default: a third of its lifetime).
    pub renew_every: Option<Duration>,
    /// Variables passed to the agent and the pool's commands beyond the allow-list
    /// ([`super::env`]).
    pub pass_env: Vec<String>,
    /// Run the repository's commands without asking.
    pub yes: bool,
    /// Accept clone URLs that are paths on this machine.
    pub allow_local_clone: bool,
    /// Where approvals of repositories' commands are kept (`None`: not remembered).
    pub approvals: Option<PathBuf>,
    /// The command speaks the Agent Client Protocol, and may do what this allows (`None`: a
    /// plain command, run until it exits).
    pub acp: Option<super::acp::rules::Allowed>,
    /// The volunteer's Ctrl-C ([`Interrupt::never`] where nobody can press it).
    pub interrupt: Interrupt,
}

/// How a lease ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The pull request is open and reported.
    PrOpened(String),
    /// The task was given back with this reason.
    Nacked(String),
    /// The lease was lost (expired, cancelled, blocked, taken back): nothing was pushed.
    Lost(String),
    /// The branch is pushed but no pull request URL is known yet.
    Pushed(String),
    /// `--dry-run`: the plan was shown.
    Planned,
    /// The run cannot go on without the person (this line says why, and what became of the task).
    Stopped(String),
    /// A plan was proposed and ended without a lease (declined, not chosen, expired).
    NotApproved(String),
    /// The volunteer stopped the run (Ctrl-C); this line says what became of the task.
    Interrupted(String),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::PrOpened(url) => write!(f, "pull request {url} is open"),
            Outcome::Nacked(why) => write!(f, "the task was given back: {why}"),
            Outcome::Lost(why) => write!(f, "the lease was lost: {why}"),
            Outcome::Pushed(branch) => write!(
                f,
                "branch {branch} is pushed, but no pull request was reported"
            ),
            Outcome::Planned => write!(f, "the plan was shown"),
            Outcome::Stopped(why) => write!(f, "{why}"),
            Outcome::NotApproved(why) => write!(f, "{why}"),
            Outcome::Interrupted(what) => write!(f, "stopped with Ctrl-C: {what}"),
        }
    }
}

fn say_waiting() {
    say!(
        "{}  waiting for work (`owp worker why` says what keeps each ready task from this \
         worker) · Ctrl-C to stop",
        now_clock()
    );
}

/// Claims leases and hands each to the agent; with `once`, stops after the first.
pub async fn run(client: &OwpClient, opts: &AgentOptions) -> anyhow::Result<Outcome> {
    say!(
        "{}  agent mode · work directory {} · command: {}",
        now_clock(),
        opts.workdir.display(),
        mask_secrets(&opts.command)
    );
    warn_about_quoted_placeholders(&opts.command);
    if !opts.pass_env.is_empty() {
        say!(
            "           passing to the agent and the repository's commands: {}",
            opts.pass_env.join(", ")
        );
    }
    // Leases this worker already holds (an earlier run stopped) come first: heartbeats keep them
    // alive, so nobody else would get them.
    let mut held: std::collections::VecDeque<Lease> = match client.me().await {
        Ok(me) => me
            .leases
            .into_iter()
            .filter(|l| l.task.status.is_active())
            .collect(),
        Err(e) if e.is_transport() => Default::default(),
        Err(e) => return Err(e.into()),
    };
    if !held.is_empty() {
        say!(
            "{}  resuming {} lease(s) this worker already holds",
            now_clock(),
            held.len()
        );
    }
    if opts.dry_run && held.is_empty() {
        plan_next_lease(opts);
        return Ok(Outcome::Planned);
    }
    let mut backoff = Duration::from_secs(2);
    // Said once each time the pool runs dry, as the prompt says it.
    let mut said_waiting = false;
    // The first claim asks without waiting, so an empty pool is said at once, not after a
    // `--wait` the server may hold it for.
    let mut first_claim = true;
    let mut plans = PlanFirst::default();
    loop {
        let asked = tokio::time::Instant::now();
        let at_once = std::mem::take(&mut first_claim);
        let claimed = match held.pop_front() {
            Some(lease) => Ok(Some(lease)),
            None => {
                client
                    .claim(Some(if at_once { 0 } else { opts.wait }))
                    .await
            }
        };
        let lease = match claimed {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                // Plan first (rule 11): how this worker's plans ended is said; a proposal
                // waits, or one is made for a task that only asks for a plan.
                plans.tell_ended(client).await;
                if plans.is_waiting() {
                    if let Some(why) = plans.look(client).await
                        && opts.once
                    {
                        return Ok(Outcome::NotApproved(why));
                    }
                } else if opts.acp.is_none() && plans.propose_next(client, &plan_run(opts)).await? {
                    // A plan is written by a plain command; an ACP agent only takes granted work.
                    said_waiting = true;
                }
                if !said_waiting {
                    say_waiting();
                    said_waiting = true;
                }
                // A server that answers at once instead of holding the request: do not spin.
                if !at_once && asked.elapsed() < Duration::from_secs(1) {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                continue;
            }
            Err(e) if e.is_transport() => {
                eprintln!("{}  claim failed: {e}; trying again", now_clock());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        backoff = Duration::from_secs(2);
        said_waiting = false;
        let plan = plans.plan_of(client, &lease.task).await;
        opts.interrupt.doing(Doing::Lease);
        let outcome = handle(client, opts, &lease, brief::PlanKnown::from_read(&plan)).await;
        opts.interrupt.doing(Doing::Waiting);
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                // Something on this machine failed before the lease was given back. The pool
                // hears what failed, masked; the details stay here.
                let local = format!("{e:#}");
                eprintln!("{}  {local}", now_clock());
                let reason = format!(
                    "the hand-off failed on the worker's machine: {}",
                    without_local_paths(&mask_secrets(&local), &opts.workdir)
                );
                give_back(client, &lease.lease_id, &reason).await;
                Outcome::Nacked(local)
            }
        };
        match &outcome {
            Outcome::PrOpened(url) => say!("{}  pull request opened: {url}", now_clock()),
            Outcome::Nacked(why) => say!("{}  task given back: {why}", now_clock()),
            Outcome::Lost(why) => say!("{}  lease lost: {why}", now_clock()),
            Outcome::Pushed(branch) => say!("{}  branch {branch} pushed", now_clock()),
            Outcome::Interrupted(what) => say!("{}  stopped: {what}", now_clock()),
            Outcome::Planned | Outcome::NotApproved(_) => {}
            Outcome::Stopped(why) => return Err(anyhow!("{why}")),
        }
        if opts.once || opts.dry_run || opts.interrupt.level() >= interrupt::Level::Stop {
            return Ok(outcome);
        }
    }
}

/// What the plan-only run of the agent takes from the options.
fn plan_run(opts: &AgentOptions) -> PlanRun<'_> {
    PlanRun {
        command: &opts.command,
        workdir: &opts.workdir,
        pass_env: &opts.pass_env,
        max_minutes: opts.max_minutes,
    }
}

/// `text` with the work directory and the home directory replaced by placeholders: where the
/// volunteer keeps things is not the pool's business.
fn without_local_paths(text: &str, workdir: &std::path::Path) -> String {
    let mut out = text.replace(&*workdir.to_string_lossy(), "<work directory>");
    if let Some(home) = dirs::home_dir().filter(|h| h.as_os_str().len() > 1) {
        out = out.replace(&*home.to_string_lossy(), "~");
    }
    out
}

/// `--dry-run` with no lease held: a claim would change the pool, so none is made; the plan names
/// what each step would use once the next lease is offered.
fn plan_next_lease(opts: &AgentOptions) {
    say!("dry run: no lease is claimed, and nothing is cloned, acknowledged, run or pushed");
    step(
        true,
        "claim the next lease the server offers (POST /v1/work), then for its task:",
    );
    step(
        true,
        &format!(
            "clone or fetch the task's clone_url into {}",
            opts.workdir.join("repos").display()
        ),
    );
    step(
        true,
        &format!(
            "make a worktree under {} on the branch the repository's contract names (default owp/<key>)",
            opts.workdir.join("tasks").display()
        ),
    );
    step(
        true,
        &format!(
            "show the repository's setup, test and lint commands and {}",
            if opts.yes {
                "run them without asking (--yes)"
            } else {
                "ask before they run (again whenever they, the clone URL or the instructions change)"
            }
        ),
    );
    step(
        true,
        &format!(
            "write the brief under {} and run the contract's set-up",
            opts.workdir.join("briefs").display()
        ),
    );
    step(true, "acknowledge the lease");
    step(
        true,
        &format!(
            "run `{}` with its placeholders filled in (log under {}){}",
            mask_secrets(&opts.command),
            opts.workdir.join("logs").display(),
            opts.max_minutes
                .map(|m| format!(", stopped after {m} minute(s)"))
                .unwrap_or_default()
        ),
    );
    step(true, "run the contract's test and lint commands");
    say!("  {}", env_summary(opts));
    step(true, "push the branch to origin");
    step(
        true,
        "open the pull request with `gh pr create --repo OWNER/NAME --head BRANCH …`",
    );
    step(true, "report pr_opened with the pull request URL");
}

/// Warns when the template puts a placeholder inside the person's own quotes: the value is
/// quoted for the shell already, and inside a second pair of quotes an issue title holding `$(…)`
/// would run.
fn warn_about_quoted_placeholders(template: &str) {
    let quoted = process::quoted_placeholders(template);
    if quoted.is_empty() {
        return;
    }
    eprintln!(
        "warning: the agent command puts {} inside quotes; owp quotes every value itself, and inside \
         your quotes a title like `$(curl …)` from an issue would run: write {} without quotes",
        quoted.join(", "),
        quoted.join(" ")
    );
}

/// What environment the agent and the pool's commands get, in one line.
fn env_summary(opts: &AgentOptions) -> String {
    let passed = if opts.pass_env.is_empty() {
        "nothing else (add variables with --pass-env NAME)".to_string()
    } else {
        opts.pass_env.join(", ")
    };
    format!(
        "the agent and the repository's commands get PATH, HOME, the locale, the temporary directory, XDG_* and the system variables, plus {passed}"
    )
}

/// Fills the agent command template for `task`.
pub fn agent_command_line(template: &str, task: &Task, layout: &Layout) -> String {
    process::agent_line(
        template,
        &layout.brief,
        &layout.worktree,
        &task.task_id,
        &task.title,
        task.key.as_deref(),
    )
}

fn step(dry_run: bool, text: &str) {
    if dry_run {
        say!("  would {text}");
    } else {
        say!("{}  {text}", now_clock());
    }
}

/// The repository's clone URL: the task's, or GitHub's for an `OWNER/NAME` repository.
fn clone_url_of(task: &Task) -> Option<String> {
    task.clone_url.clone().flatten().or_else(|| {
        is_github_repo(&task.repo).then(|| crate::domain::contract::github_clone_url(&task.repo))
    })
}

/// One lease, from the brief to the report; `plan`: the approved plan it was granted on, if any.
async fn handle(
    client: &OwpClient,
    opts: &AgentOptions,
    lease: &Lease,
    plan: brief::PlanKnown<'_>,
) -> anyhow::Result<Outcome> {
    let task = &lease.task;
    let contract = brief::contract_of(task);
    let layout = Layout::new(&opts.workdir, task);
    let branch = workspace::branch_name(contract.branch.as_deref(), task);
    let source = source_of(task, opts.allow_local_clone);
    let command_line = agent_command_line(&opts.command, task, &layout);
    say!(
        "{}  lease {} · {} · {} (task {})",
        now_clock(),
        lease.lease_id,
        task.repo,
        task.title,
        task.task_id
    );
    if opts.dry_run {
        say!("dry run: nothing is cloned, acknowledged, run or pushed");
        match &source {
            Ok(url) => step(
                true,
                &format!("clone or fetch {url} into {}", layout.clone.display()),
            ),
            Err(gap) => step(true, &format!("stop: {}", gap.local)),
        }
        step(
            true,
            &format!(
                "make the worktree {} on branch {branch}",
                layout.worktree.display()
            ),
        );
        step(
            true,
            &format!("write the brief to {}", layout.brief.display()),
        );
        let commands = contract.commands();
        if !commands.is_empty() {
            step(
                true,
                if opts.yes {
                    "run these commands of the repository without asking (--yes):"
                } else {
                    "show these commands of the repository and ask before they run (again whenever they, the clone URL or the instructions change):"
                },
            );
            for (name, command) in &commands {
                say!("      {name}: {command}");
            }
        }
        if let Some(setup) = &contract.setup {
            step(true, &format!("run the set-up `{setup}`"));
        }
        step(true, &format!("acknowledge lease {}", lease.lease_id));
        step(
            true,
            &format!(
                "run `{}` (log {}){}",
                mask_secrets(&command_line),
                layout.log.display(),
                opts.max_minutes
                    .map(|m| format!(", stopped after {m} minute(s)"))
                    .unwrap_or_default()
            ),
        );
        for (name, cmd) in contract
            .commands()
            .into_iter()
            .filter(|(n, _)| *n != "setup")
        {
            step(true, &format!("run the {name} command `{cmd}`"));
        }
        say!("  {}", env_summary(opts));
        step(true, &format!("push {branch} to origin"));
        step(
            true,
            &format!(
                "open the pull request with `{}`",
                pr_command_preview(task, &branch)
            ),
        );
        step(true, "report pr_opened with the pull request URL");
        say!(
            "the lease is left unacknowledged: it returns to the pool by {}",
            lease.accept_by
        );
        return Ok(Outcome::Planned);
    }

    let clone_url = match source {
        Ok(url) => url,
        // This machine's own choice: the lease waits for a run that allows it.
        Err(gap) if gap.yours => {
            return Ok(kept(
                lease,
                &gap.local,
                "run again with --allow-local-clone",
            ));
        }
        Err(gap) => {
            give_back(client, &lease.lease_id, &gap.pool).await;
            return Ok(Outcome::Nacked(gap.local));
        }
    };
    match approval(client, opts, lease, &clone_url).await? {
        Decision::Run => {}
        Decision::Declined => {
            give_back(
                client,
                &lease.lease_id,
                "not attempted: the volunteer chose not to run the repository's setup, test or lint commands on their machine",
            )
            .await;
            return Ok(Outcome::Nacked(
                "you chose not to run the repository's commands".into(),
            ));
        }
        Decision::CannotAsk => {
            return Ok(kept(
                lease,
                &format!(
                    "the commands of {} (shown above) need your approval before they run, and \
                     nobody is at a terminal to give it",
                    task.repo
                ),
                "run `owp worker run` at a terminal to answer, or pass --yes,",
            ));
        }
    }
    step(
        false,
        &format!("preparing {} in {}", clone_url, layout.worktree.display()),
    );
    let prepared = workspace::prepare(&layout, &clone_url, &branch).await?;
    for path in [&layout.brief, &layout.log] {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    let agents_md = layout.worktree.join("AGENTS.md").is_file();
    std::fs::write(
        &layout.brief,
        brief::render_with_plan(task, Some(agents_md), plan),
    )
    .with_context(|| format!("cannot write {}", layout.brief.display()))?;
    step(
        false,
        &format!("brief written to {}", layout.brief.display()),
    );
    say!("           log: {}", layout.log.display());

    // What stops the lease's commands: the keeper when the lease is lost, or the volunteer.
    let (stop_tx, stop_rx) = watch::channel(None::<String>);
    let _forwarder = Aborted(tokio::spawn(forward_interrupt(
        opts.interrupt.clone(),
        stop_tx.clone(),
    )));
    let mut ran = Vec::new();
    if let Some(setup) = contract.setup.as_deref().filter(|s| !s.trim().is_empty()) {
        step(false, &format!("set-up: {setup}"));
        let started = std::time::Instant::now();
        let ended = run_contract_command(setup, &layout, opts, stop_rx.clone()).await?;
        if by_volunteer(opts, &stop_rx) {
            return Ok(given_back_on_interrupt(client, &lease.lease_id, &opts.interrupt).await);
        }
        if !ended.success() {
            let reason = failure_reason("set-up", setup, &ended, &layout.log);
            give_back(client, &lease.lease_id, &reason).await;
            return Ok(Outcome::Nacked(reason));
        }
        ran.push(evidence_of("setup", setup, started));
    }

    if by_volunteer(opts, &stop_rx) {
        return Ok(given_back_on_interrupt(client, &lease.lease_id, &opts.interrupt).await);
    }
    if lease.task.status != TaskStatus::InProgress
        && let Err(why) = acknowledge(client, lease).await
    {
        return Ok(Outcome::Lost(why));
    }
    step(false, &format!("acknowledged lease {}", lease.lease_id));
    let told = super::acp::progress::Told::new(&layout.log, &lease.lease_id);
    let keeper = tokio::spawn(keep_alive(
        client.clone(),
        (lease.clone(), told),
        renew_every(opts, lease),
        stop_tx,
    ));
    let result = work(
        client,
        opts,
        lease,
        (&layout, &prepared),
        &command_line,
        ran,
        stop_rx,
    )
    .await;
    keeper.abort();
    match result {
        // Stopped by the volunteer before a pull request was reported.
        Ok(Outcome::Lost(why)) if why == interrupt::REASON => {
            Ok(given_back_on_interrupt(client, &lease.lease_id, &opts.interrupt).await)
        }
        other => other,
    }
}

/// Whether the volunteer pressed Ctrl-C, and the lease was not lost meanwhile.
fn by_volunteer(opts: &AgentOptions, stop: &watch::Receiver<Option<String>>) -> bool {
    opts.interrupt.level() >= interrupt::Level::Stop
        && stop
            .borrow()
            .as_deref()
            .is_none_or(|why| why == interrupt::REASON)
}

/// Stops the run without giving the lease back, when only this machine's own setup stopped it
/// (a local clone URL without `--allow-local-clone`, commands nobody could approve). A give-back
/// would keep the task from this worker for an hour (the protocol's `nack`); kept, the lease is
/// taken up again by the next run in time, and otherwise returns to the pool by itself.
fn kept(lease: &Lease, why: &str, fix: &str) -> Outcome {
    let until = if lease.task.status == TaskStatus::InProgress {
        &lease.expires_at
    } else {
        &lease.accept_by
    };
    Outcome::Stopped(format!(
        "{why}; the task was not given back: it stays this worker's until {until} ({fix} before \
         then, and this worker takes it up again), then returns to the pool by itself"
    ))
}

/// Why this worker cannot take a task's code, told twice: to the volunteer (with what to do) and
/// to the pool (what the maintainers must fix; nothing of this machine). `yours` when the
/// volunteer's own choice refused it (a local path, which `--allow-local-clone` allows).
struct SourceGap {
    local: String,
    pool: String,
    yours: bool,
}

/// The URL to clone the task's repository from, or why there is none this worker uses.
fn source_of(task: &Task, allow_local: bool) -> Result<String, SourceGap> {
    let Some(url) = clone_url_of(task) else {
        let fix = format!(
            "`owp admin init-repo {} --max-open-prs N --clone-url URL`",
            task.repo
        );
        return Err(SourceGap {
            local: format!(
                "the repository {} has no clone URL, so there is nothing to clone; this is for the pool's maintainers to fix (with {fix}), not something you did, and a task given back for it does not count against your reputation",
                task.repo
            ),
            pool: format!(
                "not attempted: the repository has no clone URL; a maintainer sets one with {fix}"
            ),
            yours: false,
        });
    };
    match workspace::clone_url_problem(&url, allow_local) {
        None => Ok(url),
        Some(problem) => Err(SourceGap {
            yours: workspace::clone_url_problem(&url, true).is_none(),
            local: problem.clone(),
            pool: format!(
                "not attempted: {}",
                problem
                    .split(" (pass --allow-local-clone")
                    .next()
                    .unwrap_or(&problem)
            ),
        }),
    }
}

/// Whether the repository's commands may run, cloned from `clone_url` and with the brief's
/// instructions: remembered, `--yes`, or asked at the terminal.
async fn approval(
    client: &OwpClient,
    opts: &AgentOptions,
    lease: &Lease,
    clone_url: &str,
) -> anyhow::Result<Decision> {
    let file = opts.approvals.clone();
    let server = client.base_url.clone();
    let repo = lease.task.repo.clone();
    let contract = brief::contract_of(&lease.task);
    let clone_url = clone_url.to_string();
    let yes = opts.yes;
    let deadline = crate::cli::client::present::clock(&lease.accept_by);
    tokio::task::spawn_blocking(move || {
        let asked = approve::Asked::new(&clone_url, &contract);
        approve::decide(file.as_deref(), &server, &repo, &asked, yes, &deadline)
    })
    .await
    .map_err(|e| anyhow!("the question about the repository's commands was interrupted: {e}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_stay_local() {
        let text = without_local_paths(
            "`git clone -- x /srv/w/repos/acme` failed: no such repository",
            std::path::Path::new("/srv/w"),
        );
        assert_eq!(
            text,
            "`git clone -- x <work directory>/repos/acme` failed: no such repository"
        );
    }

    #[test]
    fn command_lines_fill_every_placeholder() {
        let t = crate::cli::brief::tests_task();
        let layout = Layout::new(std::path::Path::new("/w"), &t);
        let line = agent_command_line(
            "tool --brief {brief} --dir {workdir} {task_id} {title} {issue_url}",
            &t,
            &layout,
        );
        if cfg!(unix) {
            assert_eq!(
                line,
                "tool --brief /w/briefs/t-1.md --dir /w/tasks/t-1 t-1 'Fix the\nparser' https://github.com/acme/widgets/issues/7"
            );
        }
    }
}
