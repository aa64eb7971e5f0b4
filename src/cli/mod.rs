//! The `owp` command line: `serve` runs the service; `worker` and `admin` are its clients.

pub mod admin;
pub mod agent;
pub mod backup;
pub mod brief;
pub mod client;
pub mod demo;
pub mod disclosure;
pub mod exit;
pub mod login;
pub mod mcp;
pub mod present;
pub mod prompt;
pub mod server_url;
pub mod transport;
pub mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::ServeConfig;

#[derive(Parser, Debug)]
#[command(
    name = "owp",
    version,
    about = "OWP Pool: a capacity-aware scheduler for pull requests"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the OWP scheduler service.
    Serve(ServeConfig),
    /// Worker commands: join, register, run, simulate.
    #[command(subcommand)]
    Worker(worker::WorkerCommand),
    /// Admin commands: init-repo, import-tasks, state, …
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// A Model Context Protocol server on stdio: your AI tool works as a saved worker profile.
    Mcp(mcp::McpArgs),
    /// Load generator: claims/s and latency percentiles on a temporary database.
    Bench(owp_bench::BenchArgs),
    /// Exit 0 when the service at --url is ready: /readyz answers 200 (its database answers), for
    /// container health checks.
    Healthcheck {
        /// The readiness address to ask [default: http://127.0.0.1:$OWP_PORT/readyz, the port
        /// `owp serve` listens on in the same environment, 8787 when unset].
        #[arg(long, env = "OWP_HEALTHCHECK_URL")]
        url: Option<String>,
    },
    /// Copy the SQLite database to a new file, safely while `owp serve` runs (PostgreSQL: the
    /// `pg_dump` command to use).
    Backup(backup::BackupArgs),
    /// Write a backup made by `owp backup` where no database is, then start `owp serve` on it.
    Restore(backup::RestoreArgs),
    /// The whole story in one command: a temporary pool with simulated workers, narrated live.
    Demo(demo::DemoArgs),
    /// Check this machine's configuration (database, admin token, GitHub App, public URL).
    #[command(
        mut_arg("host", |a| a.help("The address `owp serve` listens on (doctor itself listens on nothing)")),
        mut_arg("port", |a| a.help("The port `owp serve` listens on (doctor itself listens on nothing)"))
    )]
    Doctor(ServeConfig),
    /// Who merged the most: workers that opted in to the leaderboard, by merged tasks.
    Leaderboard(admin::LeaderboardArgs),
    /// Sign in to an OWP server with GitHub (as a maintainer): `owp admin …` then works with this
    /// sign-in, limited to the repositories you maintain.
    Login(login::LoginArgs),
    /// Sign out: the saved maintainer token ends and leaves this machine.
    Logout(login::LogoutArgs),
    /// Check any OWP server against the protocol over HTTP: one line per case, exit 0 only when
    /// nothing failed.
    Conformance(crate::conformance::ConformanceArgs),
}

/// A failure already written to the log.
#[derive(Debug, thiserror::Error)]
#[error("logged")]
struct Logged;

/// Runs a parsed command line; errors are printed as one clear line.
pub fn run(cli: Cli) -> ExitCode {
    owp_conformance::closed_pipe::quiet_on_closed_pipe();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(config) => {
                let e = match crate::server::run(config.clone()).await {
                    Ok(()) => return Ok(()),
                    Err(e) => exit::explain_serve_error(e, &config),
                };
                // With JSON logs, the one line of a failed start is a JSON line too.
                if config.log_format == crate::config::LogFormat::Json {
                    tracing::error!("{}", exit::error_line(&e));
                    return Err(anyhow::Error::new(Logged));
                }
                Err(e)
            }
            Command::Worker(cmd) => worker::run(cmd).await,
            Command::Admin(cmd) => admin::run(cmd).await,
            Command::Mcp(args) => mcp::run(args).await,
            Command::Bench(args) => owp_bench::run(args).await,
            Command::Healthcheck { url } => {
                let port = std::env::var("OWP_PORT").ok();
                healthcheck(&healthcheck_url(url, port.as_deref())).await
            }
            Command::Backup(args) => backup::backup(args),
            Command::Restore(args) => backup::restore(args),
            Command::Demo(args) => demo::run(args).await,
            Command::Doctor(config) => crate::doctor::run(config, login::for_doctor()).await,
            Command::Leaderboard(args) => admin::leaderboard(args).await,
            Command::Login(args) => login::login(args).await,
            Command::Logout(args) => login::logout(args).await,
            Command::Conformance(args) => match crate::conformance::run(args).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(anyhow::Error::new(crate::conformance::RunFailed)),
                Err(e) => Err(e),
            },
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Its summary line is already printed (or logged).
        Err(e) if e.is::<crate::conformance::RunFailed>() || e.is::<Logged>() => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{}", exit::error_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The port of `owp serve` on this machine: `OWP_PORT` (given as `port`) when it names one, else
/// the default.
pub(crate) fn local_port(port: Option<&str>) -> u16 {
    port.and_then(|p| p.trim().parse::<u16>().ok())
        .filter(|p| *p != 0)
        .unwrap_or(crate::config::DEFAULT_PORT)
}

/// Where `owp healthcheck` asks: `--url` (or `OWP_HEALTHCHECK_URL`) when given, else `/readyz` on
/// this machine at the port `owp serve` takes from the same environment (`OWP_PORT`).
fn healthcheck_url(explicit: Option<String>, port: Option<&str>) -> String {
    if let Some(url) = explicit.filter(|u| !u.trim().is_empty()) {
        return url;
    }
    format!("http://127.0.0.1:{}/readyz", local_port(port))
}

async fn healthcheck(url: &str) -> anyhow::Result<()> {
    let res = transport::http_client(std::time::Duration::from_secs(3))?
        .get(url)
        .timeout(std::time::Duration::from_secs(3))
        .send()
        .await
        .map_err(|_| anyhow::anyhow!("{url} is not answering"))?;
    if !res.status().is_success() {
        anyhow::bail!("{url} answered {}", res.status());
    }
    Ok(())
}
