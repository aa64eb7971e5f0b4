//! The `owp` binary: parses the command line and hands over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    owp::config::load_env_files();
    let cli = owp::cli::Cli::parse();
    owp::cli::run(cli)
}
