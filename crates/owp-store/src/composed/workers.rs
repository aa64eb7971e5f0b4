//! Workers' rows: their trust and opt-ins are the person's, kept on their record (`persons`; a
//! worker's own for a worker that speaks for nobody), read by the rules' own text
//! ([`setting_of_row`]), so what every reader of a worker sees is what the rules read.

use std::sync::LazyLock;

use super::{Composed, Runs, Variant, json_strings, variant};
use crate::Backend;
use crate::claim_rules::person_sql::{Setting, setting_of_row};

/// `SELECT` of `WorkerRow`s (`crate::rows`).
static WORKER_SELECT: LazyLock<String> = LazyLock::new(|| {
    let setting = |s: Setting| format!("{} AS {}", setting_of_row("workers", s), s.column());
    format!(
        "SELECT id, name, skills, all_skills, capacity_points, max_concurrent_tasks, \
           github_login, github_account_id, claimed_login, status, last_seen_at, {}, \
           capabilities, active_points, active_tasks, extensions, created_at, {}, {}, \
           specialist, archived_at FROM workers",
        setting(Setting::Trust),
        setting(Setting::ReputationOptIn),
        setting(Setting::LeaderboardOptIn),
    )
});

/// Worker `$1`; `lock`: its row locked until commit (PostgreSQL's `FOR UPDATE`, which SQLite,
/// one writer at a time, has no need of).
pub(crate) fn by_id(lock: bool) -> Composed {
    let lock = if lock { " FOR UPDATE" } else { "" };
    Composed::new(format!("{} WHERE id = $1{lock}", WORKER_SELECT.as_str()))
}

/// The worker whose token's digest is `$1`, unless it was archived (an archived worker's token
/// never authenticates).
pub(crate) fn by_token() -> Composed {
    Composed::new(format!(
        "{} WHERE token_hash = $1 AND archived_at IS NULL",
        WORKER_SELECT.as_str()
    ))
}

/// The workers whose tokens' digests are in the JSON array `$1`, each with its `token_hash`,
/// unless archived (as [`by_token`]).
pub(crate) fn by_tokens(backend: Backend) -> Composed {
    let list = json_strings(backend);
    let select = WORKER_SELECT.replacen("SELECT ", "SELECT token_hash, ", 1);
    Composed::new(format!(
        "{select} WHERE token_hash IN ({list}) AND archived_at IS NULL"
    ))
}

/// Every worker, oldest first.
pub(crate) fn all() -> Composed {
    Composed::new(format!(
        "{} ORDER BY created_at, id",
        WORKER_SELECT.as_str()
    ))
}

pub(super) fn variants() -> Vec<Variant> {
    vec![
        variant("workers::by_id(false)", by_id(false)),
        Variant {
            name: "workers::by_id(true)".into(),
            runs: Runs::Postgres,
            statement: by_id(true),
        },
        variant("workers::by_token", by_token()),
        Variant {
            name: "workers::by_tokens(Sqlite)".into(),
            runs: Runs::Sqlite,
            statement: by_tokens(Backend::Sqlite),
        },
        Variant {
            name: "workers::by_tokens(Postgres)".into(),
            runs: Runs::Postgres,
            statement: by_tokens(Backend::Postgres),
        },
        variant("workers::all", all()),
    ]
}
