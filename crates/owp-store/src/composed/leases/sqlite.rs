//! SQLite's plain paths of a worker (claim, ack, status move), each a batch of statements that
//! travels in one round trip (`leases::sqlite_batch`), its parameters numbered from `$1`;
//! batches of several workers travel together with their parameters renumbered ([`joined`]).

use super::Holder;
use super::effects::{
    MoveValues, ack_lease, ack_task, budget_counters, end_lease, insert_lease, lease_alive,
    marked_seen, move_task, take_task, worker_load,
};
use crate::Backend;
use crate::claim_rules::{
    OFFER_ORDER, Pick, RuleSet, Skills, candidates, repo_rules, skill_rule, worker_fits,
};
use crate::composed::events::insert_event;
use crate::composed::{Composed, Variant, variant_on};
use crate::rows::TASK_SELECT;

/// The claim of worker `$2` with skills of `skills`, taking what `pick` names: it marks the
/// worker seen at `$1`, takes the best eligible task under lease `$3` (to be acknowledged by
/// `$4`, expiring at `$5`), counts it against the repository's budget and the worker's load,
/// records the lease and its audit event (actor `$8`, data `$9`), and reads the task back. The
/// rules read the hour of rule 1 from `$6`, the worker's skills as read when its request was
/// authenticated from `$7` (guard) and `$11` (a JSON array), and the hour of the hourly cap from
/// `$10`. Seven statements.
pub(crate) fn claim(skills: Skills, pick: Pick) -> Composed {
    let rules = repo_rules(Backend::Sqlite, "$2", "$6", "$10", pick, RuleSet::Full);
    let taken = "FROM tasks t JOIN repos r ON r.id = t.repo_id WHERE t.lease_id = $3";
    Composed::new(format!(
        "UPDATE workers SET {seen} WHERE id = $2 RETURNING id; \
         UPDATE tasks SET {take} \
         WHERE status = 'ready' AND seq = ( \
           SELECT t.seq FROM workers w CROSS JOIN {from} CROSS JOIN repos r \
           WHERE w.id = $2 AND {fits}{skills}{named} \
             {rules} \
           {OFFER_ORDER} LIMIT 1); \
         UPDATE repos SET {budget} \
           WHERE id = (SELECT repo_id FROM tasks WHERE lease_id = $3); \
         UPDATE workers SET {load} \
           WHERE id = $2 AND EXISTS (SELECT 1 FROM tasks WHERE lease_id = $3); \
         {lease}; \
         {event}; \
         {TASK_SELECT} WHERE t.lease_id = $3",
        seen = marked_seen("$1"),
        take = take_task(
            "$2",
            "$3",
            "$1",
            "(SELECT r.area_locks_enabled FROM repos r WHERE r.id = tasks.repo_id)"
        ),
        from = candidates(Backend::Sqlite).0,
        fits = worker_fits(Backend::Sqlite, "$7"),
        skills = skill_rule(Backend::Sqlite, skills, "$11"),
        named = pick.condition(),
        budget = budget_counters("1", "0"),
        load = worker_load("1", "(SELECT lease_points FROM tasks WHERE lease_id = $3)"),
        lease = insert_lease(
            "$3",
            "$2",
            "$1",
            "$4",
            "$5",
            "FROM tasks WHERE lease_id = $3"
        ),
        event = insert_event(
            ["'task.leased'", "$1", "r.name", "t.id", "$2", "$8", "$9"],
            taken
        ),
    ))
}

/// The ack of lease `$3` by worker `$2` at `$1` on its plain path (the worker's, leased, alive):
/// the task moves, the lease is stamped to expire at `$4`, the audit event (actor `$5`, data
/// `$6`) is appended, each on condition that the one before it wrote (`changes() = 1`), and the
/// task is read back. Four statements.
pub(crate) fn ack() -> Composed {
    let alive = lease_alive("$3", "$1");
    Composed::new(format!(
        "{moved}; {stamped}; {event}; {TASK_SELECT} WHERE t.lease_id = $3",
        moved = ack_task(
            "$1",
            &format!("lease_id = $3 AND worker_id = $2 AND {alive}")
        ),
        stamped = ack_lease("$1", "$4", "id = $3 AND changes() = 1"),
        event = insert_event(
            ["'task.status'", "$1", "r.name", "t.id", "$2", "$5", "$6"],
            "FROM tasks t JOIN repos r ON r.id = t.repo_id \
             WHERE t.lease_id = $3 AND changes() = 1"
        ),
    ))
}

