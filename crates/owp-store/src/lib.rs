//! OWP Pool's store: every SQL query of the service lives in this crate (and the fixed
//! statements it calls, in `owp-sql-sqlite` and `owp-sql-postgres`). It knows the protocol's
//! crate and the database, nothing of HTTP, of GitHub's client or of metrics; the `owp` crate
//! names it `store`.
//!
//! One set of queries runs on both backends through sqlx's `Any` driver (SQLite embedded by default,
//! PostgreSQL for several replicas). Timestamps are integer milliseconds, booleans 0/1, JSON is TEXT,
//! so the same SQL works on both. Every state change goes through [`WriteTx`]: one transaction
//! that also appends its audit events (and what the store's commit steps add: the GitHub
//! comment outbox, `github::on_commit`).
//!
//! The table modules (tasks, leases, workers, repos, events, github, …) sit on [`engine`]: the
//! connections, the write transaction and the SQLite writer thread, which know no table but the
//! audit log. The engine imports none of them.

pub mod accounts;
pub mod archive;
pub mod backup;
pub mod board;
mod budget_rule;
mod checks;
pub(crate) mod claim_rules;
pub mod columns;
pub mod composed;
pub mod database_url;
pub mod deps;
pub mod engine;
pub mod error;
pub mod events;
pub mod gauges;
pub mod github;
pub mod idempotency;
mod in_flight;
pub mod known_workers;
pub mod leases;
pub mod outcomes;
mod path_overlap;
pub mod paths;
pub mod presence;
pub mod preview;
pub mod proposals;
pub mod readiness;
pub mod repos;
pub mod reputation;
pub mod rows;
#[cfg(test)]
mod rule_texts;
pub mod shared_limits;
pub mod shared_settings;
pub mod signin;
pub mod tasks;
mod upgrade;
pub mod workers;

/// The protocol's crate, named as the `owp` crate names it.
pub(crate) use owp_protocol as domain;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use tokio::sync::Notify;

use engine::checked::{self, CheckedPool, checked_in_tx};
pub use engine::pool::DbPool;
use engine::write_tx::CommitStep;
pub use engine::write_tx::{ChangeHook, NewEvent, WriteTx};
use engine::{replicas, sqlite_direct, sqlite_writer};
pub use error::StoreError;
pub use leases::write_groups::StatusRequest;

/// Which database is behind the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Time settings the store applies to leases and presence.
#[derive(Clone, Debug)]
pub struct Timing {
    pub lease_ttl_ms: i64,
    pub accept_ttl_ms: i64,
    pub heartbeat_ttl_ms: i64,
    /// After this many failed attempts an expired task is blocked instead of requeued (0 = never).
    pub max_attempts: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            lease_ttl_ms: 1_800_000,
            accept_ttl_ms: 120_000,
            heartbeat_ttl_ms: 90_000,
            max_attempts: 5,
        }
    }
}

/// How long a SQLite connection waits for another process's write lock before it reports the
/// database busy (see `sqlite_pool`; [`sqlite_direct`] uses it for its writer too).
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections a PostgreSQL store opened with [`Store::open`] keeps at most (`owp serve` chooses
/// its own, `OWP_DATABASE_POOL`).
const OPEN_PG_POOL: u32 = 16;

/// How a store connects to its database, beyond its URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connect {
    /// PostgreSQL: the connections it keeps at most (SQLite has one writer and a few readers
    /// whatever it is).
    pub pg_pool: u32,
    /// SQLite: the hot paths run on a connection of [`sqlite_direct`] to the database file, on
    /// the calling thread; without it every statement goes to sqlx's connection thread.
    pub sqlite_direct: bool,
}

impl Default for Connect {
    fn default() -> Self {
        Connect {
            pg_pool: OPEN_PG_POOL,
            sqlite_direct: true,
        }
    }
}

