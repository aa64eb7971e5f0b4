//! `owp worker …`: join a pool, take work, and report back.
//!
//! `register` saves the server URL, worker id and token to a small file (mode 0600), so the other
//! commands need no flags. `--profile NAME` keeps several workers on one machine.

use std::path::PathBuf;

pub mod join;
pub(crate) mod link;
pub(crate) mod profile;
mod register;
mod run;
mod simulate;
mod status;
mod why;

pub use self::link::{LinkArgs, LinkChoice};
use self::run::*;
pub use self::{profile::*, register::*, simulate::*, status::*};

use super::agent::AgentArgs;
use crate::domain::secret::Secret;

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
    /// Why not me: which ready tasks a claim would offer now, and every rule that keeps each of
    /// the others from this worker.
    Why(CommonArgs),
    /// Send one heartbeat: marks the worker online and renews every lease it holds.
    Heartbeat(HeartbeatArgs),
    /// Prove your GitHub account for this worker: open GitHub's device page and enter the code
    /// shown (the pool keeps your account id, never your GitHub token). Where the pool's App
    /// has no OAuth client, or with `--code`, prints a one-time `/owp link CODE` to comment on an
    /// issue of a repository that uses the OWP Pool GitHub App instead.
    Link(LinkArgs),
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
    /// Your GitHub login, shown only, unverified: it proves nothing and links nothing (prove your
    /// account with `owp worker link`, which `register` and `join` run at a terminal).
    #[arg(long, value_name = "LOGIN")]
    pub github_login: Option<String>,
    /// A capability to advertise, e.g. `agent=claude-code` (the tool that makes your pull requests:
    /// `owp mcp` and `owp worker run --agent` disclose it, with `model=…`, where a repository
    /// requires it) or `can_run_tests=true` (repeatable).
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
    pub link: LinkChoice,
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
        WorkerCommand::Why(args) => why::why(args).await,
        WorkerCommand::Heartbeat(args) => heartbeat(args).await,
        WorkerCommand::Link(args) => link::link(args).await,
        WorkerCommand::Join(args) => join::join(args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use serde_json::Value;
    use std::path::Path;

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
