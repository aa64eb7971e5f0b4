//! The pools of the statements the compiler checks.
//!
//! A statement whose text is fixed lives in `sql/` as a typed function, compiled twice: by the
//! crate `owp_sql_sqlite`, checked against the SQLite schema, and by `owp_sql_postgres`, checked
//! against the PostgreSQL schema (docs/design.md, "Statements the compiler checks"). Those
//! functions run on sqlx's typed connections, which the `Any` pools of the rest of the store
//! cannot lend, so the store keeps a pool of each backend's own type for them, used through
//! [`checked_read!`]:
//!
//! - SQLite: up to [`SQLITE_READERS`] read connections to the same file, refusing every write
//!   (`PRAGMA query_only`): writes still go through the one writer ([`super::sqlite_writer`]).
//! - PostgreSQL: [`PG_CONNECTIONS`] connection, taken out of the connections the store was opened
//!   with, so that a process keeps no more than it was given.
//!
//! Both open their connections when first used.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Executor, Pool};

use crate::store::{BUSY_TIMEOUT, StoreError, error};

/// SQLite: the read connections of the checked statements.
pub(crate) const SQLITE_READERS: u32 = 2;

/// PostgreSQL: the connections of the checked statements.
pub(crate) const PG_CONNECTIONS: u32 = 1;

/// A pool of the backend's own connection type.
#[derive(Clone)]
pub(crate) enum CheckedPool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `owp_sql_<backend>::$module::$function(pool, args…)` on the store's checked pool, the
/// same typed function compiled for the store's backend, and gives its result.
macro_rules! checked_read {
    ($store:expr, $module:ident :: $function:ident ( $($arg:expr),* $(,)? )) => {
        match &$store.checked {
            $crate::store::engine::checked::CheckedPool::Sqlite(pool) => {
                owp_sql_sqlite::$module::$function(pool, $($arg),*).await
            }
            $crate::store::engine::checked::CheckedPool::Postgres(pool) => {
                owp_sql_postgres::$module::$function(pool, $($arg),*).await
            }
        }
    };
}
pub(crate) use checked_read;

impl CheckedPool {
    /// SQLite: read connections to the (migrated) database of `url`.
    pub(crate) fn sqlite(url: &str) -> Result<CheckedPool, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .pragma("query_only", "ON");
        let pool = SqlitePoolOptions::new()
            .max_connections(SQLITE_READERS)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(30))
            // A connection to a local file cannot go stale (as `sqlite_pool`'s).
            .test_before_acquire(false)
            .connect_lazy_with(options);
        Ok(CheckedPool::Sqlite(pool))
    }

    /// PostgreSQL: connections set up as the store's others are (see `Store::open_with`).
    pub(crate) fn postgres(url: &str) -> Result<CheckedPool, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(PG_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .before_acquire(|conn, _meta| {
                Box::pin(async move {
                    if error::connections_in_doubt() {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("SET jit = off").await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        Ok(CheckedPool::Postgres(pool))
    }

    /// The connections the pool may keep, and those it keeps now.
    pub(crate) fn connections(&self) -> (u32, u32) {
        fn of<DB: sqlx::Database>(pool: &Pool<DB>) -> (u32, u32) {
            (pool.options().get_max_connections(), pool.size())
        }
        match self {
            CheckedPool::Sqlite(pool) => of(pool),
            CheckedPool::Postgres(pool) => of(pool),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            CheckedPool::Sqlite(pool) => pool.close().await,
            CheckedPool::Postgres(pool) => pool.close().await,
        }
    }
}
