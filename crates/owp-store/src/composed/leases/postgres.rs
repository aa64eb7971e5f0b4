//! PostgreSQL's plain paths of a worker (claim, ack, status move), each one statement of
//! data-modifying expressions for one worker or several arriving together
//! (`leases::postgres_statement`, `leases::postgres_task_ops`). Each reads its operations from
//! one JSON array, `$2`, one object per worker numbered from 1 as `i`, and answers one row per
//! operation in that order; `$1` is the instant.

use super::Holder;
use super::effects::{
    MoveValues, ack_lease, ack_task, budget_counters, end_lease, insert_lease, live_leases,
    marked_seen, move_task, take_task, worker_load,
};
use crate::Backend;
use crate::budget_rule::budget_room_after;
use crate::claim_rules::{
    OFFER_KEY, OFFER_KEY_ORDER, Pick, RuleSet, Skills, candidates, repo_rules, skill_rule,
    switched_off, worker_fits,
};
use crate::composed::events::insert_event;
use crate::composed::{Composed, Variant, variant_on};
use crate::rows::TASK_SELECT;

/// Where the pick starts in the queue, as an [`OFFER_KEY`]'s first part: before every task
/// (`-priority` is never below -3).
const HEAD: i64 = i64::MIN + 1;

/// The claim statement (`leases::postgres_statement`) of workers whose skills are of `skills`,
/// taking what `pick` names, joining the rules `set`, passing over the tasks `skip` (sequence
/// numbers: integers, written into the text). `$2` holds each worker's `id`, `lease`, `skills`
/// (as the guard compares them), `sj` (a JSON array), `actor` and `data`; the leases are to be
/// acknowledged by `$3` and expire at `$4`; the rules read the hour of rule 1 from `$5` and that
/// of the hourly cap from `$6`.
///
/// The workers pick one after the other, each from what the ones before it left (a recursive
/// expression: the tasks they picked, and the review budget they used in each repository). Each
/// worker's scan starts at `past` ([`OFFER_KEY`]), the end of the queue's head that the workers
/// before it took whole: every task up to it was picked in this statement. A worker's pick moves
/// `past` to its own task when that task was the first one after `past` not picked yet (`f`);
/// otherwise a task before it was refused to this worker, or locked by another transaction, and
/// the next worker starts where this one did.
pub(crate) fn claim(skills: Skills, pick: Pick, set: RuleSet, skip: &[i64]) -> Composed {
    // Each worker's skills read when its request was authenticated, as a JSON array (`b.sj`);
    // the guard `w.skills = b.skills` makes its claim take nothing if they changed since.
    let skills = skill_rule(Backend::Postgres, skills, "b.sj");
    let mut narrow = pick.condition();
    if !skip.is_empty() {
        let seqs: Vec<String> = skip.iter().map(i64::to_string).collect();
        narrow.push_str(&format!(" AND t.seq NOT IN ({})", seqs.join(", ")));
    }
    let rules = repo_rules(Backend::Postgres, "w.id", "$5", "$6", pick, set);
    // Where a worker's scan starts: past the head taken whole, leaving out the other tasks
    // picked before it.
    let after_past = format!("{OFFER_KEY} > (p.past_p, p.past_s) AND t.seq <> ALL(p.picked)");
    let plain = match set {
        RuleSet::Plain => switched_off(),
        RuleSet::Full => "TRUE".to_string(),
    };
    Composed::new(format!(
        "WITH RECURSIVE \
         b AS ( \
           SELECT * FROM json_to_recordset(CAST($2 AS json)) AS x(i BIGINT, id TEXT, \
             lease TEXT, skills TEXT, sj TEXT, actor TEXT, data TEXT)), \
         w AS ( \
           SELECT id, status, skills, active_tasks, max_concurrent_tasks, trust_level, \
             capacity_points, active_points FROM workers WHERE id IN (SELECT id FROM b) \
           ORDER BY id FOR UPDATE), \
         pick (i, seq, repo_id, plain, picked, repos, past_p, past_s) AS ( \
           SELECT CAST(0 AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), \
             CAST(NULL AS BIGINT), CAST('{{}}' AS BIGINT[]), CAST('{{}}' AS BIGINT[]), \
             CAST({HEAD} AS BIGINT), CAST(0 AS BIGINT) \
           UNION ALL \
           SELECT b.i, c.seq, c.repo_id, c.plain, \
             CASE WHEN c.seq IS NULL THEN p.picked ELSE p.picked || c.seq END, \
             CASE WHEN c.seq IS NULL THEN p.repos ELSE p.repos || c.repo_id END, \
             CASE WHEN f.first_seq = c.seq THEN c.key_p ELSE p.past_p END, \
             CASE WHEN f.first_seq = c.seq THEN c.seq ELSE p.past_s END \
           FROM pick p JOIN b ON b.i = p.i + 1 \
           LEFT JOIN LATERAL ( \
             SELECT t.seq, t.repo_id, -t.priority AS key_p, \
               CAST(CASE WHEN {plain} THEN 1 ELSE 0 END AS BIGINT) AS plain \
             FROM w CROSS JOIN {from} CROSS JOIN repos r \
             WHERE w.id = b.id AND {fits}{skills}{narrow} \
               AND {after_past} AND {batch_budget} \
               {rules} \
             {OFFER_KEY_ORDER} LIMIT 1 FOR UPDATE OF t SKIP LOCKED) c ON TRUE \
           LEFT JOIN LATERAL ( \
             SELECT t.seq AS first_seq FROM {from} \
             WHERE c.seq IS NOT NULL AND {after_past} \
             {OFFER_KEY_ORDER} LIMIT 1) f ON TRUE), \
         held AS ( \
           SELECT k.seq, k.repo_id FROM tasks k \
           WHERE k.seq IN (SELECT seq FROM pick WHERE plain = 1) AND k.status = 'ready' \
           FOR UPDATE SKIP LOCKED), \
         locked AS ( \
           SELECT id FROM repos WHERE id IN (SELECT repo_id FROM held) ORDER BY id FOR UPDATE), \
         budget AS ( \
           UPDATE repos SET {counters} \
           FROM (SELECT repo_id, COUNT(*) AS n FROM held GROUP BY repo_id) hn \
           WHERE repos.id = hn.repo_id AND repos.id IN (SELECT id FROM locked) AND {budget} \
           RETURNING repos.id, repos.area_locks_enabled), \
         took AS ( \
           UPDATE tasks SET {take} \
           FROM (SELECT h.seq AS take_seq, b.id AS take_worker, b.lease AS take_lease, \
                   bu.area_locks_enabled AS take_locks \
                 FROM held h JOIN pick p ON p.seq = h.seq JOIN b ON b.i = p.i \
                 JOIN budget bu ON bu.id = h.repo_id) x \
           WHERE tasks.seq = x.take_seq AND tasks.status = 'ready' \
           RETURNING tasks.*), \
         seen AS ( \
           UPDATE workers SET {seen}, {load} \
           FROM (SELECT b.id AS load_id, COUNT(tk.seq) AS load_n, \
                   COALESCE(SUM(tk.lease_points), 0) AS load_points \
                 FROM b LEFT JOIN took tk ON tk.worker_id = b.id GROUP BY b.id) s \
           WHERE workers.id = s.load_id RETURNING workers.id), \
         lease AS ({lease} RETURNING *), \
         ev AS ({event}) \
         SELECT (SELECT COUNT(*) FROM seen s WHERE s.id = b.id) AS seen_n, \
           p.seq AS picked_seq, (SELECT COUNT(*) FROM held h WHERE h.seq = p.seq) AS held_n, \
           COALESCE(p.plain, 1) AS plain_n, \
           (SELECT e.id FROM ev e WHERE e.task_id = k.id) AS event_id, k.* \
         FROM b LEFT JOIN pick p ON p.i = b.i LEFT JOIN ({took}) k ON k.seq = p.seq \
         ORDER BY b.i",
        batch_budget = budget_room_after("r.", "cardinality(array_positions(p.repos, r.id))"),
        counters = budget_counters("hn.n", "0"),
        budget = budget_room_after("repos.", "hn.n - 1"),
        take = take_task("x.take_worker", "x.take_lease", "$1", "x.take_locks"),
        seen = marked_seen("$1"),
        load = worker_load("s.load_n", "s.load_points"),
        lease = insert_lease("lease_id", "worker_id", "$1", "$3", "$4", "FROM took"),
        event = task_event(
            "'task.leased'",
            "FROM took t JOIN repos r ON r.id = t.repo_id JOIN b c ON c.id = t.worker_id"
        ),
        took = returned_task_select("took", "lease"),
        fits = worker_fits(Backend::Postgres, "b.skills"),
        from = candidates(Backend::Postgres).0,
    ))
}

