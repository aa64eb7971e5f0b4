//! The `owp` binary: parses the command line and hands over to the library.

use clap::Parser;

/// mimalloc for the Rust side: the request path allocates and frees on several threads at once,
/// where glibc's allocator spent a fifth of the server's time (`docs/performance.md`).
/// Transparent huge pages are off for it (`no_thp`): with 1,000 connections they held ~20 MB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    owp::config::load_env_files(std::env::args_os().nth(1).as_deref());
    let cli = owp::cli::Cli::parse();
    owp::cli::run(cli)
}

/// glibc still serves the C side (SQLite's page caches and statements). It gives busy threads
/// malloc arenas of their own (up to eight per core), and each keeps the memory its thread freed;
/// two arenas are enough, unless `MALLOC_ARENA_MAX` says otherwise. Runs before any thread starts.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: `mallopt` only sets a tuning parameter of the allocator; no other thread runs
        // yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
