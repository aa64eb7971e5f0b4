//! Rule 6, the review budget, written once as SQL text for every query that needs it: the
//! claim's condition (`claim_rules::claim_conditions`, and PostgreSQL's conditional take
//! of the budget in `leases::postgres_statement`), the refusal and the preview that explain it
//! (`leases::refusals`, through the claim's conditions), a repository's `throttled` (its
//! negation, [`budget_full_column`]: `rows::REPO_SELECT` for the admin state, the dashboard and
//! the status comments, `gauges` for `/metrics`), and what counts against it, counted live from
//! the tasks ([`takes_review_slot`], and `in_flight::holds_lease`) when reconciliation checks the
//! counters. What shows the count says it with `domain::rules::review_slots_used`, which a test
//! here keeps equal to [`budget_used`]. It knows no other module.

/// The review slots repository `$repo` uses: open pull requests and tasks waiting for a
/// maintainer (`open_prs`), and active leases (`active_leases`). `$repo` is the alias of the
/// `repos` row, with its dot (`"r."`), or empty; a literal, so that the text is known at compile
/// time.
macro_rules! budget_used {
    ($repo:literal) => {
        concat!($repo, "open_prs + ", $repo, "active_leases")
    };
}
pub(crate) use budget_used;

/// The review budget of repository `$repo` has room for one more lease: the slots it uses
/// ([`budget_used`]) stay below `max_open_prs`.
macro_rules! budget_has_room {
    ($repo:literal) => {
        concat!(
            $crate::budget_rule::budget_used!($repo),
            " < ",
            $repo,
            "max_open_prs"
        )
    };
}
pub(crate) use budget_has_room;

/// A repository's `throttled` as a column (1 or 0): [`budget_has_room`] fails.
macro_rules! budget_full_column {
    ($repo:literal) => {
        concat!(
            "CAST(CASE WHEN ",
            $crate::budget_rule::budget_has_room!($repo),
            " THEN 0 ELSE 1 END AS BIGINT)"
        )
    };
}
pub(crate) use budget_full_column;

/// Task `$t` (its alias with its dot) takes a slot of its repository's `open_prs`: its pull
/// request is open, or its holder blocked it and it waits for a maintainer. The counters are
/// kept by every lease move (`composed::leases::effects::budget_counters`); reconciliation counts them
/// again with this (`InstallationsTx::recount_repo`).
macro_rules! takes_review_slot {
    ($t:literal) => {
        concat!(
            "(",
            $t,
            "status = 'pr_opened' OR ",
            $t,
            "awaits_maintainer = 1)"
        )
    };
}
pub(crate) use takes_review_slot;

/// [`budget_has_room`] once `taken` (an SQL expression) more leases of repository `repo` are
/// counted: the claims of one statement that picked in the same repository before
/// (`leases::postgres_statement`), or that take together (`taken` is then their number less one).
pub(crate) fn budget_room_after(repo: &str, taken: &str) -> String {
    budget_has_room!("{repo}")
        .replace("{repo}", repo)
        .replacen(" < ", &format!(" + {taken} < "), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_after_more_leases_is_the_same_rule() {
        assert_eq!(
            budget_room_after("r.", "0"),
            "r.open_prs + r.active_leases + 0 < r.max_open_prs"
        );
        assert_eq!(
            budget_room_after("", "n - 1"),
            "open_prs + active_leases + n - 1 < max_open_prs"
        );
        assert_eq!(
            budget_room_after("r.", "0").replace(" + 0", ""),
            budget_has_room!("r.")
        );
    }

    /// What shows the budget counts the slots as the rule does, and calls it full exactly when
    /// the rule finds no room: the SQL run by SQLite over every case of a small budget.
    #[tokio::test]
    async fn the_count_shown_is_the_rules_count() {
        use crate::domain::rules::review_slots_used;
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut db = sqlx::AnyConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        let sql = concat!(
            "SELECT ",
            budget_used!(""),
            ", ",
            budget_full_column!(""),
            " FROM (SELECT $1 AS open_prs, $2 AS active_leases, $3 AS max_open_prs)"
        );
        for open in 0..4_i64 {
            for active in 0..4_i64 {
                for max in 0..5_i64 {
                    let (used, full): (i64, i64) = sqlx::query_as(sql)
                        .bind(open)
                        .bind(active)
                        .bind(max)
                        .fetch_one(&mut db)
                        .await
                        .unwrap();
                    assert_eq!(used, review_slots_used(open, active));
                    assert_eq!(full == 1, used >= max, "{open} + {active} of {max}");
                }
            }
        }
    }
}
