//! The storage engine: how a statement reaches the database and how a change commits, knowing no
//! table but the audit log (`events`) and, for their planner statistics only, the tables that
//! grow in bursts. The table modules of [`crate`] build on it; it imports none of them.
//!
//! - [`write_tx`]: [`write_tx::WriteTx`], the write transaction every state change goes through,
//!   with its audit events, commit steps and change hooks;
//! - [`replicas`]: retried write transactions, and what several processes sharing one PostgreSQL
//!   database need (the event log's commit-safe read position, cross-process wake-ups);
//! - [`sqlite_writer`]: SQLite's one write connection, taken in turns, and the thread that runs
//!   write transactions;
//! - [`sqlite_direct`]: SQLite connections whose statements run on the calling thread;
//! - [`statistics`]: PostgreSQL's planner statistics of the tables that grow in bursts (tasks,
//!   the GitHub inbox and outbox), kept current;
//! - [`checked`]: the pools of the statements the compiler checks (`sql/`), of each backend's own
//!   connection type;
//! - [`pool`]: the pool of the statements built at run time outside transactions (on
//!   PostgreSQL the one write transactions begin on too);
//! - [`tx_conn`]: a write transaction's typed connection, seen by the statements built at run
//!   time;
//! - [`columns`]: reading a row's columns by name, whichever connection returned it.
//!
//! Each file is named for what it holds, and a file that serves SQLite only says so in its name.
//!
//! [`columns`]: crate::columns

pub(crate) mod checked;
pub mod pool;
pub(crate) mod replicas;
pub(crate) mod sqlite_direct;
pub(crate) mod sqlite_writer;
pub(crate) mod statistics;
pub mod tx_conn;
pub mod write_tx;
