//! Errors of the storage layer. Callers branch on the variant; the HTTP layer turns each into a
//! problem+json response with a stable `code`.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::domain::rules::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist. `code` is e.g. `task_not_found`.
    #[error("{detail}")]
    NotFound { code: &'static str, detail: String },
    /// A state conflict: illegal transition, lease no longer held, …
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// Authenticated but not allowed (another worker's lease).
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    /// Well-formed but invalid values.
    #[error("{detail}")]
    Invalid { code: &'static str, detail: String },
    /// The object existed and was ended for good (an archived worker).
    #[error("{detail}")]
    Gone { code: &'static str, detail: String },
    /// A claim of one named task broke scheduling rules: every one it broke, in the spec's order
    /// (never empty).
    #[error("{}", .0.first().map(ToString::to_string).unwrap_or_default())]
    Refused(Vec<Refusal>),
    /// Bad configuration (e.g. an unsupported database URL).
    #[error("{0}")]
    Config(String),
    #[error("database error: {0}")]
    Db(sqlx::Error),
    /// The database has no room left (SQLite `SQLITE_FULL`, PostgreSQL `disk_full`): nothing of
    /// the transaction was written, and a retry may succeed once space is freed.
    #[error("the database storage is full")]
    StorageFull,
    /// An error of a statement run on the calling thread (see [`super::engine::sqlite_direct`]).
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    /// The database's migrations could not run. Its message is said once: the error has no
    /// source, so a caller printing the chain does not repeat it.
    #[error("the database's migrations: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// The connection was lost while its `COMMIT` was on the way: the transaction may or may not
    /// have committed, so it is not run again by the store.
    #[error("the database connection was lost while committing: {0}")]
    CommitLost(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    /// Text PostgreSQL cannot store (a NUL character; SQLite takes it) is the client's input, not
    /// a failure of the service: it becomes a 422.
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && matches!(db.code().as_deref(), Some("22021" | "22P05"))
        {
            return StoreError::invalid(
                "invalid_text",
                "text values must not contain NUL characters",
            );
        }
        // SQLite's primary code 13 (SQLITE_FULL), PostgreSQL's class 53100 (disk_full).
        if let sqlx::Error::Database(db) = &e
            && (matches!(db.code().as_deref(), Some("13" | "53100"))
                || db.message().contains("database or disk is full"))
        {
            return StoreError::StorageFull;
        }
        if is_connection_lost(&e) {
            connection_lost();
        }
        StoreError::Db(e)
    }
}

/// When this process last saw a database connection lost (ms since the epoch; 0: never).
static CONNECTION_LOST_AT: AtomicI64 = AtomicI64::new(0);
/// How long after a connection was lost every pooled connection is tried before it is used.
const TRY_CONNECTIONS_FOR_MS: i64 = 5_000;

/// Notes that a database connection was lost. Connections are usually cut together (the
/// server restarted, an operator ended every backend, the network failed): for a while every
/// pooled connection is tried before it is used, so that the ones cut meanwhile are replaced
/// rather than failing a request each.
pub(crate) fn connection_lost() {
    CONNECTION_LOST_AT.fetch_max(super::now_ms(), Ordering::Relaxed);
}

/// Whether a connection was lost lately (see [`connection_lost`]).
pub(crate) fn connections_in_doubt() -> bool {
    super::now_ms() - CONNECTION_LOST_AT.load(Ordering::Relaxed) < TRY_CONNECTIONS_FOR_MS
}

/// The connection to the database was lost (its server process ended, as
/// `pg_terminate_backend` or a restart of the server does, or the network failed), rather than
/// the statement refused: nothing of an open transaction was committed, and another connection
/// may well succeed.
fn is_connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) => true,
        // Class 08 (connection exception), and 57P01–57P03 (the server process was terminated,
        // crashed or is starting).
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")
        }),
        sqlx::Error::Protocol(text) => {
            let text = text.to_ascii_lowercase();
            text.contains("connection closed") || text.contains("unexpected eof")
        }
        _ => false,
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            return StoreError::StorageFull;
        }
        StoreError::Sqlite(e)
    }
}

impl From<crate::domain::limits::OutOfBounds> for StoreError {
    fn from(e: crate::domain::limits::OutOfBounds) -> Self {
        StoreError::invalid(e.code, e.detail)
    }
}

/// The code of the transient conflict of a claim whose task's area another transaction took
/// first: it wrote nothing, and is run again like a deadlock.
pub(crate) const CLAIM_RACE: &str = "claim_race";

/// The names under which the database refuses a claim that its own statement let through: a
/// lease over its repository's hourly claim cap, a task whose paths another claim took first, a
/// lease its repository's reviewers have no room for (rule 13), a lease beyond its person's
/// `max_claims_per_user`.
const CLAIM_RECHECKS: [&str; 4] = [
    "repos_claims_per_hour",
    "task_paths_overlap",
    "repos_reviewer_room",
    "persons_claims",
];