/// An hour in milliseconds: the window of a repository's hourly claim cap (the trigger of
/// migrations 0021 and 0033 count the same hour) and of the GitHub App's hourly write budget.
pub const HOUR_MS: i64 = 3_600_000;
/// A day in milliseconds.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Nacked tasks are not offered to the same worker again for this long.
pub const NACK_COOLDOWN_MS: i64 = 3_600_000;

/// The storage facade shared by the HTTP layer, background jobs and the GitHub App. A clone (one
/// per request, and per background job) shares one [`StoreState`].
#[derive(Clone)]
pub struct Store(Arc<StoreState>);

impl std::ops::Deref for Store {
    type Target = StoreState;
    fn deref(&self) -> &StoreState {
        &self.0
    }
}

/// Whoever counts what the store does (the service's metrics), told without the store knowing
/// who listens: the store only reports, and the listener reads the store when it needs more.
/// Every method does nothing unless overridden.
pub trait StoreObserver: Send + Sync {
    /// A transaction committed, writing `events`.
    fn committed(&self, _store: &Store, _events: &[crate::domain::Event]) {}
    /// A single-statement claim lost a race and runs again.
    fn claim_race(&self) {}
    /// A worker request was authenticated, with a remembered row or a fresh read.
    fn worker_auth(&self, _remembered: bool) {}
    /// A group of writes committed together, `operations` of them in one transaction.
    fn write_group(&self, _operations: usize) {}
    /// SQLite: the write-ahead log held `frames` frames at the last checkpoint.
    fn wal_frames(&self, _frames: i64) {}
    /// SQLite: one try to start the write-ahead log over, which held the writes for `held`.
    fn wal_restart(&self, _done: bool, _held: Duration) {}
}

/// The observer of a store, once one is installed (see [`Store::observe`]).
pub(crate) type ObserverSlot = Arc<std::sync::OnceLock<Arc<dyn StoreObserver>>>;

