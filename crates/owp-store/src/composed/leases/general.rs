//! The statements of the general code of a lease (`leases::transitions`, for every case on both
//! backends), of a worker's live leases and of expiry, each one write of [`super::effects`]
//! numbered as its caller binds it.

use super::Holder;
use super::effects::{
    MoveValues, ack_lease, ack_task, budget_counters, end_lease, move_task, worker_load,
};
use crate::Backend;
use crate::composed::{BACKENDS, Composed, Variant, variant, variant_on};
use crate::in_flight::holds_lease;
use crate::rows::TASK_SELECT;

/// The ack of task `$2` (its sequence number) at `$1`.
pub(crate) fn ack_task_by_seq() -> Composed {
    Composed::new(ack_task("$1", "seq = $2"))
}

/// The ack of lease `$3` at `$1`, expiring at `$2`.
pub(crate) fn ack_lease_by_id() -> Composed {
    Composed::new(ack_lease("$1", "$2", "id = $3"))
}

/// A give-back of task `$1` by worker `$2` at `$3`, recorded for the person the worker speaks
/// for (rule 1 reads it by person, `claim_rules::by_person`).
pub(crate) fn nack() -> Composed {
    Composed::new(format!(
        "INSERT INTO nacks (task_seq, worker_id, at, person_id) \
         VALUES ($1, $2, $3, {}) \
         ON CONFLICT (task_seq, worker_id) DO UPDATE SET at = $3, \
           person_id = excluded.person_id",
        crate::claim_rules::person_of("$2")
    ))
}

/// Worker `$2` holds one lease fewer, of `$1` points.
pub(crate) fn unload_worker() -> Composed {
    Composed::new(format!(
        "UPDATE workers SET {} WHERE id = $2",
        worker_load("-1", "-CAST($1 AS BIGINT)")
    ))
}

/// Lease `$3` ends at `$1` with outcome `$2`.
pub(crate) fn end_lease_by_id() -> Composed {
    Composed::new(end_lease("$1", "$2", "id = $3"))
}

/// Task `$7`, if still in status `$8`, moves (doing `holder` to its holder): to `$1`, with
/// reason `$2`, artifact `$3`, `$4` more attempts, keeping its area lock if `$5` is 1, at `$6`,
/// waiting for a maintainer if `$9` is 1, its worker of record `$10`.
pub(crate) fn move_task_by_seq(holder: Holder) -> Composed {
    let set = move_task(holder, &MoveValues::bound("$9", "$10"));
    Composed::new(format!(
        "UPDATE tasks SET {set} WHERE seq = $7 AND status = $8"
    ))
}

/// Repository `$3` counts `$1` more active leases and `$2` more review slots taken.
pub(crate) fn count_budget() -> Composed {
    Composed::new(format!(
        "UPDATE repos SET {} WHERE id = $3",
        budget_counters("$1", "$2")
    ))
}

/// The tasks worker `$1` holds a live lease of, in their order.
pub(crate) fn worker_leases() -> Composed {
    Composed::new(format!(
        "{TASK_SELECT} WHERE t.worker_id = $1 AND {} ORDER BY t.seq",
        holds_lease!("t.")
    ))
}

/// Task `$1`, if its lease is still due at `$2`: on PostgreSQL it locks the task and then its
/// lease (the lock order of `LeasesTx::lock_task`), re-reading both once locked, waiting for a
/// transaction that holds them (`wait_for_held`) or passing them over.
pub(crate) fn still_due(backend: Backend, wait_for_held: bool) -> Composed {
    let lock = match (backend, wait_for_held) {
        (Backend::Postgres, true) => " FOR UPDATE OF t, l",
        (Backend::Postgres, false) => " FOR UPDATE OF t, l SKIP LOCKED",
        (Backend::Sqlite, _) => "",
    };
    Composed::new(format!(
        "SELECT t.id FROM tasks t JOIN leases l ON l.id = t.lease_id WHERE t.id = $1 AND {} \
         AND l.ended_at IS NULL AND l.deadline <= $2{lock}",
        holds_lease!("t.")
    ))
}

/// How many tasks anyone could claim, up to one: a probe of the claim statement's candidates
/// (`claim_rules::candidates`).
pub(crate) fn any_claimable(backend: Backend) -> Composed {
    let (from, claimable) = crate::claim_rules::candidates(backend);
    Composed::new(format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM {from} WHERE {claimable}1 = 1 LIMIT 1) c"
    ))
}

pub(super) fn variants() -> Vec<Variant> {
    let mut all = vec![
        variant("leases::ack_task_by_seq", ack_task_by_seq()),
        variant("leases::ack_lease_by_id", ack_lease_by_id()),
        variant("leases::nack", nack()),
        variant("leases::unload_worker", unload_worker()),
        variant("leases::end_lease_by_id", end_lease_by_id()),
        variant("leases::count_budget", count_budget()),
        variant("leases::worker_leases", worker_leases()),
    ];
    for holder in Holder::ALL {
        all.push(variant(
            format!("leases::move_task_by_seq({holder:?})"),
            move_task_by_seq(holder),
        ));
    }
    for backend in BACKENDS {
        for wait in [true, false] {
            all.push(variant_on(
                backend,
                format!("leases::still_due({backend:?}, {wait})"),
                still_due(backend, wait),
            ));
        }
        all.push(variant_on(
            backend,
            format!("leases::any_claimable({backend:?})"),
            any_claimable(backend),
        ));
    }
    all
}
