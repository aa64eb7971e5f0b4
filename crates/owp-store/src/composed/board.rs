//! The public board: the newest tasks of public repositories with their lease's clock
//! ([`TASK_SELECT`]), and the names of the workers it shows (a list as long as the page's).

use super::{Composed, Variant, marks, variant};
use crate::rows::TASK_SELECT;

/// The newest `$1` tasks of public, unarchived repositories, newest first.
pub(crate) fn public_tasks() -> Composed {
    Composed::new(format!(
        "{TASK_SELECT} WHERE r.private = 0 AND r.archived_at IS NULL \
         ORDER BY t.seq DESC LIMIT $1"
    ))
}

/// The names of the `n` workers `$1` … `$n`, by id.
pub(crate) fn worker_names(n: usize) -> Composed {
    Composed::new(format!(
        "SELECT id, name FROM workers WHERE id IN ({}) ORDER BY id",
        marks(1, n)
    ))
}

pub(super) fn variants() -> Vec<Variant> {
    vec![
        variant("board::public_tasks", public_tasks()),
        variant("board::worker_names(1)", worker_names(1)),
        variant("board::worker_names(3)", worker_names(3)),
    ]
}
