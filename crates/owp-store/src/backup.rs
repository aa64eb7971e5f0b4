//! Backup and restore of an SQLite database, for the machines without the `sqlite3` tool (the
//! container image): `VACUUM INTO` writes a consistent copy from one read transaction, so a
//! backup runs while `owp serve` serves (writers go on; the copy holds what was committed when it
//! began). A restore checks the copy and writes it where no database is. Both files are created
//! owner-only: they hold the workers' and maintainers' token hashes and the GitHub state.
//! (PostgreSQL has `pg_dump` and `pg_restore`.)

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// What a backup or restore wrote.
#[derive(Debug)]
pub struct Copied {
    pub bytes: u64,
    /// The schema version (the last migration applied).
    pub schema: i64,
    pub took: Duration,
}

/// Creates `path` empty and owner-only, refusing one that exists.
pub fn create_owner_only(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

fn config(detail: String) -> StoreError {
    StoreError::Config(detail)
}

fn unreadable(path: &Path, e: rusqlite::Error) -> StoreError {
    config(format!(
        "{} cannot be read as an SQLite database: {e}",
        path.display()
    ))
}

fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| unreadable(path, e))
}

/// The last migration of an owp database (refuses a file that is none).
fn schema_of(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    conn.query_row(
        "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
        [],
        |r| r.get::<_, Option<i64>>(0),
    )
    .ok()
    .flatten()
    .ok_or_else(|| config(format!("{} is not an owp database", path.display())))
}

/// Copies the database `db` (which may be in use) to the new file `to`.
pub fn sqlite_backup(db: &Path, to: &Path) -> Result<Copied, StoreError> {
    let started = Instant::now();
    if !db.is_file() {
        return Err(config(format!("no database at {}", db.display())));
    }
    let conn = open_read_only(db)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let schema = schema_of(&conn, db)?;
    into_new_file(&conn, to)?;
    Ok(Copied {
        bytes: std::fs::metadata(to).map(|m| m.len()).unwrap_or(0),
        schema,
        took: started.elapsed(),
    })
}

/// Writes the backup `from` as the database `db`, where there is none (nor its `-wal`).
pub fn sqlite_restore(from: &Path, db: &Path) -> Result<Copied, StoreError> {
    let started = Instant::now();
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    for file in [db, Path::new(&wal)] {
        if file.exists() {
            return Err(config(format!(
                "{} exists: stop owp serve and move the database and its -wal and -shm files \
                 away first (a restore never overwrites a database)",
                file.display()
            )));
        }
    }
    let conn = open_read_only(from)?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| unreadable(from, e))?;
    if check != "ok" {
        return Err(config(format!(
            "{} is damaged ({check}): choose another backup",
            from.display()
        )));
    }
    let schema = schema_of(&conn, from)?;
    into_new_file(&conn, db)?;
    Ok(Copied {
        bytes: std::fs::metadata(db).map(|m| m.len()).unwrap_or(0),
        schema,
        took: started.elapsed(),
    })
}

/// `VACUUM INTO` a new owner-only file; the file is removed again when the copy fails.
fn into_new_file(conn: &Connection, to: &Path) -> Result<(), StoreError> {
    let target = to
        .to_str()
        .ok_or_else(|| config(format!("{} is not a UTF-8 path", to.display())))?;
    create_owner_only(to).map_err(|e| config(format!("cannot create {}: {e}", to.display())))?;
    if let Err(e) = conn.execute("VACUUM INTO ?1", [target]) {
        let _ = std::fs::remove_file(to);
        return Err(e.into());
    }
    Ok(())
}
