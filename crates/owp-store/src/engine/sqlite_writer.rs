//! SQLite: write transactions run on a thread of their own.
//!
//! SQLite has one writer, so write transactions queue for the one write connection, and each
//! holds it from `BEGIN` to `COMMIT`. If the holder is an ordinary task on the request runtime,
//! every step of its transaction waits for a turn on a worker thread that is busy with hundreds of
//! HTTP connections, and the connection sits idle meanwhile: the queue behind it grows with the
//! load. Here the write groups of the hot paths (`store::leases::write_groups`) and the other
//! lease operations run on a small runtime with one thread that does nothing else, so the
//! connection passes from one transaction to the next without waiting behind request handling.
//! PostgreSQL has no single writer and runs them where they are.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use sqlx::any::{AnyArguments, AnyQueryResult};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Any, Connection};

use super::sqlite_direct::DirectConn;
use super::tx_conn::{TxConnection, Typed};
use crate::{Store, StoreError};

/// The runtime that runs write transactions (SQLite only). Its thread ends when the last
/// [`Store`] clone is dropped.
pub(crate) struct WriterThread {
    handle: tokio::runtime::Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl WriterThread {
    pub(crate) fn start() -> Result<Arc<WriterThread>, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Config(format!("cannot start the writer runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("owp-writer".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| StoreError::Config(format!("cannot start the writer thread: {e}")))?;
        Ok(Arc::new(WriterThread {
            handle,
            _stop: stop,
        }))
    }

    /// Runs `work` on the writer thread until it ends or the thread stops (e.g. the loop of the
    /// write groups).
    pub(crate) fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.handle.spawn(work);
    }
}

impl Store {
    /// Runs `work` (a write transaction) on the writer thread on SQLite, in place on PostgreSQL.
    /// The work runs to its end even if the caller stops waiting (a client that disconnects
    /// cannot cut a transaction short).
    pub async fn on_writer<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(Store) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer
                .handle
                .spawn(work(self.clone()))
                .await
                .map_err(|e| StoreError::Config(format!("write transaction failed: {e}")))?,
            None => work(self.clone()).await,
        }
    }
}

/// SQLite: the one write connection of this process, held outside sqlx's pool. A pool checks a
/// connection on every return (a round trip to its thread, during which no transaction can
/// start); write transactions follow each other back to back, so they take turns on this
/// connection through a fair mutex instead. The pool stays as the connection's factory: a
/// connection whose rollback failed is closed and the next turn opens a fresh one.
///
/// A turn also holds the direct connection of the write groups ([`super::sqlite_direct`]), a second
/// connection to the same file: whichever of the two a turn writes through, the process writes
/// through one connection at a time, and a turn waits only for other turns, never for SQLite's
/// lock held by this same process.
#[derive(Clone)]
pub(crate) struct WriteConn {
    slot: Arc<tokio::sync::Mutex<Slot>>,
    pool: SqlitePool,
    /// The database file, where the direct connection can open it.
    file: Option<Arc<PathBuf>>,
}

#[derive(Default)]
struct Slot {
    sqlx: Option<SqliteConnection>,
    direct: Option<DirectConn>,
}

/// A turn on the write connection; the next waiter's turn begins when it is dropped.
pub(crate) struct WriteTurn {
    slot: tokio::sync::OwnedMutexGuard<Slot>,
    file: Option<Arc<PathBuf>>,
}

impl WriteConn {
    pub(crate) fn new(pool: SqlitePool, file: Option<PathBuf>) -> WriteConn {
        WriteConn {
            slot: Arc::default(),
            pool,
            file: file.map(Arc::new),
        }
    }

    /// Whether write groups can run on the direct connection.
    pub(crate) fn has_direct(&self) -> bool {
        self.file.is_some()
    }

    /// Waits for this process's turn to write (first come, first served).
    pub(crate) async fn turn(&self) -> Result<WriteTurn, StoreError> {
        let mut slot = self.slot.clone().lock_owned().await;
        if slot.sqlx.is_none() {
            slot.sqlx = Some(self.pool.acquire().await?.detach());
        }
        Ok(WriteTurn {
            slot,
            file: self.file.clone(),
        })
    }

    /// Closes the connections (the store is closing).
    pub(crate) async fn close(&self) {
        let mut slot = self.slot.lock().await;
        slot.direct.take();
        if let Some(conn) = slot.sqlx.take() {
            let _ = conn.close().await;
        }
    }
}

impl WriteTurn {
    /// Closes the sqlx connection, which is in a state no one should inherit (the next turn
    /// opens a new one).
    pub(crate) fn discard(mut self) {
        self.discard_sqlx();
    }

    /// [`WriteTurn::discard`] for a turn that goes on (it must not use the connection again).
    pub(crate) fn discard_sqlx(&mut self) {
        self.slot.sqlx.take();
    }

    /// Closes the direct connection likewise.
    pub(crate) fn discard_direct(&mut self) {
        self.slot.direct.take();
    }

    /// The direct connection (opened on first use).
    pub(crate) fn direct(&mut self) -> Result<&DirectConn, StoreError> {
        let Some(file) = &self.file else {
            return Err(StoreError::Config(
                "this database has no file for a direct connection".into(),
            ));
        };
        if self.slot.direct.is_none() {
            self.slot.direct = Some(DirectConn::open(file, true)?);
        }
        Ok(self.slot.direct.as_ref().expect("opened above"))
    }

    /// The sqlx connection as an executor of the statements built at run time.
    pub(crate) fn any(&mut self) -> &mut TxConnection {
        TxConnection::of(Typed::Sqlite(self))
    }
}

impl std::ops::Deref for WriteTurn {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        self.slot.sqlx.as_ref().expect("a turn holds a connection")
    }
}

impl std::ops::DerefMut for WriteTurn {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.slot.sqlx.as_mut().expect("a turn holds a connection")
    }
}

/// One statement on its own (autocommit) on the write connection: on SQLite it waits for its turn
/// like a transaction, instead of opening a second connection that would contend for the file's
/// write lock.
pub(crate) trait ExecuteWrite<'q> {
    fn execute_write<'a>(
        self,
        store: &'a Store,
    ) -> BoxFuture<'a, Result<AnyQueryResult, StoreError>>
    where
        'q: 'a;
}

impl<'q> ExecuteWrite<'q> for Query<'q, Any, AnyArguments> {
    fn execute_write<'a>(
        self,
        store: &'a Store,
    ) -> BoxFuture<'a, Result<AnyQueryResult, StoreError>>
    where
        'q: 'a,
    {
        Box::pin(async move {
            let done = match &store.write_conn {
                Some(w) => {
                    let mut turn = w.turn().await?;
                    self.execute(turn.any()).await?
                }
                None => self.execute(&store.write).await?,
            };
            store.count_commit();
            Ok(done)
        })
    }
}
