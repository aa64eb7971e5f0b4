//! Proposals (`owp::store::proposals`): a proposal with its task and repository, the lists of a
//! task, a repository and a worker, the sweep's work, the ends and approvals, what a proposer is
//! told of an end, and the plans a link hands to its person. The writes return the rows they
//! changed. The insert of a proposal joins the claim's rules about the person, so it is composed
//! at run time with them.

use super::Db;

/// Whether the sweep of proposals has work at `now` (ms): a proposal whose end is not recorded
/// yet, or an open one expired.
pub async fn due<'c>(db: impl sqlx::Executor<'c, Database = Db>, now: i64) -> sqlx::Result<bool> {
    let row = sqlx::query_file!("../../sql/proposals/due.sql", now)
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}

/// Task `task_id` as a proposal sees it: `(seq, status, its repository's approval)`.
pub async fn task_of<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
) -> sqlx::Result<Option<(i64, String, String)>> {
    let row = sqlx::query_file!("../../sql/proposals/task_of.sql", task_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.seq, r.status, r.approval)))
}

/// The other open proposals of task `task_seq` than `id` were not chosen, at `now` (ms):
/// `(id, worker)` of each.
pub async fn not_chosen<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    now: i64,
    task_seq: i64,
    id: &str,
) -> sqlx::Result<Vec<(String, String)>> {
    let rows = sqlx::query_file!("../../sql/proposals/not_chosen.sql", now, task_seq, id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.worker_id)).collect())
}

/// Proposal `id` is open again.
pub async fn reopen<'c>(db: impl sqlx::Executor<'c, Database = Db>, id: &str) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/proposals/reopen.sql", id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Lease `lease_id`, given by an approval, is to be acknowledged by `accept_by` (ms), and
/// lives at least as long: when it expires.
pub async fn accept_by<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    accept_by: i64,
    lease_id: &str,
) -> sqlx::Result<i64> {
    let row = sqlx::query_file!("../../sql/proposals/accept_by.sql", accept_by, lease_id)
        .fetch_one(db)
        .await?;
    Ok(row.expires_at)
}

/// The open proposals whose time ran out by `now` (ms) expired then.
pub async fn expire<'c>(db: impl sqlx::Executor<'c, Database = Db>, now: i64) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/proposals/expire.sql", now)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

writes! {
    /// Proposal `id`'s end has its audit event.
    recorded(id: &str) = "../../sql/proposals/recorded.sql";
}

/// Proposal `id` as its proposer is told of its end: `(login, state, reason, worker id,
/// worker name, all skills)`.
pub async fn ended<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: &str,
) -> sqlx::Result<Option<(Option<String>, String, Option<String>, String, String, i64)>> {
    let row = sqlx::query_file!("../../sql/proposals/ended.sql", id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| {
        (
            r.login,
            r.state,
            r.reason,
            r.worker_id,
            r.name,
            r.all_skills,
        )
    }))
}

/// A proposal with its task and repository: `(id, task_id, task_seq, repo_id, repo, worker_id,
/// worker_name, login, plan, state, created_at, expires_at)`.
pub type ProposalFields = (
    String,
    String,
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    i64,
);

macro_rules! proposal {
    ($r:expr) => {
        (
            $r.id,
            $r.task_id,
            $r.task_seq,
            $r.repo_id,
            $r.repo,
            $r.worker_id,
            $r.worker_name,
            $r.login,
            $r.plan,
            $r.state,
            $r.created_at,
            $r.expires_at,
        )
    };
}

/// Proposal `id`.
pub async fn by_id<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: &str,
) -> sqlx::Result<Option<ProposalFields>> {
    let row = sqlx::query_file!("../../sql/proposals/by_id.sql", id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| proposal!(r)))
}

/// The proposals whose end has no audit event yet, oldest first (200 at most).
pub async fn unrecorded<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<Vec<ProposalFields>> {
    let rows = sqlx::query_file!("../../sql/proposals/unrecorded.sql")
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| proposal!(r)).collect())
}

