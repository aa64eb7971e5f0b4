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
//!   A store with read connections of its own (`Store::with_own_reads`) has its own of these
//!   too.
//! - PostgreSQL: a quarter of the connections the store was opened with (one to four, see
//!   [`pg_connections`]), taken out of them, so that a process keeps no more than it was given:
//!   the sign-in session of every dashboard request and the outbox sender's reads run here.
//!
//! Both open their connections when first used. Write transactions hold a connection of the
//! backend's own type too (SQLite's one writer, [`sqlite_writer_pool`]; on PostgreSQL the
//! store's pool, [`pg_pool`], see [`super::pool`]), so that the statements the compiler checks
//! run inside them ([`checked_in_tx!`]).

use std::str::FromStr;
use std::time::Duration;

use sqlx::Executor;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::{BUSY_TIMEOUT, StoreError, WAL_SIZE_LIMIT, error};

/// SQLite: the read connections of the checked statements.
pub(crate) const SQLITE_READERS: u32 = 2;

/// PostgreSQL: how many of the `pool` connections a process was given (`OWP_DATABASE_POOL`)
/// the checked reads keep: a quarter, at least one and at most four. The rest are the pool
/// write transactions and the statements built at run time share ([`super::pool`]).
pub(crate) fn pg_connections(pool: u32) -> u32 {
    (pool / 4).clamp(1, 4)
}

/// PostgreSQL: how many of the `pool` connections take in webhook deliveries and nothing else
/// (`Store::ingest`), so that a delivery GitHub sends is stored while every other connection is
/// busy applying deliveries and writing to GitHub: one for a pool of 8, two from 16; none below
/// 8 (a delivery then takes its turn in the pool shared by the rest).
pub(crate) fn pg_ingest_connections(pool: u32) -> u32 {
    if pool < 8 { 0 } else { (pool / 8).min(2) }
}

/// Runs `owp_sql_<backend>::$module::$function(conn, args…)` on a write transaction's
/// connection (a [`TxConnection`](super::tx_conn::TxConnection), `WriteTx::conn`), as its
/// backend's own type: a statement the compiler checks, inside the transaction.
macro_rules! checked_in_tx {
    ($conn:expr, $module:ident :: $function:ident ( $($arg:expr),* $(,)? )) => {
        match $conn.typed() {
            $crate::engine::tx_conn::Typed::Sqlite(conn) => {
                owp_sql_sqlite::$module::$function(conn, $($arg),*).await
            }
            $crate::engine::tx_conn::Typed::Postgres(conn) => {
                owp_sql_postgres::$module::$function(conn, $($arg),*).await
            }
        }
    };
}
pub(crate) use checked_in_tx;

/// Runs `owp_sql_<backend>::$module::$function(conn, args…)` on its own, outside a write
/// transaction (it commits by itself): on SQLite in a turn on the one write connection, as
/// every write waits for it; on PostgreSQL on a connection of the store's pool, or, after
/// `ingest:`, of the connections kept for webhook deliveries ([`pg_ingest_connections`]).
/// Counted as a commit ([`Store::commits`](crate::Store::commits)).
macro_rules! checked_write {
    (ingest: $store:expr, $module:ident :: $function:ident ( $($arg:expr),* $(,)? )) => {{
        let store: &$crate::Store = &$store;
        match &store.ingest {
            Some(pool) => {
                let done = owp_sql_postgres::$module::$function(pool, $($arg),*).await?;
                store.count_commit();
                Ok::<_, $crate::StoreError>(done)
            }
            None => $crate::engine::checked::checked_write!(store, $module::$function($($arg),*)),
        }
    }};
    ($store:expr, $module:ident :: $function:ident ( $($arg:expr),* $(,)? )) => {{
        let store: &$crate::Store = &$store;
        let done = match (&store.write_conn, &store.write) {
            (Some(w), _) => {
                let mut turn = w.turn().await?;
                owp_sql_sqlite::$module::$function(&mut *turn, $($arg),*).await
            }
            (None, $crate::engine::pool::DbPool::Postgres(pool)) => {
                owp_sql_postgres::$module::$function(pool, $($arg),*).await
            }
            (None, $crate::engine::pool::DbPool::Sqlite(_)) => {
                return Err($crate::StoreError::Config("no write connection".into()));
            }
        };
        let done = done?;
        store.count_commit();
        Ok::<_, $crate::StoreError>(done)
    }};
}
pub(crate) use checked_write;

