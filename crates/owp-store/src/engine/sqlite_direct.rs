//! SQLite: statements that run on the calling thread, through connections of this module.
//!
//! sqlx gives every SQLite connection a thread of its own and sends it each statement over a
//! channel; every statement and every row it returns is then a hand-off between two threads (two
//! wake-ups, two context switches), which under load costs far more than the statement itself
//! (see `docs/performance.md`). The two hottest things the service does on SQLite run here
//! instead, on a connection opened through `rusqlite` on the same database file and linked
//! against the same SQLite library:
//!
//! - the write groups of claims, acks and status moves (`store::leases::write_groups`), on the
//!   writer thread, with a write connection that takes the same turns as sqlx's
//!   ([`super::sqlite_writer::WriteConn`]), so the process still writes through one connection
//!   at a time;
//! - the token look-up that authenticates every worker request ([`ReadConns`]), a single
//!   indexed read that takes microseconds and so runs where the request is.
//!
//! Statement texts are those of `store::leases::sqlite_batch`: `;`-separated statements with numbered
//! parameters `$N`; each statement is prepared once and cached.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use crate::columns::{OutRow, Outcome, Plain, PlainRow};
use crate::{BUSY_TIMEOUT, StoreError, WAL_SIZE_LIMIT};

/// A value bound to a statement parameter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Param {
    Null,
    Int(i64),
    Text(String),
}

impl From<i64> for Param {
    fn from(v: i64) -> Param {
        Param::Int(v)
    }
}

impl From<String> for Param {
    fn from(v: String) -> Param {
        Param::Text(v)
    }
}

impl From<&str> for Param {
    fn from(v: &str) -> Param {
        Param::Text(v.to_string())
    }
}

impl<T: Into<Param>> From<Option<T>> for Param {
    fn from(v: Option<T>) -> Param {
        v.map_or(Param::Null, Into::into)
    }
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Param::Null => ValueRef::Null,
            Param::Int(i) => ValueRef::Integer(*i),
            Param::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// The database file behind a `sqlite:` URL, or `None` for a database that lives only in one
/// connection's memory (a second connection would not see it).
pub(crate) fn database_file(url: &str) -> Option<PathBuf> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let file = options.get_filename();
    let name = file.to_string_lossy();
    if name.is_empty() || name == ":memory:" || name.starts_with("file:") {
        return None;
    }
    Some(file.to_path_buf())
}

/// How long a read connection waits for a busy database (it runs on a request's thread).
const READ_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// How the writer waits for the write lock while another process holds it (an operator's tool,
/// a replication tool's checkpoint): SQLite calls this each time it finds the lock held,
/// `looks` being how many times it already did in this wait; it pauses and looks again, or gives
/// up (the operation then fails as busy and its transaction is retried, see
/// [`StoreError::is_retryable`]).
fn writer_busy(looks: i32) -> bool {
    match busy_pause(looks) {
        Some(pause) => {
            std::thread::sleep(pause);
            true
        }
        None => false,
    }
}

/// Looks taken every 0.1 ms before the writer's wait slows to one look per millisecond.
const QUICK_LOOKS: i32 = 50;

/// The pause before the writer's next look at a held write lock: 0.1 ms for the first 5 ms, then
/// 1 ms, until [`BUSY_TIMEOUT`] has passed in all (`None`: give up). SQLite's own busy
/// timeout sleeps 1, 2, 5, 10, 15, 20, 25, … 100 ms between looks, so the writer — every claim,
/// ack and status move of the service — stayed asleep long after a short foreign write: 8 ms for
/// a lock held 4 ms, 33 ms for one held 19 ms.
fn busy_pause(looks: i32) -> Option<std::time::Duration> {
    let limit_ms = i64::try_from(BUSY_TIMEOUT.as_millis()).unwrap_or(i64::MAX);
    let looks = i64::from(looks.max(0));
    let quick = i64::from(QUICK_LOOKS);
    let (pause_us, waited_ms) = if looks < quick {
        (100, looks / 10)
    } else {
        (1_000, quick / 10 + (looks - quick))
    };
    (waited_ms < limit_ms).then(|| std::time::Duration::from_micros(pause_us))
}

/// How many statement texts a connection keeps prepared.
const STATEMENT_CACHE: usize = 256;

