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
