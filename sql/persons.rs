//! Persons (`owp::store::github::worker_links`): a GitHub account's record, the worker it
//! proved to own, the one-time codes that prove it, the logins shown for it as GitHub sends
//! them, and what follows a person to their next worker. The writes return the rows they
//! changed.

use super::Db;

/// The GitHub login proven for `worker_id`, if any.
pub async fn login_of_worker<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    worker_id: &str,
) -> sqlx::Result<Option<String>> {
    let row = sqlx::query_file!("../../sql/persons/login_of_worker.sql", worker_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.login))
}

writes! {
    /// The pool meets the person `account_id`, now named `login`, at `now` (ms).
    met(account_id: i64, login: &str, now: i64) = "../../sql/persons/met.sql";
}

writes! {
    /// What person `account_id`'s record does not hold yet it takes from `worker_id`.
    settings_from_worker(account_id: i64, worker_id: &str)
        = "../../sql/persons/settings_from_worker.sql";
}

writes! {
    /// `worker_id`'s leases from before it spoke for anyone are `account_id`'s.
    leases_to_person(account_id: i64, worker_id: &str) = "../../sql/persons/leases_to_person.sql";
}

writes! {
    /// `worker_id`'s give-backs from before it spoke for anyone are `account_id`'s.
    nacks_to_person(account_id: i64, worker_id: &str) = "../../sql/persons/nacks_to_person.sql";
}

writes! {
    /// `worker_id`'s outcomes from before it spoke for anyone are `account_id`'s.
    outcomes_to_person(account_id: i64, worker_id: &str)
        = "../../sql/persons/outcomes_to_person.sql";
}

/// The worker `account_id` proved to own, if any.
pub async fn linked_worker<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
) -> sqlx::Result<Option<String>> {
    let row = sqlx::query_file!("../../sql/persons/linked_worker.sql", account_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.worker_id))
}

writes! {
    /// `account_id`'s link shows `login` (lower case).
    link_renamed(account_id: i64, login: &str) = "../../sql/persons/link_renamed.sql";
}

writes! {
    /// `account_id` is named `login` now: its implicit worker and the worker it proved to own
    /// show that login.
    workers_renamed(account_id: i64, login: &str) = "../../sql/persons/workers_renamed.sql";
}

writes! {
    /// The comment claims of `account_id`'s workers show `login`.
    claims_renamed(account_id: i64, login: &str) = "../../sql/persons/claims_renamed.sql";
}

writes! {
    /// Person `account_id`'s record shows `login`.
    record_renamed(account_id: i64, login: &str) = "../../sql/persons/record_renamed.sql";
}

writes! {
    /// `account_id`'s age record shows `login`.
    account_renamed(account_id: i64, login: &str) = "../../sql/persons/account_renamed.sql";
}

writes! {
    /// `worker_id`'s unused link codes stop working.
    clear_link_codes(worker_id: &str) = "../../sql/persons/clear_link_codes.sql";
}

writes! {
    /// A link code (`code_hash`) for `worker_id`, made at `now` and valid until `expires_at` (ms).
    create_link_code(code_hash: &str, worker_id: &str, now: i64, expires_at: i64)
        = "../../sql/persons/create_link_code.sql";
}

/// The worker of the unused link code `code_hash`, live at `now` (ms).
pub async fn link_code_worker<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    code_hash: &str,
    now: i64,
) -> sqlx::Result<Option<String>> {
    let row = sqlx::query_file!("../../sql/persons/link_code_worker.sql", code_hash, now)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.worker_id))
}

writes! {
    /// The link code `code_hash` was used at `now` (ms) by `login`.
    link_code_used(code_hash: &str, now: i64, login: &str) = "../../sql/persons/link_code_used.sql";
}

/// `worker_id`'s link: `(account, the login it was made for)`.
pub async fn link_of_worker<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    worker_id: &str,
) -> sqlx::Result<Option<(Option<i64>, String)>> {
    let row = sqlx::query_file!("../../sql/persons/link_of_worker.sql", worker_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.account_id, r.login)))
}

/// The worker other than `worker_id` that `account_id` proved to own, if any.
pub async fn other_linked_worker<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    worker_id: &str,
) -> sqlx::Result<Option<String>> {
    let row = sqlx::query_file!(
        "../../sql/persons/other_linked_worker.sql",
        account_id,
        worker_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| r.worker_id))
}

writes! {
    /// The workers other than `worker_id` that `account_id` proved to own speak for nobody now.
    unlink_others(account_id: i64, worker_id: &str) = "../../sql/persons/unlink_others.sql";
}

writes! {
    /// Forgets `account_id`'s links to workers other than `worker_id`.
    forget_other_links(account_id: i64, worker_id: &str)
        = "../../sql/persons/forget_other_links.sql";
}

writes! {
    /// `worker_id` is linked to `account_id` (`login`, lower case) from `now` (ms).
    link(worker_id: &str, account_id: i64, login: &str, now: i64) = "../../sql/persons/link.sql";
}

writes! {
    /// `worker_id` speaks for `account_id`, named `login`.
    speaks_for(worker_id: &str, account_id: i64, login: &str) = "../../sql/persons/speaks_for.sql";
}

/// `worker_id`'s live leases, by task: `(task, lease, points, repository)`.
pub async fn live_leases_of<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    worker_id: &str,
) -> sqlx::Result<Vec<(String, String, i64, String)>> {
    let rows = sqlx::query_file!("../../sql/persons/live_leases_of.sql", worker_id)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.task_id, r.lease_id, r.points, r.repo))
        .collect())
}

writes! {
    /// `lease_id` is `worker_id`'s.
    lease_to_worker(lease_id: &str, worker_id: &str) = "../../sql/persons/lease_to_worker.sql";
}

writes! {
    /// `task_id`, held by `lease_id`, is `worker_id`'s.
    task_to_worker(task_id: &str, lease_id: &str, worker_id: &str)
        = "../../sql/persons/task_to_worker.sql";
}

writes! {
    /// `task_id`'s comment claim by `from` is `to`'s.
    claim_to_worker(task_id: &str, from: &str, to: &str) = "../../sql/persons/claim_to_worker.sql";
}

writes! {
    /// `worker_id`'s load grows by `tasks` and `points` (or shrinks, by negative ones).
    load_moved(worker_id: &str, tasks: i64, points: i64) = "../../sql/persons/load_moved.sql";
}
