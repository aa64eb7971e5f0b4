//! The one door for state changes.
//!
//! Every change of a task, worker or repository happens inside a [`WriteTx`]: one database
//! transaction that also appends the change's audit events and runs the registered
//! [`ChangeHook`]s (the GitHub App's comment outbox hangs here), so the change, its audit record
//! and its outgoing effects commit together or not at all.

use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::any::AnyArguments;
use sqlx::postgres::Postgres;
use sqlx::query::Query;
use sqlx::{Any, Either, Executor, Row, Transaction};

use super::pool::DbPool;
use super::sqlite_direct::{DirectConn, Param};
use super::sqlite_writer::WriteTurn;
use super::tx_conn::{TxConnection, Typed};
use crate::columns::{Columns, OutRow, Outcome};
use crate::composed::{self, Composed};
use crate::domain::Event;
use crate::{Backend, Store, StoreError, format_ts, now_ms};

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

/// A step of the store's own that runs inside every write transaction that appends events or
/// asks for tasks to be shown again ([`WriteTx::show_again`]), after its events are appended and
/// before it commits, writing on the transaction's connection (the GitHub outbox:
/// `store::github::on_commit`). Only the store registers one ([`Store::add_commit_step`]): no
/// layer above it is handed a connection.
pub(crate) trait CommitStep: Send + Sync {
    fn before_commit<'a>(
        &'a self,
        conn: &'a mut TxConnection,
        events: &'a [Event],
        shown: &'a [String],
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// Sees what every write transaction that appends events or asks for tasks to be shown again
/// is about to commit, after its steps ran: its events (with their ids) and the tasks shown again.
/// It writes nothing; an error refuses the commit (the whole transaction rolls back).
pub trait ChangeHook: Send + Sync {
    fn before_commit(&self, events: &[Event], shown: &[String]) -> Result<(), StoreError>;
}

/// A write transaction: the only way to change state.
pub struct WriteTx {
    conn: TxConn,
    /// The instant of this change (milliseconds); every row it writes uses it.
    pub now: i64,
    events: Vec<NewEvent>,
    /// Events already appended by a [`WriteTx::batch`] (with their ids).
    written: Vec<Event>,
    /// Workers this transaction marked seen at `now` (see [`crate::presence`]).
    seen: Vec<String>,
    /// Whether this transaction changed what authenticating a worker returns.
    forget_known_workers: bool,
    /// Tasks to be shown again though no event of this transaction names them.
    shown: Vec<String>,
    store: Store,
}

/// The connection of a write transaction.
enum TxConn {
    /// sqlx's transaction (PostgreSQL).
    Sqlx(Transaction<'static, Postgres>),
    /// SQLite: the write connection, on which this transaction sends `BEGIN IMMEDIATE` and
    /// `COMMIT` itself, so that both can travel with other statements in one round trip (see
    /// [`WriteTx::batch`]). `None` once committed or rolled back.
    Sqlite(Option<WriteTurn>, SqliteState),
    /// SQLite: the same turn, but the transaction runs on the turn's direct connection, on the
    /// calling thread ([`super::sqlite_direct`]). Only statement batches run on it (no `conn()`), and no
    /// hook can join it.
    Direct(Option<WriteTurn>, SqliteState),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SqliteState {
    /// Nothing sent yet: the first batch starts the transaction.
    NotBegun,
    Open,
    /// A batch failed half-way: whether the transaction is open is unknown (a rollback is sent).
    Unknown,
    Committed,
}

impl Store {
    /// Opens a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so a transaction never fails half-way to upgrade its lock.
    pub async fn begin(&self) -> Result<WriteTx, StoreError> {
        let mut tx = self.begin_batched().await?;
        tx.ensure_begun().await?;
        Ok(tx)
    }

    /// Opens a write transaction whose `BEGIN` is sent with its first statements: on SQLite the
    /// caller's first step must be [`WriteTx::batch`] or [`WriteTx::ensure_begun`].
    pub async fn begin_batched(&self) -> Result<WriteTx, StoreError> {
        let conn = match self.backend {
            Backend::Sqlite => {
                let Some(w) = &self.write_conn else {
                    return Err(StoreError::Config("no SQLite write connection".into()));
                };
                TxConn::Sqlite(Some(w.turn().await?), SqliteState::NotBegun)
            }
            Backend::Postgres => {
                let DbPool::Postgres(pool) = &self.write else {
                    return Err(StoreError::Config(
                        "no PostgreSQL pool for write transactions".into(),
                    ));
                };
                TxConn::Sqlx(pool.begin().await?)
            }
        };
        Ok(WriteTx {
            conn,
            now: now_ms(),
            events: Vec::new(),
            written: Vec::new(),
            seen: Vec::new(),
            forget_known_workers: false,
            shown: Vec::new(),
            store: self.clone(),
        })
    }

    /// SQLite: opens a write transaction on the direct connection ([`super::sqlite_direct`]) and begins
    /// it, if this store has one and no hook has to join its transactions; `None` otherwise.
    pub(crate) async fn begin_direct(&self) -> Result<Option<WriteTx>, StoreError> {
        let Some(w) = self.write_conn.as_ref().filter(|w| w.has_direct()) else {
            return Ok(None);
        };
        if self.joins_commits() {
            return Ok(None);
        }
        let mut turn = w.turn().await?;
        turn.direct()?.execute("BEGIN IMMEDIATE")?;
        Ok(Some(WriteTx {
            conn: TxConn::Direct(Some(turn), SqliteState::Open),
            now: now_ms(),
            events: Vec::new(),
            written: Vec::new(),
            seen: Vec::new(),
            forget_known_workers: false,
            shown: Vec::new(),
            store: self.clone(),
        }))
    }
}

impl WriteTx {
    /// The connection of this transaction: statements built at run time run on it, and the
    /// statements the compiler checks through
    /// [`checked_in_tx!`](crate::engine::checked::checked_in_tx).
    pub fn conn(&mut self) -> &mut TxConnection {
        match &mut self.conn {
            TxConn::Sqlx(tx) => TxConnection::of(Typed::Postgres(tx)),
            TxConn::Sqlite(conn, state) => {
                debug_assert_eq!(*state, SqliteState::Open, "the transaction is not open");
                conn.as_mut()
                    .expect("an open transaction has its connection")
                    .any()
            }
            TxConn::Direct(..) => {
                panic!("a transaction on the direct connection runs statement batches only")
            }
        }
    }

    /// The connection of a transaction on the direct connection (see [`Store::begin_direct`]).
    pub(crate) fn direct(&mut self) -> Result<Option<&DirectConn>, StoreError> {
        match &mut self.conn {
            TxConn::Direct(Some(turn), SqliteState::Open) => Ok(Some(turn.direct()?)),
            TxConn::Direct(..) => Err(StoreError::Config(
                "the write transaction is no longer open".into(),
            )),
            _ => Ok(None),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Records an audit event; it is written at commit, in this transaction.
    pub fn event(&mut self, event: NewEvent) {
        self.events.push(event);
    }

    /// Asks the commit steps to show `task_id` again (the GitHub App: its status comment) although no
    /// event of this transaction names it: what it shows changed without a state change, or
    /// someone asked to see it.
    pub fn show_again(&mut self, task_id: &str) {
        if !self.shown.iter().any(|t| t == task_id) {
            self.shown.push(task_id.to_string());
        }
    }

    /// Records an event that a batch has appended itself (it has its id).
    pub(crate) fn appended(&mut self, event: Event) {
        self.written.push(event);
    }

    /// Whether this transaction runs on the direct connection (see [`Store::begin_direct`]).
    pub(crate) fn is_direct(&self) -> bool {
        matches!(self.conn, TxConn::Direct(..))
    }

    /// Whether a batch has already committed this transaction.
    pub(crate) fn is_committed(&self) -> bool {
        matches!(
            self.conn,
            TxConn::Sqlite(_, SqliteState::Committed) | TxConn::Direct(_, SqliteState::Committed)
        )
    }

    /// Ends a committed (SQLite) transaction's turn on the write connection, so that another
    /// transaction can start while this one is still in scope.
    pub(crate) fn release(&mut self) {
        if let TxConn::Sqlite(conn, SqliteState::Committed)
        | TxConn::Direct(conn, SqliteState::Committed) = &mut self.conn
        {
            conn.take();
        }
    }

    /// Sends `BEGIN IMMEDIATE` if this (SQLite) transaction has not started yet.
    pub async fn ensure_begun(&mut self) -> Result<(), StoreError> {
        if let TxConn::Sqlite(Some(conn), state @ SqliteState::NotBegun) = &mut self.conn {
            *state = SqliteState::Unknown;
            conn.any().execute("BEGIN IMMEDIATE").await?;
            *state = SqliteState::Open;
        }
        Ok(())
    }

    /// Whether [`WriteTx::batch`] may end the transaction itself: nothing else has to happen
    /// before the commit (no commit steps or hooks, no events waiting to be appended).
    pub(crate) fn may_commit_in_batch(&self) -> bool {
        self.events.is_empty() && !self.store.joins_commits()
    }

    /// SQLite only: runs several statements (`;`-separated, sharing the numbered parameters bound
    /// to `query`) in one round trip to the database thread, and returns what each statement
    /// returned, in order. A transaction not begun yet begins with them, and with `commit` (and
    /// [`WriteTx::may_commit_in_batch`]) it also commits with them: a hot path then costs one
    /// round trip instead of one per statement.
    ///
    /// Every statement after the first failing one is skipped and the transaction is rolled back
    /// when this `WriteTx` is dropped.
    pub(crate) async fn batch(
        &mut self,
        sql: Composed,
        params: Vec<Param>,
        commit: bool,
    ) -> Result<Vec<Outcome>, StoreError> {
        let commit = commit && self.may_commit_in_batch();
        if let TxConn::Direct(Some(turn), state @ SqliteState::Open) = &mut self.conn {
            let conn = turn.direct()?;
            let out = conn.run(sql.text(), &params)?;
            if commit {
                *state = SqliteState::Unknown;
                conn.execute("COMMIT")?;
                *state = SqliteState::Committed;
            }
            return Ok(out);
        }
        let TxConn::Sqlite(Some(conn), state) = &mut self.conn else {
            return Err(StoreError::Config(
                "statement batches are for the SQLite backend".into(),
            ));
        };
        let begin = *state == SqliteState::NotBegun;
        let text = composed::sqlite::in_transaction(sql, begin, commit);
        *state = SqliteState::Unknown;
        let mut outcomes = Vec::new();
        let mut rows = Vec::new();
        {
            let query = bind_params(text.query(), params);
            let mut stream = conn.any().fetch_many(query);
            while let Some(item) = stream.try_next().await? {
                match item {
                    Either::Left(done) => outcomes.push(Outcome {
                        rows: std::mem::take(&mut rows),
                        affected: done.rows_affected(),
                    }),
                    Either::Right(row) => rows.push(OutRow::Sqlx(row)),
                }
            }
        }
        *state = if commit {
            SqliteState::Committed
        } else {
            SqliteState::Open
        };
        if begin {
            outcomes.remove(0);
        }
        if commit {
            outcomes.pop();
        }
        Ok(outcomes)
    }

    /// Ends a transaction with the result of its work: commits on success, and also when the
    /// failure itself is a change that stands (an expiry the request discovered); otherwise rolls
    /// back.
    pub async fn finish<T>(self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        match result {
            Ok(value) => {
                self.commit().await?;
                Ok(value)
            }
            Err(e) => {
                if e.commits_anyway() {
                    self.commit().await?;
                }
                Err(e)
            }
        }
    }

    /// Appends the events, runs the commit steps and the hooks, commits, and wakes this process's waiters.
    pub async fn commit(mut self) -> Result<Vec<Event>, StoreError> {
        let mut written = std::mem::take(&mut self.written);
        let pending = std::mem::take(&mut self.events);
        if !pending.is_empty() {
            let ids = self.append_events(&pending).await?;
            for (e, id) in pending.into_iter().zip(ids) {
                written.push(Event {
                    id,
                    kind: e.kind.to_string(),
                    at: format_ts(self.now),
                    repo: e.repo,
                    task_id: e.task_id,
                    worker_id: e.worker_id,
                    actor: e.actor,
                    data: e.data,
                });
            }
        }
        let steps = self.store.commit_steps.read().expect("steps lock").clone();
        let hooks = self.store.hooks.read().expect("hooks lock").clone();
        let shown = std::mem::take(&mut self.shown);
        let joined = !steps.is_empty() || !hooks.is_empty();
        if joined && (!written.is_empty() || !shown.is_empty()) {
            if matches!(self.conn, TxConn::Direct(..)) {
                // A step or hook registered after this transaction began cannot join it: nothing
                // of it may commit (a write group then runs each operation again through sqlx).
                return Err(StoreError::Config(
                    "a commit step cannot join a transaction on the direct connection".into(),
                ));
            }
            self.ensure_begun().await?;
            for step in steps {
                step.before_commit(self.conn(), &written, &shown).await?;
            }
            for hook in hooks {
                hook.before_commit(&written, &shown)?;
            }
        }
        match &mut self.conn {
            TxConn::Sqlx(_) => {
                let TxConn::Sqlx(tx) =
                    std::mem::replace(&mut self.conn, TxConn::Sqlite(None, SqliteState::Committed))
                else {
                    unreachable!()
                };
                tx.commit().await.map_err(StoreError::from_commit)?;
            }
            TxConn::Sqlite(conn, state) => match *state {
                SqliteState::Open | SqliteState::Unknown => {
                    if let Some(c) = conn.as_mut() {
                        c.any().execute("COMMIT").await?;
                    }
                    *state = SqliteState::Committed;
                }
                SqliteState::NotBegun | SqliteState::Committed => {
                    *state = SqliteState::Committed;
                }
            },
            TxConn::Direct(turn, state) => {
                if let (Some(turn), SqliteState::Open | SqliteState::Unknown) = (turn, *state) {
                    *state = SqliteState::Unknown;
                    turn.direct()?.execute("COMMIT")?;
                }
                *state = SqliteState::Committed;
            }
        }
        self.store.committed(&written);
        for worker_id in std::mem::take(&mut self.seen) {
            self.store.contact_committed(&worker_id, self.now);
        }
        if self.forget_known_workers {
            self.store.known_workers.forget_all();
            // And the other processes sharing a PostgreSQL database (see `replicas`).
            let signals = &self.store.signals;
            signals
                .forgot_workers
                .store(true, std::sync::atomic::Ordering::Release);
            signals.local_commit.notify_one();
        }
        Ok(written)
    }

    /// This transaction marks `worker_id` seen at `now`: once it commits, workers remembered
    /// by their tokens carry that contact (see [`crate::presence`]).
    pub(crate) fn record_seen(&mut self, worker_id: &str) {
        self.seen.push(worker_id.to_string());
    }

    /// This transaction changes what authenticating a worker returns (its token, pause, trust,
    /// GitHub login): once it commits, no worker row read before is served again.
    pub(crate) fn forget_known_workers(&mut self) {
        self.forget_known_workers = true;
    }
}

impl Store {
    /// How many times this process's writes committed through this store and the stores that
    /// share its writer ([`Store::with_own_reads`]): transactions and single write statements
    /// alike, since the process started. The cost of a path in commits is the difference across
    /// it.
    pub fn commits(&self) -> u64 {
        self.commits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts one commit (see [`Store::commits`]).
    pub(crate) fn count_commit(&self) {
        self.commits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// After a commit of `written`: counts it and wakes this process's waiters (long polls,
    /// event streams) and, through the notifier, the other processes sharing the database.
    pub(crate) fn committed(&self, written: &[Event]) {
        self.count_commit();
        if let Some(o) = self.observer() {
            o.committed(self, written);
        }
        if let Some(last) = written.iter().map(|e| e.id).max() {
            self.local_last_event
                .fetch_max(last, std::sync::atomic::Ordering::Relaxed);
            self.empty_claims
                .committed(last, written.iter().map(|e| e.kind.as_str()));
            self.changed.notify_waiters();
            // Tells the other processes sharing a PostgreSQL database (see `replicas`).
            self.signals.local_commit.notify_one();
        }
    }
}

impl WriteTx {
    /// Inserts `events` and returns their ids: on SQLite in one round trip (which also commits
    /// when no hook has to run first), elsewhere one statement each.
    async fn append_events(&mut self, events: &[NewEvent]) -> Result<Vec<i64>, StoreError> {
        let now = self.now;
        let one = composed::events::insert_one();
        if let Some(ids) = self.append_direct(one.text(), events)? {
            return Ok(ids);
        }
        if matches!(self.conn, TxConn::Sqlite(..)) {
            // One round trip for all of them.
            let sql = composed::events::insert_many(events.len());
            let params = events.iter().flat_map(|e| event_params(e, now)).collect();
            let out = self.batch(sql, params, true).await?;
            return out.iter().map(|o| first_id(Some(o))).collect();
        }
        let mut ids = Vec::with_capacity(events.len());
        for e in events {
            let row = bind_event(one.clone().query(), e, now)
                .fetch_one(self.conn())
                .await?;
            ids.push(row.try_get::<i64, _>(0)?);
        }
        Ok(ids)
    }
}

impl WriteTx {
    /// On a transaction on the direct connection, inserts `events` there statement by statement
    /// (one cached text); `None` on any other.
    fn append_direct(
        &mut self,
        insert: &str,
        events: &[NewEvent],
    ) -> Result<Option<Vec<i64>>, StoreError> {
        let now = self.now;
        let Some(direct) = self.direct()? else {
            return Ok(None);
        };
        let mut ids = Vec::with_capacity(events.len());
        for e in events {
            ids.push(first_id(
                direct.run(insert, &event_params(e, now))?.first(),
            )?);
        }
        Ok(Some(ids))
    }
}

/// The id an `INSERT … RETURNING id` returned.
fn first_id(outcome: Option<&Outcome>) -> Result<i64, StoreError> {
    match outcome.and_then(|o| o.rows.first()) {
        Some(row) => row.col("id"),
        None => Err(StoreError::Db(sqlx::Error::RowNotFound)),
    }
}

/// The seven values of an event insert, for SQLite's statement batches.
fn event_params(e: &NewEvent, now: i64) -> [Param; 7] {
    [
        e.kind.into(),
        now.into(),
        e.repo.clone().into(),
        e.task_id.clone().into(),
        e.worker_id.clone().into(),
        e.actor.clone().into(),
        e.data.to_string().into(),
    ]
}

/// Binds the values of a SQLite statement batch (SQLite takes a NULL of any type).
pub(crate) fn bind_params(
    q: Query<'_, Any, AnyArguments>,
    params: Vec<Param>,
) -> Query<'_, Any, AnyArguments> {
    params.into_iter().fold(q, |q, p| match p {
        Param::Null => q.bind(None::<i64>),
        Param::Int(i) => q.bind(i),
        Param::Text(s) => q.bind(s),
    })
}

/// Binds the seven columns of an event insert (PostgreSQL, where a NULL has a type).
fn bind_event<'q>(
    q: Query<'q, Any, AnyArguments>,
    e: &NewEvent,
    now: i64,
) -> Query<'q, Any, AnyArguments> {
    q.bind(e.kind)
        .bind(now)
        .bind(e.repo.clone())
        .bind(e.task_id.clone())
        .bind(e.worker_id.clone())
        .bind(e.actor.clone())
        .bind(e.data.to_string())
}

impl Drop for WriteTx {
    /// An uncommitted SQLite transaction is rolled back before its
    /// turn on the connection ends (sqlx's own transaction does the same for PostgreSQL).
    fn drop(&mut self) {
        if let TxConn::Direct(Some(turn), SqliteState::Open | SqliteState::Unknown) = &mut self.conn
        {
            // On the calling thread, like the transaction's statements.
            let failed = turn
                .direct()
                .and_then(|c| c.execute("ROLLBACK"))
                .is_err_and(|e| !e.to_string().contains("no transaction is active"));
            if failed {
                turn.discard_direct();
            }
            return;
        }
        let TxConn::Sqlite(conn, state) = &mut self.conn else {
            return;
        };
        if !matches!(*state, SqliteState::Open | SqliteState::Unknown) {
            return;
        }
        let Some(mut conn) = conn.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    // "no transaction is active" after a failed BEGIN is fine.
                    if let Err(e) = conn.any().execute("ROLLBACK").await
                        && !e.to_string().contains("no transaction is active")
                    {
                        conn.discard();
                    }
                });
            }
            Err(_) => conn.discard(),
        }
    }
}