/// A SQLite connection whose statements run on the calling thread.
pub(crate) struct DirectConn {
    conn: Connection,
    /// The column names of each statement text that returned rows, shared by its rows: copying
    /// them for every run was a dozen or more small allocations per read.
    names: RefCell<HashMap<String, Arc<[String]>>>,
}

impl DirectConn {
    /// Opens the (existing) database file with the settings of the service's sqlx connections:
    /// write-ahead log, `synchronous = NORMAL`, a busy timeout for other processes' writes (1 s
    /// for readers), and for the writer no automatic checkpoints (the checkpoint loop does them,
    /// see `crate`'s checkpoint loop) and the log's size limit ([`WAL_SIZE_LIMIT`]).
    pub(crate) fn open(path: &Path, writer: bool) -> Result<DirectConn, StoreError> {
        let flags = if writer {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        } else {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        if writer {
            conn.busy_handler(Some(writer_busy))?;
        } else {
            // A reader runs on a request's thread: it gives up sooner (a busy database then
            // answers 503 and the client retries) rather than hold that thread the writer's 10 s.
            conn.busy_timeout(READ_BUSY_TIMEOUT)?;
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON")?;
        if writer {
            conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
            conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        }
        // Every statement text of the hot paths stays prepared.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(DirectConn {
            conn,
            names: RefCell::default(),
        })
    }

    /// Runs statements without parameters or results (`BEGIN IMMEDIATE`, `COMMIT`, `ROLLBACK`).
    pub(crate) fn execute(&self, sql: &str) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch(sql)?)
    }

    /// Runs `;`-separated statements whose parameters `$N` take `params[N - 1]`, and returns
    /// what each returned, in order. The texts hold no `;` but between statements. The first
    /// failing statement ends the run with its error.
    pub(crate) fn run(&self, sql: &str, params: &[Param]) -> Result<Vec<Outcome>, StoreError> {
        let mut out = Vec::new();
        for text in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let mut stmt = self.conn.prepare_cached(text)?;
            for i in 1..=stmt.parameter_count() {
                let value = stmt
                    .parameter_name(i)
                    .and_then(|name| name.strip_prefix('$'))
                    .and_then(|n| n.parse::<usize>().ok())
                    .and_then(|n| params.get(n.checked_sub(1)?))
                    .ok_or_else(|| {
                        StoreError::Config(format!("parameter {i} of `{text}` has no value"))
                    })?;
                stmt.raw_bind_parameter(i, value)?;
            }
            let width = stmt.column_count();
            let readonly = stmt.readonly();
            let mut rows = Vec::new();
            {
                let mut names: Option<Arc<[String]>> = None;
                let mut cursor = stmt.raw_query();
                while let Some(row) = cursor.next()? {
                    let names = names
                        .get_or_insert_with(|| self.column_names(text, row.as_ref()))
                        .clone();
                    let mut values = Vec::with_capacity(width);
                    for i in 0..width {
                        values.push(Plain::read(row.get_ref(i)?));
                    }
                    rows.push(OutRow::Plain(PlainRow { names, values }));
                }
            }
            let affected = if readonly { 0 } else { self.conn.changes() };
            out.push(Outcome { rows, affected });
        }
        Ok(out)
    }

    /// The column names of the statement `text`, copied on its first run only.
    fn column_names(&self, text: &str, stmt: &rusqlite::Statement<'_>) -> Arc<[String]> {
        // A text whose columns changed (a `*` over an altered table) is read again.
        if let Some(names) = self.names.borrow().get(text)
            && names.len() == stmt.column_count()
        {
            return names.clone();
        }
        let names: Arc<[String]> = stmt.column_names().into_iter().map(String::from).collect();
        let mut known = self.names.borrow_mut();
        // As many as the prepared statements kept (the texts are a few fixed ones).
        if known.len() >= STATEMENT_CACHE {
            known.clear();
        }
        known.insert(text.to_string(), names.clone());
        names
    }

    /// The first row of a single read, if any.
    pub(crate) fn read_one(
        &self,
        sql: &str,
        params: &[Param],
    ) -> Result<Option<PlainRow>, StoreError> {
        let out = self.run(sql, params)?;
        Ok(out
            .into_iter()
            .next()
            .and_then(|o| o.rows.into_iter().next())
            .and_then(|r| match r {
                OutRow::Plain(row) => Some(row),
                OutRow::Sqlx(_) => None,
            }))
    }
}

