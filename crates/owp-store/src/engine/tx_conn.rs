//! The connection of a write transaction, as the statements built at run time see it.
//!
//! A write transaction holds its backend's own connection (`SqliteConnection`, `PgConnection`),
//! so that the statements the compiler checks (`sql/`) can run on it: they need sqlx's typed
//! connections. The statements still built at run time are written for sqlx's `Any` driver; they
//! run on the same typed connection through the interface by which sqlx's own `AnyConnection`
//! drives it ([`AnyConnectionBackend`], which both drivers implement), so both kinds of statement
//! share one transaction. [`TxConnection`] is that view: an executor of `Any` statements over a
//! typed connection.

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt, future, stream};
use ref_cast::RefCast;
use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Any, Either, Error, Execute, Executor, SqlStr};
use sqlx_core::any::AnyConnectionBackend;

/// A connection of the backend's own type.
pub(crate) enum Typed<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

/// A statement taken apart as [`AnyConnectionBackend`] takes it: its text, whether it is
/// prepared once and kept, and its bound arguments.
struct Parts {
    sql: SqlStr,
    persistent: bool,
    arguments: Option<AnyArguments>,
}

impl Parts {
    fn of<'q>(mut query: impl Execute<'q, Any>) -> Result<Parts, Error> {
        let arguments = query.take_arguments().map_err(Error::Encode)?;
        let persistent = query.persistent();
        Ok(Parts {
            sql: query.sql(),
            persistent,
            arguments,
        })
    }
}

/// A typed connection seen as an executor of `Any` statements (see the module's docs).
#[derive(RefCast)]
#[repr(transparent)]
pub struct TxConnection(dyn AnyConnectionBackend);

impl TxConnection {
    /// The `Any` view of a typed connection.
    pub(crate) fn of(conn: Typed<'_>) -> &mut TxConnection {
        let conn: &mut dyn AnyConnectionBackend = match conn {
            Typed::Sqlite(conn) => conn,
            Typed::Postgres(conn) => conn,
        };
        TxConnection::ref_cast_mut(conn)
    }

    /// The connection as its backend's own type, for the statements the compiler checks
    /// ([`checked_in_tx!`](crate::engine::checked::checked_in_tx)).
    pub(crate) fn typed(&mut self) -> Typed<'_> {
        let conn: &mut dyn std::any::Any = &mut self.0;
        if conn.is::<SqliteConnection>() {
            let conn = conn
                .downcast_mut::<SqliteConnection>()
                .expect("checked above");
            return Typed::Sqlite(conn);
        }
        match conn.downcast_mut::<PgConnection>() {
            Some(conn) => Typed::Postgres(conn),
            // `of` wraps nothing else.
            None => unreachable!("a transaction's connection is SQLite's or PostgreSQL's"),
        }
    }

    /// The backend's name, as sqlx's `AnyConnection` gives it (`SQLite`, `PostgreSQL`).
    pub fn backend_name(&self) -> &str {
        self.0.name()
    }
}

impl std::fmt::Debug for TxConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TxConnection").field(&self.0.name()).finish()
    }
}

impl<'c> Executor<'c> for &'c mut TxConnection {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match Parts::of(query) {
            Ok(p) => self.0.fetch_many(p.sql, p.persistent, p.arguments),
            Err(error) => stream::once(future::ready(Err(error))).boxed(),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<AnyRow>, Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match Parts::of(query) {
            Ok(p) => self.0.fetch_optional(p.sql, p.persistent, p.arguments),
            Err(error) => future::ready(Err(error)).boxed(),
        }
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &[AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement, Error>>
    where
        'c: 'e,
    {
        self.0.prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<sqlx::Describe<Any>, Error>>
    where
        'c: 'e,
    {
        self.0.describe(sql)
    }
}
