//! Reputation, trust progression and the leaderboard: statements that count a person's outcomes
//! on every worker of theirs ([`by_person`], [`merged_count_in`]) and read their settings
//! ([`setting_of_row`]); the leaderboard's rows and tools, whose text differs by whether only
//! public repositories count (and, for the tools, by how the backend reads JSON).

use super::{Composed, Runs, Variant, variant};
use crate::Backend;
use crate::claim_rules::person_sql::{Setting, by_person, merged_count_in, setting_of_row};
use crate::domain::limits::LEADERBOARD_ROWS;

/// Whom a merge `o` (its worker `w`, its person's record `lp`) counts for on the leaderboard: its
/// person (`github:` and the account id), whichever worker they merged it with, or its worker,
/// when it was the merge of a worker that spoke for nobody.
const LEADER_KEY: &str = "COALESCE('github:' || CAST(o.person_id AS TEXT), o.worker_id)";

/// A merge `o` (its worker `w`, its person's record `lp`) is listed: its person opted in to the
/// leaderboard (their record; a worker's own choice until the person's first link records it).
const LEADER_OPTED_IN: &str = "COALESCE(lp.leaderboard_opt_in, w.leaderboard_opt_in) = 1";

/// The counted outcomes of the rows `o` of `outcomes`.
const REPUTATION_SUMS: &str = "\
    COALESCE(SUM(CASE WHEN o.kind = 'merged' THEN 1 ELSE 0 END), 0) AS merged, \
    COALESCE(SUM(CASE WHEN o.kind = 'closed_unmerged' THEN 1 ELSE 0 END), 0) AS closed_unmerged, \
    COALESCE(SUM(CASE WHEN o.kind = 'expired' THEN 1 ELSE 0 END), 0) AS expired, \
    COALESCE(SUM(CASE WHEN o.kind = 'nacked' THEN 1 ELSE 0 END), 0) AS nacked";

/// Tools' rows read for one leaderboard (workers × tools).
const MAX_TOOL_ROWS: i64 = 1_000;

/// The reputation of the worker `$1`: the outcomes of its person on every worker of theirs
/// (its own, for a worker that speaks for nobody), so a second worker or a relink starts from
/// the person's record, never from nothing.
pub(crate) fn reputation() -> Composed {
    Composed::new(format!(
        "SELECT {REPUTATION_SUMS} FROM outcomes o WHERE {}",
        by_person("o", "$1")
    ))
}

/// The counted outcomes of every worker whose person opted in, by worker id.
pub(crate) fn reputations() -> Composed {
    Composed::new(format!(
        "SELECT w.id AS worker_id, {REPUTATION_SUMS} \
         FROM workers w JOIN outcomes o ON {mine} \
         WHERE {opted_in} = 1 GROUP BY w.id",
        mine = by_person("o", "w.id"),
        opted_in = setting_of_row("w", Setting::ReputationOptIn),
    ))
}

/// Where the worker `$1` stands in repository `$2`: its person's trust and opt-in and their
/// merges there (the texts the claim rules read).
pub(crate) fn progress() -> Composed {
    Composed::new(format!(
        "SELECT {trust} AS trust_level, {opted_in} AS reputation_opt_in, {merged} AS merged_here \
         FROM workers w WHERE w.id = $1",
        trust = setting_of_row("w", Setting::Trust),
        opted_in = setting_of_row("w", Setting::ReputationOptIn),
        merged = merged_count_in("$1", Some("$2")),
    ))
}

fn public(public_only: bool) -> &'static str {
    if public_only {
        " AND r.private = 0"
    } else {
        ""
    }
}

/// The leaderboard since `$1` (ms), of repository `$2` unless it is empty: those who opted in, by
/// merged tasks, then points; `public_only` counts public repositories only.
pub(crate) fn leaderboard(public_only: bool) -> Composed {
    Composed::new(format!(
        "SELECT {LEADER_KEY} AS id, COALESCE(lp.login, w.name) AS name, \
           COALESCE(lp.login, w.github_login) AS github_login, COUNT(*) AS merged, \
           CAST(COALESCE(SUM(t.estimate_points), 0) AS BIGINT) AS points \
         FROM outcomes o JOIN workers w ON w.id = o.worker_id \
           LEFT JOIN persons lp ON lp.account_id = o.person_id \
           JOIN repos r ON r.id = o.repo_id JOIN tasks t ON t.id = o.task_id \
         WHERE o.kind = 'merged' AND o.at >= $1 AND {LEADER_OPTED_IN} \
           AND ($2 = '' OR r.name = $2){public} \
         GROUP BY 1, 2, 3 \
         ORDER BY COUNT(*) DESC, COALESCE(SUM(t.estimate_points), 0) DESC, 2, 1 \
         LIMIT {LEADERBOARD_ROWS}",
        public = public(public_only),
    ))
}

/// `artifact.disclosure.tool` of a task row `t`, as `backend` reads JSON text.
fn disclosed_tool(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "json_extract(t.artifact, '$.disclosure.tool')",
        Backend::Postgres => "(CAST(t.artifact AS jsonb) #>> '{disclosure,tool}')",
    }
}

/// The tools the merges of each leaderboard row disclosed, with the leaderboard's filters
/// ([`leaderboard`]): `(row's key, tool, merges)`, by key, the most used first.
pub(crate) fn leaderboard_tools(backend: Backend, public_only: bool) -> Composed {
    let tool = disclosed_tool(backend);
    Composed::new(format!(
        "SELECT {LEADER_KEY} AS id, {tool} AS tool, COUNT(*) AS n \
         FROM outcomes o JOIN workers w ON w.id = o.worker_id \
           LEFT JOIN persons lp ON lp.account_id = o.person_id \
           JOIN repos r ON r.id = o.repo_id JOIN tasks t ON t.id = o.task_id \
         WHERE o.kind = 'merged' AND o.at >= $1 AND {LEADER_OPTED_IN} \
           AND ($2 = '' OR r.name = $2){public} AND t.artifact IS NOT NULL \
           AND {tool} IS NOT NULL \
         GROUP BY 1, 2 \
         ORDER BY 1, COUNT(*) DESC, 2 \
         LIMIT {MAX_TOOL_ROWS}",
        public = public(public_only),
    ))
}

pub(super) fn variants() -> Vec<Variant> {
    let mut all = vec![
        variant("reputation::reputation", reputation()),
        variant("reputation::reputations", reputations()),
        variant("reputation::progress", progress()),
        variant("reputation::leaderboard(false)", leaderboard(false)),
        variant("reputation::leaderboard(true)", leaderboard(true)),
    ];
    for (backend, runs) in [
        (Backend::Sqlite, Runs::Sqlite),
        (Backend::Postgres, Runs::Postgres),
    ] {
        for public_only in [false, true] {
            all.push(Variant {
                name: format!("reputation::leaderboard_tools({backend:?}, {public_only})"),
                runs,
                statement: leaderboard_tools(backend, public_only),
            });
        }
    }
    all
}
