//! The pool of the statements built at run time, outside a write transaction.
//!
//! On SQLite it is sqlx's `Any` pool. On PostgreSQL it is a pool of the backend's own
//! connections, the same one write transactions begin on (`WriteTx` holds a typed connection,
//! so that the statements the compiler checks run inside it): the statements built at run time
//! run on its connections through the interface by which sqlx's own `AnyConnection` drives them
//! (the executor of [`super::tx_conn`], as inside a transaction). Reads, the
//! batched claims and acks and write transactions then share one pool of the size the process
//! was given, less the checked reads' quarter (`engine::checked`), as they shared one `Any`
//! pool before: whichever is busy has all of it.

use super::tx_conn::{TxConnection, Typed};
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt, TryStreamExt, stream};
use sqlx::any::{AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::postgres::PgPool;
use sqlx::{Any, AnyPool, Either, Error, Execute, Executor, SqlStr};

/// The pool of the statements built at run time (see the module's docs).
#[derive(Clone, Debug)]
pub enum DbPool {
    Sqlite(AnyPool),
    Postgres(PgPool),
}

impl DbPool {
    /// Whether the pool was closed (the store is closing).
    pub fn is_closed(&self) -> bool {
        match self {
            DbPool::Sqlite(pool) => pool.is_closed(),
            DbPool::Postgres(pool) => pool.is_closed(),
        }
    }

    /// The connections the pool may keep, and those it keeps now.
    pub fn connections(&self) -> (u32, u32) {
        match self {
            DbPool::Sqlite(pool) => pool_connections(pool),
            DbPool::Postgres(pool) => pool_connections(pool),
        }
    }

    pub async fn close(&self) {
        match self {
            DbPool::Sqlite(pool) => pool.close().await,
            DbPool::Postgres(pool) => pool.close().await,
        }
    }

    /// SQLite's `Any` pool (`None` on PostgreSQL).
    pub fn sqlite(&self) -> Option<&AnyPool> {
        match self {
            DbPool::Sqlite(pool) => Some(pool),
            DbPool::Postgres(_) => None,
        }
    }
}

impl<'p> Executor<'p> for &'p DbPool {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let pool = match self {
            DbPool::Sqlite(pool) => return pool.fetch_many(query),
            DbPool::Postgres(pool) => pool.clone(),
        };
        // The rows are collected on the connection, then handed out: the connection goes back
        // to the pool before the caller reads them (every caller here reads them all).
        stream::once(async move {
            let mut conn = pool.acquire().await?;
            let items: Vec<_> = TxConnection::of(Typed::Postgres(&mut conn))
                .fetch_many(query)
                .try_collect()
                .await?;
            Ok::<_, Error>(stream::iter(items.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<AnyRow>, Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let pool = match self {
            DbPool::Sqlite(pool) => return pool.fetch_optional(query),
            DbPool::Postgres(pool) => pool.clone(),
        };
        async move {
            let mut conn = pool.acquire().await?;
            TxConnection::of(Typed::Postgres(&mut conn))
                .fetch_optional(query)
                .await
        }
        .boxed()
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &[AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement, Error>>
    where
        'p: 'e,
    {
        let (pool, parameters) = (self.clone(), parameters.to_vec());
        async move {
            match pool {
                DbPool::Sqlite(pool) => pool.prepare_with(sql, &parameters).await,
                DbPool::Postgres(pool) => {
                    let mut conn = pool.acquire().await?;
                    TxConnection::of(Typed::Postgres(&mut conn))
                        .prepare_with(sql, &parameters)
                        .await
                }
            }
        }
        .boxed()
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<sqlx::Describe<Any>, Error>>
    where
        'p: 'e,
    {
        let pool = match self {
            DbPool::Sqlite(pool) => return pool.describe(sql),
            DbPool::Postgres(pool) => pool.clone(),
        };
        async move {
            let mut conn = pool.acquire().await?;
            TxConnection::of(Typed::Postgres(&mut conn))
                .describe(sql)
                .await
        }
        .boxed()
    }
}

/// The connections `pool` may keep, and those it keeps now.
pub(crate) fn pool_connections<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> (u32, u32) {
    (pool.options().get_max_connections(), pool.size())
}
