//! SQLite's own statements built at run time: a connection's settings (`PRAGMA`s take no
//! parameters, so their values are written into the text), a batch of statements wrapped in its
//! transaction, and a statement's query plan.

use std::time::Duration;

use super::{Composed, Variant, variant_on};
use crate::Backend;

/// The setting that cuts the write-ahead log back to `bytes` when the writer starts it over.
pub(crate) fn journal_size_limit(bytes: i64) -> Composed {
    Composed::new(format!("PRAGMA journal_size_limit = {bytes}"))
}

/// The setting that has a connection wait `wait` for a lock before it answers "busy".
pub(crate) fn busy_timeout(wait: Duration) -> Composed {
    Composed::new(format!("PRAGMA busy_timeout = {}", wait.as_millis()))
}

/// The statements of `batch` (`;`-separated), beginning the transaction with them (`begin`) and
/// committing it after them (`commit`).
pub(crate) fn in_transaction(batch: Composed, begin: bool, commit: bool) -> Composed {
    Composed::new(format!(
        "{}{}{}",
        if begin { "BEGIN IMMEDIATE; " } else { "" },
        batch.0,
        if commit { "; COMMIT" } else { "" }
    ))
}

/// No statement: a batch that only begins or commits its transaction.
pub(crate) fn nothing() -> Composed {
    Composed::new(String::new())
}

/// The query plan SQLite would follow for `statement`.
pub(crate) fn query_plan(statement: Composed) -> Composed {
    Composed::new(format!("EXPLAIN QUERY PLAN {}", statement.0))
}

pub(super) fn variants() -> Vec<Variant> {
    let sqlite = |name: &str, statement| variant_on(Backend::Sqlite, name, statement);
    vec![
        sqlite("sqlite::journal_size_limit", journal_size_limit(1 << 26)),
        sqlite("sqlite::busy_timeout", busy_timeout(Duration::from_secs(5))),
        sqlite(
            "sqlite::query_plan",
            query_plan(super::events::insert_one()),
        ),
    ]
}
