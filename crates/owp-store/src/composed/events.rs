//! The audit log's one insert ([`insert_event`]), and the statements that append a
//! transaction's pending events with it.

use super::{Composed, Variant, variant, variant_on};
use crate::Backend;

/// The audit event's INSERT: the one text that appends to the event log, on every path of both
/// backends (a transaction's pending events here, and the statements of the leases' hot paths,
/// which append their event in the same statement or batch as their change). `values` are the SQL
/// expressions of its seven columns, in the order `kind, at, repo, task_id, worker_id, actor,
/// data`; `from` is empty (one event of those values) or a `FROM … WHERE …` clause whose rows each
/// append one event (no row: no event). It returns the event's id and its task's id (which tell
/// the events of one statement apart).
pub(in crate::composed) fn insert_event(values: [&str; 7], from: &str) -> String {
    let [kind, at, repo, task_id, worker_id, actor, data] = values;
    format!(
        "INSERT INTO events (kind, at, repo, task_id, worker_id, actor, data) \
         SELECT {kind}, {at}, {repo}, {task_id}, {worker_id}, {actor}, {data}{sep}{from} \
         RETURNING id, task_id",
        sep = if from.is_empty() { "" } else { " " },
    )
}

/// One event: `$1` to `$7` its columns (see [`insert_event`]).
pub(crate) fn insert_one() -> Composed {
    Composed::new(insert_event(["$1", "$2", "$3", "$4", "$5", "$6", "$7"], ""))
}

/// `n` events in one batch (SQLite), each of seven parameters after those of the one before.
pub(crate) fn insert_many(n: usize) -> Composed {
    let text = (0..n)
        .map(|i| {
            let p: Vec<String> = (1..=7).map(|k| format!("${}", i * 7 + k)).collect();
            insert_event(std::array::from_fn(|k| p[k].as_str()), "")
        })
        .collect::<Vec<_>>()
        .join("; ");
    Composed::new(text)
}

pub(super) fn variants() -> Vec<Variant> {
    vec![
        variant("events::insert_one", insert_one()),
        variant_on(Backend::Sqlite, "events::insert_many(3)", insert_many(3)),
    ]
}
