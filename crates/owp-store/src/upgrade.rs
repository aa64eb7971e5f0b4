//! What runs before the migrations: a database's record of applied migrations checked against this
//! build's files.
//!
//! Migrations are append-only (`migrations/landed.txt`). Before that rule, a few landed files were
//! edited and one renamed (`migrations/earlier.txt` keeps the checksum of every earlier text); sqlx
//! refuses a database that applied one of them. Such a database is recognised here: its record is
//! moved to the current file (version, description, checksum) and what the current text adds to
//! the earlier one is added, in one transaction, only where the recorded checksum is a known
//! earlier text. Anything else stays for sqlx to refuse. A database made by a newer owp (a version
//! this build has no file for) is refused in one sentence.

use sqlx::migrate::{Migration, Migrator};
use sqlx::{AnyPool, Row};

use super::{Backend, StoreError};
use crate::composed::{self, Composed};

/// The checksums of earlier texts of landed migration files, one line each:
/// `backend/NNNN_description.sql <sha384 hex>`.
const EARLIER: &str = include_str!("../../../migrations/earlier.txt");

/// An earlier text of a landed file.
struct Earlier<'a> {
    version: i64,
    /// As sqlx records it: the file name's words after the version.
    description: String,
    checksum: &'a str,
}

fn earlier(backend: Backend) -> impl Iterator<Item = Earlier<'static>> {
    let dir = match backend {
        Backend::Sqlite => "sqlite/",
        Backend::Postgres => "postgres/",
    };
    EARLIER
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(move |line| {
            let (path, checksum) = line.split_once(' ')?;
            let file = path.strip_prefix(dir)?.strip_suffix(".sql")?;
            let (version, description) = file.split_once('_')?;
            Some(Earlier {
                version: version.parse().ok()?,
                description: description.replace('_', " "),
                checksum: checksum.trim(),
            })
        })
}

/// Brings the record of a database that applied an earlier text of a landed file to the current
/// one, and refuses a database made by a newer owp. Changes nothing on a new database.
pub(crate) async fn prepare(
    pool: &AnyPool,
    backend: Backend,
    migrator: &Migrator,
) -> Result<(), StoreError> {
    let exists = match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT CAST(COUNT(*) AS BIGINT) FROM pg_tables \
             WHERE tablename = '_sqlx_migrations' AND schemaname = current_schema()"
        }
    };
    let (exists,): (i64,) = sqlx::query_as(exists).fetch_one(pool).await?;
    if exists == 0 {
        return Ok(());
    }
    let applied = sqlx::query("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")
        .fetch_all(pool)
        .await?;
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    let mut newest_unknown = None;
    for row in applied {
        let version: i64 = row.try_get(0)?;
        let checksum: Vec<u8> = row.try_get(1)?;
        if migrator
            .iter()
            .any(|m| m.version == version && *m.checksum == *checksum)
        {
            continue;
        }
        let hex = hex::encode(&checksum);
        let current = earlier(backend)
            .find(|e| e.version == version && e.checksum == hex)
            .and_then(|e| migrator.iter().find(|m| m.description == e.description));
        match current {
            Some(current) => bring_to_current(pool, backend, version, &checksum, current).await?,
            None if version > known => newest_unknown = newest_unknown.max(Some(version)),
            // Neither this build's text nor a known earlier one: sqlx refuses it by its number.
            None => {}
        }
    }
    if let Some(newer) = newest_unknown {
        return Err(StoreError::Config(format!(
            "the database was made by a newer owp: schema {newer}, this build knows {known}; run \
             that owp (or a newer one), or restore the backup taken before the upgrade"
        )));
    }
    Ok(())
}

