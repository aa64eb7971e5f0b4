//! The statements the store builds at run time (`owp::store::composed`): every variant of every
//! one is prepared against a freshly migrated database of each backend it runs on, so that a
//! rule's text that names a column the schema no longer has, or a text that only one backend
//! takes, fails here. The others are checked by the compiler (`sql/`).

use sqlx::{Connection, Executor, PgConnection, SqliteConnection};

use owp::store::composed::{Runs, every_statement};

use crate::store_support::*;

on_both_backends!(every_composed_statement_prepares);

async fn every_composed_statement_prepares(db: TestDb) {
    let label = db.label;
    let backend = if db.url.starts_with("postgres") {
        Runs::Postgres
    } else {
        Runs::Sqlite
    };
    // Each backend's own connection, as the store's run: sqlx's `Any` driver describes fewer
    // parameter types than the statements bind (a `jsonb` list, say).
    let (mut sqlite, mut postgres) = match backend {
        Runs::Postgres => (None, Some(PgConnection::connect(&db.url).await.unwrap())),
        _ => (
            Some(SqliteConnection::connect(&db.url).await.unwrap()),
            None,
        ),
    };
    let all = every_statement();
    let mut names = std::collections::HashSet::new();
    let mut prepared = 0;
    let mut failed = Vec::new();
    for v in &all {
        assert!(names.insert(v.name.clone()), "{} is listed twice", v.name);
        if v.runs != Runs::Both && v.runs != backend {
            continue;
        }
        // A batch (SQLite's hot paths) is prepared statement by statement.
        for statement in v.statement.statements() {
            let sql = statement.clone().into_sql_str();
            let done = match (&mut sqlite, &mut postgres) {
                (Some(conn), _) => conn.prepare(sql).await.map(drop),
                (_, Some(conn)) => conn.prepare(sql).await.map(drop),
                _ => unreachable!("one connection is open"),
            };
            match done {
                Ok(()) => prepared += 1,
                Err(e) => failed.push(format!("{}: {e}\n  {}", v.name, statement.text())),
            }
        }
    }
    assert!(failed.is_empty(), "{label}: {}", failed.join("\n"));
    assert!(prepared > 0, "{label}: nothing was prepared");
    eprintln!(
        "{label}: {prepared} statements of {} variants prepared",
        all.len()
    );
    if let Some(conn) = sqlite {
        conn.close().await.unwrap();
    }
    if let Some(conn) = postgres {
        conn.close().await.unwrap();
    }
}
