//! What a lease move writes, each effect as one SQL text used by every path on both backends: the
//! general statements ([`super::general`]), SQLite's statement batches ([`super::sqlite`]) and
//! PostgreSQL's single statements ([`super::postgres`]) differ only in the conditions of their writes and in how they chain them (a batch finds the row an earlier
//! statement wrote by its lease id, a statement reads the row a data-modifying expression
//! returned). What each write does to a row is written here once:
//!
//! - the task taken by a claim ([`take_task`]), acknowledged ([`ack_task`]) or moved
//!   ([`move_task`]);
//! - the lease row: written by a claim ([`insert_lease`]), acknowledged ([`ack_lease`]), ended
//!   ([`end_lease`]);
//! - the worker's load ([`worker_load`]) and presence ([`marked_seen`]);
//! - the repository's review-budget counters ([`budget_counters`]);
//! - the audit event ([`crate::composed::events::insert_event`], which every other change appends
//!   with too).
//!
//! Each function takes the SQL expressions of its values (parameters, columns of the row being
//! written, sub-queries), so that a path binds them as it numbers them.

/// What a lease's row keeps of its clock once the lease ends: nothing (`ended_at` says when).
const ENDED_CLOCK: &str = "accept_by = NULL, expires_at = NULL, deadline = NULL";

/// The condition that the lease row `l` is alive at the instant `now`: not ended, its deadline
/// ahead. Read from the statement's snapshot: whoever ends a lease first locks its task, so a
/// conditional write of the task that waits for that lock then finds the task moved.
fn live(now: &str) -> String {
    format!("l.ended_at IS NULL AND l.deadline > {now}")
}

/// The condition that the lease `lease` is alive at the instant `now` (see [`live`]).
pub(in crate::composed) fn lease_alive(lease: &str, now: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM leases l WHERE l.id = {lease} AND {})",
        live(now)
    )
}

/// The leases of `leases` (an SQL array of lease ids) alive at the instant `now` (see [`live`]),
/// as a query of their `id`, `task_seq` and `worker_id`: what a statement of many acks or moves
/// checks, found by their keys.
pub(in crate::composed) fn live_leases(leases: &str, now: &str) -> String {
    format!(
        "SELECT l.id, l.task_seq, l.worker_id FROM leases l WHERE l.id = ANY({leases}) AND {}",
        live(now)
    )
}

/// The `SET` clause of the task a claim takes: `leased` by `worker` under `lease` at `at`, its
/// estimate counted against the worker, and its area locked when `area_locks` (an expression of
/// the repository's `area_locks_enabled`) is 1.
pub(in crate::composed) fn take_task(
    worker: &str,
    lease: &str,
    at: &str,
    area_locks: &str,
) -> String {
    format!(
        "status = 'leased', worker_id = {worker}, lease_id = {lease}, \
         lease_points = estimate_points, status_reason = NULL, updated_at = {at}, \
         area_lock = CASE WHEN area IS NOT NULL AND {area_locks} = 1 THEN area END"
    )
}

/// The lease row of a claim: the rows of `source` (`FROM … WHERE …` over the task just taken,
/// its columns `seq` and `repo_id`) each get lease `lease` of `worker`, granted at `at`, to be
/// acknowledged by `accept_by` and expiring at `expires`. Until it is acknowledged it ends at
/// `accept_by` (`expires` counts from the ack on, which sets it a full TTL ahead). The lease
/// records the person the worker speaks for ([`crate::claim_rules::person_of`]), whose history it
/// is whichever worker they use later.
pub(in crate::composed) fn insert_lease(
    lease: &str,
    worker: &str,
    at: &str,
    accept_by: &str,
    expires: &str,
    source: &str,
) -> String {
    format!(
        "INSERT INTO leases (id, task_seq, worker_id, created_at, repo_id, accept_by, \
           expires_at, deadline, person_id) \
         SELECT {lease}, seq, {worker}, {at}, repo_id, {accept_by}, {expires}, {accept_by}, \
           {person} \
         {source}",
        person = crate::claim_rules::person_of(worker)
    )
}

/// The ack of a task: `leased` becomes `in_progress` at `at`, for the task that `condition`
/// (beside its status) names.
pub(in crate::composed) fn ack_task(at: &str, condition: &str) -> String {
    format!(
        "UPDATE tasks SET status = 'in_progress', updated_at = {at} \
         WHERE status = 'leased' AND {condition}"
    )
}

