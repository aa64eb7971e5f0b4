//! `owp admin …`: repo policies, task import, the pool's state, and manual overrides.
//!
//! The admin token comes from `--admin-token` or `OWP_ADMIN_TOKEN`; `owp serve` saves a generated
//! one to `./env.local`, which `owp admin` (like `serve`, `doctor` and `leaderboard`) reads when run
//! in that folder. Without it, a maintainer's own sign-in (`owp login URL`) is used: the server
//! then shows and changes only the repositories that person maintains, and without `--server`
//! the commands go to the server of that sign-in (and say so).

use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use chrono::Utc;

use super::client::present::clip;
use super::client::{ClientError, DEFAULT_SERVER, OwpClient, RepoPolicy, Worker, say};
use crate::domain::model::{TaskStatus, Visibility};
use crate::domain::rules::review_slots_used;
use crate::domain::secret::Secret;

mod agents_md;
mod import;
mod keys;
mod proposals;
mod render;
mod typos;
mod vouched;

use import::import_tasks;
pub use import::{TaskDocument, parse_task_document};
use render::{describe_task, describe_worker};
pub use render::{render_leaderboard, render_state};
pub use vouched::render_vouched;

#[derive(clap::Subcommand, Debug)]
pub enum AdminCommand {
    /// Create or update a repo policy (its review budget and area locks).
    InitRepo(InitRepoArgs),
    /// Import tasks from a YAML or JSON file; tasks whose `key` exists are updated.
    ImportTasks(ImportTasksArgs),
    /// Show repos (review budget), workers (online, load) and tasks by status.
    State(StateArgs),
    /// Show one task.
    Task(TaskArgs),
    /// List the plans proposed for a task, approve one or decline one (plans first).
    #[command(subcommand)]
    Proposals(proposals::ProposalsCommand),
    /// Force a task's status (e.g. `merged`, `ready`, `blocked`).
    SetStatus(SetStatusArgs),
    /// Show a worker, or change its trust level or pause it.
    Worker(WorkerArgs),
    /// End every session and maintainer token of a person signed in with GitHub (admin only).
    Revoke(RevokeArgs),
    /// Print a block for a repository's AGENTS.md: AI tools take its issues through the pool.
    AgentsMd(AgentsMdArgs),
    /// Print a repository's merged vouch list in the format of VOUCHED.td (to commit it).
    Vouched(VouchedArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct VouchedArgs {
    /// The repository (`owner/name`).
    pub repo: String,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct AgentsMdArgs {
    /// The repository (`owner/name`).
    pub repo: String,
    /// The pool's address as volunteers reach it [default: the server asked].
    #[arg(long)]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct RevokeArgs {
    /// The person's GitHub login.
    pub login: String,
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// Options every `owp admin` command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct AdminArgs {
    /// OWP server URL [default: the server `owp login` signed in to when no admin token is
    /// given, else http://127.0.0.1:$OWP_PORT, 8787 unless set].
    #[arg(long, env = "OWP_SERVER")]
    pub server: Option<String>,
    /// Admin token (`owp serve` saves a generated one to ./env.local).
    #[arg(long, env = "OWP_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

impl AdminArgs {
    /// The server to talk to: `--server` (or `OWP_SERVER`); without it and without an admin
    /// token, the server of the saved sign-in (`owp login`), said on stderr; else this machine's,
    /// at the port `owp serve` takes from the same environment (`OWP_PORT`).
    fn server(&self) -> String {
        if let Some(server) = self.server.as_deref().filter(|s| !s.trim().is_empty()) {
            return server.to_string();
        }
        if self.admin_token.is_none() {
            let explicit = std::env::var_os("OWP_CONFIG_DIR").map(PathBuf::from);
            if let Some(saved) = super::login::saved(explicit.as_deref()) {
                eprintln!(
                    "owp admin: using {}, where `owp login` signed you in as {} (--server picks another)",
                    saved.server, saved.login
                );
                return saved.server;
            }
        }
        local_server(std::env::var("OWP_PORT").ok().as_deref())
    }

    /// ` --server URL` for a next command to copy, when this one was given a server other than
    /// the default (a sign-in's server needs none: it is the default for its person).
    fn server_flag(&self) -> String {
        match self.server.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() && s.trim_end_matches('/') != DEFAULT_SERVER => {
                format!(" --server {}", shell_word(s))
            }
            _ => String::new(),
        }
    }

    fn client(&self) -> anyhow::Result<OwpClient> {
        let server = self.server();
        let client = OwpClient::new(&server)?;
        if self.admin_token.is_some()
            && crate::config::admin_token_from_env_file()
            && !admin_token_flag_given(std::env::args())
        {
            let public = std::env::var("OWP_PUBLIC_URL").ok();
            if !env_file_token_may_go_to(&server, public.as_deref()) {
                anyhow::bail!(
                    "the admin token in env.local is for the server on this machine, not {server}; \
                     to send a token there, pass it with --admin-token"
                );
            }
        }
        // Without the admin token, a maintainer's own sign-in (`owp login`) for this server.
        let token = match &self.admin_token {
            Some(t) => Some(t.expose().to_string()),
            None => super::login::token_for(&server),
        };
        Ok(client.with_admin_token(token))
    }
}

/// `owp serve` on this machine, at `OWP_PORT` (given as `port`) or the default port.
fn local_server(port: Option<&str>) -> String {
    match super::local_port(port) {
        crate::config::DEFAULT_PORT => DEFAULT_SERVER.to_string(),
        port => format!("http://127.0.0.1:{port}"),
    }
}

/// Whether the command line itself gives `--admin-token`.
fn admin_token_flag_given(args: impl Iterator<Item = String>) -> bool {
    args.take_while(|a| a != "--")
        .any(|a| a == "--admin-token" || a.starts_with("--admin-token="))
}

/// Whether a token read from the working directory's env files may go to `server`: a server on
/// this machine, or the service's own public address (`OWP_PUBLIC_URL`, same origin).
fn env_file_token_may_go_to(server: &str, public_url: Option<&str>) -> bool {
    if crate::config::on_this_machine(server) {
        return true;
    }
    let origin = |u: &str| url::Url::parse(u).ok().map(|u| u.origin());
    match (origin(server), public_url.and_then(origin)) {
        (Some(server), Some(public)) => server.is_tuple() && server == public,
        _ => false,
    }
}

/// `owp leaderboard`: with the admin token every repository counts; without one the server
/// answers only with public boards on, counting public repositories.
#[derive(clap::Args, Debug, Clone)]
pub struct LeaderboardArgs {
    /// Only this repository.
    #[arg(long)]
    pub repo: Option<String>,
    /// Merges of the last N days (1 to 3660) [server default: 30].
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..=3660))]
    pub days: Option<i64>,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct InitRepoArgs {
    /// Repo key: `owner/name` for a GitHub repo, any name otherwise.
    pub repo: String,
    /// Review budget: open pull requests plus active leases allowed at once.
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..))]
    pub max_open_prs: i64,
    /// Let several tasks of the same area run at once.
    #[arg(long, conflicts_with = "area_locks")]
    pub no_area_locks: bool,
    /// Allow only one active task per area (the default for new repos).
    #[arg(long)]
    pub area_locks: bool,
    /// Let anyone read this repo's board when the service runs with public boards
    /// (`OWP_PUBLIC_BOARDS`). New repos are private unless this is given.
    #[arg(long, conflicts_with = "private")]
    pub public: bool,
    /// Keep this repo's board to admins (the default for new repos).
    #[arg(long)]
    pub private: bool,
    /// Where workers clone the repo from (any URL or path `git clone` accepts).
    #[arg(long, value_name = "URL")]
    pub clone_url: Option<String>,
    /// The repo contract: a YAML or JSON file with `setup`, `test`, `lint`, `branch`,
    /// `pr_template`, `instructions` (each optional).
    #[arg(long, value_name = "FILE")]
    pub contract: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ImportTasksArgs {
    /// A YAML or JSON file (a list of tasks, or `{repo?, tasks: [...]}`), or a Beads
    /// `.beads/issues.jsonl`.
    pub file: PathBuf,
    /// Repo to import into [default: `repo:` in the file].
    #[arg(long)]
    pub repo: Option<String>,
    /// Refuse the file when a task has a field the import does not read (a typo such as
    /// `estimate:` for `estimate_points:`), instead of importing it without that field.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct StateArgs {
    /// Only this repo.
    #[arg(long)]
    pub repo: Option<String>,
    /// Also list merged and cancelled tasks.
    #[arg(long)]
    pub all: bool,
    /// How many recent events to show.
    #[arg(long, default_value_t = 10)]
    pub events: usize,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct TaskArgs {
    /// Task id, or its key.
    pub task_id: String,
    /// The repo of the task's key (needed when several repos have a task with that key).
    #[arg(long)]
    pub repo: Option<String>,
    #[command(flatten)]
    pub admin: AdminArgs,
}

fn status_names() -> Vec<&'static str> {
    TaskStatus::ALL.iter().map(|s| s.as_str()).collect()
}

