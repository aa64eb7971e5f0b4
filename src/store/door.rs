//! The one door for state changes.
//!
//! Every change of a task, worker or repository happens inside a [`WriteTx`]: one database
//! transaction that also appends the change's audit events and runs the registered
//! [`ChangeHook`]s (the GitHub App's comment outbox hangs here), so the change, its audit record
//! and its outgoing effects commit together or not at all.

use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::{Any, AnyConnection, Transaction};

use super::{Backend, Store, StoreError, now_ms};
use crate::domain::Event;

/// An audit event about to be appended.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub kind: &'static str,
    pub repo: Option<String>,
    pub task_id: Option<String>,
    pub worker_id: Option<String>,
    pub actor: String,
    pub data: Value,
}

impl NewEvent {
    pub fn new(kind: &'static str, actor: impl Into<String>) -> Self {
        NewEvent {
            kind,
            repo: None,
            task_id: None,
            worker_id: None,
            actor: actor.into(),
            data: Value::Object(Default::default()),
        }
    }
    pub fn repo(mut self, repo: impl Into<String>) -> Self {
        self.repo = Some(repo.into());
        self
    }
    pub fn task(mut self, task_id: impl Into<String>) -> Self {
        self.task_id = Some(task_id.into());
        self
    }
    pub fn worker(mut self, worker_id: Option<impl Into<String>>) -> Self {
        self.worker_id = worker_id.map(Into::into);
        self
    }
    pub fn data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
}

/// Runs inside every write transaction, after its events are appended and before it commits.
pub trait ChangeHook: Send + Sync {
    fn before_commit<'a>(
        &'a self,
        conn: &'a mut AnyConnection,
        events: &'a [Event],
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// A write transaction: the only way to change state.
pub struct WriteTx {
    pub(crate) tx: Transaction<'static, Any>,
    /// The instant of this change (milliseconds); every row it writes uses it.
    pub now: i64,
    events: Vec<NewEvent>,
    store: Store,
}

impl Store {
    /// Opens a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so a transaction never fails half-way to upgrade its lock.
    pub async fn begin(&self) -> Result<WriteTx, StoreError> {
        let tx = match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.write.begin().await?,
        };
        Ok(WriteTx {
            tx,
            now: now_ms(),
            events: Vec::new(),
            store: self.clone(),
        })
    }
}

impl WriteTx {
    /// The connection of this transaction.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Records an audit event; it is written at commit, in this transaction.
    pub fn event(&mut self, event: NewEvent) {
        self.events.push(event);
    }

    /// Appends the events, runs the hooks, commits, and wakes this process's waiters.
    pub async fn commit(mut self) -> Result<Vec<Event>, StoreError> {
        let mut written = Vec::with_capacity(self.events.len());
        for e in std::mem::take(&mut self.events) {
            let data = e.data.to_string();
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO events (kind, at, repo, task_id, worker_id, actor, data) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(e.kind)
            .bind(self.now)
            .bind(e.repo.clone())
            .bind(e.task_id.clone())
            .bind(e.worker_id.clone())
            .bind(e.actor.clone())
            .bind(data)
            .fetch_one(&mut *self.tx)
            .await?;
            written.push(Event {
                id,
                kind: e.kind.to_string(),
                at: super::format_ts(self.now),
                repo: e.repo,
                task_id: e.task_id,
                worker_id: e.worker_id,
                actor: e.actor,
                data: e.data,
            });
        }
        let hooks = self.store.hooks.read().expect("hooks lock").clone();
        for hook in hooks {
            hook.before_commit(&mut self.tx, &written).await?;
        }
        self.tx.commit().await?;
        crate::metrics::record_committed(&self.store, &written);
        if let Some(last) = written.iter().map(|e| e.id).max() {
            self.store
                .local_last_event
                .fetch_max(last, std::sync::atomic::Ordering::Relaxed);
            self.store.changed.notify_waiters();
            // Tells the other processes sharing a PostgreSQL database (see `replicas`).
            self.store.signals.local_commit.notify_one();
        }
        Ok(written)
    }
}