/// Read connections for point look-ups on the calling thread (SQLite only): each look-up takes
/// one from the shelf (or opens one) and puts it back. In write-ahead-log mode a reader never
/// waits for the writer, so a look-up blocks its thread only for the microseconds it runs.
pub(crate) struct ReadConns {
    path: PathBuf,
    shelf: Mutex<Vec<DirectConn>>,
}

impl ReadConns {
    pub(crate) fn new(path: PathBuf) -> ReadConns {
        ReadConns {
            path,
            shelf: Mutex::default(),
        }
    }

    /// Runs `read` on a read connection of this process.
    pub(crate) fn with<T>(
        &self,
        read: impl FnOnce(&DirectConn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let taken = self.shelf.lock().map(|mut s| s.pop()).unwrap_or_default();
        let conn = match taken {
            Some(conn) => conn,
            None => DirectConn::open(&self.path, false)?,
        };
        let result = read(&conn);
        if let Ok(mut shelf) = self.shelf.lock()
            && shelf.len() < 16
        {
            shelf.push(conn);
        }
        result
    }

    /// Closes the connections on the shelf (the store is closing: the last connection to the
    /// file checkpoints the write-ahead log and removes it).
    pub(crate) fn close(&self) {
        if let Ok(mut shelf) = self.shelf.lock() {
            shelf.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::Columns;

    fn scratch() -> (tempfile::TempDir, DirectConn) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "PRAGMA journal_mode = WAL; \
                 CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER)",
            )
            .unwrap();
        let conn = DirectConn::open(&path, true).unwrap();
        (dir, conn)
    }

    /// After a burst the log is cut back to the limit when the writer starts it over, instead of
    /// keeping the burst's size (whose cold pages each later write would read back first).
    #[test]
    fn the_write_ahead_log_is_cut_back_when_it_starts_over() {
        let (dir, conn) = scratch();
        let wal = dir.path().join("t.db-wal");
        let blob = "x".repeat(1 << 20);
        let limit = u64::try_from(WAL_SIZE_LIMIT).unwrap();
        for _ in 0..80 {
            conn.run(
                "INSERT INTO t (name) VALUES ($1)",
                &[Param::from(blob.as_str())],
            )
            .unwrap();
        }
        let burst = std::fs::metadata(&wal).unwrap().len();
        assert!(burst > limit, "the burst filled {burst} bytes of log");
        // Another connection moves every frame into the database file; the writer's next commit
        // then starts the log over, and cuts the file back.
        Connection::open(dir.path().join("t.db"))
            .unwrap()
            .execute_batch("PRAGMA wal_checkpoint(PASSIVE)")
            .unwrap();
        conn.run("INSERT INTO t (name) VALUES ('after')", &[])
            .unwrap();
        let after = std::fs::metadata(&wal).unwrap().len();
        assert!(after <= limit, "{after} bytes of log after starting over");
    }

    /// The writer looks at a held write lock every 0.1 ms for its first 5 ms of waiting, then
    /// every millisecond, and gives up once the busy timeout has passed.
    #[test]
    fn the_writer_looks_often_at_a_held_write_lock_and_gives_up_after_the_timeout() {
        let quick = std::time::Duration::from_micros(100);
        let slow = std::time::Duration::from_millis(1);
        assert_eq!(busy_pause(0), Some(quick));
        assert_eq!(busy_pause(QUICK_LOOKS - 1), Some(quick));
        assert_eq!(busy_pause(QUICK_LOOKS), Some(slow));
        let mut waited = std::time::Duration::ZERO;
        let mut looks = 0;
        while let Some(pause) = busy_pause(looks) {
            waited += pause;
            looks += 1;
        }
        let timeout = BUSY_TIMEOUT;
        assert!(
            waited >= timeout - slow && waited <= timeout + slow,
            "gave up after {waited:?} of pauses"
        );
        assert_eq!(busy_pause(i32::MAX), None);
    }

    /// Another process's write lock makes the writer wait, not fail, and the writer's
    /// transaction begins once that lock is released.
    #[test]
    fn the_writer_waits_for_a_write_lock_another_connection_holds() {
        let (dir, conn) = scratch();
        let other = Connection::open(dir.path().join("t.db")).unwrap();
        other
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO t (name) VALUES ('other')")
            .unwrap();
        let hold = std::time::Duration::from_millis(30);
        let holder = std::thread::spawn(move || {
            std::thread::sleep(hold);
            other.execute_batch("COMMIT").unwrap();
        });
        let started = std::time::Instant::now();
        conn.execute("BEGIN IMMEDIATE").unwrap();
        let waited = started.elapsed();
        holder.join().unwrap();
        conn.run("INSERT INTO t (name) VALUES ('writer')", &[])
            .unwrap();
        conn.execute("COMMIT").unwrap();
        assert!(waited >= hold / 2, "began after {waited:?}");
        let names = conn
            .run("SELECT name FROM t ORDER BY id", &[])
            .unwrap()
            .remove(0)
            .rows
            .len();
        assert_eq!(names, 2);
    }

    #[test]
    fn numbered_parameters_bind_by_number_in_every_statement() {
        let (_dir, conn) = scratch();
        let out = conn
            .run(
                "INSERT INTO t (name, n) VALUES ($2, $1) RETURNING id; \
                 INSERT INTO t (name, n) VALUES ($3, NULL); \
                 UPDATE t SET n = n + $1 WHERE name = $2; \
                 SELECT id, name, n FROM t ORDER BY id",
                &[Param::Int(7), Param::from("a"), Param::from(Some("b"))],
            )
            .unwrap();
        assert_eq!(out.len(), 4);
        assert_eq!((out[0].rows.len(), out[0].affected), (1, 1));
        assert_eq!(out[1].affected, 1);
        assert_eq!(out[2].affected, 1);
        assert_eq!(out[3].affected, 0, "a read changes nothing");
        let rows = &out[3].rows;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].col::<String>("name").unwrap(), "a");
        assert_eq!(rows[0].col::<i64>("n").unwrap(), 14);
        assert_eq!(rows[1].col::<Option<i64>>("n").unwrap(), None);
        assert_eq!(
            rows[1].col::<Option<String>>("name").unwrap(),
            Some("b".into())
        );
        assert!(
            rows[0].col::<i64>("name").is_err(),
            "a text is not an integer"
        );
        assert!(rows[0].col::<i64>("missing").is_err());
    }

    /// Column names are kept per statement text: each text's rows carry its own names, on every
    /// run, and a `*` whose table gained a column is read with the new one.
    #[test]
    fn rows_carry_the_column_names_of_their_own_statement() {
        let (_dir, conn) = scratch();
        conn.run("INSERT INTO t (name, n) VALUES ('a', 1)", &[])
            .unwrap();
        let first = |sql: &str| conn.read_one(sql, &[]).unwrap().expect("a row");
        let names = |sql: &str| first(sql).names.to_vec();
        for _ in 0..2 {
            assert_eq!(names("SELECT name AS x, n AS y FROM t"), ["x", "y"]);
            assert_eq!(names("SELECT n AS z FROM t"), ["z"]);
            assert_eq!(names("SELECT * FROM t"), ["id", "name", "n"]);
        }
        let row = first("SELECT n AS z FROM t");
        assert_eq!(row.col::<i64>("z").unwrap(), 1);
        assert!(
            row.col::<i64>("y").is_err(),
            "not a column of this statement"
        );
        conn.run("ALTER TABLE t ADD COLUMN extra TEXT", &[])
            .unwrap();
        assert_eq!(names("SELECT * FROM t"), ["id", "name", "n", "extra"]);
    }

    #[test]
    fn a_missing_parameter_or_a_failing_statement_is_an_error() {
        let (_dir, conn) = scratch();
        let e = conn.run("SELECT $2", &[Param::Int(1)]).err().unwrap();
        assert!(e.to_string().contains("no value"), "{e}");
        let e = conn
            .run("INSERT INTO t (name) VALUES (NULL)", &[])
            .err()
            .unwrap();
        assert!(e.to_string().contains("NOT NULL"), "{e}");
    }

    #[test]
    fn in_memory_databases_have_no_file() {
        assert_eq!(database_file("sqlite::memory:"), None);
        assert_eq!(
            database_file("sqlite:///tmp/x/owp.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x/owp.db"))
        );
    }
}