#[derive(clap::Args, Debug, Clone)]
pub struct SetStatusArgs {
    /// Task id, or its key.
    pub task_id: String,
    /// The repo of the task's key (needed when several repos have a task with that key).
    #[arg(long)]
    pub repo: Option<String>,
    /// The new status.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(status_names()))]
    pub status: String,
    /// Why (kept in the audit log; shown on blocked tasks).
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub admin: AdminArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct WorkerArgs {
    /// Worker id (or its exact name, when only one worker has it).
    pub worker: String,
    /// Trust level: tasks of tier ≤ N may be offered to this worker.
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..))]
    pub trust: Option<i64>,
    /// Offer this worker no new work.
    #[arg(long, conflicts_with = "resume")]
    pub pause: bool,
    /// Offer this worker work again.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub admin: AdminArgs,
}

pub async fn run(cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::InitRepo(args) => init_repo(args).await,
        AdminCommand::ImportTasks(args) => import_tasks(args).await,
        AdminCommand::State(args) => state(args).await,
        AdminCommand::Task(args) => show_task(args).await,
        AdminCommand::Proposals(command) => proposals::run(command).await,
        AdminCommand::SetStatus(args) => set_status(args).await,
        AdminCommand::Worker(args) => worker(args).await,
        AdminCommand::Revoke(args) => revoke(args).await,
        AdminCommand::AgentsMd(args) => agents_md(args).await,
        AdminCommand::Vouched(args) => vouched_list(args).await,
    }
}

