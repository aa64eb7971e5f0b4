//! The proposals' statements that join the claim's rules about the person (the insert, the
//! scorecard, the denounced proposers) or a task's row with its lease's clock (the lease an
//! approval gave).

use super::{Composed, Variant, variant};
use crate::DAY_MS;
use crate::claim_rules::person_sql::merged_count_in;
use crate::claim_rules::{
    Condition, account_created, by_person, person_conditions, person_of, vouched_for,
};
use crate::domain::proposals::{MAX_OPEN_PER_PROPOSER, MAX_OPEN_PER_TASK};
use crate::in_flight::in_flight;
use crate::rows::TASK_SELECT;

/// The condition that proposal `p` is open at `now` (a parameter), as PostgreSQL's recheck
/// of the limits (`owp_proposals_limit`) says it too.
pub(crate) fn open_at(p: &str, now: &str) -> String {
    format!("{p}.state = 'open' AND {p}.expires_at > {now}")
}

/// A proposal of worker `$3` (proposer `$4`, login `$5`) for task `$2` with plan `$6`, id `$1`,
/// made at `$7` (ms): inserted only while the task is `ready` in a repository that takes plans
/// first, the proposer has no open one on it, the limits hold and every rule about the person
/// does (`$8`: an hour ago, for the rules that count by the hour); `insider` for a person the
/// repository knows (an App's comment by a collaborator).
pub(crate) fn insert(insider: bool) -> Composed {
    let insider_sql = if insider { "1" } else { "0" };
    let rules: Vec<String> = person_conditions("$3", "$8", insider_sql)
        .into_iter()
        .map(|(_, sql)| sql)
        .collect();
    Composed::new(format!(
        "INSERT INTO proposals (id, task_seq, worker_id, proposer, login, plan, state, \
           created_at, expires_at) \
         SELECT $1, t.seq, $3, $4, $5, $6, 'open', $7, \
           $7 + CAST(r.proposal_days AS BIGINT) * {DAY_MS} \
         FROM tasks t JOIN repos r ON r.id = t.repo_id \
         WHERE t.seq = $2 AND t.status = 'ready' AND r.approval = 'plan' \
           AND NOT EXISTS (SELECT 1 FROM proposals o WHERE o.task_seq = t.seq \
             AND (o.worker_id = $3 OR o.proposer = $4) AND {own}) \
           AND (SELECT COUNT(*) FROM proposals o WHERE o.task_seq = t.seq AND {on_task}) \
             < {MAX_OPEN_PER_TASK} \
           AND (SELECT COUNT(*) FROM proposals o WHERE o.proposer = $4 AND {of_proposer}) \
             < {MAX_OPEN_PER_PROPOSER} \
           AND {rules}",
        own = open_at("o", "$7"),
        on_task = open_at("o", "$7"),
        of_proposer = open_at("o", "$7"),
        rules = rules.join(" AND "),
    ))
}

/// What a maintainer sees of proposer `$1` in repository `$2`: merges here and in the pool,
/// closed unmerged here, the account's creation, whether the repository vouches for them, and
/// what they hold now — the person's record, on every worker of theirs.
pub(crate) fn scorecard() -> Composed {
    Composed::new(format!(
        "SELECT {here} AS merged_here, {pool} AS merged_pool, \
           (SELECT COUNT(*) FROM outcomes o WHERE {mine} \
             AND o.kind = 'closed_unmerged' AND o.repo_id = $2) AS closed_here, \
           {created} AS created, \
           CASE WHEN {vouched} THEN 1 ELSE 0 END AS vouched, \
           (SELECT COUNT(*) FROM tasks h WHERE (h.worker_id = $1 OR h.worker_id IN \
               (SELECT hw.id FROM workers hw WHERE hw.github_account_id = {person})) \
             AND {held}) AS holds",
        here = merged_count_in("$1", Some("$2")),
        pool = merged_count_in("$1", None),
        mine = by_person("o", "$1"),
        person = person_of("$1"),
        created = account_created("$1"),
        vouched = vouched_for("$1", "$2"),
        held = in_flight("h"),
    ))
}

/// The artifacts of the last 10 merges of the person worker `$1` speaks for, newest first.
pub(crate) fn merged_artifacts() -> Composed {
    Composed::new(format!(
        "SELECT t.artifact FROM outcomes o JOIN tasks t ON t.id = o.task_id \
         WHERE {} AND o.kind = 'merged' ORDER BY o.at DESC LIMIT 10",
        by_person("o", "$1")
    ))
}

/// The open proposals on repository `$1`'s tasks whose proposer its vouch list now denounces
/// (the claim's own rule), oldest first.
pub(crate) fn denounced() -> Composed {
    let (_, not_denounced) = person_conditions("p.worker_id", "0", "0")
        .into_iter()
        .find(|(c, _)| *c == Condition::NotDenounced)
        .expect("the person's rules include rule 12's denouncements");
    Composed::new(format!(
        "SELECT p.id FROM proposals p JOIN tasks t ON t.seq = p.task_seq \
         WHERE t.repo_id = $1 AND p.state = 'open' AND NOT {not_denounced} ORDER BY p.seq"
    ))
}

/// The task of the lease an approval gave worker `$1` that it has not acknowledged by `$2`
/// (ms), oldest first. It first asks whether the worker has an approved proposal at all (a
/// condition on no row of the scan, which the database checks once: one index probe that finds
/// none for nearly every worker), not the tasks it ever held.
pub(crate) fn approved_lease() -> Composed {
    Composed::new(format!(
        "{TASK_SELECT} WHERE EXISTS (SELECT 1 FROM proposals mine \
             WHERE mine.worker_id = $1 AND mine.state = 'approved') \
           AND t.worker_id = $1 AND t.status = 'leased' \
           AND tl.ended_at IS NULL AND tl.acked_at IS NULL AND tl.deadline > $2 \
           AND EXISTS (SELECT 1 FROM proposals ap WHERE ap.task_seq = t.seq \
             AND ap.worker_id = $1 AND ap.state = 'approved' \
             AND ap.ended_at <= tl.created_at) \
         ORDER BY t.seq LIMIT 1"
    ))
}

pub(super) fn variants() -> Vec<Variant> {
    vec![
        variant("proposals::insert(false)", insert(false)),
        variant("proposals::insert(true)", insert(true)),
        variant("proposals::scorecard", scorecard()),
        variant("proposals::merged_artifacts", merged_artifacts()),
        variant("proposals::denounced", denounced()),
        variant("proposals::approved_lease", approved_lease()),
    ]
}
