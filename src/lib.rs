//! OWP Pool: the reference implementation of the Open Work Protocol.
//!
//! - `domain`: the objects, the state machine and the pure scheduling rules (the `owp-protocol`
//!   crate, `crates/owp-protocol`: no database, no web framework, no async runtime).
//! - `store`: every SQL query (SQLite and PostgreSQL), including the transactional claim (the
//!   `owp-store` crate, `crates/owp-store`: no web framework, no GitHub client, no metrics).
//! - `http`: the OWP REST API (axum), problem+json errors, auth, idempotency, SSE.
//! - `github`: the GitHub App (webhooks, commands, outbox, reconciliation: the `owp-github`
//!   crate, `crates/owp-github`: no web framework of its own, no HTTP routes, no metrics).
//! - `dashboard`: the HTML dashboard served at `/`.
//! - `cli`: the `owp` subcommands (`serve`, `worker`, `admin`, `demo`, …).
//! - `conformance`: `owp conformance`, the protocol's test suite for any server, over HTTP alone
//!   (the `owp-conformance` crate, `crates/owp-conformance`: a library and a command of its own).
//! - `owp bench` and its simulated GitHub are the `owp-bench` crate (`crates/owp-bench`), which
//!   drives `owp serve` as child processes.

/// This build's version (`owp --version`): in `/healthz`, `/readyz`, `/v1/meta` (`server`) and
/// the `owp_build_info` series of `/metrics`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod cli;
pub mod config;
pub use owp_conformance as conformance;
pub mod dashboard;
pub mod doctor;
pub use owp_github as github;
pub use owp_protocol as domain;
pub mod http;
pub mod metrics;
#[cfg(test)]
mod rules_written_once;
pub mod server;
#[cfg(test)]
mod source_code;
pub use owp_store as store;