async fn vouched_list(args: VouchedArgs) -> anyhow::Result<()> {
    let client = args.admin.client()?;
    let answer = client.admin_vouched(&args.repo).await?;
    if args.admin.json {
        return print_json(&answer);
    }
    say!("{}", render_vouched(&answer).trim_end());
    Ok(())
}

async fn agents_md(args: AgentsMdArgs) -> anyhow::Result<()> {
    let client = args.admin.client()?;
    let state = client.admin_state(Some(&args.repo)).await?;
    let Some(policy) = state.repos.iter().find(|r| r.repo == args.repo) else {
        bail!(
            "{} is not a repository of this pool (or not one you maintain): `owp admin state` lists them",
            args.repo
        );
    };
    let meta = client.meta().await?;
    let github = meta["features"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x == "github"));
    let server = args.public_url.unwrap_or_else(|| client.base_url.clone());
    let text = agents_md::render(&agents_md::Source {
        policy,
        server: &server,
        github,
    });
    say!("{}", text.trim_end());
    Ok(())
}

async fn revoke(args: RevokeArgs) -> anyhow::Result<()> {
    let client = args.admin.client()?;
    let answer = client
        .admin_post(
            "/v1/admin/signin/revoke",
            &serde_json::json!({ "login": args.login }),
        )
        .await?;
    if args.admin.json {
        return print_json(&answer);
    }
    say!(
        "{}: {} session(s) and token(s) ended",
        answer["login"].as_str().unwrap_or(&args.login),
        answer["ended"].as_u64().unwrap_or(0)
    );
    Ok(())
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    say!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `2 of 3 review slots used`, plus `THROTTLED` when no new lease can start.
pub fn budget_line(p: &RepoPolicy) -> String {
    let used = review_slots_used(p.open_prs, p.active_leases);
    let mut out = format!("{used} of {} review slots used", p.max_open_prs);
    if file_budget(p) == Some(p.max_open_prs) {
        out.push_str(" (set in .github/owp.yml)");
    }
    if p.throttled {
        out.push_str("  THROTTLED");
    }
    out
}

/// The review budget the repository's `.github/owp.yml` sets, when it sets one (GitHub mode).
fn file_budget(p: &RepoPolicy) -> Option<i64> {
    p.extensions
        .get(crate::domain::model::CONFIG_BUDGET_FIELD)
        .and_then(serde_json::Value::as_i64)
}

// ---- init-repo ------------------------------------------------------------------------------

async fn init_repo(args: InitRepoArgs) -> anyhow::Result<()> {
    let repo = args.repo.trim();
    if repo.is_empty() {
        bail!("the repo key must not be empty");
    }
    let locks = if args.no_area_locks {
        Some(false)
    } else if args.area_locks {
        Some(true)
    } else {
        None
    };
    let visibility = if args.public {
        Some(Visibility::Public)
    } else if args.private {
        Some(Visibility::Private)
    } else {
        None
    };
    let contract = match &args.contract {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let contract: crate::domain::RepoContract = serde_yaml_ng::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{} is not a repo contract: {e}", path.display()))?;
            Some(contract)
        }
        None => None,
    };
    let client = args.admin.client()?;
    let mut policy = client
        .upsert_repo_with(repo, args.max_open_prs, locks, visibility)
        .await?;
    if contract.is_some() || args.clone_url.is_some() {
        let mut body = serde_json::json!({"repo": repo, "max_open_prs": args.max_open_prs});
        if let Some(c) = &contract {
            body["contract"] = serde_json::to_value(c)?;
        }
        if let Some(url) = &args.clone_url {
            body["clone_url"] = serde_json::Value::String(url.clone());
        }
        policy = client.upsert_repo_body(&body).await?;
    }
    if args.admin.json {
        return print_json(&policy);
    }
    say!(
        "repo {}: review budget {} open PRs · area locks {} · board {} · {}",
        policy.repo,
        policy.max_open_prs,
        if policy.area_locks_enabled {
            "on"
        } else {
            "off"
        },
        policy.visibility.as_str(),
        budget_line(&policy)
    );
    if let Some(n) = file_budget(&policy).filter(|n| *n != args.max_open_prs) {
        say!(
            "  note: .github/owp.yml of {} sets max_open_prs: {n}, which takes over again the next \
             time the App reads the file (within minutes); to keep {}, change it in the file",
            policy.repo,
            args.max_open_prs
        );
    }
    if let Some(url) = &policy.clone_url {
        say!("  cloned from {url}");
    }
    if let Some(c) = &policy.contract {
        let commands: Vec<String> = c
            .commands()
            .iter()
            .map(|(name, cmd)| format!("{name} `{cmd}`"))
            .collect();
        say!(
            "  contract: {}",
            if commands.is_empty() {
                "set".to_string()
            } else {
                commands.join(" · ")
            }
        );
    }
    say!(
        "next: `owp admin import-tasks FILE --repo {}{}`",
        shell_word(&policy.repo),
        args.admin.server_flag()
    );
    Ok(())
}

