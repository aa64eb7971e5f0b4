//! The GitHub App's statements whose length only the caller knows (the outbox rows claimed
//! together, the logins asked about, the tasks whose issues a write targets: a JSON list, read as
//! each backend reads JSON), and the inbox's claim, whose lock differs by backend.

use super::{Composed, Runs, Variant, json_strings, marks, variant};
use crate::Backend;

/// The columns of an outbox row.
const OUTBOX_COLUMNS: &str = "id, uid, installation_id, repo, issue_number, kind, \
    task_id, comment_id, body, revision, attempts";

/// The `n` outbox rows `$4` … claimed for runner `$1` until `$2` (ms), each only while pending and
/// not claimed by another at `$3` (ms).
pub(crate) fn claim_outbox(n: usize) -> Composed {
    Composed::new(format!(
        "UPDATE gh_outbox SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
         WHERE id IN ({}) AND state = 'pending' \
         AND (claimed_until IS NULL OR claimed_until <= $3) RETURNING {OUTBOX_COLUMNS}",
        marks(4, n)
    ))
}

/// What the App asked GitHub lately about the `n` logins `$1` ….
pub(crate) fn login_asks(n: usize) -> Composed {
    Composed::new(format!(
        "SELECT login, asked_at, account_id, missing FROM gh_login_asks WHERE login IN ({})",
        marks(1, n)
    ))
}

/// The repository, issue and installation of each of the tasks of the JSON array `$1`.
pub(crate) fn task_targets(backend: Backend) -> Composed {
    let list = json_strings(backend);
    Composed::new(format!(
        "SELECT g.task_id, g.repo, g.issue_number, r.installation_id \
         FROM gh_tasks g JOIN gh_repos r ON r.repo = g.repo WHERE g.task_id IN ({list})"
    ))
}

/// Claims the oldest pending delivery due at `$3` (ms) that no earlier pending delivery of its
/// lane (repository, installation, or the whole App) holds back, for runner `$1` until `$2`
/// (ms): the lane rule is this one condition, so it holds however many appliers race. On
/// PostgreSQL the candidate row is locked and rows another process is claiming are passed over.
pub(crate) fn claim_delivery(backend: Backend) -> Composed {
    let lock = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
    };
    Composed::new(format!(
        "UPDATE gh_deliveries SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
         WHERE seq = ( \
           SELECT d.seq FROM gh_deliveries d \
           WHERE d.state = 'pending' AND d.next_attempt_at <= $3 \
             AND (d.claimed_until IS NULL OR d.claimed_until <= $3) \
             AND NOT EXISTS (SELECT 1 FROM gh_deliveries e WHERE e.state = 'pending' \
                   AND e.lane_repo = d.lane_repo AND e.seq < d.seq) \
             AND NOT EXISTS (SELECT 1 FROM gh_deliveries e WHERE e.state = 'pending' \
                   AND e.lane_installation = d.lane_installation AND e.lane_repo IS NULL \
                   AND e.seq < d.seq) \
             AND (d.lane_repo IS NOT NULL OR NOT EXISTS (SELECT 1 FROM gh_deliveries e \
                   WHERE e.state = 'pending' AND e.lane_installation = d.lane_installation \
                   AND e.seq < d.seq)) \
             AND NOT EXISTS (SELECT 1 FROM gh_deliveries e WHERE e.state = 'pending' \
                   AND e.lane_installation IS NULL AND e.lane_repo IS NULL AND e.seq < d.seq) \
             AND (d.lane_installation IS NOT NULL OR NOT EXISTS (SELECT 1 FROM gh_deliveries e \
                   WHERE e.state = 'pending' AND e.seq < d.seq)) \
           ORDER BY d.seq LIMIT 1 {lock}) \
         AND state = 'pending' AND (claimed_until IS NULL OR claimed_until <= $3) \
         RETURNING seq, delivery_id, event, body, attempts"
    ))
}

pub(super) fn variants() -> Vec<Variant> {
    vec![
        variant("github::claim_outbox(1)", claim_outbox(1)),
        variant("github::claim_outbox(3)", claim_outbox(3)),
        variant("github::login_asks(1)", login_asks(1)),
        variant("github::login_asks(3)", login_asks(3)),
        Variant {
            name: "github::claim_delivery(Sqlite)".into(),
            runs: Runs::Sqlite,
            statement: claim_delivery(Backend::Sqlite),
        },
        Variant {
            name: "github::claim_delivery(Postgres)".into(),
            runs: Runs::Postgres,
            statement: claim_delivery(Backend::Postgres),
        },
        Variant {
            name: "github::task_targets(Sqlite)".into(),
            runs: Runs::Sqlite,
            statement: task_targets(Backend::Sqlite),
        },
        Variant {
            name: "github::task_targets(Postgres)".into(),
            runs: Runs::Postgres,
            statement: task_targets(Backend::Postgres),
        },
    ]
}
