//! The person a worker speaks for, and their settings: statements that join the one definition
//! of the person of a worker ([`person_of`]) and of a denouncing entry.

use super::{Composed, Variant, variant};
use crate::claim_rules::person_of;
use crate::claim_rules::person_sql::{Setting, by_person, denouncing_entry};

/// `setting` of the person worker `$2` speaks for, if any, becomes `$1`.
pub(crate) fn set_setting(setting: Setting) -> Composed {
    Composed::new(format!(
        "UPDATE persons SET {col} = $1 WHERE account_id = {person}",
        col = setting.column(),
        person = person_of("$2")
    ))
}

/// The person (GitHub account id) worker `$1` speaks for, if any: one row.
pub(crate) fn person() -> Composed {
    Composed::new(format!("SELECT {}", person_of("$1")))
}

/// The person worker `$1` speaks for, with their login as GitHub last sent it (their record),
/// else the worker's own: one row.
pub(crate) fn person_and_login() -> Composed {
    Composed::new(format!(
        "SELECT {person}, COALESCE((SELECT ps.login FROM persons ps \
           WHERE ps.account_id = {person}), \
           (SELECT lw.github_login FROM workers lw WHERE lw.id = $1))",
        person = person_of("$1")
    ))
}

/// When the person worker `$2` speaks for last gave task `$1` back, if they did: one row.
pub(crate) fn nacked_at() -> Composed {
    Composed::new(format!(
        "SELECT MAX(n.at) FROM nacks n WHERE n.task_seq = $1 AND {}",
        by_person("n", "$2")
    ))
}

/// A row when an entry of repository `$1` denounces GitHub account `$2`, now named `$3` (lower
/// case).
pub(crate) fn denounces() -> Composed {
    Composed::new(format!(
        "{} LIMIT 1",
        denouncing_entry("(SELECT r.id FROM repos r WHERE r.name = $1)", "$2", "$3")
    ))
}

pub(super) fn variants() -> Vec<Variant> {
    vec![
        variant("persons::set_setting(Trust)", set_setting(Setting::Trust)),
        variant(
            "persons::set_setting(ReputationOptIn)",
            set_setting(Setting::ReputationOptIn),
        ),
        variant(
            "persons::set_setting(LeaderboardOptIn)",
            set_setting(Setting::LeaderboardOptIn),
        ),
        variant("persons::person", person()),
        variant("persons::person_and_login", person_and_login()),
        variant("persons::nacked_at", nacked_at()),
        variant("persons::denounces", denounces()),
    ]
}