/// The ack statement (`leases::postgres_task_ops`): `$2` holds each ack's `worker`, `lease`,
/// `touch` (1: the worker is marked seen), `actor` and `data`; the leases expire at `$3`. Each
/// lease, if it is the worker's, leased, not ended and not expired, is acknowledged with its task
/// and its audit event.
pub(crate) fn ack() -> Composed {
    // The acks' live leases, each the worker's own, found by their keys; the tasks by theirs.
    let taken = format!(
        "SELECT a.task_seq, a.id, a.worker_id FROM ({live}) a JOIN b ON b.lease = a.id \
         AND b.worker = a.worker_id WHERE b.touch = 0 OR b.worker IN (SELECT id FROM wk)",
        live = live_leases("ARRAY(SELECT lease FROM b)", "$1")
    );
    Composed::new(format!(
        "WITH b AS ( \
           SELECT * FROM json_to_recordset(CAST($2 AS json)) \
             AS x(i BIGINT, worker TEXT, lease TEXT, touch BIGINT, actor TEXT, data TEXT)), \
         wk AS (SELECT id FROM workers WHERE id IN (SELECT worker FROM b WHERE touch = 1) \
           ORDER BY id FOR UPDATE), \
         moved AS ({moved} RETURNING *), \
         seen AS ( \
           UPDATE workers SET {seen} \
           WHERE id IN (SELECT worker FROM b WHERE touch = 1) \
             AND id IN (SELECT worker_id FROM moved)), \
         stamped AS ({stamped} RETURNING *), \
         ev AS ({event}) \
         SELECT (SELECT COUNT(*) FROM stamped s WHERE s.id = b.lease) AS stamped_n, \
           (SELECT e.id FROM ev e WHERE e.task_id = k.id) AS event_id, k.* \
         FROM b LEFT JOIN ({returned}) k ON k.lease_id = b.lease AND k.worker_id = b.worker \
         ORDER BY b.i",
        moved = ack_task(
            "$1",
            &format!(
                "seq = ANY(ARRAY(SELECT task_seq FROM ({taken}) s)) \
                 AND (seq, lease_id, worker_id) IN ({taken})"
            )
        ),
        seen = marked_seen("$1"),
        stamped = ack_lease("$1", "$3", "id IN (SELECT lease_id FROM moved)"),
        event = task_event(
            "'task.status'",
            "FROM moved t JOIN repos r ON r.id = t.repo_id \
             JOIN b c ON c.lease = t.lease_id AND c.worker = t.worker_id"
        ),
        returned = returned_task_select("moved", "stamped"),
    ))
}

