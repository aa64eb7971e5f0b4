//! `owp worker …`: join a pool, take work, and report back.
//!
//! `register` saves the server URL, worker id and token to a small file (mode 0600), so the other
//! commands need no flags. `--profile NAME` keeps several workers on one machine.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use chrono::Utc;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub mod join;

use super::agent::flow::{AgentOptions, Outcome};
use super::agent::{self, AgentArgs, AgentSettings};
use super::client::present::{
    ago, clip, clock, is_github_repo, issue_link, now_clock, relative, write_prompt,
};
use super::client::{
    ClientError, DEFAULT_SERVER, Lease, OwpClient, RegisterRequest, Task, say, say_err,
};
use super::prompt::{PROMPT_HELP, PromptCommand, parse_prompt};
use crate::config::Secret;
use crate::domain::model::{TaskStatus, WorkerStatus};

#[derive(clap::Subcommand, Debug)]
pub enum WorkerCommand {
    /// Register this machine as a worker; the token is saved so later commands need no flags.
    Register(RegisterArgs),
    /// Take work: heartbeat, claim and acknowledge leases, and act on them at a prompt.
    Run(RunArgs),
    /// A simulated worker for demos: claims tasks and opens fake pull requests.
    Simulate(SimulateArgs),
    /// Show this worker and the leases it holds.
    Status(CommonArgs),
    /// Send one heartbeat: marks the worker online and renews every lease it holds.
    Heartbeat(HeartbeatArgs),
    /// Link this worker to your GitHub account: prints a one-time `/owp link CODE` to comment on
    /// an issue of a repository that uses the OWP Pool GitHub App.
    Link(CommonArgs),
    /// Join a pool in one command: register (asking for what it cannot detect), save the
    /// profile, and start taking work.
    Join(join::JoinArgs),
}

/// Options every `owp worker` command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// OWP server URL [default: the server the worker registered with, else http://127.0.0.1:8787]
    #[arg(long, env = "OWP_SERVER")]
    pub server: Option<String>,
    /// Keep several workers on one machine: each profile has its own saved registration.
    #[arg(long, env = "OWP_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// Where the registration is saved [default: $XDG_CONFIG_HOME/owp or ~/.config/owp]
    #[arg(long, env = "OWP_CONFIG_DIR", value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

/// What a worker declares about itself at registration.
#[derive(clap::Args, Debug, Clone)]
pub struct WorkerDescription {
    /// Skills, comma-separated (e.g. `python,docs`); a task is offered only if all its skills are here.
    #[arg(long, value_delimiter = ',', value_name = "SKILLS")]
    pub skills: Vec<String>,
    /// Capacity in estimate points held at once.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(i64).range(1..))]
    pub capacity: i64,
    /// Most tasks held at once.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(i64).range(1..))]
    pub max_concurrent: i64,
    /// Your GitHub login (links your pull requests to you).
    #[arg(long, value_name = "LOGIN")]
    pub github_login: Option<String>,
    /// A capability to advertise, e.g. `tool=claude-code` or `can_run_tests=true` (repeatable).
    #[arg(long = "capability", value_name = "KEY=VALUE")]
    pub capabilities: Vec<String>,
    /// Admin token, needed only when the server lets only admins register workers. Sent only to
    /// this command's server, and only after it refused to register without one; never taken from
    /// OWP_ADMIN_TOKEN or env.local, which belong to the pool you run, not to the one you join.
    #[arg(long)]
    pub admin_token: Option<Secret>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct RegisterArgs {
    /// Display name of the worker (a person, or a person's tool).
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub worker: WorkerDescription,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Only hold and print leases (keep heartbeating); do not read commands from the terminal.
    #[arg(long)]
    pub no_prompt: bool,
    /// Seconds each claim waits on the server for work to appear (at most 30).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(0..=30))]
    pub wait: u64,
    #[command(flatten)]
    pub agent: AgentArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct SimulateArgs {
    /// Register a new worker first (with --name, --skills, --capacity …) and save it.
    #[arg(long, requires = "name")]
    pub register: bool,
    /// Name of the worker to register (with --register).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub worker: WorkerDescription,
    /// Seconds of simulated work between acknowledging a task and opening its pull request.
    #[arg(long, default_value_t = 5.0)]
    pub work_seconds: f64,
    /// Stop after this many tasks.
    #[arg(long)]
    pub max_tasks: Option<u64>,
    /// Seconds each claim waits on the server for work to appear (at most 30).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(0..=30))]
    pub wait: u64,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct HeartbeatArgs {
    /// Ask for no new work until resumed.
    #[arg(long, conflicts_with = "resume")]
    pub pause: bool,
    /// Take new work again.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub async fn run(cmd: WorkerCommand) -> anyhow::Result<()> {
    match cmd {
        WorkerCommand::Register(args) => register(args).await,
        WorkerCommand::Run(args) => run_worker(args).await,
        WorkerCommand::Simulate(args) => simulate(args).await,
        WorkerCommand::Status(args) => status(args).await,
        WorkerCommand::Heartbeat(args) => heartbeat(args).await,
        WorkerCommand::Link(args) => link(args).await,
        WorkerCommand::Join(args) => join::join(args).await,
    }
}

// ---- the saved registration -----------------------------------------------------------------

/// What `owp worker register` saves: enough to act as the worker later.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerConfig {
    pub server: String,
    pub worker_id: String,
    pub token: String,
    pub name: String,
    #[serde(default)]
    pub heartbeat_ttl_seconds: Option<u64>,
    #[serde(default)]
    pub lease_ttl_seconds: Option<u64>,
    #[serde(default)]
    pub accept_ttl_seconds: Option<u64>,
    #[serde(default)]
    pub registered_at: Option<String>,
    /// The saved `--agent` command and work directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentSettings>,
}

impl fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("server", &self.server)
            .field("worker_id", &self.worker_id)
            .field("token", &"***")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The folder of saved registrations: `explicit` (`--config-dir`/`OWP_CONFIG_DIR`), else
/// `$XDG_CONFIG_HOME/owp`, else `$HOME/.config/owp`.
pub fn config_dir(
    explicit: Option<&Path>,
    xdg_config_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    if let Some(dir) = explicit.filter(|d| !d.as_os_str().is_empty()) {
        return Some(dir.to_path_buf());
    }
    if let Some(xdg) = xdg_config_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return Some(xdg.join("owp"));
    }
    home.filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".config").join("owp"))
}

