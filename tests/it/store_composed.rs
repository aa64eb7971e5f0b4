//! The statements the store builds at run time (`owp::store::composed`): every variant of every
//! one is prepared against a freshly migrated database of each backend it runs on, so that a
//! rule's text that names a column the schema no longer has, or a text that only one backend
//! takes, fails here. The others are checked by the compiler (`sql/`).

use sqlx::{AnyConnection, Connection, Executor};

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
    let mut conn = AnyConnection::connect(&db.url).await.unwrap();
    let all = every_statement();
    let mut names = std::collections::HashSet::new();
    let mut prepared = 0;
    let mut failed = Vec::new();
    for v in &all {
        assert!(names.insert(v.name.clone()), "{} is listed twice", v.name);
        if v.runs != Runs::Both && v.runs != backend {
            continue;
        }
        match (&mut conn)
            .prepare(v.statement.clone().into_sql_str())
            .await
        {
            Ok(_) => prepared += 1,
            Err(e) => failed.push(format!("{}: {e}\n  {}", v.name, v.statement.text())),
        }
    }
    assert!(failed.is_empty(), "{label}: {}", failed.join("\n"));
    assert!(prepared > 0, "{label}: nothing was prepared");
    conn.close().await.unwrap();
}