/// The move statement (`leases::postgres_task_ops`) of moves that all end their task's lease or
/// all do not (`leaving`), each doing `holder` to its task's holder: `$2` holds each move's task
/// as it was read (`seq`, `status`, `worker`, `lease`, `updated_at`), `touch`, what the task
/// becomes (`dest`, `reason`, `artifact`, `bump`, `holds_area`, `awaits`), what the move counts
/// (`points`, `lease_end`, `active_delta`, `pr_delta`, `repo_id`) and its event (`kind`, `repo`,
/// `task_id`, `actor`, `data`).
pub(crate) fn moves(leaving: bool, holder: Holder) -> Composed {
    let alive = if leaving {
        let live = live_leases("ARRAY(SELECT lease FROM b)", "$1");
        format!(" AND x.lease IN (SELECT a.id FROM ({live}) a)")
    } else {
        String::new()
    };
    let set = move_task(
        holder,
        &MoveValues {
            to: "x.dest",
            reason: "x.reason",
            artifact: "x.artifact",
            bump: "x.bump",
            holds_area: "x.holds_area",
            at: "$1",
            awaits_maintainer: "x.awaits",
            recorded_worker: "x.worker",
        },
    );
    Composed::new(format!(
        "WITH b AS ( \
           SELECT * FROM json_to_recordset(CAST($2 AS json)) AS x(i BIGINT, seq BIGINT, \
             status TEXT, worker TEXT, lease TEXT, updated_at BIGINT, touch BIGINT, dest TEXT, \
             reason TEXT, artifact TEXT, bump BIGINT, holds_area BIGINT, awaits BIGINT, \
             points BIGINT, lease_end TEXT, active_delta BIGINT, pr_delta BIGINT, \
             repo_id BIGINT, kind TEXT, repo TEXT, task_id TEXT, actor TEXT, data TEXT)), \
         wk AS (SELECT id FROM workers WHERE id IN (SELECT worker FROM b) ORDER BY id FOR UPDATE), \
         moved AS ( \
           UPDATE tasks SET {set} FROM b x \
           WHERE tasks.seq = x.seq AND tasks.status = x.status AND tasks.worker_id = x.worker \
             AND tasks.lease_id IS NOT DISTINCT FROM x.lease AND tasks.updated_at = x.updated_at \
             AND x.worker IN (SELECT id FROM wk){alive} \
           RETURNING tasks.*), \
         load AS ( \
           UPDATE workers SET {load}, \
             last_seen_at = CASE WHEN x.touch = 1 THEN $1 ELSE last_seen_at END, \
             presence = CASE WHEN x.touch = 1 THEN 'online' ELSE presence END \
           FROM b x WHERE workers.id = x.worker AND ({leaving} OR x.touch = 1) \
             AND x.seq IN (SELECT seq FROM moved)), \
         {ended} \
         locked AS ( \
           SELECT id FROM repos WHERE id IN (SELECT repo_id FROM moved) ORDER BY id FOR UPDATE), \
         budget AS ( \
           UPDATE repos SET {counters} \
           FROM (SELECT x.repo_id, SUM(x.active_delta) AS a, SUM(x.pr_delta) AS p FROM b x \
                 WHERE x.seq IN (SELECT seq FROM moved) GROUP BY x.repo_id) d \
           WHERE repos.id = d.repo_id AND (d.a <> 0 OR d.p <> 0) \
             AND repos.id IN (SELECT id FROM locked)), \
         ev AS ({event}) \
         SELECT (SELECT e.id FROM ev e WHERE e.task_id = k.id) AS event_id, k.* \
         FROM b LEFT JOIN ({moved}) k ON k.seq = b.seq ORDER BY b.i",
        load = if leaving {
            worker_load("-1", "-x.points")
        } else {
            worker_load("0", "0")
        },
        leaving = if leaving { "TRUE" } else { "FALSE" },
        ended = if leaving {
            format!(
                "ended AS ({}),",
                end_lease(
                    "$1",
                    "(SELECT x.lease_end FROM b x WHERE x.lease = leases.id)",
                    "id IN (SELECT x.lease FROM b x WHERE x.seq IN (SELECT seq FROM moved))"
                )
            )
        } else {
            String::new()
        },
        counters = budget_counters("d.a", "d.p"),
        event = insert_event(
            [
                "x.kind",
                "$1",
                "x.repo",
                "x.task_id",
                "x.worker",
                "x.actor",
                "x.data"
            ],
            "FROM moved t JOIN b x ON x.seq = t.seq"
        ),
        moved = returned_task_select("moved", "leases"),
    ))
}

