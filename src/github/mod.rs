//! The GitHub App: the building blocks that face GitHub.
//!
//! - [`signature`]: verifies `X-Hub-Signature-256` on webhook deliveries.
//! - [`commands`]: the markdown-aware parser of `/owp …` comment commands.
//! - [`labels`]: from an issue's labels to its task's fields.
//! - [`links`]: the issues a pull request body closes.
//! - [`messages`]: every comment text the App writes.
//! - [`repo_config`]: the per-repository `.github/owp.yml`.

pub mod commands;
pub mod labels;
pub mod links;
pub mod messages;
pub mod repo_config;
pub mod signature;
