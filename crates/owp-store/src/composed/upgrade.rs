//! What an upgrade adds to a migration applied in an earlier text (`crate::upgrade`): a fixed
//! statement, or a PostgreSQL function cut from the current text of its migration file.

use super::{Composed, Variant, variant_on};
use crate::Backend;

/// A fixed statement of an upgrade.
pub(crate) fn fixed(text: &'static str) -> Composed {
    Composed::new(text.to_string())
}

/// The definition of PostgreSQL function `name` in `migration` (a migration file of this build),
/// as `CREATE OR REPLACE`.
pub(crate) fn function(migration: &'static str, name: &str) -> Composed {
    let start = migration
        .find(&format!("CREATE FUNCTION {name}("))
        .expect("the migration defines the function");
    let end = start + migration[start..].find("$$;").expect("its end") + 3;
    Composed::new(migration[start..end].replacen(
        "CREATE FUNCTION",
        "CREATE OR REPLACE FUNCTION",
        1,
    ))
}

pub(super) fn variants() -> Vec<Variant> {
    vec![variant_on(
        Backend::Postgres,
        "upgrade::function(0035, owp_reviewer_room)",
        function(
            include_str!("../../../../migrations/postgres/0035_reviewers.sql"),
            "owp_reviewer_room",
        ),
    )]
}
