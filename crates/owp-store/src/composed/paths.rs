//! Path locks: a task's rows, many at once (one per prefix of each pattern, a number only the
//! caller knows), and whether they are held (the one text of a task in flight).

use super::{Composed, Variant, variant};
use crate::in_flight::in_flight;

/// `n` rows of `task_paths`, six parameters each (task, repository, source, pattern, prefix,
/// whether the prefix is the pattern), not held; a row stored already is kept.
pub(crate) fn insert_rows(n: usize) -> Composed {
    let values: Vec<String> = (0..n.max(1))
        .map(|i| {
            let b = i * 6;
            format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, 0)",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6
            )
        })
        .collect();
    Composed::new(format!(
        "INSERT INTO task_paths (task_seq, repo_id, source, pattern, prefix, exact, held) \
         VALUES {} ON CONFLICT DO NOTHING",
        values.join(", ")
    ))
}

/// The rows of task `$1` from source `$2` are held as the task is now (in flight or not).
pub(crate) fn held() -> Composed {
    Composed::new(format!(
        "UPDATE task_paths SET held = (SELECT CASE WHEN {} THEN 1 ELSE 0 END FROM tasks t \
           WHERE t.seq = $1) WHERE task_seq = $1 AND source = $2",
        in_flight("t")
    ))
}

pub(super) fn variants() -> Vec<Variant> {
    vec![
        variant("paths::insert_rows(1)", insert_rows(1)),
        variant("paths::insert_rows(3)", insert_rows(3)),
        variant("paths::held", held()),
    ]
}