/// Moves the record of migration `version` (an earlier text, `checksum`) to `current`, and adds
/// what the current text adds, in one transaction; a replica that did it first leaves nothing to
/// do.
async fn bring_to_current(
    pool: &AnyPool,
    backend: Backend,
    version: i64,
    checksum: &[u8],
    current: &Migration,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    let moved = sqlx::query(
        "UPDATE _sqlx_migrations SET version = $1, description = $2, checksum = $3 \
         WHERE version = $4 AND checksum = $5",
    )
    .bind(current.version)
    .bind(current.description.to_string())
    .bind(current.checksum.to_vec())
    .bind(version)
    .bind(checksum.to_vec())
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() == 1 {
        for statement in additions(backend, current.version) {
            if let Some((table, column)) = statement.column {
                let present = match backend {
                    Backend::Sqlite => "SELECT COUNT(*) FROM pragma_table_info($1) WHERE name = $2",
                    Backend::Postgres => {
                        "SELECT CAST(COUNT(*) AS BIGINT) FROM information_schema.columns \
                         WHERE table_schema = current_schema() AND table_name = $1 \
                           AND column_name = $2"
                    }
                };
                let (present,): (i64,) = sqlx::query_as(present)
                    .bind(table)
                    .bind(column)
                    .fetch_one(&mut *tx)
                    .await?;
                if present > 0 {
                    continue;
                }
            }
            // The text is this build's own (a constant, or a function of a migration file).
            sqlx::raw_sql(statement.sql.into_sql_str())
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    tracing::info!(
        from = version,
        to = current.version,
        "a migration applied in an earlier text is recorded as its current file"
    );
    Ok(())
}

/// One statement the current text of a migration adds to its earlier texts, written to run on a
/// database that may already hold what it adds.
struct Addition {
    /// `(table, column)` for a statement adding a column: it runs only when the column is missing
    /// (SQLite has no `ADD COLUMN IF NOT EXISTS`).
    column: Option<(&'static str, &'static str)>,
    sql: Composed,
}

fn sql(sql: &'static str) -> Addition {
    Addition {
        column: None,
        sql: composed::upgrade::fixed(sql),
    }
}

/// The definition of PostgreSQL function `name` in a migration's text, as `CREATE OR REPLACE`.
fn function(migration: &'static str, name: &str) -> Addition {
    Addition {
        column: None,
        sql: composed::upgrade::function(migration, name),
    }
}

/// What the current text of migration `version` adds to every earlier text of it (what a later
/// migration replaces anyway is not repeated here).
fn additions(backend: Backend, version: i64) -> Vec<Addition> {
    let postgres = backend == Backend::Postgres;
    match version {
        // Event ids from a sequence read by a function, no longer an identity column.
        1 if postgres => vec![
            sql("ALTER TABLE events ALTER COLUMN id DROP IDENTITY IF EXISTS"),
            sql("CREATE SEQUENCE IF NOT EXISTS events_id_seq CACHE 1"),
            function(
                include_str!("../../../migrations/postgres/0001_core.sql"),
                "owp_next_event_id",
            ),
            sql("ALTER TABLE events ALTER COLUMN id SET DEFAULT owp_next_event_id()"),
            sql("ALTER SEQUENCE events_id_seq OWNED BY events.id"),
            sql(
                "SELECT setval('events_id_seq', COALESCE((SELECT MAX(id) FROM events), 0) + 1, \
                 false)",
            ),
        ],
        8 => vec![sql("CREATE INDEX IF NOT EXISTS gh_outbox_replies \
             ON gh_outbox (repo, issue_number, created_at) WHERE kind = 'comment'")],
        24 => {
            let mut add = vec![sql(
                "CREATE INDEX IF NOT EXISTS task_paths_prefix ON task_paths (repo_id, prefix, exact)",
            )];
            if postgres {
                add.push(function(
                    include_str!("../../../migrations/postgres/0024_path_locks.sql"),
                    "owp_path_locks",
                ));
            }
            add
        }
        31 => vec![Addition {
            column: Some(("gh_linked_prs", "paths_too_broad")),
            sql: composed::upgrade::fixed(
                "ALTER TABLE gh_linked_prs ADD COLUMN paths_too_broad INTEGER NOT NULL DEFAULT 0",
            ),
        }],
        35 => {
            let mut add = vec![sql("DROP INDEX IF EXISTS task_reviews_by_reviewer")];
            if postgres {
                add.push(function(
                    include_str!("../../../migrations/postgres/0035_reviewers.sql"),
                    "owp_reviewer_room",
                ));
            }
            add
        }
        45 => vec![sql(
            "CREATE INDEX IF NOT EXISTS vouch_entries_unresolved ON vouch_entries (login) \
             WHERE account_id IS NULL",
        )],
        47 => vec![
            sql(
                "CREATE TABLE IF NOT EXISTS rate_counts (name TEXT PRIMARY KEY, \
                 window_start BIGINT NOT NULL, used BIGINT NOT NULL)",
            ),
            sql("CREATE INDEX IF NOT EXISTS rate_counts_window ON rate_counts (window_start)"),
            sql(
                "CREATE TABLE IF NOT EXISTS held_polls (worker_id TEXT PRIMARY KEY, \
                 holder TEXT NOT NULL)",
            ),
        ],
        _ => Vec::new(),
    }
}