/// A move of task `$7` if still in status `$8` (`LeasesTx::apply_move`), doing `holder` to its
/// holder: to `$1` with reason `$2`, artifact `$3`, `$4` more attempts, its area lock kept if `$5`
/// is 1, at `$6`, waiting for a maintainer if `$21` is 1, its worker of record `$22`. When it
/// ends a lease (`leaving`), worker `$10` holds `$9` points fewer and lease `$12` ends with
/// outcome `$11`. Repository `$15` counts `$13` more active leases and `$14` more review slots;
/// the audit event is of kind `$16` on repository `$17`, task `$18`, actor `$19`, data `$20`.
/// The task is read back last. Four statements, six when it ends a lease.
pub(crate) fn apply_move(holder: Holder, leaving: bool) -> Composed {
    let set = move_task(holder, &MoveValues::bound("$21", "$22"));
    Composed::new(format!(
        "UPDATE tasks SET {set} WHERE seq = $7 AND status = $8; \
         {workers}\
         UPDATE repos SET {budget} WHERE id = $15 AND ($13 <> 0 OR $14 <> 0); \
         {event}; \
         {TASK_SELECT} WHERE t.seq = $7",
        budget = budget_counters("$13", "$14"),
        event = insert_event(["$16", "$6", "$17", "$18", "$22", "$19", "$20"], ""),
        workers = if leaving {
            format!(
                "UPDATE workers SET {} WHERE id = $10; {}; ",
                worker_load("-1", "-$9"),
                end_lease("$6", "$11", "id = $12"),
            )
        } else {
            String::new()
        },
    ))
}

/// Task `$1` (its id) and its lease's holder and end, read for a status move. Two statements.
pub(crate) fn read_for_move() -> Composed {
    Composed::new(format!(
        "{TASK_SELECT} WHERE t.id = $1; \
         SELECT l.worker_id, l.ended_at FROM tasks t JOIN leases l ON l.id = t.lease_id \
         WHERE t.id = $1"
    ))
}

/// Worker `$2` seen at `$1`.
pub(crate) fn seen() -> Composed {
    Composed::new(format!(
        "UPDATE workers SET {} WHERE id = $2",
        marked_seen("$1")
    ))
}

/// The batches of `parts`, one after the other, each one's parameters numbered after those of
/// the ones before it: `parts` gives each batch and how many parameters it binds.
pub(crate) fn joined<'a>(parts: impl IntoIterator<Item = (&'a Composed, usize)>) -> Composed {
    let mut text = String::new();
    let mut bound = 0;
    for (part, n) in parts {
        if !text.is_empty() {
            text.push_str("; ");
        }
        shift_params(&part.0, bound, &mut text);
        bound += n;
    }
    Composed::new(text)
}

/// Appends `sql` to `out` with every parameter `$N` renumbered `$(N + by)`. The statements of this
/// module hold no `$` other than in parameters.
fn shift_params(sql: &str, by: usize, out: &mut String) {
    if by == 0 {
        out.push_str(sql);
        return;
    }
    let mut rest = sql;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + by).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
}

pub(super) fn variants() -> Vec<Variant> {
    let sqlite = |name: String, statement| variant_on(Backend::Sqlite, name, statement);
    let mut all = Vec::new();
    for skills in Skills::ALL {
        for pick in super::PICKS {
            all.push(sqlite(
                format!("leases::sqlite::claim({skills:?}, {pick:?})"),
                claim(skills, pick),
            ));
        }
    }
    all.push(sqlite("leases::sqlite::ack".into(), ack()));
    for holder in Holder::ALL {
        for leaving in [true, false] {
            all.push(sqlite(
                format!("leases::sqlite::apply_move({holder:?}, {leaving})"),
                apply_move(holder, leaving),
            ));
        }
    }
    all.push(sqlite(
        "leases::sqlite::read_for_move".into(),
        read_for_move(),
    ));
    all.push(sqlite("leases::sqlite::seen".into(), seen()));
    let (claim, ack) = (claim(Skills::ALL[0], Pick::First), ack());
    all.push(sqlite(
        "leases::sqlite::joined(claim, ack)".into(),
        joined([(&claim, 11), (&ack, 6)]),
    ));
    all
}
