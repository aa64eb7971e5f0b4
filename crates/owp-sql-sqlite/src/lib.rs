//! The store's fixed SQL statements as typed functions for SQLite, each checked by the
//! compiler against the SQLite schema (`migrations/sqlite`).
//!
//! The statements and their functions are the files under `sql/` at the workspace root, shared
//! with `owp-sql-postgres`: one text checked against both schemas. See docs/design.md,
//! "Statements the compiler checks".

/// The database every function here runs on.
pub type Db = sqlx::Sqlite;

#[path = "../../../sql/gauges.rs"]
pub mod gauges;