impl StoreError {
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        StoreError::NotFound {
            code,
            detail: detail.into(),
        }
    }
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        StoreError::Conflict {
            code,
            detail: detail.into(),
        }
    }
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        StoreError::Forbidden {
            code,
            detail: detail.into(),
        }
    }
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        StoreError::Invalid {
            code,
            detail: detail.into(),
        }
    }
    pub fn gone(code: &'static str, detail: impl Into<String>) -> Self {
        StoreError::Gone {
            code,
            detail: detail.into(),
        }
    }

    /// A transient failure worth retrying the whole transaction for: SQLite busy/locked, or a
    /// PostgreSQL serialization failure or deadlock.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(db)) => {
                let code = db.code().unwrap_or_default();
                matches!(code.as_ref(), "5" | "6" | "261" | "517" | "40001" | "40P01")
                    || db.message().contains("database is locked")
            }
            StoreError::Db(sqlx::Error::PoolTimedOut) => true,
            StoreError::Conflict { code, .. } => *code == CLAIM_RACE,
            StoreError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }

    /// A transient conflict between transactions (a deadlock, a serialization failure, SQLite
    /// busy): unlike [`StoreError::is_retryable`], not a full connection pool.
    pub fn is_conflict(&self) -> bool {
        self.is_retryable() && !matches!(self, StoreError::Db(sqlx::Error::PoolTimedOut))
    }

    /// The error of a `COMMIT`: a lost connection leaves its outcome unknown.
    pub(crate) fn from_commit(e: sqlx::Error) -> Self {
        match StoreError::from(e) {
            StoreError::Db(e) if is_connection_lost(&e) => StoreError::CommitLost(e),
            other => other,
        }
    }

    /// The connection to the database was lost on the way (see [`is_connection_lost`]); a
    /// failed `COMMIT` is [`StoreError::CommitLost`], not this.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, StoreError::Db(e) if is_connection_lost(e))
    }

    /// The request failed, but what its transaction found on the way is final and must still be
    /// committed: an expired lease discovered by the request (the task is already requeued).
    pub fn commits_anyway(&self) -> bool {
        matches!(self, StoreError::Conflict { code, .. } if *code == "lease_expired")
    }

    /// A claim refused by a PostgreSQL trigger that checked it again under the repository's row
    /// lock: its repository's hourly claim cap was reached
    /// (`migrations/postgres/0021_hourly_claim_cap.sql`, its recheck `0033_hourly_cap_recheck.sql`),
    /// or another claim took an overlapping
    /// path first (`0024_path_locks.sql`), or its repository's reviewers have no room left
    /// (`0035_reviewers.sql`). Nothing was written: a lost race.
    pub fn is_claim_recheck(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(db)) => CLAIM_RECHECKS
                .iter()
                .any(|c| db.constraint() == Some(*c) || db.message().contains(c)),
            _ => false,
        }
    }

    /// A unique constraint was violated (e.g. a concurrent claim took the area lock first).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(db)) => {
                db.is_unique_violation()
                    || db.message().contains("UNIQUE constraint failed")
                    || db.code().as_deref() == Some("23505")
            }
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StoreError;
    use rusqlite::ffi;

    fn sqlite(code: i32) -> StoreError {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(ffi::Error::new(code), None))
    }

    #[test]
    fn errors_of_the_direct_connection_classify_like_sqlx_ones() {
        assert!(sqlite(ffi::SQLITE_BUSY).is_retryable());
        assert!(sqlite(ffi::SQLITE_LOCKED).is_retryable());
        assert!(!sqlite(ffi::SQLITE_CONSTRAINT_NOTNULL).is_retryable());
        assert!(sqlite(ffi::SQLITE_CONSTRAINT_UNIQUE).is_unique_violation());
        assert!(sqlite(ffi::SQLITE_CONSTRAINT_PRIMARYKEY).is_unique_violation());
        assert!(!sqlite(ffi::SQLITE_CONSTRAINT_NOTNULL).is_unique_violation());
        assert!(!sqlite(ffi::SQLITE_BUSY).commits_anyway());
        assert!(sqlite(ffi::SQLITE_BUSY).is_conflict());
        // A full pool is worth waiting for again, but it is no conflict between transactions.
        assert!(matches!(
            StoreError::from(rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_FULL),
                None
            )),
            StoreError::StorageFull
        ));
        let full = StoreError::Db(sqlx::Error::PoolTimedOut);
        assert!(full.is_retryable() && !full.is_conflict());
    }

    #[test]
    fn a_lost_connection_is_told_apart_and_a_lost_commit_from_it() {
        let cut = || {
            sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ))
        };
        let lost = StoreError::from(cut());
        assert!(lost.is_connection_lost() && !lost.is_conflict());
        assert!(
            super::connections_in_doubt(),
            "pooled connections are tried for a while"
        );
        let commit = StoreError::from_commit(cut());
        assert!(matches!(commit, StoreError::CommitLost(_)));
        assert!(
            !commit.is_connection_lost(),
            "a cut COMMIT is not run again"
        );
        assert!(!StoreError::from(sqlx::Error::RowNotFound).is_connection_lost());
        assert!(!StoreError::from_commit(sqlx::Error::RowNotFound).is_connection_lost());
        let e: crate::StoreError =
            StoreError::Db(sqlx::Error::Protocol("connection closed".into()));
        assert!(e.is_connection_lost());
    }
}