/// What every clone of a [`Store`] shares.
pub struct StoreState {
    pub(crate) backend: Backend,
    /// Writes: on PostgreSQL the same pool as reads, of the backend's own connections, on
    /// which write transactions begin too (see [`engine::pool`]). On SQLite the migrations'
    /// pool; every write after them goes through the one write connection of
    /// [`sqlite_writer::WriteConn`], of SQLite's own type.
    pub(crate) write: DbPool,
    /// Reads.
    pub(crate) read: DbPool,
    /// The statements the compiler checks (see [`engine::checked`]).
    pub(crate) checked: CheckedPool,
    /// PostgreSQL: the connections that store webhook deliveries and nothing else (see
    /// `engine::checked::pg_ingest_connections`); `None` on SQLite, and for a small pool.
    pub(crate) ingest: Option<sqlx::PgPool>,
    pub timing: Arc<Timing>,
    /// The store's own steps of every commit (see [`CommitStep`]).
    pub(crate) commit_steps: Arc<std::sync::RwLock<Vec<Arc<dyn CommitStep>>>>,
    /// What sees every commit (see [`ChangeHook`]).
    pub(crate) hooks: Arc<std::sync::RwLock<Vec<Arc<dyn ChangeHook>>>>,
    /// Woken after every committed change in this process, and (PostgreSQL) when another process
    /// sharing the database announces one (long polls, SSE, sweeper).
    pub changed: Arc<Notify>,
    /// The id of the newest event committed by this process (so a commit's waiters need no query).
    pub local_last_event: Arc<std::sync::atomic::AtomicI64>,
    /// Until this instant (ms) no lease can be due: `Expiry::due` needs no query before it.
    pub(crate) expiry_quiet_until: Arc<std::sync::atomic::AtomicI64>,
    /// The commit-safe read position of the event log (see [`replicas`]).
    pub(crate) horizon: Arc<replicas::Horizon>,
    pub(crate) signals: Arc<replicas::Signals>,
    /// SQLite: the thread that runs write transactions (see [`sqlite_writer`]).
    pub(crate) writer: Option<Arc<sqlite_writer::WriterThread>>,
    /// SQLite: the queue of the write groups, which run on the writer thread (see
    /// [`leases::write_groups`]).
    pub(crate) groups: Option<Arc<leases::write_groups::WriteGroups>>,
    /// Claims that found nothing, remembered until the pool changes (see
    /// [`leases::empty_claims`]).
    pub(crate) empty_claims: Arc<leases::empty_claims::EmptyClaims>,
    /// Commits of this process's writes (see [`Store::commits`]).
    pub(crate) commits: Arc<std::sync::atomic::AtomicU64>,
    /// PostgreSQL: until this instant (ms) claims join every rule in full: a claim found a
    /// repository with a rule of its own settings on (see `claim_rules::RuleSet`).
    pub(crate) settings_on_until: Arc<std::sync::atomic::AtomicI64>,
    /// PostgreSQL: claims waiting to be taken together (see [`leases::postgres_batches`]).
    pub(crate) claim_batches:
        Arc<leases::postgres_batches::Batches<leases::postgres_statement::ClaimJob>>,
    /// PostgreSQL: acks waiting to be taken together.
    pub(crate) ack_batches:
        Arc<leases::postgres_batches::Batches<leases::postgres_task_ops::AckJob>>,
    /// PostgreSQL: status moves waiting to be taken together.
    pub(crate) move_batches:
        Arc<leases::postgres_batches::Batches<leases::postgres_task_ops::MoveJob>>,
    /// SQLite: the write connection, taken in turns (see [`sqlite_writer::WriteConn`]).
    pub(crate) write_conn: Option<sqlite_writer::WriteConn>,
    /// SQLite: read connections for worker authentication on the calling thread (see
    /// [`sqlite_direct::ReadConns`]).
    pub(crate) direct_reads: Option<Arc<sqlite_direct::ReadConns>>,
    /// Workers found by their tokens lately (see [`known_workers`]).
    pub(crate) known_workers: Arc<known_workers::KnownWorkers>,
    /// Contacts of workers not written yet (see [`presence`]).
    pub(crate) presence: Arc<presence::Presence>,
    /// The runtime that opened this store (the request runtime): background work started by a
    /// commit runs there, never on the writer thread's own runtime.
    pub(crate) home: tokio::runtime::Handle,
    /// Who counts what the store does (see [`StoreObserver`]).
    pub(crate) observer: ObserverSlot,
    /// What `/readyz` keeps (see [`readiness`]).
    pub(crate) readiness: Arc<readiness::Readiness>,
}

impl Store {
    /// Installs the observer that counts what this store (and every clone) does; a store has at
    /// most one, and a second call changes nothing.
    pub fn observe(&self, observer: Arc<dyn StoreObserver>) {
        let _ = self.observer.set(observer);
    }

    /// The installed observer, if any.
    pub(crate) fn observer(&self) -> Option<&dyn StoreObserver> {
        self.observer.get().map(|o| o.as_ref())
    }

    /// Opens (and creates, for SQLite) the database at `url` and applies the migrations.
    pub async fn open(url: &str, timing: Timing) -> Result<Store, StoreError> {
        Self::open_with(url, timing, Connect::default()).await
    }

