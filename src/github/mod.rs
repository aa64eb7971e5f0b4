//! The GitHub App: the building blocks that face GitHub.
//!
//! Everything here is independent of storage, so each piece can be tested on its own and called
//! from the webhook inbox, the outbox sender and reconciliation.
//!
//! Reading what GitHub sends:
//! - [`signature`]: verifies `X-Hub-Signature-256` on the raw body of a delivery.
//! - [`events`]: turns a delivery into our own typed [`events::Event`].
//! - [`commands`]: the markdown-aware parser of `/owp …` comment commands.
//! - [`labels`]: from an issue's labels to its task's fields.
//! - [`links`]: the issues a pull request body closes.
//! - [`repo_config`]: a repository's `.github/owp.yml`.
//!
//! Writing to GitHub:
//! - [`messages`]: every comment text the App writes, with the markers that find them again.
//! - [`throttle`]: how often the App answers one person.
//!
//! Talking to GitHub:
//! - [`app_auth`]: the App JWT and one client (and token cache) per installation.
//! - [`rest`]: REST calls where octocrab's typed API does not fit.
//! - [`manifest`]: the App manifest and the exchange of GitHub's code for credentials.

pub mod api;
pub mod app_auth;
pub mod apply;
pub mod claims;
pub mod commands;
pub mod events;
pub mod inbox;
pub mod labels;
pub mod link;
pub mod links;
pub mod manifest;
pub mod messages;
pub mod outbox;
pub mod reconcile;
pub mod repo_config;
pub mod rest;
pub mod service;
pub mod setup;
pub mod signature;
pub mod throttle;
pub mod webhook;
