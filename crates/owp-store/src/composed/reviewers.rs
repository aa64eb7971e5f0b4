//! A repository's reviewers with their open reviews (the one text of an open review,
//! [`OPEN_REVIEWS`]), and the pick of the next reviewer among those present ([`present`]).

use super::{Composed, Variant, variant};
use crate::claim_rules::{OPEN_REVIEWS, present};

/// The columns of a reviewer over `repo_reviewers rv`, with their open reviews.
fn reviewer_select() -> String {
    format!(
        "SELECT rv.repo_id, rv.login_key, COALESCE(rv.account_login, rv.login) AS login, \
           rv.account_id, rv.capacity, rv.away_until, rv.last_assigned_at, \
           ({OPEN_REVIEWS}) AS open FROM repo_reviewers rv"
    )
}

/// The reviewer of repository `$1` whose login is `$2` (lower case): the listed login, else the
/// login GitHub last gave for a reviewer's account.
pub(crate) fn by_login() -> Composed {
    Composed::new(format!(
        "{} WHERE rv.repo_id = $1 AND (rv.login_key = $2 OR LOWER(rv.account_login) = $2) \
         ORDER BY CASE WHEN rv.login_key = $2 THEN 0 ELSE 1 END LIMIT 1",
        reviewer_select()
    ))
}

/// The reviewer of repository `$1` who is the person `$2`.
pub(crate) fn by_person() -> Composed {
    Composed::new(format!(
        "{} WHERE rv.repo_id = $1 AND rv.account_id = $2",
        reviewer_select()
    ))
}

/// The reviewer of repository `$1` with room, present at `$3` (ms) and not the person `$2`, who
/// has the fewest open reviews, ties to the one assigned least recently.
pub(crate) fn next() -> Composed {
    Composed::new(format!(
        "SELECT c.* FROM ({} WHERE rv.repo_id = $1 AND rv.account_id <> $2 AND {}) c \
         WHERE c.open < c.capacity \
         ORDER BY c.open, COALESCE(c.last_assigned_at, 0), c.login_key LIMIT 1",
        reviewer_select(),
        present("rv", "$3")
    ))
}

/// Every repository's reviewers, by repository and login.
pub(crate) fn all() -> Composed {
    Composed::new(format!(
        "{} ORDER BY rv.repo_id, rv.login_key",
        reviewer_select()
    ))
}

pub(super) fn variants() -> Vec<Variant> {
    vec![
        variant("reviewers::by_login", by_login()),
        variant("reviewers::by_person", by_person()),
        variant("reviewers::next", next()),
        variant("reviewers::all", all()),
    ]
}
