//! Repositories: their rows with the review budget's live figures ([`REPO_SELECT`]), and the area
//! locks a repository's setting turns on (given to each area's oldest task in flight) or off.

use super::{Composed, Variant, variant};
use crate::in_flight::in_flight_statuses;
use crate::rows::REPO_SELECT;

/// The repository named `$1`.
pub(crate) fn by_name() -> Composed {
    Composed::new(format!("{REPO_SELECT} WHERE name = $1"))
}

/// Every repository, by name.
pub(crate) fn all() -> Composed {
    Composed::new(format!("{REPO_SELECT} ORDER BY name"))
}

/// The repositories whose boards anyone may read, by name.
pub(crate) fn public() -> Composed {
    Composed::new(format!(
        "{REPO_SELECT} WHERE private = 0 AND archived_at IS NULL ORDER BY name"
    ))
}

/// Area locks of repository `$1` turned on (each area's oldest task in flight takes its area's
/// lock) or off (every lock dropped).
pub(crate) fn area_locks(enabled: bool) -> Composed {
    Composed::new(if enabled {
        format!(
            "UPDATE tasks SET area_lock = area WHERE repo_id = $1 AND area IS NOT NULL \
             AND status IN ({statuses}) \
             AND seq = (SELECT MIN(x.seq) FROM tasks x WHERE x.repo_id = tasks.repo_id \
               AND x.area = tasks.area AND x.status IN ({statuses}))",
            statuses = in_flight_statuses()
        )
    } else {
        "UPDATE tasks SET area_lock = NULL WHERE repo_id = $1".to_string()
    })
}

/// How many tasks of repository `$1` are in flight (someone works on them).
pub(crate) fn busy() -> Composed {
    Composed::new(format!(
        "SELECT COUNT(*) FROM tasks WHERE repo_id = $1 AND status IN ({})",
        in_flight_statuses()
    ))
}

pub(super) fn variants() -> Vec<Variant> {
    vec![
        variant("repos::busy", busy()),
        variant("repos::by_name", by_name()),
        variant("repos::all", all()),
        variant("repos::public", public()),
        variant("repos::area_locks(true)", area_locks(true)),
        variant("repos::area_locks(false)", area_locks(false)),
    ]
}