/// `worker.json`, or `worker-NAME.json` for a profile.
pub fn config_file(dir: &Path, profile: Option<&str>) -> anyhow::Result<PathBuf> {
    match profile {
        None => Ok(dir.join("worker.json")),
        Some(name) => {
            let valid = !name.is_empty()
                && name.len() <= 64
                && !name.starts_with('.')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid {
                bail!(
                    "profile name {name:?} is not usable: use letters, digits, `-`, `_` or `.` (at most 64)"
                );
            }
            Ok(dir.join(format!("worker-{name}.json")))
        }
    }
}

/// Writes the registration atomically, readable only by its owner (0600 on unix).
pub fn save_config(path: &Path, config: &WorkerConfig) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict permissions in {}", dir.display()))?;
    }
    let mut text = serde_json::to_string_pretty(config)?;
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|_| file.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.persist(path)
        .map_err(|e| anyhow!("cannot save {}: {}", path.display(), e.error))?;
    Ok(())
}

/// Reads a saved registration; `None` when there is none.
pub fn load_config(path: &Path) -> anyhow::Result<Option<WorkerConfig>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!("cannot read {}: {e}", path.display())),
    };
    let config = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "{} is not a worker registration ({e}): register again with `owp worker register`",
            path.display()
        )
    })?;
    Ok(Some(config))
}

/// Where the registration of `common`'s profile is saved.
pub(super) fn config_path_of(common: &CommonArgs) -> anyhow::Result<PathBuf> {
    config_path(common)
}

fn config_path(common: &CommonArgs) -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"));
    let dir = config_dir(
        common.config_dir.as_deref(),
        std::env::var_os("XDG_CONFIG_HOME"),
        home,
    )
    .ok_or_else(|| {
        anyhow!("cannot tell where to save the worker registration: set OWP_CONFIG_DIR or HOME")
    })?;
    config_file(&dir, common.profile.as_deref())
}

fn profile_flag(common: &CommonArgs) -> String {
    match &common.profile {
        Some(p) => format!(" --profile {p}"),
        None => String::new(),
    }
}

/// A registered worker ready to talk to its server.
struct Session {
    client: OwpClient,
    config: WorkerConfig,
    json: bool,
}

impl Session {
    fn load(common: &CommonArgs) -> anyhow::Result<Session> {
        let path = config_path(common)?;
        let config = load_config(&path)?.ok_or_else(|| {
            anyhow!(
                "no worker registered{} (looked for {}): run `owp worker register{} --name NAME --skills a,b --capacity 5` first",
                common
                    .profile
                    .as_deref()
                    .map(|p| format!(" under profile {p}"))
                    .unwrap_or_default(),
                path.display(),
                profile_flag(common),
            )
        })?;
        let server = common
            .server
            .clone()
            .unwrap_or_else(|| config.server.clone());
        let client = OwpClient::new(&server)?.with_worker_token(Some(config.token.clone()));
        Ok(Session {
            client,
            config,
            json: common.json,
        })
    }

    fn heartbeat_every(&self) -> Duration {
        let ttl = self.config.heartbeat_ttl_seconds.unwrap_or(90);
        Duration::from_secs((ttl / 3).max(1))
    }
}

