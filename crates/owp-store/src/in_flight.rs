//! What a task in flight is, and a task held by a lease: the one text of each, which every query
//! of the store reads (`docs/design.md`, rule 10). Its code knows no other module.

/// The statuses of a task in flight: a lease holds it, or its pull request is open. The one list
/// the store reads; the path-lock triggers of migrations 0024, 0043 and 0082 hold copies of it,
/// which a test here compares with this.
pub(crate) const IN_FLIGHT_STATUSES: [&str; 3] = ["leased", "in_progress", "pr_opened"];

/// [`IN_FLIGHT_STATUSES`] as an SQL list, for `status IN (…)`.
pub(crate) fn in_flight_statuses() -> String {
    IN_FLIGHT_STATUSES.map(|s| format!("'{s}'")).join(", ")
}

/// Task `t` (an alias, or `tasks`) is in flight, as SQL: its status is one of
/// [`IN_FLIGHT_STATUSES`], or its holder blocked it and it waits for a maintainer. A task in
/// flight holds its paths (the trigger of migration 0024 keeps `task_paths.held` so).
pub(crate) fn in_flight(t: &str) -> String {
    format!(
        "({t}.status IN ({}) OR {t}.awaits_maintainer = 1)",
        in_flight_statuses()
    )
}

/// Task `$t` (its alias with its dot) is held by a lease: its status is one of
/// [`IN_FLIGHT_STATUSES`] but `pr_opened` (whose lease has ended, though `tasks.lease_id` still
/// names it). Such a task counts among its repository's `active_leases` (`budget_rule`), its
/// holder sees it among its leases, and its lease can expire. A literal, for `concat!`.
macro_rules! holds_lease {
    ($t:literal) => {
        concat!($t, "status IN ('leased', 'in_progress')")
    };
}
pub(crate) use holds_lease;

#[cfg(test)]
mod tests {
    use super::{IN_FLIGHT_STATUSES, in_flight, in_flight_statuses};
    use crate::rule_texts::{
        function_in_force, migrations, same_text, sqlite_migrations, trigger_in_force,
    };

    /// "In flight" has one text in the store ([`in_flight`]); the path locks' trigger
    /// function in force, and the trigger that calls it on each backend, read a task in flight
    /// by exactly that text: each status list they name is the store's, and the condition is
    /// written for the row before and after the change.
    #[test]
    fn the_path_lock_triggers_read_the_in_flight_text() {
        let statuses = in_flight_statuses();
        let sqlite = sqlite_migrations();
        let texts = [
            ("owp_path_locks", function_in_force("owp_path_locks")),
            (
                "tasks_path_locks on PostgreSQL",
                trigger_in_force(&migrations(), "tasks_path_locks"),
            ),
            (
                "tasks_path_locks on SQLite",
                trigger_in_force(&sqlite, "tasks_path_locks"),
            ),
        ];
        for (name, text) in texts {
            let text = same_text(&text);
            let lists: Vec<&str> = text
                .match_indices("status IN (")
                .map(|(at, m)| {
                    let rest = &text[at + m.len()..];
                    &rest[..rest.find(')').unwrap_or(rest.len())]
                })
                .collect();
            assert!(lists.len() >= 2, "{name}: {text}");
            for list in lists {
                assert_eq!(list, statuses, "{name}: {text}");
            }
            for row in ["OLD", "NEW"] {
                let condition = in_flight(row);
                let condition = &condition[1..condition.len() - 1];
                assert!(
                    text.contains(condition),
                    "{name}: {condition} not in {text}"
                );
            }
        }
    }

    /// A task held by a lease is a task in flight whose pull request is not open yet: the
    /// lease's status list is the in-flight list without `pr_opened`.
    #[test]
    fn a_task_held_by_a_lease_is_in_flight_before_its_pull_request() {
        let leased: Vec<String> = IN_FLIGHT_STATUSES
            .iter()
            .filter(|s| **s != "pr_opened")
            .map(|s| format!("'{s}'"))
            .collect();
        assert_eq!(leased.len(), IN_FLIGHT_STATUSES.len() - 1);
        assert_eq!(
            holds_lease!("t."),
            format!("t.status IN ({})", leased.join(", "))
        );
    }
}