    /// [`Store::open`], connecting as `connect` says.
    pub async fn open_with(
        url: &str,
        timing: Timing,
        connect: Connect,
    ) -> Result<Store, StoreError> {
        let pg_pool = connect.pg_pool;
        install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Config(format!(
                "unsupported database URL scheme (expected sqlite: or postgres://): {}:",
                url.split_once(':').map_or("(none)", |(scheme, _)| scheme)
            )));
        };
        let (write, read) = match backend {
            Backend::Sqlite => {
                // A new database file is owner-only, like `env.local` (its -wal and -shm files
                // take its permissions): it holds token hashes and the GitHub state.
                if let Some(file) = sqlite_direct::database_file(url)
                    && !file.exists()
                    && let Err(e) = backup::create_owner_only(&file)
                    && e.kind() != std::io::ErrorKind::AlreadyExists
                {
                    tracing::debug!(error = %e, "the database file was not created ahead");
                }
                let write = sqlite_pool(url, 1, true).await?;
                // Create the schema before readers open the file.
                let migrator = sqlx::migrate!("../../migrations/sqlite");
                upgrade::prepare(&write, backend, &migrator).await?;
                migrator.run(&write).await?;
                let read = sqlite_pool(url, 4, false).await?;
                (DbPool::Sqlite(write), DbPool::Sqlite(read))
            }
            Backend::Postgres => {
                // What runs before the service does (the upgrade of earlier texts, the
                // migrations) runs on a connection of its own, closed before the pool opens.
                let setup = AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await?;
                let migrator = sqlx::migrate!("../../migrations/postgres");
                let migrated = async {
                    upgrade::prepare(&setup, backend, &migrator).await?;
                    migrator.run(&setup).await?;
                    Ok::<(), StoreError>(())
                }
                .await;
                setup.close().await;
                migrated?;
                // The statements the compiler checks, and the webhook's deliveries, keep theirs
                // out of the same number (see `engine::checked`).
                let shared = pg_pool
                    .saturating_sub(checked::pg_connections(pg_pool))
                    .saturating_sub(checked::pg_ingest_connections(pg_pool))
                    .max(1);
                let pool = DbPool::Postgres(checked::pg_pool(url, shared)?);
                (pool.clone(), pool)
            }
        };
        let checked = match backend {
            Backend::Sqlite => CheckedPool::sqlite(url, checked::SQLITE_READERS)?,
            Backend::Postgres => CheckedPool::postgres(url, checked::pg_connections(pg_pool))?,
        };
        let ingest = match checked::pg_ingest_connections(pg_pool) {
            n if n > 0 && backend == Backend::Postgres => Some(checked::pg_pool(url, n)?),
            _ => None,
        };
        // SQLite: the file the direct connections open (none for an in-memory database, nor
        // when every statement goes through sqlx).
        let file = match backend {
            Backend::Sqlite if connect.sqlite_direct => sqlite_direct::database_file(url),
            Backend::Sqlite => None,
            Backend::Postgres => None,
        };
        let write_conn = match backend {
            Backend::Sqlite => Some(sqlite_writer::WriteConn::new(
                checked::sqlite_writer_pool(url)?,
                file.clone(),
            )),
            Backend::Postgres => None,
        };
        let writer = match backend {
            Backend::Sqlite => Some(sqlite_writer::WriterThread::start()?),
            Backend::Postgres => None,
        };
        let observer = ObserverSlot::default();
        if let (Some(w), Some(read)) = (&write_conn, read.sqlite()) {
            tokio::spawn(checkpoint_loop(read.clone(), w.clone(), observer.clone()));
        }
        let store = Store(Arc::new(StoreState {
            backend,
            write,
            read,
            checked,
            ingest,
            timing: Arc::new(timing),
            commit_steps: Arc::default(),
            hooks: Arc::default(),
            changed: Arc::new(Notify::new()),
            local_last_event: Arc::default(),
            expiry_quiet_until: Arc::default(),
            horizon: Arc::default(),
            signals: Arc::default(),
            groups: writer
                .as_deref()
                .map(leases::write_groups::WriteGroups::start),
            empty_claims: Arc::default(),
            commits: Arc::default(),
            settings_on_until: Arc::default(),
            claim_batches: Arc::default(),
            ack_batches: Arc::default(),
            move_batches: Arc::default(),
            writer,
            write_conn,
            readiness: Arc::new(readiness::Readiness::new(file.clone())),
            direct_reads: file.map(|file| Arc::new(sqlite_direct::ReadConns::new(file))),
            known_workers: Arc::default(),
            presence: Arc::default(),
            home: tokio::runtime::Handle::current(),
            observer,
        }));
        store.init_horizon().await?;
        store.start_wakeups(url).await?;
        store.start_statistics();
        Ok(store)
    }

    /// The runtime that opened this store: where background work a commit starts belongs.
    pub fn home(&self) -> &tokio::runtime::Handle {
        &self.home
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A lease deadline was set that may come sooner than the lease TTLs allow for (e.g. a comment
    /// claim's own TTL): `Expiry::due` must look again by then.
    pub fn note_deadline(&self, at: i64) {
        self.expiry_quiet_until
            .fetch_min(at, std::sync::atomic::Ordering::Relaxed);
    }

    /// Registers a hook that sees every write transaction before it commits.
    pub fn add_hook(&self, hook: Arc<dyn ChangeHook>) {
        self.hooks.write().expect("hooks lock").push(hook);
    }

    /// Registers a step of the store's own that writes inside every write transaction, before
    /// it commits.
    pub(crate) fn add_commit_step(&self, step: Arc<dyn CommitStep>) {
        self.commit_steps.write().expect("steps lock").push(step);
    }

    /// Whether a commit step or hook joins every transaction, which then cannot commit on its own
    /// (without a transaction around it, or on SQLite's direct connection).
    pub(crate) fn joins_commits(&self) -> bool {
        !self.commit_steps.read().expect("steps lock").is_empty()
            || !self.hooks.read().expect("hooks lock").is_empty()
    }

    /// SQLite: this store with read connections of its own, at most `reads` for the statements
    /// built at run time and as many for those the compiler checks: the read connections are
    /// few, and a busy reader would take them from the others. Everything else
    /// — the writer, the hooks, the wake-ups — is shared, so a change made through it is a
    /// change of this store. The comment sender renders status comments through it, off the
    /// read connections webhook deliveries use. PostgreSQL: this store (its pool is the size
    /// the operator gave the process, `OWP_DATABASE_POOL`, and reads and writes share it).
    pub async fn with_own_reads(&self, reads: u32) -> Result<Store, StoreError> {
        if self.backend == Backend::Postgres {
            return Ok(self.clone());
        }
        let Some(shared) = self.read.sqlite() else {
            return Ok(self.clone());
        };
        let read = shared
            .options()
            .clone()
            .max_connections(reads.max(1))
            .min_connections(1)
            .connect_with((*shared.connect_options()).clone())
            .await?;
        // The statements the compiler checks read through connections of its own as well.
        let checked = CheckedPool::sqlite(shared.connect_options().database_url.as_str(), reads)?;
        let s = &self.0;
        Ok(Store(Arc::new(StoreState {
            backend: s.backend,
            write: s.write.clone(),
            read: DbPool::Sqlite(read),
            ingest: s.ingest.clone(),
            timing: Arc::clone(&s.timing),
            commit_steps: Arc::clone(&s.commit_steps),
            hooks: Arc::clone(&s.hooks),
            changed: Arc::clone(&s.changed),
            local_last_event: Arc::clone(&s.local_last_event),
            expiry_quiet_until: Arc::clone(&s.expiry_quiet_until),
            horizon: Arc::clone(&s.horizon),
            signals: Arc::clone(&s.signals),
            writer: s.writer.clone(),
            groups: s.groups.clone(),
            empty_claims: Arc::clone(&s.empty_claims),
            commits: Arc::clone(&s.commits),
            settings_on_until: Arc::clone(&s.settings_on_until),
            claim_batches: Arc::clone(&s.claim_batches),
            ack_batches: Arc::clone(&s.ack_batches),
            move_batches: Arc::clone(&s.move_batches),
            write_conn: s.write_conn.clone(),
            direct_reads: s.direct_reads.clone(),
            known_workers: Arc::clone(&s.known_workers),
            presence: Arc::clone(&s.presence),
            home: s.home.clone(),
            observer: Arc::clone(&s.observer),
            readiness: Arc::clone(&s.readiness),
            checked,
        })))
    }

    /// The read pool (for queries of other modules that only read).
    pub fn read_pool(&self) -> &DbPool {
        &self.read
    }

    /// Takes the write lock and writes a row, then rolls back: nothing changes. `owp doctor`
    /// proves with it that the database takes writes.
    pub async fn probe_write(&self) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let now = now_ms().to_string();
        checked_in_tx!(tx.conn(), readiness::probe_write(&now))?;
        // Dropping the transaction without committing rolls it back.
        drop(tx);
        Ok(())
    }

    /// Writes the contacts not written yet (see [`presence`]), then closes the pools, flushing
    /// SQLite's WAL.
    pub async fn close(&self) {
        if let Err(e) = self.contacts().flush_all().await {
            tracing::warn!(error = %e, "the last presence flush failed");
        }
        if let Some(w) = &self.write_conn {
            w.close().await;
        }
        if let Some(reads) = &self.direct_reads {
            reads.close();
        }
        self.read.close().await;
        self.checked.close().await;
        if let Some(ingest) = &self.ingest {
            ingest.close().await;
        }
        self.write.close().await;
    }

    /// PostgreSQL: the connections this store may keep over all its pools, and those it keeps
    /// now (on SQLite, those of its read pools).
    pub fn connections(&self) -> (u32, u32) {
        let (checked_max, checked_open) = self.checked.connections();
        let (max, open) = self.read.connections();
        let (ingest_max, ingest_open) = self
            .ingest
            .as_ref()
            .map_or((0, 0), engine::pool::pool_connections);
        (
            max + checked_max + ingest_max,
            open + checked_open + ingest_open,
        )
    }
}