/// The tasks whose ids are the JSON array `$1`, as they are now.
pub(crate) fn tasks_by_id() -> Composed {
    Composed::new(format!(
        "{TASK_SELECT} WHERE t.id IN (SELECT json_array_elements_text(CAST($1 AS json)))"
    ))
}

/// The audit event `kind` (an SQL string) of each task a statement changed, at `$1`: the rows of
/// `source` (`FROM … WHERE …`) join the task as the statement left it (`t`), its repository (`r`)
/// and its operation in the statement's document (`c`, with the event's `actor` and `data`); the
/// event names the task's worker.
fn task_event(kind: &str, source: &str) -> String {
    insert_event(
        [
            kind,
            "$1",
            "r.name",
            "t.id",
            "t.worker_id",
            "c.actor",
            "c.data",
        ],
        source,
    )
}

/// The columns of [`TASK_SELECT`] read from the rows a data-modifying expression named `name`
/// returned (the table `tasks` as the statement left it), with the lease's clock read from
/// `lease` (a data-modifying expression on `leases` that returned the lease as the statement left
/// it, or `leases` itself when the statement does not change the clock).
fn returned_task_select(name: &str, lease: &str) -> String {
    TASK_SELECT
        .replacen("FROM tasks t ", &format!("FROM {name} t "), 1)
        .replacen("LEFT JOIN leases tl ", &format!("LEFT JOIN {lease} tl "), 1)
}

pub(super) fn variants() -> Vec<Variant> {
    let postgres = |name: String, statement| variant_on(Backend::Postgres, name, statement);
    let named = Pick::Named {
        seq: 7,
        insider: false,
    };
    let mut all = Vec::new();
    for skills in Skills::ALL {
        for (pick, set, skip) in [
            (Pick::First, RuleSet::Plain, &[][..]),
            (Pick::First, RuleSet::Full, &[3, 5][..]),
            (named, RuleSet::Full, &[][..]),
        ] {
            all.push(postgres(
                format!("leases::postgres::claim({skills:?}, {pick:?}, {set:?}, {skip:?})"),
                claim(skills, pick, set, skip),
            ));
        }
    }
    all.push(postgres("leases::postgres::ack".into(), ack()));
    for leaving in [true, false] {
        for holder in Holder::ALL {
            all.push(postgres(
                format!("leases::postgres::moves({leaving}, {holder:?})"),
                moves(leaving, holder),
            ));
        }
    }
    all.push(postgres(
        "leases::postgres::tasks_by_id".into(),
        tasks_by_id(),
    ));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returned_rows_are_read_like_table_rows() {
        let sql = returned_task_select("took", "lease");
        assert!(sql.contains("FROM took t JOIN repos r ON r.id = t.repo_id"));
        assert!(sql.contains("LEFT JOIN lease tl ON tl.id = t.lease_id"));
        assert!(!sql.contains("FROM tasks t"));
        assert!(!sql.contains("JOIN leases tl"));
        // Only the FROM clause changes: the columns are those every task row decodes.
        assert_eq!(
            sql.replacen("FROM took t ", "FROM tasks t ", 1).replacen(
                "JOIN lease tl ",
                "JOIN leases tl ",
                1
            ),
            TASK_SELECT.to_string()
        );
    }
}
