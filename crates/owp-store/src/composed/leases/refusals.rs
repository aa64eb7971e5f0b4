//! The claim's conditions read one by one (`leases::refusals`): for a claim by name and the
//! preview, each condition of [`crate::claim_rules`] (the same text the claim statements join) is
//! a column of one statement, beside the figures that put a refusal into words.

use crate::claim_rules::{
    Condition, OFFER_ORDER, Pick, Skills, account_created, area_holder, claim_conditions,
    cooldown_ends, hourly_room_from, merged_count, person_claims, reviewer_room_left,
    skill_conditions, worker_conditions,
};
use crate::composed::{BACKENDS, Composed, Variant, variant_on};
use crate::rows::TASK_SELECT;
use crate::{Backend, HOUR_MS};

/// The conditions a claim of a worker whose skills are of `skills` reads, over the tasks `pick`
/// names (the first `limit` ready tasks, or one), each as a column `c0`, `c1`, … of one
/// statement (1 where it holds), in that order, with the figures a refusal puts into words
/// (`leases::refusals::explain`). Binds: the worker's id, the hour of rule 1, the hour of the
/// hourly cap, the worker's skills as JSON.
pub(crate) fn statement(
    backend: Backend,
    skills: Skills,
    pick: Pick,
    limit: i64,
) -> (Vec<Condition>, Composed) {
    let mut conditions = worker_conditions();
    conditions.extend(claim_conditions(backend, "$1", "$2", "$3", pick.insider()));
    conditions.extend(skill_conditions(backend, skills, "$4"));
    let columns: String = conditions
        .iter()
        .enumerate()
        .map(|(i, (_, sql))| format!("CAST(CASE WHEN {sql} THEN 1 ELSE 0 END AS BIGINT) AS c{i}, "))
        .collect();
    let select = TASK_SELECT
        .strip_prefix("SELECT ")
        .expect("TASK_SELECT starts with SELECT");
    let which = match pick {
        Pick::First => format!(
            "t.status = 'ready' AND t.seq IN ({}) {OFFER_ORDER} LIMIT {limit}",
            first_ready(limit)
        ),
        Pick::Named { seq, .. } => format!("t.seq = {seq}"),
    };
    let sql = format!(
        "SELECT {columns}r.max_open_prs AS r_max_open_prs, r.open_prs AS r_open_prs, \
           r.active_leases AS r_active_leases, r.claims_per_hour AS r_claims_per_hour, \
           {hour_from} AS r_hour_from, {area_holder} AS r_area_holder, \
           r.min_account_age_days AS r_min_account_age_days, \
           {created} AS w_account_created, \
           r.first_timers_label AS r_first_timers_label, \
           CASE WHEN t.first_timers = 0 THEN 0 ELSE {merged} END AS w_merged_here, \
           r.cooldown_hours AS r_cooldown_hours, \
           CASE WHEN r.cooldown_hours > 0 THEN {cooldown_ends} END AS w_cooldown_ends, \
           r.max_claims_per_user AS r_max_claims_per_user, \
           CASE WHEN r.max_claims_per_user IS NULL THEN 0 ELSE {person_claims} END \
             AS w_person_claims, \
           w.active_tasks AS w_active_tasks, \
           w.max_concurrent_tasks AS w_max_tasks, w.active_points AS w_active_points, \
           w.capacity_points AS w_capacity, {trust} AS w_trust_level, \
           r.private AS r_private, r.approval_skip_trust AS r_approval_skip_trust, \
           r.vouch_closed AS r_vouch_closed, \
           CASE WHEN r.reviewers = 0 THEN 0 ELSE {room_left} END AS r_reviewer_room, {select} \
           CROSS JOIN workers w \
         WHERE w.id = $1 AND {which}",
        hour_from = hourly_room_from("$3"),
        area_holder = area_holder(),
        created = account_created("$1"),
        merged = merged_count("$1"),
        cooldown_ends = cooldown_ends("$1", "$3"),
        person_claims = person_claims("$1"),
        room_left = reviewer_room_left(&format!("$3 + {HOUR_MS}")),
        trust = crate::claim_rules::person_sql::setting_of_row(
            "w",
            crate::claim_rules::person_sql::Setting::Trust
        ),
    );
    let conditions = conditions.into_iter().map(|(c, _)| c).collect();
    (conditions, Composed::new(sql))
}

/// The sequence numbers of the first `limit` ready tasks in offer order, read from the two
/// indexes that together hold every ready task (migration 0047): at most `limit` entries of
/// each, in order, whatever the pool's size, and never a sort of the pool.
pub(crate) fn first_ready(limit: i64) -> String {
    let first = |waiting: &str| {
        format!(
            "SELECT q.seq FROM tasks q WHERE q.status = 'ready' AND q.waiting {waiting} \
             ORDER BY q.priority DESC, q.seq LIMIT {limit}"
        )
    };
    format!(
        "SELECT seq FROM ({}) a UNION ALL SELECT seq FROM ({}) b",
        first("= 0"),
        first("> 0")
    )
}

pub(super) fn variants() -> Vec<Variant> {
    let mut all = Vec::new();
    for backend in BACKENDS {
        for skills in Skills::ALL {
            for pick in super::PICKS {
                all.push(variant_on(
                    backend,
                    format!("leases::refusals::statement({backend:?}, {skills:?}, {pick:?}, 20)"),
                    statement(backend, skills, pick, 20).1,
                ));
            }
        }
    }
    all
}