async fn sqlite_pool(url: &str, max: u32, writer: bool) -> Result<AnyPool, StoreError> {
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        // The writer's connection is taken out of its pool (see `sqlite_writer::WriteConn`).
        .min_connections(u32::from(!writer))
        .acquire_timeout(Duration::from_secs(30))
        // A connection to a local file cannot go stale: no ping (a round trip to the
        // connection's thread) before every use.
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                // WAL lets readers run beside the writer and other processes; the busy timeout makes
                // a second process wait for the write lock instead of failing.
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                conn.execute(composed::sqlite::busy_timeout(BUSY_TIMEOUT).into_sql_str())
                    .await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                if writer {
                    // The writer never checkpoints (that would copy pages to the database file
                    // and fsync it inside a commit, while every other write waits): see
                    // `checkpoint_loop`.
                    conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                    conn.execute(
                        composed::sqlite::journal_size_limit(WAL_SIZE_LIMIT).into_sql_str(),
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await?;
    Ok(pool)
}

/// SQLite: moves committed pages from the write-ahead log into the database file, beside the
/// writer instead of inside its commits. A passive checkpoint every 200 ms waits for no one.
///
/// That alone never lets the log start over while writes go on: the writer starts it over only
/// when it begins a transaction with every frame already copied, and under steady writes new
/// frames arrive while each passive checkpoint copies. The log file then grows without end
/// (gigabytes within minutes at full load), and every frame lands on a block the file system must
/// first allocate and zero. So once the log holds more than [`RESTART_FRAMES`], the loop restarts
/// it ([`restart_log`]). After a try that failed (a reader that keeps a transaction open, in this
/// process or another, or another process's checkpoint) it tries again after [`RESTART_RETRY`].
/// Ends when the pool is closed.
async fn checkpoint_loop(read: AnyPool, write: sqlite_writer::WriteConn, observer: ObserverSlot) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_restart = tokio::time::Instant::now();
    let mut next_warning = next_restart;
    while !read.is_closed() {
        tick.tick().await;
        let frames = match passive_checkpoint(&read).await {
            Ok(frames) => frames,
            Err(_) if read.is_closed() => break,
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                continue;
            }
        };
        if let Some(o) = observer.get() {
            o.wal_frames(frames);
        }
        let now = tokio::time::Instant::now();
        if frames <= RESTART_FRAMES || now < next_restart {
            continue;
        }
        match restart_log(&read, &write).await {
            Ok((done, held)) => {
                if let Some(o) = observer.get() {
                    o.wal_restart(done, held);
                }
                if done {
                    continue;
                }
                next_restart = now + RESTART_RETRY;
                // Said once a minute at most, and only once the log is large.
                if frames > 16 * RESTART_FRAMES && now >= next_warning {
                    tracing::warn!(
                        frames,
                        "the write-ahead log could not be restarted: a reader or another \
                         process's checkpoint kept it busy"
                    );
                    next_warning = now + Duration::from_secs(60);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                next_restart = now + RESTART_RETRY;
            }
        }
    }
}

/// A passive checkpoint: copies what no reader still needs, waits for no one. Returns the
/// number of frames in the log.
async fn passive_checkpoint(read: &AnyPool) -> Result<i64, sqlx::Error> {
    let (_, frames, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(read)
        .await?;
    Ok(frames)
}

/// Makes the writer's next transaction start the log over: a few more passive checkpoints, each
/// copying what was written during the one before, so that little is left; then this process's
/// turn on the write connection (no transaction of ours is open then, and the writes behind it
/// wait) and a restarting checkpoint there, which copies the rest and waits for the readers still
/// on older frames, at most [`RESTART_WAIT`]. Returns whether it finished, and how long it held
/// the writes.
async fn restart_log(
    read: &AnyPool,
    write: &sqlite_writer::WriteConn,
) -> Result<(bool, Duration), StoreError> {
    for _ in 0..RESTART_CATCH_UP {
        passive_checkpoint(read).await?;
    }
    let mut turn = write.turn().await?;
    let held = tokio::time::Instant::now();
    let done = restart_checkpoint(&mut turn).await?;
    Ok((done, held.elapsed()))
}

/// The log size (frames of one page each) past which [`checkpoint_loop`] restarts the log: 16 MB
/// with 4 KiB pages, a fraction of a second of writes at full load.
const RESTART_FRAMES: i64 = 4_096;
/// Passive checkpoints before a restart, each shorter than the one before.
const RESTART_CATCH_UP: usize = 3;
/// The longest a restarting checkpoint holds new writers while it waits for readers.
const RESTART_WAIT: Duration = Duration::from_millis(20);
/// The pause after a restart that could not finish.
const RESTART_RETRY: Duration = Duration::from_secs(1);

/// A restarting checkpoint on the write connection (the caller holds the turn), whose busy
/// timeout is [`RESTART_WAIT`] meanwhile; whether it finished.
async fn restart_checkpoint(turn: &mut sqlite_writer::WriteTurn) -> Result<bool, StoreError> {
    turn.execute(composed::sqlite::busy_timeout(RESTART_WAIT).into_sql_str())
        .await?;
    let done: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(RESTART)")
        .fetch_one(&mut **turn)
        .await;
    // Back to the pool's setting whatever came of it; a connection that cannot be reset is
    // closed instead of serving the next turn.
    if turn
        .execute(composed::sqlite::busy_timeout(BUSY_TIMEOUT).into_sql_str())
        .await
        .is_err()
    {
        turn.discard_sqlx();
    }
    let (busy, _, _) = done?;
    Ok(busy == 0)
}

/// SQLite: the size (bytes) the write-ahead log file is cut back to when the writer starts it
/// over. Without a limit the file keeps the largest size it ever reached (hundreds of MB after a
/// burst or a long-held reader), and the writer later writes frames into parts of it the kernel
/// has long dropped from its page cache: a frame (24 + 4,096 bytes) covers parts of two pages, so
/// each such write first reads the rest of its page from disk, with every other write waiting.
pub(crate) const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// RFC 3339 UTC with milliseconds.
pub fn format_ts(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A new random identifier with a readable prefix, e.g. `t_01HV…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the log restarts the store reports as done.
    #[derive(Default)]
    struct RestartCount {
        done: std::sync::atomic::AtomicU64,
    }

    impl StoreObserver for RestartCount {
        fn wal_restart(&self, done: bool, _held: Duration) {
            if done {
                self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// A store on `owp.db` in a new directory.
    async fn file_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("owp.db").display());
        let store = Store::open(&url, Timing::default()).await.unwrap();
        (dir, store)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restarting_checkpoint_gives_up_quickly_while_a_reader_holds_the_log() {
        let (dir, store) = file_store().await;
        let file = dir.path().join("owp.db");
        let repo = |name: &str| repos::RepoUpsert {
            name: name.into(),
            max_open_prs: 2,
            area_locks_enabled: None,
            extensions: Default::default(),
            ..Default::default()
        };
        store.repos().upsert(&repo("a/one"), "test").await.unwrap();
        // Another connection (another process, say) keeps a read transaction open, then more
        // is written: the log cannot be restarted while that reader stays.
        let reader = rusqlite::Connection::open(&file).unwrap();
        reader
            .execute_batch("BEGIN; SELECT COUNT(*) FROM repos;")
            .unwrap();
        store.repos().upsert(&repo("a/two"), "test").await.unwrap();
        // It gives up well before the pool's busy timeout. It waits its own RESTART_WAIT for
        // the reader, unless the store's passive checkpoint loop holds the checkpoint lock at
        // that moment (SQLite then answers busy at once; on a loaded machine that checkpoint's
        // fsync can last milliseconds): of tries spread over a second or two, one has to wait.
        let mut waits = Vec::new();
        for _ in 0..40 {
            if !waits.is_empty() {
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            let started = std::time::Instant::now();
            let mut turn = store.write_conn.as_ref().unwrap().turn().await.unwrap();
            assert!(!restart_checkpoint(&mut turn).await.unwrap());
            drop(turn);
            let waited = started.elapsed();
            assert!(waited < Duration::from_secs(5), "waited {waited:?}");
            waits.push(waited);
            if waited >= RESTART_WAIT {
                break;
            }
        }
        assert!(
            waits.iter().any(|w| *w >= RESTART_WAIT),
            "never waited for the reader: {waits:?}"
        );
        // Writes go on, and the write connection's busy timeout is back.
        store
            .repos()
            .upsert(&repo("a/three"), "test")
            .await
            .unwrap();
        let mut turn = store.write_conn.as_ref().unwrap().turn().await.unwrap();
        let timeout: (i64,) = sqlx::query_as("PRAGMA busy_timeout")
            .fetch_one(&mut *turn)
            .await
            .unwrap();
        assert_eq!(timeout.0, BUSY_TIMEOUT.as_millis() as i64);
        reader.execute_batch("COMMIT").unwrap();
        drop(reader);
        assert!(restart_checkpoint(&mut turn).await.unwrap());
        drop(turn);
        store.close().await;
    }

    /// Under writes that never pause, the log still starts over: its file stays near
    /// RESTART_FRAMES pages instead of growing with everything written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_starts_over_under_writes_that_never_pause() {
        let (dir, store) = file_store().await;
        let restarts = Arc::new(RestartCount::default());
        store.observe(restarts.clone());
        let write = store.write_conn.clone().unwrap();
        write
            .turn()
            .await
            .unwrap()
            .direct()
            .unwrap()
            .execute("CREATE TABLE filler (n INTEGER PRIMARY KEY, b BLOB)")
            .unwrap();
        // 128 MB in rows of 64 KiB, each its own transaction, over a few seconds (the loop's
        // checkpoints copy frames while more are written, so they never catch up on their own),
        // while a reader of this process reads now and then.
        let blob = "x".repeat(64 * 1024);
        let writes = async {
            for _ in 0..2048 {
                let mut turn = write.turn().await.unwrap();
                let conn = turn.direct().unwrap();
                conn.run(
                    "INSERT INTO filler (b) VALUES ($1)",
                    &[blob.as_str().into()],
                )
                .unwrap();
                drop(turn);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        let reads = async {
            loop {
                let _: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM repos")
                    .fetch_one(&store.read)
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::select! {
            () = writes => {}
            () = reads => {}
        }
        // A log that never started over would hold all 128 MB (the file is cut back only when
        // the log starts over).
        let wal = std::fs::metadata(dir.path().join("owp.db-wal"))
            .unwrap()
            .len();
        let limit = u64::try_from(WAL_SIZE_LIMIT).unwrap();
        assert!(wal <= limit, "{wal} bytes of log after 128 MB written");
        assert!(restarts.done.load(std::sync::atomic::Ordering::Relaxed) > 0);
        store.close().await;
    }
}