// ---- register -------------------------------------------------------------------------------

/// The capabilities a worker has without being told: with an agent command configured (the hand-off
/// of `owp worker run --agent`), `agent_handoff: true` and `agent`: the command's program name
/// (`claude` for `claude -p {brief}`, `codex` for `C:\\tools\\codex.exe …`).
pub fn detected_capabilities(agent_command: Option<&str>) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    let Some(command) = agent_command.map(str::trim).filter(|c| !c.is_empty()) else {
        return map;
    };
    map.insert("agent_handoff".into(), Value::Bool(true));
    // Leading `KEY=value` assignments are skipped: their values are never sent.
    let name = agent::process::program_name(command);
    if !name.is_empty() {
        map.insert("agent".into(), Value::String(name));
    }
    map
}

/// `KEY=VALUE` → a JSON object; `true`/`false` and numbers keep their type, anything else is a
/// string.
pub fn parse_capabilities(items: &[String]) -> anyhow::Result<Option<Value>> {
    if items.is_empty() {
        return Ok(None);
    }
    let mut map = serde_json::Map::new();
    for item in items {
        let (key, value) = item
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| anyhow!("--capability {item:?} is not KEY=VALUE"))?;
        let value = match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            v => match v.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(v.to_string())),
            },
        };
        map.insert(key.to_string(), value);
    }
    Ok(Some(Value::Object(map)))
}

