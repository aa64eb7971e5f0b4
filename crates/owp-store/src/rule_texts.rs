//! Where each rule of the claim is written, and the proofs that no second text of it exists:
//! the source of the service holds the review budget's count and condition and the path
//! overlap only in their one place (the `owp` crate's `rules_written_once` test), and PostgreSQL's
//! rechecks, which migrations hold, read that same text.
//!
//! A check in the claim's statement reads a snapshot that a concurrent claim can make stale, so
//! five rules are checked again by a trigger function (`docs/design.md`, "A claim"). A landed
//! migration never changes, so a function is replaced by a later migration's `CREATE OR REPLACE
//! FUNCTION`; the tests read the definition in force on a freshly migrated database (the last
//! one in migration order) and find in it, word for word, the text the claim builds for the
//! rule:
//!
//! | function | the rule's one text | its test |
//! |---|---|---|
//! | `owp_claims_per_hour` | `claim_rules::hourly_room` | `claim_rules::tests` |
//! | `owp_reviewer_room` | `claim_rules::reviewer_room` | `claim_rules::tests` |
//! | `owp_person_claims` | `claim_rules::person_claims_room` | `claim_rules::tests` |
//! | `owp_path_locks` | `path_overlap::held_overlapping!` | `path_overlap::tests` |
//! | `owp_proposals_limit` | `proposals::live`, `domain::proposals::MAX_OPEN_PER_*` | below |
//!
//! A task in flight (`in_flight::in_flight`: its status list and its holder's `blocked`) is read
//! by the path locks' trigger function and by the trigger that calls it; `in_flight::tests`
//! compares the text in force on each backend ([`trigger_in_force`]) with the store's. Its status
//! list, and that of a task held by a lease, are written only there.
//!
//! Every other trigger function keeps bookkeeping (queues, counts, outcomes) and holds no rule;
//! [`NOT_RULES`] names them, so that a new trigger function is placed in one list or the other.

/// The trigger functions that recheck a claim rule (see the module's table).
const RULE_RECHECKS: [&str; 5] = [
    "owp_claims_per_hour",
    "owp_reviewer_room",
    "owp_person_claims",
    "owp_path_locks",
    "owp_proposals_limit",
];

/// The trigger functions that hold no rule of the claim.
const NOT_RULES: [&str; 6] = [
    "owp_record_outcome",
    "owp_task_deps_waiting",
    "owp_blocker_moved",
    "owp_task_queue",
    "owp_proposals_expire",
    "owp_outcome_person",
];

/// SQL text with every run of white space one space, to compare texts laid out differently.
pub(crate) fn same_text(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The PostgreSQL migrations, in the order they apply.
pub(crate) fn migrations() -> Vec<(i64, String)> {
    in_order(sqlx::migrate!("../../migrations/postgres"))
}

/// The SQLite migrations, in the order they apply.
pub(crate) fn sqlite_migrations() -> Vec<(i64, String)> {
    in_order(sqlx::migrate!("../../migrations/sqlite"))
}

/// The migrations of `migrator`, in the order they apply.
fn in_order(migrator: sqlx::migrate::Migrator) -> Vec<(i64, String)> {
    let mut all: Vec<(i64, String)> = migrator
        .iter()
        .map(|m| (m.version, m.sql.as_str().to_string()))
        .collect();
    all.sort_by_key(|(version, _)| *version);
    all
}

/// The body (between its `$$`) of each definition of function `name` in `sql`, in order.
fn definitions<'a>(sql: &'a str, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = sql;
    let head = format!("FUNCTION {name}(");
    while let Some(at) = rest.find(&head) {
        let before = same_text(&rest[..at]);
        rest = &rest[at + head.len()..];
        if !(before.ends_with("CREATE") || before.ends_with("CREATE OR REPLACE")) {
            continue;
        }
        let Some(open) = rest.find("$$") else { break };
        let Some(close) = rest[open + 2..].find("$$") else {
            break;
        };
        out.push(&rest[open + 2..open + 2 + close]);
        rest = &rest[open + 2 + close + 2..];
    }
    out
}

/// The body of function `name` as a freshly migrated PostgreSQL database holds it: its last
/// definition in migration order. Panics when no migration defines it.
pub(crate) fn function_in_force(name: &str) -> String {
    migrations()
        .iter()
        .flat_map(|(_, sql)| definitions(sql, name))
        .next_back()
        .unwrap_or_else(|| panic!("no migration defines {name}"))
        .to_string()
}

/// The definition of trigger `name` (from its `CREATE TRIGGER` to its end) as a database migrated
/// by `migrations` holds it: its last definition in migration order. Panics when no migration
/// defines it, or when a later one drops it.
pub(crate) fn trigger_in_force(migrations: &[(i64, String)], name: &str) -> String {
    let create = format!("CREATE TRIGGER {name} ");
    let drop = format!("DROP TRIGGER {name}");
    let mut last = None;
    for (_, sql) in migrations {
        let created = sql.rfind(&create);
        if let Some(at) = created {
            let rest = &sql[at..];
            let end = ["EXECUTE FUNCTION", "END;"]
                .iter()
                .filter_map(|e| rest.find(e).map(|i| i + e.len()))
                .min()
                .unwrap_or(rest.len());
            last = Some(rest[..end].to_string());
        }
        if sql.rfind(&drop) > created {
            last = None;
        }
    }
    last.unwrap_or_else(|| panic!("no trigger {name} in force"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_in_force_is_the_last() {
        let sql = "CREATE FUNCTION f() RETURNS trigger AS $$ one $$; \
                   DROP FUNCTION g(); CREATE OR REPLACE FUNCTION f() RETURNS trigger AS $$ two $$; \
                   CREATE FUNCTION f_other() AS $$ three $$;";
        assert_eq!(definitions(sql, "f"), vec![" one ", " two "]);
        assert!(definitions(sql, "g").is_empty());
        assert!(!function_in_force("owp_path_locks").is_empty());
    }

    /// Every trigger function of the migrations is either a rule's recheck, whose text a test
    /// compares with the rule's, or bookkeeping: a new one must be placed, and a recheck must
    /// be defined.
    #[test]
    fn every_trigger_function_is_placed() {
        let mut found: Vec<String> = Vec::new();
        for (_, sql) in migrations() {
            for (at, _) in sql.match_indices("FUNCTION ") {
                let rest = &sql[at + "FUNCTION ".len()..];
                let Some(paren) = rest.find('(') else {
                    continue;
                };
                let name = rest[..paren].trim();
                let returns = same_text(&rest[paren..rest.len().min(paren + 40)]);
                if returns.starts_with("() RETURNS trigger") && !found.iter().any(|f| f == name) {
                    found.push(name.to_string());
                }
            }
        }
        for name in &found {
            assert!(
                RULE_RECHECKS.contains(&name.as_str()) || NOT_RULES.contains(&name.as_str()),
                "the trigger function {name} is neither a rule's recheck (tested against the \
                 rule's text) nor listed as bookkeeping"
            );
        }
        for name in RULE_RECHECKS.iter().chain(NOT_RULES.iter()) {
            assert!(found.iter().any(|f| f == name), "{name} is not defined");
        }
    }
}