/// Quotes a word for a copy-pasted command line when it needs it.
fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./#:@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

// ---- import-tasks ---------------------------------------------------------------------------
// ---- state ----------------------------------------------------------------------------------

async fn state(args: StateArgs) -> anyhow::Result<()> {
    let client = args.admin.client()?;
    let state = client.admin_state(args.repo.as_deref()).await?;
    if args.admin.json {
        return print_json(&state);
    }
    let text = render_state(&state, args.all, args.events, Utc::now());
    say!("{}", text.trim_end());
    Ok(())
}

pub async fn leaderboard(args: LeaderboardArgs) -> anyhow::Result<()> {
    let client = args.admin.client()?;
    let board = client.leaderboard(args.repo.as_deref(), args.days).await?;
    if args.admin.json {
        return print_json(&board);
    }
    say!("{}", render_leaderboard(&board).trim_end());
    Ok(())
}

// ---- task, set-status, worker ---------------------------------------------------------------

async fn show_task(args: TaskArgs) -> anyhow::Result<()> {
    let client = args.admin.client()?;
    let task_id = keys::task_id(&client, &args.task_id, args.repo.as_deref()).await?;
    let task = client.get_task(&task_id).await?;
    if args.admin.json {
        return print_json(&task);
    }
    say!("{}", describe_task(&task));
    if task.policy.is_some_and(|p| p.plans_first())
        && let Ok(list) = client.task_proposals(&task_id).await
    {
        for line in proposals::lines(&client, &list).await {
            say!("{line}");
        }
    }
    Ok(())
}

