//! The store's fixed SQL statements as typed functions for PostgreSQL, each checked by the
//! compiler against the PostgreSQL schema (`migrations/postgres`).
//!
//! The statements and their functions are the files under `sql/` at the workspace root, shared
//! with `owp-sql-sqlite`: one text checked against both schemas. See docs/design.md,
//! "Statements the compiler checks".

/// The database every function here runs on.
pub type Db = sqlx::Postgres;

#[macro_use]
#[path = "../../../sql/macros.rs"]
mod macros;

#[path = "../../../sql/accounts.rs"]
pub mod accounts;
#[path = "../../../sql/board.rs"]
pub mod board;
#[path = "../../../sql/checks.rs"]
pub mod checks;
#[path = "../../../sql/claims.rs"]
pub mod claims;
#[path = "../../../sql/deps.rs"]
pub mod deps;
#[path = "../../../sql/device_links.rs"]
pub mod device_links;
#[path = "../../../sql/events.rs"]
pub mod events;
#[path = "../../../sql/gauges.rs"]
pub mod gauges;
#[path = "../../../sql/github.rs"]
pub mod github;
#[path = "../../../sql/github_rows.rs"]
pub mod github_rows;
#[path = "../../../sql/idempotency.rs"]
pub mod idempotency;
#[path = "../../../sql/identity.rs"]
pub mod identity;
#[path = "../../../sql/inbox.rs"]
pub mod inbox;
#[path = "../../../sql/installations.rs"]
pub mod installations;
#[path = "../../../sql/issues.rs"]
pub mod issues;
#[path = "../../../sql/leases.rs"]
pub mod leases;
#[path = "../../../sql/limits.rs"]
pub mod limits;
#[path = "../../../sql/postgres/locks.rs"]
pub mod locks;
#[path = "../../../sql/outbox.rs"]
pub mod outbox;
#[path = "../../../sql/outcomes.rs"]
pub mod outcomes;
#[path = "../../../sql/pacing.rs"]
pub mod pacing;
#[path = "../../../sql/paths.rs"]
pub mod paths;
#[path = "../../../sql/persons.rs"]
pub mod persons;
#[path = "../../../sql/presence.rs"]
pub mod presence;
#[path = "../../../sql/proposals.rs"]
pub mod proposals;
#[path = "../../../sql/pulls.rs"]
pub mod pulls;
#[path = "../../../sql/readiness.rs"]
pub mod readiness;
#[path = "../../../sql/repos.rs"]
pub mod repos;
#[path = "../../../sql/reputation.rs"]
pub mod reputation;
#[path = "../../../sql/reviewers.rs"]
pub mod reviewers;
#[path = "../../../sql/shared_settings.rs"]
pub mod shared_settings;
#[path = "../../../sql/signin.rs"]
pub mod signin;
#[path = "../../../sql/postgres/statistics.rs"]
pub mod statistics;
#[path = "../../../sql/tasks.rs"]
pub mod tasks;
#[path = "../../../sql/upkeep.rs"]
pub mod upkeep;
#[path = "../../../sql/vouch.rs"]
pub mod vouch;
#[path = "../../../sql/workers.rs"]
pub mod workers;
