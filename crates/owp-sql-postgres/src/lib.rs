//! The store's fixed SQL statements as typed functions for PostgreSQL, each checked by the
//! compiler against the PostgreSQL schema (`migrations/postgres`).
//!
//! The statements and their functions are the files under `sql/` at the workspace root, shared
//! with `owp-sql-sqlite`: one text checked against both schemas. See docs/design.md,
//! "Statements the compiler checks".

/// The database every function here runs on.
pub type Db = sqlx::Postgres;

#[path = "../../../sql/gauges.rs"]
pub mod gauges;
