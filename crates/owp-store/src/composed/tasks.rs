//! Tasks as readers see them: each with its lease's clock, its blockers and who holds the paths
//! it waits on ([`TASK_SELECT`], which joins the rules' texts of a lease held and of path
//! overlap), by id, by key, to plan, and the filtered list (whose conditions are those asked).

use super::{Composed, Variant, variant};
use crate::rows::TASK_SELECT;

/// Task `$1`.
pub(crate) fn by_id() -> Composed {
    Composed::new(format!("{TASK_SELECT} WHERE t.id = $1"))
}

/// The task of repository `$1` whose key is `$2`.
pub(crate) fn by_key() -> Composed {
    Composed::new(format!("{TASK_SELECT} WHERE r.name = $1 AND t.key = $2"))
}

/// Task `$1` when a worker of trust `$2` may read it to plan it: `ready`, in a public repository
/// that takes plans first, at or below that trust.
pub(crate) fn to_plan() -> Composed {
    Composed::new(format!(
        "{TASK_SELECT} WHERE t.id = $1 AND t.status = 'ready' AND r.approval = 'plan' \
         AND r.private = 0 AND t.tier <= $2"
    ))
}

/// Of the `n` tasks named `$3`, … (each by key or by id), the ids and keys of those a worker of
/// trust `$1` seeing repository `$2` may not see: in another private repository, or above that
/// trust.
pub(crate) fn unseen_of(n: usize) -> Composed {
    let list = super::marks(3, n);
    Composed::new(format!(
        "SELECT t.id, t.key FROM tasks t JOIN repos r ON r.id = t.repo_id \
         WHERE (t.key IN ({list}) OR t.id IN ({list})) \
           AND (r.private <> 0 AND r.name <> $2 OR t.tier > $1)"
    ))
}

/// Which conditions a list of tasks has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ListShape {
    /// The tasks of archived repositories too.
    pub archived: bool,
    /// Of one repository (a parameter).
    pub repo: bool,
    /// In one status (a parameter).
    pub status: bool,
    /// Held by one worker (a parameter).
    pub worker: bool,
    /// `Some(true)`: ready tasks that wait on nothing; `Some(false)`: ready tasks that wait.
    pub ready: Option<bool>,
}

/// The tasks of `shape`, oldest first: its parameters in the order repository, status, worker,
/// then how many at most and how many to skip.
pub(crate) fn list(shape: ListShape) -> Composed {
    let mut sql = format!("{TASK_SELECT} WHERE 1 = 1");
    if !shape.archived {
        sql.push_str(" AND r.archived_at IS NULL");
    }
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    if shape.repo {
        sql.push_str(&format!(" AND r.name = ${}", next()));
    }
    if shape.status {
        sql.push_str(&format!(" AND t.status = ${}", next()));
    }
    if shape.worker {
        sql.push_str(&format!(" AND t.worker_id = ${}", next()));
    }
    match shape.ready {
        Some(true) => sql.push_str(" AND t.status = 'ready' AND t.waiting = 0"),
        Some(false) => sql.push_str(" AND t.status = 'ready' AND t.waiting > 0"),
        None => {}
    }
    let (limit, offset) = (next(), next());
    sql.push_str(&format!(" ORDER BY t.seq LIMIT ${limit} OFFSET ${offset}"));
    Composed::new(sql)
}

pub(super) fn variants() -> Vec<Variant> {
    let mut all = vec![
        variant("tasks::by_id", by_id()),
        variant("tasks::by_key", by_key()),
        variant("tasks::to_plan", to_plan()),
        variant("tasks::unseen_of(1)", unseen_of(1)),
        variant("tasks::unseen_of(3)", unseen_of(3)),
    ];
    for bits in 0..16u8 {
        for ready in [None, Some(true), Some(false)] {
            let shape = ListShape {
                archived: bits & 1 != 0,
                repo: bits & 2 != 0,
                status: bits & 4 != 0,
                worker: bits & 8 != 0,
                ready,
            };
            all.push(variant(format!("tasks::list({shape:?})"), list(shape)));
        }
    }
    all
}