/// The open proposal at `now` (ms) for task `task_id` of the person whose login is now `login`
/// (lower case).
pub async fn open_of_login<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
    login: &str,
    now: i64,
) -> sqlx::Result<Option<ProposalFields>> {
    let row = sqlx::query_file!("../../sql/proposals/open_of_login.sql", task_id, login, now)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| proposal!(r)))
}

/// The proposals of task `task_id` (of worker `worker_id` only, unless it is empty), the 100
/// newest, oldest first.
pub async fn of_task<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
    worker_id: &str,
) -> sqlx::Result<Vec<ProposalFields>> {
    let rows = sqlx::query_file!("../../sql/proposals/of_task.sql", task_id, worker_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| proposal!(r)).collect())
}

/// A worker's proposal with its task's key and title, its reason and when it ended.
pub type OwnFields = (
    ProposalFields,
    Option<String>,
    String,
    Option<String>,
    Option<i64>,
);

/// The proposals of worker `worker_id`, the 100 newest, oldest first.
pub async fn of_worker<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    worker_id: &str,
) -> sqlx::Result<Vec<OwnFields>> {
    let rows = sqlx::query_file!("../../sql/proposals/of_worker.sql", worker_id)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let (key, title, reason, ended_at) = (r.task_key, r.task_title, r.reason, r.ended_at);
            (proposal!(r), key, title, reason, ended_at)
        })
        .collect())
}

/// How many proposals of repository `repo_id` are open at `now` (ms).
pub async fn open_in_repo_count<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    now: i64,
) -> sqlx::Result<i64> {
    let row = sqlx::query_file!("../../sql/proposals/open_in_repo_count.sql", repo_id, now)
        .fetch_one(db)
        .await?;
    Ok(row.open)
}

/// The proposals of repository `repo_id` open at `now` (ms), oldest first, at most `limit`,
/// each with its task's key and title.
pub async fn open_in_repo<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    now: i64,
    limit: i64,
) -> sqlx::Result<Vec<(ProposalFields, Option<String>, String)>> {
    let rows = sqlx::query_file!("../../sql/proposals/open_in_repo.sql", repo_id, now, limit)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let (key, title) = (r.task_key, r.task_title);
            (proposal!(r), key, title)
        })
        .collect())
}

writes! {
    /// Proposal `id`, open at `now` (ms), ends then as `state` for `reason`.
    end(state: &str, now: i64, reason: Option<&str>, id: &str) = "../../sql/proposals/end.sql";
}

writes! {
    /// Proposal `id`, open at `now` (ms), is approved then.
    approve(now: i64, id: &str) = "../../sql/proposals/approve.sql";
}

/// Why a proposal for task `seq` wrote nothing: the task's status, and how many proposals open
/// at `now` (ms) worker `worker_id` or proposer `proposer` already has on it.
pub async fn why_not<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    seq: i64,
    worker_id: &str,
    now: i64,
    proposer: &str,
) -> sqlx::Result<(Option<String>, i64)> {
    let row = sqlx::query_file!(
        "../../sql/proposals/why_not.sql",
        seq,
        worker_id,
        now,
        proposer
    )
    .fetch_one(db)
    .await?;
    Ok((row.status, row.own))
}

/// The open proposals of worker `worker_id`, oldest first.
pub async fn open_of_worker<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    worker_id: &str,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/proposals/open_of_worker.sql", worker_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// The open proposals of worker `worker_id` not yet person `proposer`'s, on a task on which the
/// person already has an open one.
pub async fn twice<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    worker_id: &str,
    proposer: &str,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/proposals/twice.sql", worker_id, proposer)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

writes! {
    /// The open proposals of worker `worker_id` become person `proposer`'s, whose login is `login`.
    to_person(proposer: &str, login: &str, worker_id: &str) = "../../sql/proposals/to_person.sql";
}

/// The tasks of person `proposer`'s open or approved proposals made through another worker than
/// `worker_id`.
pub async fn moved<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    worker_id: &str,
    proposer: &str,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/proposals/moved.sql", worker_id, proposer)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.task_id).collect())
}

writes! {
    /// Person `proposer`'s open and approved proposals move to worker `worker_id`.
    move_to(worker_id: &str, proposer: &str) = "../../sql/proposals/move.sql";
}