/// SQLite: the factory of the one write connection ([`super::sqlite_writer::WriteConn`]), set
/// up as a writer: write-ahead log, no checkpoints of its own (`checkpoint_loop` makes them),
/// the log's size bounded.
pub(crate) fn sqlite_writer_pool(url: &str) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        .pragma("wal_autocheckpoint", "0")
        .pragma("journal_size_limit", WAL_SIZE_LIMIT.to_string());
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(false)
        .connect_lazy_with(options))
}

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
            $crate::engine::checked::CheckedPool::Sqlite(pool) => {
                owp_sql_sqlite::$module::$function(pool, $($arg),*).await
            }
            $crate::engine::checked::CheckedPool::Postgres(pool) => {
                owp_sql_postgres::$module::$function(pool, $($arg),*).await
            }
        }
    };
}
pub(crate) use checked_read;

impl CheckedPool {
    /// SQLite: at most `readers` read connections to the (migrated) database of `url`.
    pub(crate) fn sqlite(url: &str, readers: u32) -> Result<CheckedPool, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .pragma("query_only", "ON");
        let pool = SqlitePoolOptions::new()
            .max_connections(readers.max(1))
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(30))
            // A connection to a local file cannot go stale (as `sqlite_pool`'s).
            .test_before_acquire(false)
            .connect_lazy_with(options);
        Ok(CheckedPool::Sqlite(pool))
    }

    /// PostgreSQL: at most `connections` connections (see [`pg_pool`]).
    pub(crate) fn postgres(url: &str, connections: u32) -> Result<CheckedPool, StoreError> {
        Ok(CheckedPool::Postgres(pg_pool(url, connections)?))
    }
}

/// PostgreSQL: at most `connections` of the backend's own connections, as the store's pool
/// (`Store::open_with`) and the checked reads' pool both open them.
pub(crate) fn pg_pool(url: &str, connections: u32) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)?;
    Ok(PgPoolOptions::new()
        .max_connections(connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(10))
        // No ping before every use (a network round trip per transaction): a connection the
        // server closed fails its next statement and is replaced.
        .test_before_acquire(false)
        // Except for a while after a connection was lost: connections are usually cut
        // together, and each cut one would fail a request.
        .before_acquire(|conn, _meta| {
            Box::pin(async move {
                if error::connections_in_doubt() {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        // No JIT compilation: every statement here is short, and the claim statement's plan (a
        // recursive pick over up to a batch of workers, each with every rule's subplans) is
        // estimated far above `jit_above_cost`, so the server would spend seconds compiling what
        // runs in a millisecond.
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("SET jit = off").await?;
                Ok(())
            })
        })
        .connect_lazy_with(options))
}

impl CheckedPool {
    /// The connections the pool may keep, and those it keeps now.
    pub(crate) fn connections(&self) -> (u32, u32) {
        match self {
            CheckedPool::Sqlite(pool) => super::pool::pool_connections(pool),
            CheckedPool::Postgres(pool) => super::pool::pool_connections(pool),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            CheckedPool::Sqlite(pool) => pool.close().await,
            CheckedPool::Postgres(pool) => pool.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{pg_connections, pg_ingest_connections};

    #[test]
    fn deliveries_keep_one_connection_of_8_and_two_from_16() {
        assert_eq!(pg_ingest_connections(2), 0);
        assert_eq!(pg_ingest_connections(7), 0);
        assert_eq!(pg_ingest_connections(8), 1);
        assert_eq!(pg_ingest_connections(16), 2);
        assert_eq!(pg_ingest_connections(64), 2);
        for pool in 1..100 {
            let shared = pool - pg_connections(pool).min(pool) - pg_ingest_connections(pool);
            assert!(pool < 3 || shared >= 1, "{pool}: {shared}");
        }
    }

    #[test]
    fn the_checked_statements_keep_a_quarter_of_the_connections() {
        assert_eq!(pg_connections(1), 1);
        assert_eq!(pg_connections(2), 1);
        assert_eq!(pg_connections(8), 2);
        assert_eq!(pg_connections(16), 4);
        assert_eq!(pg_connections(64), 4);
    }
}
