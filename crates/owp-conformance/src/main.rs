//! `owp-conformance URL --admin-token TOKEN`: the protocol's conformance suite as a command of its
//! own, for any OWP server (the same run as `owp conformance`).

use std::process::ExitCode;

use clap::Parser;

/// Check any OWP server against the protocol over HTTP: one line per case, exit 0 only when
/// nothing failed.
#[derive(Parser, Debug)]
#[command(name = "owp-conformance", version)]
struct Cli {
    #[command(flatten)]
    args: owp_conformance::ConformanceArgs,
}

fn main() -> ExitCode {
    owp_conformance::closed_pipe::quiet_on_closed_pipe();
    let cli = Cli::parse();
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
    match runtime.block_on(owp_conformance::run(cli.args)) {
        Ok(true) => ExitCode::SUCCESS,
        // Its summary line is already printed.
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