/// The ack of a lease at `at`: no acceptance deadline any more, and it ends when it expires, at
/// `expires`; for the lease that `condition` names.
pub(in crate::composed) fn ack_lease(at: &str, expires: &str, condition: &str) -> String {
    format!(
        "UPDATE leases SET acked_at = {at}, accept_by = NULL, expires_at = {expires}, \
         deadline = {expires} WHERE {condition}"
    )
}

/// The end of a lease at `at`, with its `outcome`; for the lease that `condition` names.
pub(in crate::composed) fn end_lease(at: &str, outcome: &str, condition: &str) -> String {
    format!(
        "UPDATE leases SET ended_at = {at}, outcome = {outcome}, {ENDED_CLOCK} WHERE {condition}"
    )
}

/// The `SET` clause of a worker's load: `tasks` more leases of `points` more points (negative
/// when a lease ends).
pub(in crate::composed) fn worker_load(tasks: &str, points: &str) -> String {
    format!("active_tasks = active_tasks + {tasks}, active_points = active_points + {points}")
}

/// The `SET` clause of a worker seen at `at` (an authenticated request marks it online).
pub(in crate::composed) fn marked_seen(at: &str) -> String {
    format!("last_seen_at = {at}, presence = 'online'")
}

/// The `SET` clause of a repository's review-budget counters: `leases` more active leases and
/// `prs` more review slots taken by open pull requests and tasks waiting for a maintainer.
pub(in crate::composed) fn budget_counters(leases: &str, prs: &str) -> String {
    if prs == "0" {
        // A claim: the open pull requests stay as they are, unwritten.
        return format!("active_leases = active_leases + {leases}");
    }
    format!("active_leases = active_leases + {leases}, open_prs = open_prs + {prs}")
}

/// The values a moved task takes, as SQL expressions (see [`move_task`]).
pub(in crate::composed) struct MoveValues<'a> {
    pub to: &'a str,
    pub reason: &'a str,
    pub artifact: &'a str,
    /// 1 when the move counts an attempt.
    pub bump: &'a str,
    /// 1 when the new status keeps the task's area lock.
    pub holds_area: &'a str,
    pub at: &'a str,
    pub awaits_maintainer: &'a str,
    /// The worker of record after the move (`leases::MovePlan::recorded_worker`).
    pub recorded_worker: &'a str,
}

impl<'a> MoveValues<'a> {
    /// The values of a move bound as parameters: `$1` the status, `$2` the reason, `$3` the
    /// artifact, `$4` the attempt, `$5` whether the area stays locked, `$6` the instant, and the
    /// two given for whether it waits for a maintainer and its worker of record.
    pub(in crate::composed) fn bound(awaits_maintainer: &'a str, recorded_worker: &'a str) -> Self {
        MoveValues {
            to: "$1",
            reason: "$2",
            artifact: "$3",
            bump: "$4",
            holds_area: "$5",
            at: "$6",
            awaits_maintainer,
            recorded_worker,
        }
    }
}

/// What a move does to the task's holder (`worker_id`, `lease_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Holder {
    /// Both cleared: the task is nobody's.
    Cleared,
    /// Both kept (a pull request opened or merged keeps its holder of record).
    Kept,
    /// The worker of record replaced (a merge credited to the pull request's author), the lease
    /// cleared.
    Replaced,
}

impl Holder {
    pub(crate) const ALL: [Holder; 3] = [Holder::Cleared, Holder::Kept, Holder::Replaced];
}

/// The `SET` clause of a task moved to a status that holds no lease, doing `holder` to its
/// holder.
pub(in crate::composed) fn move_task(holder: Holder, v: &MoveValues<'_>) -> String {
    let holder = match holder {
        Holder::Replaced => format!("worker_id = {}, lease_id = NULL,", v.recorded_worker),
        Holder::Kept => String::new(),
        Holder::Cleared => "worker_id = NULL, lease_id = NULL,".to_string(),
    };
    format!(
        "status = {to}, status_reason = {reason}, artifact = {artifact}, \
         attempts = attempts + {bump}, lease_points = NULL, {holder} \
         area_lock = CASE WHEN {holds_area} = 1 THEN area_lock ELSE NULL END, updated_at = {at}, \
         awaits_maintainer = {awaits}",
        to = v.to,
        reason = v.reason,
        artifact = v.artifact,
        bump = v.bump,
        holds_area = v.holds_area,
        at = v.at,
        awaits = v.awaits_maintainer,
    )
}