/// Registers a worker and saves its profile. `agent` is an agent command about to be used (else the
/// profile's saved one counts): the capabilities it implies are declared along with the given ones,
/// which win.
pub(super) async fn register_and_save(
    name: &str,
    desc: &WorkerDescription,
    common: &CommonArgs,
    agent: Option<&str>,
) -> anyhow::Result<(WorkerConfig, PathBuf, Option<WorkerConfig>)> {
    let name = name.trim();
    if name.is_empty() {
        bail!("--name must not be empty");
    }
    let path = config_path(common)?;
    let previous = load_config(&path).ok().flatten();
    let server = common
        .server
        .clone()
        .or_else(|| previous.as_ref().map(|p| p.server.clone()))
        .unwrap_or_else(|| DEFAULT_SERVER.to_string());
    let client = OwpClient::new(&server)?
        .with_admin_token(desc.admin_token.as_ref().map(|s| s.expose().to_string()));
    let request = RegisterRequest {
        name: name.to_string(),
        skills: desc
            .skills
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        capacity_points: desc.capacity,
        max_concurrent_tasks: desc.max_concurrent,
        github_login: desc
            .github_login
            .clone()
            .map(|l| l.trim().trim_start_matches('@').to_string())
            .filter(|l| !l.is_empty()),
        capabilities: {
            let saved_agent = previous
                .as_ref()
                .and_then(|p| p.agent.as_ref())
                .map(|a| a.command.as_str());
            let mut caps = detected_capabilities(agent.or(saved_agent));
            if let Some(Value::Object(given)) = parse_capabilities(&desc.capabilities)? {
                caps.extend(given);
            }
            (!caps.is_empty()).then_some(Value::Object(caps))
        },
    };
    // An admin token goes only where it was given for (`--admin-token` of this command, to this
    // command's server, whose redirects to other origins are not followed), and only when asked.
    let registration = match client.register(&request).await {
        Err(e) if matches!(e.status(), Some(401 | 403)) => {
            if client.admin_token.is_some() {
                client.register_as_admin(&request).await?
            } else {
                bail!(
                    "{e}; if only admins may register workers on this server, ask its admin, or pass their admin token with --admin-token"
                );
            }
        }
        other => other?,
    };
    let config = WorkerConfig {
        server: client.base_url.clone(),
        worker_id: registration.worker_id,
        token: registration.token,
        name: name.to_string(),
        heartbeat_ttl_seconds: registration.heartbeat_ttl_seconds,
        lease_ttl_seconds: registration.lease_ttl_seconds,
        accept_ttl_seconds: registration.accept_ttl_seconds,
        registered_at: Some(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        agent: previous.as_ref().and_then(|p| p.agent.clone()),
    };
    save_config(&path, &config)?;
    Ok((config, path, previous))
}

async fn register(args: RegisterArgs) -> anyhow::Result<()> {
    let (config, path, previous) =
        register_and_save(&args.name, &args.worker, &args.common, None).await?;
    if args.common.json {
        let out = serde_json::json!({
            "worker_id": config.worker_id,
            "name": config.name,
            "server": config.server,
            "config_path": path,
            "heartbeat_ttl_seconds": config.heartbeat_ttl_seconds,
            "lease_ttl_seconds": config.lease_ttl_seconds,
            "accept_ttl_seconds": config.accept_ttl_seconds,
        });
        say!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let skills = if args.worker.skills.is_empty() {
        "no skills (only tasks that need none)".to_string()
    } else {
        format!("skills {}", args.worker.skills.join(", "))
    };
    say!(
        "registered {} as worker {} on {}",
        config.name,
        config.worker_id,
        config.server
    );
    say!(
        "  {skills} · capacity {} points · up to {} at a time",
        args.worker.capacity,
        plural(args.worker.max_concurrent, "task")
    );
    say!("  saved to {} (owner-only)", path.display());
    if let Some(prev) = previous.filter(|p| p.worker_id != config.worker_id) {
        say!(
            "  this replaces the earlier registration of {} ({}) in that file",
            prev.name,
            prev.worker_id
        );
    }
    say!(
        "next: `owp worker run{}` to take work, or `owp worker status{}`",
        profile_flag(&args.common),
        profile_flag(&args.common)
    );
    Ok(())
}

/// `1 task`, `2 tasks`.
fn plural(n: i64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

// ---- status and heartbeat -------------------------------------------------------------------

async fn status(args: CommonArgs) -> anyhow::Result<()> {
    let session = Session::load(&args)?;
    let me = session.client.me().await?;
    if session.json {
        say!("{}", serde_json::to_string_pretty(&me)?);
        return Ok(());
    }
    let w = &me.worker;
    let now = Utc::now();
    say!(
        "{} ({}) · {} · {} · trust {}",
        w.name,
        w.worker_id,
        if w.online { "online" } else { "offline" },
        w.status.as_str(),
        w.trust_level
    );
    say!("  server          {}", session.client.base_url);
    say!(
        "  skills          {}",
        if w.skills.is_empty() {
            "(none)".to_string()
        } else {
            w.skills.join(", ")
        }
    );
    say!(
        "  load            {} of {} points · {} of {} tasks",
        w.active_points,
        w.capacity_points,
        w.active_tasks,
        w.max_concurrent_tasks
    );
    if let Some(login) = &w.github_login {
        say!("  github          @{login}");
    }
    if let Some(hb) = &w.last_heartbeat {
        say!("  last heartbeat  {} ({})", clock(hb), ago(hb, now));
    }
    if w.status == WorkerStatus::Paused {
        say!(
            "  paused: no new work until `owp worker heartbeat --resume` (or an admin resumes it)"
        );
    }
    if me.leases.is_empty() {
        say!("no leases held");
    } else {
        say!("leases held ({}):", me.leases.len());
        for (i, lease) in me.leases.iter().enumerate() {
            say!("{}", describe_lease(lease, Some(i + 1), None));
        }
    }
    Ok(())
}

async fn heartbeat(args: HeartbeatArgs) -> anyhow::Result<()> {
    let session = Session::load(&args.common)?;
    let wanted = if args.pause {
        Some("paused")
    } else if args.resume {
        Some("idle")
    } else {
        None
    };
    let answer = session.client.heartbeat(wanted).await?;
    if session.json {
        say!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let status = answer
        .get("worker")
        .and_then(|w| w.get("status"))
        .and_then(Value::as_str)
        .or(wanted)
        .unwrap_or("online");
    let renewed = match answer.get("renewed_leases").and_then(Value::as_u64) {
        Some(1) => "; 1 lease renewed".to_string(),
        Some(n) => format!("; {n} leases renewed"),
        None => "; its leases are renewed".to_string(),
    };
    let paused = if status == "paused" {
        " (no new work until `owp worker heartbeat --resume`)"
    } else {
        ""
    };
    say!(
        "heartbeat sent: {} ({}) is online, {status}{paused}{renewed}",
        session.config.name,
        session.config.worker_id
    );
    Ok(())
}

/// `owp worker link`: asks the server for a one-time code that proves, once commented on GitHub,
/// that the commenter's login owns this worker.
async fn link(args: CommonArgs) -> anyhow::Result<()> {
    let session = Session::load(&args)?;
    let body = match session.client.link_code().await {
        Ok(body) => body,
        Err(e) if e.status() == Some(404) => {
            bail!("this server has no GitHub App configured, so there is nothing to link")
        }
        Err(e) => return Err(e.into()),
    };
    if session.json {
        say!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(());
    }
    let comment = body
        .get("comment")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let expires = body
        .get("expires_at")
        .and_then(Value::as_str)
        .unwrap_or_default();
    say!(
        "Comment this on any issue of a repository that uses the OWP Pool GitHub App, signed in \
         as the GitHub account to link to {}:\n\n    {comment}\n\nThe code works once, until {}.",
        session.config.name,
        clock(expires)
    );
    Ok(())
}

// ---- lease display --------------------------------------------------------------------------

/// A lease as a few readable lines: title, repo and key (with the issue link for GitHub keys),
/// area, points, status and expiry.
pub fn describe_lease(lease: &Lease, index: Option<usize>, expires_at: Option<&str>) -> String {
    let task = &lease.task;
    let now = Utc::now();
    let mut lines = Vec::new();
    let number = index.map(|i| format!("[{i}] ")).unwrap_or_default();
    lines.push(format!("  {number}{}", task.title));
    let pad = " ".repeat(number.chars().count() + 2);
    let mut facts = vec![format!("repo {}", task.repo)];
    if let Some(key) = &task.key {
        facts.push(format!("key {key}"));
    }
    if let Some(area) = &task.area {
        facts.push(format!("area {area}"));
    }
    facts.push(format!(
        "{} point{}",
        task.estimate_points,
        if task.estimate_points == 1 { "" } else { "s" }
    ));
    facts.push(format!("priority {}", task.priority.as_str()));
    if task.tier > 0 {
        facts.push(format!("tier {}", task.tier));
    }
    lines.push(format!("{pad}{}", facts.join(" · ")));
    if let Some(link) = task.key.as_deref().and_then(issue_link) {
        lines.push(format!("{pad}issue {link}"));
    }
    if !task.required_skills.is_empty() {
        lines.push(format!("{pad}skills {}", task.required_skills.join(", ")));
    }
    let expires = expires_at
        .map(str::to_string)
        .or_else(|| task.lease_expires_at.clone())
        .unwrap_or_else(|| lease.expires_at.clone());
    let mut state = format!(
        "{pad}{} · task {} · lease {}",
        task.status.as_str(),
        task.task_id,
        lease.lease_id
    );
    if task.status != TaskStatus::PrOpened {
        state.push_str(&format!(
            " · expires {} ({})",
            clock(&expires),
            relative(&expires, now)
        ));
    }
    lines.push(state);
    if let Some(pr) = task
        .artifact
        .as_ref()
        .and_then(|a| a.get("pr_url"))
        .and_then(Value::as_str)
    {
        lines.push(format!("{pad}pull request {pr}"));
    }
    let description = task.description.trim();
    if !description.is_empty() {
        lines.push(format!("{pad}“{}”", clip(description, 160)));
    }
    lines.join("\n")
}

// ---- run ------------------------------------------------------------------------------------

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
fn spawn_heartbeats(
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
fn pick(held: usize, index: Option<usize>) -> Result<usize, String> {
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

fn print_json_line(value: Value) {
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
    if args.agent.agent.is_some() && !options.dry_run {
        let settings = AgentSettings {
            command: options.command.clone(),
            workdir: args.agent.workdir.clone(),
            pass_env: options.pass_env.clone(),
        };
        if session.config.agent.as_ref() != Some(&settings) {
            let mut config = session.config.clone();
            config.agent = Some(settings);
            let path = config_path(&args.common)?;
            save_config(&path, &config)?;
            say!(
                "saved the agent command in {}: next time `owp worker run{}` is enough",
                path.display(),
                profile_flag(&args.common)
            );
        }
    }
    client.heartbeat(None).await?;
    let heartbeats = spawn_heartbeats(client.clone(), session.heartbeat_every(), session.json);
    let result = tokio::select! {
        r = agent::flow::run(&client, &options) => r,
        _ = tokio::signal::ctrl_c() => {
            heartbeats.abort();
            say!("stopped; a lease in progress stays yours until it expires");
            return Ok(());
        }
    };
    heartbeats.abort();
    match result? {
        Outcome::PrOpened(_) | Outcome::Planned => Ok(()),
        other if options.once => Err(anyhow!(
            "the lease did not end with a pull request: {other}"
        )),
        _ => Ok(()),
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

// ---- simulate -------------------------------------------------------------------------------

/// A pull request URL for a simulated worker: on GitHub for `owner/name` repos, else on the
/// reserved `example.invalid` domain.
pub fn fake_pr_url(repo: &str, number: u64) -> String {
    if is_github_repo(repo) {
        format!("https://github.com/{repo}/pull/{number}")
    } else {
        let safe: String = repo
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/') {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        format!("https://example.invalid/{safe}/pull/{number}")
    }
}

/// Prints one simulated step, as text or a JSON line.
#[derive(Clone)]
struct StepLog {
    name: String,
    json: bool,
}

impl StepLog {
    fn step(&self, step: &str, task: Option<&Task>, detail: &str) {
        if self.json {
            let mut v = serde_json::json!({
                "at": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "worker": self.name,
                "step": step,
            });
            if let Some(t) = task {
                v["task_id"] = Value::from(t.task_id.clone());
                v["repo"] = Value::from(t.repo.clone());
                v["title"] = Value::from(t.title.clone());
            }
            if !detail.is_empty() {
                v["detail"] = Value::from(detail);
            }
            print_json_line(v);
        } else {
            let what = task
                .map(|t| format!("“{}” ({}) ", clip(&t.title, 48), t.repo))
                .unwrap_or_default();
            say!(
                "{}  {:<10} {:<11} {what}{detail}",
                now_clock(),
                self.name,
                step
            );
        }
    }
}

type ClaimFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<Option<Lease>, ClientError>> + Send>>;

/// One simulated task: acknowledged, worked on for a while, then a pull request.
async fn simulate_one(
    client: OwpClient,
    lease: Lease,
    work: Duration,
    log: StepLog,
    prs: Arc<std::sync::atomic::AtomicU64>,
) -> Result<(), ClientError> {
    let mut task = lease.task.clone();
    let changed = client.ack(&lease.lease_id).await?;
    if let Some(t) = changed.task() {
        task = t;
    }
    let until = changed
        .expires_at()
        .map(|t| format!("lease until {}", clock(&t)))
        .unwrap_or_default();
    log.step("acked", Some(&task), &until);
    if task.status == TaskStatus::Leased {
        let changed = client
            .task_status(&task.task_id, "in_progress", None, None)
            .await?;
        if let Some(t) = changed.task() {
            task = t;
        }
    }
    log.step(
        "working",
        Some(&task),
        &format!("for {:.1}s", work.as_secs_f64()),
    );
    tokio::time::sleep(work).await;
    let number = prs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let url = fake_pr_url(&task.repo, number);
    let artifact = serde_json::json!({ "pr_url": url, "x_simulated": true });
    let note = "opened by `owp worker simulate`";
    client
        .task_status(&task.task_id, "pr_opened", Some(artifact), Some(note))
        .await?;
    log.step("pr_opened", Some(&task), &url);
    Ok(())
}

async fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    if !(args.work_seconds.is_finite() && args.work_seconds >= 0.0) {
        bail!("--work-seconds must be a number of seconds ≥ 0");
    }
    if args.max_tasks == Some(0) {
        bail!("--max-tasks must be at least 1");
    }
    let session = if args.register {
        let name = args.name.as_deref().unwrap_or_default();
        let (config, path, _) = register_and_save(name, &args.worker, &args.common, None).await?;
        if !args.common.json {
            say!(
                "registered {} as worker {} (saved to {})",
                config.name,
                config.worker_id,
                path.display()
            );
        }
        Session::load(&args.common)?
    } else {
        Session::load(&args.common)?
    };
    let client = session.client.clone();
    client.heartbeat(Some("idle")).await?;
    let me = client.me().await?;
    let max_concurrent = usize::try_from(me.worker.max_concurrent_tasks.max(1)).unwrap_or(1);
    let log = StepLog {
        name: me.worker.name.clone(),
        json: session.json,
    };
    log.step(
        "online",
        None,
        &format!(
            "skills {} · {} points · {} at a time · {} · Ctrl-C to stop",
            if me.worker.skills.is_empty() {
                "(none)".to_string()
            } else {
                me.worker.skills.join(",")
            },
            me.worker.capacity_points,
            max_concurrent,
            client.base_url
        ),
    );
    let heartbeats = spawn_heartbeats(client.clone(), session.heartbeat_every(), session.json);
    let prs = Arc::new(std::sync::atomic::AtomicU64::new(
        rand::rng().random_range(100..900),
    ));
    let mut jobs: JoinSet<Result<(), ClientError>> = JoinSet::new();
    let mut started: u64 = 0;
    let mut finished: u64 = 0;
    let mut claim: Option<ClaimFuture> = None;
    let mut backoff = Duration::from_secs(2);
    let mut idle_reported = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);

    let outcome: anyhow::Result<()> = loop {
        let more_wanted = args.max_tasks.is_none_or(|max| started < max);
        if claim.is_none() && more_wanted && jobs.len() < max_concurrent {
            let c = client.clone();
            let wait = args.wait;
            claim = Some(Box::pin(async move {
                let t0 = tokio::time::Instant::now();
                let r = c.claim(Some(wait)).await;
                if matches!(r, Ok(None)) && t0.elapsed() < Duration::from_secs(1) {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
                r
            }));
        }
        if claim.is_none() && jobs.is_empty() {
            break Ok(());
        }
        tokio::select! {
            _ = &mut ctrl_c => {
                if !session.json {
                    say!();
                }
                log.step(
                    "stopped",
                    None,
                    &format!(
                        "{} task(s) still held: they expire and return to the pool, or resume with `owp worker run{}`",
                        jobs.len(),
                        profile_flag(&args.common)
                    ),
                );
                break Ok(());
            }
            result = async { claim.as_mut().expect("guarded by is_some").await }, if claim.is_some() => {
                claim = None;
                match result {
                    Ok(Some(lease)) => {
                        backoff = Duration::from_secs(2);
                        idle_reported = false;
                        started += 1;
                        let task = &lease.task;
                        log.step(
                            "claimed",
                            Some(task),
                            &format!(
                                "{}{} pts{}",
                                task.key.as_deref().map(|k| format!("{k} · ")).unwrap_or_default(),
                                task.estimate_points,
                                task.area.as_deref().map(|a| format!(" · area {a}")).unwrap_or_default()
                            ),
                        );
                        let jitter = rand::rng().random_range(0.75..=1.25);
                        let work = Duration::from_secs_f64(args.work_seconds * jitter);
                        jobs.spawn(simulate_one(client.clone(), lease, work, log.clone(), prs.clone()));
                    }
                    Ok(None) => {
                        if !idle_reported {
                            idle_reported = true;
                            log.step(
                                "waiting",
                                None,
                                "nothing eligible now (skills, capacity, review budget or area locks); still asking",
                            );
                        }
                    }
                    Err(e) if e.is_auth() => break Err(e.into()),
                    Err(e) => {
                        log.step("waiting", None, &format!("claim failed: {e}; retry in {}s", backoff.as_secs()));
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                }
            }
            Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                match done {
                    Ok(Ok(())) => finished += 1,
                    Ok(Err(e)) if e.is_auth() => break Err(e.into()),
                    Ok(Err(e)) => log.step("failed", None, &e.to_string()),
                    Err(e) => log.step("failed", None, &format!("simulated task stopped: {e}")),
                }
            }
        }
    };
    heartbeats.abort();
    jobs.abort_all();
    if outcome.is_ok() && args.max_tasks.is_some_and(|max| finished >= max) {
        log.step("done", None, &format!("{finished} task(s) simulated"));
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn sample_config() -> WorkerConfig {
        WorkerConfig {
            server: "http://127.0.0.1:8787".into(),
            worker_id: "w_123".into(),
            token: "owp_secret_token".into(),
            name: "Alice".into(),
            heartbeat_ttl_seconds: Some(90),
            lease_ttl_seconds: Some(1800),
            accept_ttl_seconds: Some(120),
            registered_at: Some("2030-01-01T00:00:00Z".into()),
            agent: None,
        }
    }

    #[test]
    fn config_round_trip_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = config_file(&dir.path().join("nested").join("owp"), Some("bob")).unwrap();
        assert!(path.ends_with("worker-bob.json"));
        assert_eq!(load_config(&path).unwrap(), None);
        let config = sample_config();
        save_config(&path, &config).unwrap();
        assert_eq!(load_config(&path).unwrap(), Some(config.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "mode was {mode:o}");
            let dir_mode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(dir_mode & 0o077, 0, "folder mode was {dir_mode:o}");
        }
        // Saving again replaces the file.
        let mut second = config;
        second.worker_id = "w_456".into();
        save_config(&path, &second).unwrap();
        assert_eq!(load_config(&path).unwrap().unwrap().worker_id, "w_456");
        // Nothing else is left in the folder (no temporary files).
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }

    #[test]
    fn broken_config_says_register_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = load_config(&path).unwrap_err().to_string();
        assert!(err.contains("owp worker register"), "{err}");
    }

    #[test]
    fn token_never_prints_in_debug() {
        assert!(!format!("{:?}", sample_config()).contains("owp_secret_token"));
    }

    #[test]
    fn config_dir_precedence() {
        let explicit = Path::new("/etc/owp-test");
        assert_eq!(
            config_dir(Some(explicit), Some("/x".into()), Some("/home/a".into())),
            Some(PathBuf::from("/etc/owp-test"))
        );
        assert_eq!(
            config_dir(None, Some("/xdg".into()), Some("/home/a".into())),
            Some(PathBuf::from("/xdg/owp"))
        );
        // A relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
        assert_eq!(
            config_dir(None, Some("rel".into()), Some("/home/a".into())),
            Some(PathBuf::from("/home/a/.config/owp"))
        );
        assert_eq!(config_dir(None, None, None), None);
    }

    #[test]
    fn profile_names_are_checked() {
        let dir = Path::new("/tmp/owp");
        assert_eq!(config_file(dir, None).unwrap(), dir.join("worker.json"));
        assert!(config_file(dir, Some("../evil")).is_err());
        assert!(config_file(dir, Some("")).is_err());
        assert!(config_file(dir, Some(".hidden")).is_err());
        assert!(config_file(dir, Some("alice_2")).is_ok());
    }

    #[test]
    fn capabilities_keep_their_types() {
        let caps = parse_capabilities(&[
            "tool=claude-code".into(),
            "can_run_tests=true".into(),
            "max_minutes=90".into(),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            caps,
            serde_json::json!({"tool": "claude-code", "can_run_tests": true, "max_minutes": 90})
        );
        assert!(parse_capabilities(&["novalue".into()]).is_err());
        assert_eq!(
            parse_capabilities(&["ratio=0.5".into(), "v=1.2.3".into(), "nan=NaN".into()])
                .unwrap()
                .unwrap(),
            serde_json::json!({"ratio": 0.5, "v": "1.2.3", "nan": "NaN"})
        );
        assert_eq!(parse_capabilities(&[]).unwrap(), None);
    }

    #[test]
    fn an_agent_command_is_a_detected_capability() {
        assert!(detected_capabilities(None).is_empty());
        assert!(detected_capabilities(Some("  ")).is_empty());
        assert_eq!(
            Value::Object(detected_capabilities(Some("claude -p {brief}"))),
            serde_json::json!({"agent_handoff": true, "agent": "claude"})
        );
        assert_eq!(
            detected_capabilities(Some(r#""C:\\Tools\\Codex.exe" exec {brief}"#))["agent"],
            "codex"
        );
        assert_eq!(
            detected_capabilities(Some("/usr/local/bin/aider --message-file {brief}"))["agent"],
            "aider"
        );
        assert_eq!(
            detected_capabilities(Some(r"C:\tools\goose.cmd run {brief}"))["agent"],
            "goose"
        );
    }

    #[test]
    fn fake_pr_urls() {
        assert_eq!(
            fake_pr_url("octo/demo", 17),
            "https://github.com/octo/demo/pull/17"
        );
        assert_eq!(
            fake_pr_url("demo", 17),
            "https://example.invalid/demo/pull/17"
        );
        assert_eq!(
            fake_pr_url("my team:web", 3),
            "https://example.invalid/my-team-web/pull/3"
        );
    }

    #[test]
    fn picking_a_lease() {
        assert!(pick(0, None).is_err());
        assert!(pick(0, Some(1)).is_err());
        assert_eq!(pick(1, None), Ok(0));
        assert_eq!(pick(3, Some(3)), Ok(2));
        assert!(pick(3, None).unwrap_err().contains("say which"));
        assert!(pick(2, Some(5)).is_err());
    }

    fn parse(args: &[&str]) -> Result<WorkerCommand, clap::Error> {
        let cli = Cli::try_parse_from(args)?;
        match cli.command {
            Command::Worker(cmd) => Ok(cmd),
            other => panic!("not a worker command: {other:?}"),
        }
    }

    #[test]
    fn register_arguments() {
        let cmd = parse(&[
            "owp",
            "worker",
            "register",
            "--server",
            "http://127.0.0.1:8787",
            "--name",
            "Alice",
            "--skills",
            "python,docs",
            "--capacity",
            "5",
            "--profile",
            "alice",
        ])
        .unwrap();
        let WorkerCommand::Register(args) = cmd else {
            panic!("expected register")
        };
        assert_eq!(args.name, "Alice");
        assert_eq!(args.worker.skills, vec!["python", "docs"]);
        assert_eq!(args.worker.capacity, 5);
        assert_eq!(args.worker.max_concurrent, 2);
        assert_eq!(args.common.profile.as_deref(), Some("alice"));
        assert_eq!(args.common.server.as_deref(), Some("http://127.0.0.1:8787"));
        // Capacity must be at least 1; a name is required.
        assert!(
            parse(&[
                "owp",
                "worker",
                "register",
                "--name",
                "A",
                "--capacity",
                "0"
            ])
            .is_err()
        );
        assert!(parse(&["owp", "worker", "register", "--skills", "rust"]).is_err());
    }

    #[test]
    fn run_and_simulate_arguments() {
        let WorkerCommand::Run(run) = parse(&["owp", "worker", "run", "--no-prompt"]).unwrap()
        else {
            panic!("expected run")
        };
        assert!(run.no_prompt);
        assert_eq!(run.wait, 25);
        assert!(parse(&["owp", "worker", "run", "--wait", "31"]).is_err());

        let WorkerCommand::Simulate(sim) = parse(&[
            "owp",
            "worker",
            "simulate",
            "--register",
            "--name",
            "Demo",
            "--skills",
            "python",
            "--work-seconds",
            "0.5",
            "--max-tasks",
            "3",
            "--json",
        ])
        .unwrap() else {
            panic!("expected simulate")
        };
        assert!(sim.register && sim.common.json);
        assert_eq!(sim.max_tasks, Some(3));
        assert_eq!(sim.work_seconds, 0.5);
        // --register needs a name.
        assert!(parse(&["owp", "worker", "simulate", "--register"]).is_err());

        let WorkerCommand::Heartbeat(hb) =
            parse(&["owp", "worker", "heartbeat", "--pause"]).unwrap()
        else {
            panic!("expected heartbeat")
        };
        assert!(hb.pause && !hb.resume);
        assert!(parse(&["owp", "worker", "heartbeat", "--pause", "--resume"]).is_err());
        assert!(matches!(
            parse(&["owp", "worker", "status", "--json"]).unwrap(),
            WorkerCommand::Status(CommonArgs { json: true, .. })
        ));
    }
}