async fn set_status(args: SetStatusArgs) -> anyhow::Result<()> {
    let client = args.admin.client()?;
    let task_id = keys::task_id(&client, &args.task_id, args.repo.as_deref()).await?;
    let changed = client
        .admin_task_status(&task_id, &args.status, args.reason.as_deref())
        .await?;
    if args.admin.json {
        return print_json(&changed);
    }
    match changed.task() {
        Some(t) => say!(
            "task {} ({}) is now {}",
            t.task_id,
            clip(&t.title, 60),
            t.status.as_str()
        ),
        None => say!("task {task_id} is now {}", args.status),
    }
    Ok(())
}

/// Finds a worker by id, or by a name only one worker has.
pub fn find_worker<'a>(workers: &'a [Worker], wanted: &str) -> anyhow::Result<&'a Worker> {
    if let Some(w) = workers.iter().find(|w| w.worker_id == wanted) {
        return Ok(w);
    }
    let by_name: Vec<&Worker> = workers
        .iter()
        .filter(|w| w.name.eq_ignore_ascii_case(wanted))
        .collect();
    match by_name.as_slice() {
        [one] => Ok(one),
        [] => Err(anyhow!(
            "no worker with id or name {wanted:?} (see `owp admin state`)"
        )),
        many => Err(anyhow!(
            "{} workers are named {wanted:?}: use an id ({})",
            many.len(),
            many.iter()
                .map(|w| w.worker_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let client = args.admin.client()?;
    let status = if args.pause {
        Some("paused")
    } else if args.resume {
        Some("idle")
    } else {
        None
    };
    // An id is used as given; a name is looked up first.
    let update = |id: String| {
        let client = client.clone();
        async move { client.admin_update_worker(&id, args.trust, status).await }
    };
    let changed = args.trust.is_some() || status.is_some();
    let worker = if changed {
        match update(args.worker.clone()).await {
            Ok(w) => w,
            Err(ClientError::Problem { status: 404, .. }) => {
                let state = client.admin_state(None).await?;
                let id = find_worker(&state.workers, &args.worker)?.worker_id.clone();
                update(id).await?
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        let state = client.admin_state(None).await?;
        find_worker(&state.workers, &args.worker)?.clone()
    };
    if args.admin.json {
        return print_json(&worker);
    }
    if changed {
        say!("updated:");
    }
    say!("{}", describe_worker(&worker));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::client::State;
    use serde_json::Value;

    #[test]
    fn the_local_server_follows_owp_port() {
        assert_eq!(local_server(None), DEFAULT_SERVER);
        assert_eq!(local_server(Some("9000")), "http://127.0.0.1:9000");
        assert_eq!(local_server(Some("nonsense")), DEFAULT_SERVER);
    }

    #[test]
    fn a_token_from_env_local_goes_only_to_this_machine_or_its_public_url() {
        for local in [
            "http://127.0.0.1:8787",
            "http://localhost:9000",
            "http://[::1]:8787",
        ] {
            assert!(env_file_token_may_go_to(local, None), "{local}");
        }
        assert!(!env_file_token_may_go_to("https://pool.example.org", None));
        assert!(env_file_token_may_go_to(
            "https://pool.example.org/",
            Some("https://pool.example.org")
        ));
        assert!(!env_file_token_may_go_to(
            "https://pool.example.org.evil.test",
            Some("https://pool.example.org")
        ));
        assert!(!env_file_token_may_go_to(
            "http://pool.example.org",
            Some("https://pool.example.org")
        ));
        let args = |a: &[&str]| {
            a.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .into_iter()
        };
        assert!(admin_token_flag_given(args(&[
            "owp",
            "admin",
            "state",
            "--admin-token",
            "x"
        ])));
        assert!(admin_token_flag_given(args(&[
            "owp",
            "admin",
            "--admin-token=x",
            "state"
        ])));
        assert!(!admin_token_flag_given(args(&["owp", "admin", "state"])));
    }
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn policy(max: i64, open: i64, active: i64) -> RepoPolicy {
        serde_json::from_value(serde_json::json!({
            "repo": "demo", "max_open_prs": max, "area_locks_enabled": true,
            "open_prs": open, "active_leases": active, "throttled": open + active >= max,
            "created_at": "2030-01-01T00:00:00Z", "updated_at": "2030-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn budget_lines() {
        assert_eq!(budget_line(&policy(3, 1, 1)), "2 of 3 review slots used");
        assert_eq!(
            budget_line(&policy(3, 2, 1)),
            "3 of 3 review slots used  THROTTLED"
        );
    }

    fn worker_json(id: &str, name: &str, online: bool) -> Value {
        serde_json::json!({
            "worker_id": id, "name": name, "skills": ["python"], "capacity_points": 5,
            "max_concurrent_tasks": 2, "github_login": null, "status": "idle", "online": online,
            "last_heartbeat": "2030-01-01T11:59:50Z", "trust_level": 0, "capabilities": {},
            "active_points": 3, "active_tasks": 1, "created_at": "2030-01-01T00:00:00Z"
        })
    }

    #[test]
    fn state_renders_budget_workers_and_tasks() {
        let state: State = serde_json::from_value(serde_json::json!({
            "repos": [policy(2, 1, 1)],
            "workers": [worker_json("w1", "Alice", true), worker_json("w2", "Bob", false)],
            "tasks": [
                {"task_id": "t1", "repo": "demo", "key": "D-1", "title": "Fix login", "description": "",
                 "estimate_points": 3, "priority": "high", "required_skills": [], "area": "auth", "tier": 0,
                 "status": "in_progress", "assigned_worker_id": "w1", "lease_id": "l1",
                 "lease_expires_at": "2030-01-01T12:30:00Z", "artifact": null, "attempts": 0,
                 "created_at": "2030-01-01T00:00:00Z", "updated_at": "2030-01-01T00:00:00Z"},
                {"task_id": "t2", "repo": "demo", "key": null, "title": "Old", "description": "",
                 "estimate_points": 1, "priority": "low", "required_skills": [], "area": null, "tier": 0,
                 "status": "merged", "assigned_worker_id": null, "lease_id": null,
                 "lease_expires_at": null, "artifact": {"pr_url": "https://x/pull/1"}, "attempts": 0,
                 "created_at": "2030-01-01T00:00:00Z", "updated_at": "2030-01-01T00:00:00Z"}
            ],
            "events": []
        }))
        .unwrap();
        let now = chrono::DateTime::parse_from_rfc3339("2030-01-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let text = render_state(&state, false, 10, now);
        assert!(
            text.contains("2 of 2 review slots used  THROTTLED"),
            "{text}"
        );
        assert!(text.contains("Workers (1 online, 1 offline)"), "{text}");
        assert!(text.contains("3/5 pts"), "{text}");
        assert!(
            text.contains("Tasks (2): 1 in_progress, 1 merged"),
            "{text}"
        );
        assert!(
            text.contains("Alice") && text.contains("expires in 30m"),
            "{text}"
        );
        assert!(
            !text.contains("Old"),
            "merged tasks are hidden by default: {text}"
        );
        assert!(text.contains("1 merged or cancelled not shown"), "{text}");
        assert!(render_state(&state, true, 10, now).contains("https://x/pull/1"));
    }

    #[test]
    fn state_renders_each_reviewers_load() {
        let mut repo = policy(5, 1, 0);
        repo.reviewers = serde_json::from_value(serde_json::json!([
            {"login": "alice", "open": 1, "capacity": 2, "away": false},
            {"login": "bob", "open": 0, "capacity": 1, "away": true,
             "away_until": "2030-01-08T12:00:00Z"},
            {"login": "carol", "open": 0, "capacity": 3, "away": true}
        ]))
        .unwrap();
        let state = State {
            repos: vec![repo],
            ..State::default()
        };
        let now = chrono::DateTime::parse_from_rfc3339("2030-01-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let text = render_state(&state, false, 10, now);
        assert!(
            text.contains(
                "reviewers of demo: alice 1/2, bob 0/1 (away until 2030-01-08 12:00 UTC), \
                 carol 0/3 (away)"
            ),
            "{text}"
        );
    }

    #[test]
    fn workers_are_found_by_id_or_unique_name() {
        let workers: Vec<Worker> = [
            worker_json("w1", "Alice", true),
            worker_json("w2", "Bob", true),
            worker_json("w3", "bob", false),
        ]
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
        assert_eq!(find_worker(&workers, "w2").unwrap().name, "Bob");
        assert_eq!(find_worker(&workers, "alice").unwrap().worker_id, "w1");
        assert!(
            find_worker(&workers, "Bob")
                .unwrap_err()
                .to_string()
                .contains("w2, w3")
        );
        assert!(find_worker(&workers, "Carol").is_err());
    }

    fn parse(args: &[&str]) -> Result<AdminCommand, clap::Error> {
        match Cli::try_parse_from(args)?.command {
            Command::Admin(cmd) => Ok(cmd),
            other => panic!("not an admin command: {other:?}"),
        }
    }

    #[test]
    fn admin_arguments() {
        let AdminCommand::InitRepo(a) = parse(&[
            "owp",
            "admin",
            "init-repo",
            "demo",
            "--max-open-prs",
            "2",
            "--no-area-locks",
            "--admin-token",
            "s3cret",
        ])
        .unwrap() else {
            panic!("expected init-repo")
        };
        assert_eq!(
            (a.repo.as_str(), a.max_open_prs, a.no_area_locks),
            ("demo", 2, true)
        );
        assert_eq!(a.admin.admin_token.unwrap().expose(), "s3cret");
        assert!(parse(&["owp", "admin", "init-repo", "demo"]).is_err());
        assert!(parse(&["owp", "admin", "init-repo", "demo", "--max-open-prs", "-1"]).is_err());
        assert!(
            parse(&[
                "owp",
                "admin",
                "init-repo",
                "d",
                "--max-open-prs",
                "1",
                "--area-locks",
                "--no-area-locks"
            ])
            .is_err()
        );
        let public = |extra: &[&str]| {
            let mut args = vec!["owp", "admin", "init-repo", "d", "--max-open-prs", "1"];
            args.extend_from_slice(extra);
            match parse(&args) {
                Ok(AdminCommand::InitRepo(a)) => Ok((a.public, a.private)),
                Ok(_) => panic!("expected init-repo"),
                Err(e) => Err(e),
            }
        };
        assert_eq!(public(&[]).unwrap(), (false, false));
        assert_eq!(public(&["--public"]).unwrap(), (true, false));
        assert_eq!(public(&["--private"]).unwrap(), (false, true));
        assert!(public(&["--public", "--private"]).is_err());

        let AdminCommand::ImportTasks(i) = parse(&[
            "owp",
            "admin",
            "import-tasks",
            "demo/tasks.yaml",
            "--repo",
            "demo",
        ])
        .unwrap() else {
            panic!("expected import-tasks")
        };
        assert_eq!(i.file, PathBuf::from("demo/tasks.yaml"));
        assert_eq!(i.repo.as_deref(), Some("demo"));

        let AdminCommand::SetStatus(s) = parse(&[
            "owp",
            "admin",
            "set-status",
            "t1",
            "merged",
            "--reason",
            "done by hand",
        ])
        .unwrap() else {
            panic!("expected set-status")
        };
        assert_eq!(
            (s.status.as_str(), s.reason.as_deref()),
            ("merged", Some("done by hand"))
        );
        assert!(parse(&["owp", "admin", "set-status", "t1", "done"]).is_err());

        let AdminCommand::Worker(w) =
            parse(&["owp", "admin", "worker", "w1", "--trust", "2", "--pause"]).unwrap()
        else {
            panic!("expected worker")
        };
        assert_eq!((w.trust, w.pause, w.resume), (Some(2), true, false));
        assert!(parse(&["owp", "admin", "worker", "w1", "--pause", "--resume"]).is_err());

        let AdminCommand::State(st) =
            parse(&["owp", "admin", "state", "--repo", "demo", "--json"]).unwrap()
        else {
            panic!("expected state")
        };
        assert!(st.admin.json);
        assert_eq!(st.repo.as_deref(), Some("demo"));
    }
}
