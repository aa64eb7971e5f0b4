//! The `owp` command line: `serve` runs the service; `worker` and `admin` are its clients.

pub mod admin;
pub mod client;
pub mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::ServeConfig;

#[derive(Parser, Debug)]
#[command(name = "owp", version, about = "OWP Pool: a capacity-aware scheduler for pull requests")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the OWP scheduler service.
    Serve(ServeConfig),
    /// Worker commands: register, run, simulate.
    #[command(subcommand)]
    Worker(worker::WorkerCommand),
    /// Admin commands: init-repo, import-tasks, state, …
    #[command(subcommand)]
    Admin(admin::AdminCommand),
}

/// Runs a parsed command line; errors are printed as one clear line.
pub fn run(cli: Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(config) => crate::server::run(config).await,
            Command::Worker(cmd) => worker::run(cmd).await,
            Command::Admin(cmd) => admin::run(cmd).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
