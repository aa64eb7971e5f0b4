//! The SQL of rule 6's condition (the review budget has room), as text for the queries that need
//! it: the claim's condition (`leases::claim_rules::claim_conditions`, and PostgreSQL's
//! conditional take of the budget in `leases::postgres_statement`) and a repository's
//! `throttled` (`rows::REPO_SELECT`), its negation. It knows no other module.

/// The review budget of repository `$repo` has room for one more lease: open pull requests,
/// tasks waiting for a maintainer and active leases stay below `max_open_prs`. `$repo` is the
/// alias of the `repos` row, with its dot (`"r."`), or empty; a literal, so that the condition is
/// text at compile time.
macro_rules! budget_has_room {
    ($repo:literal) => {
        concat!(
            $repo,
            "open_prs + ",
            $repo,
            "active_leases < ",
            $repo,
            "max_open_prs"
        )
    };
}
pub(crate) use budget_has_room;

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
}
