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

/// The pool meets the person `account_id`, now named `login`, at `now` (ms).
pub async fn met<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    login: &str,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/persons/met.sql", account_id, login, now)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// What person `account_id`'s record does not hold yet it takes from `worker_id`.
pub async fn settings_from_worker<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    worker_id: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/persons/settings_from_worker.sql",
        account_id,
        worker_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// `worker_id`'s leases from before it spoke for anyone are `account_id`'s.
pub async fn leases_to_person<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    worker_id: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/persons/leases_to_person.sql",
        account_id,
        worker_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// `worker_id`'s give-backs from before it spoke for anyone are `account_id`'s.
pub async fn nacks_to_person<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    worker_id: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/persons/nacks_to_person.sql",
        account_id,
        worker_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// `worker_id`'s outcomes from before it spoke for anyone are `account_id`'s.
pub async fn outcomes_to_person<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    worker_id: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/persons/outcomes_to_person.sql",
        account_id,
        worker_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
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

/// `account_id`'s link shows `login` (lower case).
pub async fn link_renamed<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    login: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/persons/link_renamed.sql", account_id, login)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// `account_id` is named `login` now: its implicit worker and the worker it proved to own
/// show that login.
pub async fn workers_renamed<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    login: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/persons/workers_renamed.sql", account_id, login)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// The comment claims of `account_id`'s workers show `login`.
pub async fn claims_renamed<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    login: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/persons/claims_renamed.sql", account_id, login)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Person `account_id`'s record shows `login`.
pub async fn record_renamed<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    login: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/persons/record_renamed.sql", account_id, login)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// `account_id`'s age record shows `login`.
pub async fn account_renamed<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    login: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/persons/account_renamed.sql", account_id, login)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// `worker_id`'s unused link codes stop working.
pub async fn clear_link_codes<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    worker_id: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/persons/clear_link_codes.sql", worker_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// A link code (`code_hash`) for `worker_id`, made at `now` and valid until `expires_at` (ms).
pub async fn create_link_code<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    code_hash: &str,
    worker_id: &str,
    now: i64,
    expires_at: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/persons/create_link_code.sql",
        code_hash,
        worker_id,
        now,
        expires_at
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
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

/// The link code `code_hash` was used at `now` (ms) by `login`.
pub async fn link_code_used<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    code_hash: &str,
    now: i64,
    login: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/persons/link_code_used.sql",
        code_hash,
        now,
        login
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
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

/// The workers other than `worker_id` that `account_id` proved to own speak for nobody now.
pub async fn unlink_others<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    worker_id: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/persons/unlink_others.sql", account_id, worker_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Forgets `account_id`'s links to workers other than `worker_id`.
pub async fn forget_other_links<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    account_id: i64,
    worker_id: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/persons/forget_other_links.sql",
        account_id,
        worker_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// `worker_id` is linked to `account_id` (`login`, lower case) from `now` (ms).
pub async fn link<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    worker_id: &str,
    account_id: i64,
    login: &str,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/persons/link.sql",
        worker_id,
        account_id,
        login,
        now
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// `worker_id` speaks for `account_id`, named `login`.
pub async fn speaks_for<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    worker_id: &str,
    account_id: i64,
    login: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/persons/speaks_for.sql",
        worker_id,
        account_id,
        login
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
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

/// `lease_id` is `worker_id`'s.
pub async fn lease_to_worker<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    lease_id: &str,
    worker_id: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/persons/lease_to_worker.sql", lease_id, worker_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// `task_id`, held by `lease_id`, is `worker_id`'s.
pub async fn task_to_worker<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
    lease_id: &str,
    worker_id: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/persons/task_to_worker.sql",
        task_id,
        lease_id,
        worker_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// `task_id`'s comment claim by `from` is `to`'s.
pub async fn claim_to_worker<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
    from: &str,
    to: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/persons/claim_to_worker.sql", task_id, from, to)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// `worker_id`'s load grows by `tasks` and `points` (or shrinks, by negative ones).
pub async fn load_moved<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    worker_id: &str,
    tasks: i64,
    points: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/persons/load_moved.sql", worker_id, tasks, points)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
