//! SQLite: write transactions run on a thread of their own.
//!
//! SQLite has one writer, so write transactions queue for the one write connection, and each
//! holds it from `BEGIN` to `COMMIT`. If the holder is an ordinary task on the request runtime,
//! every step of its transaction waits for a turn on a worker thread that is busy with hundreds of
//! HTTP connections, and the connection sits idle meanwhile: the queue behind it grows with the
//! load. Here the transactions of the hot paths run on a small runtime with one thread that does
//! nothing else, so the connection passes from one transaction to the next without waiting behind
//! request handling. PostgreSQL has no single writer and runs them where they are.

use std::future::Future;
use std::sync::Arc;

use super::{Store, StoreError};

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
