//! Comment claims (`owp::store::github::claims`, table `gh_claims`): made by `/owp claim`, kept
//! alive by the claimer's activity, reminded at half time. Their reads are in `github_rows`;
//! the writes return the rows they changed.

use super::Db;

writes! {
    /// A comment claim of `task_id` by lease `lease_id` of `login` on `worker_id` (`person`: 1 the
    /// login's implicit worker, 0 a linked one), living `ttl_ms` from each sign of activity,
    /// reminded at half time with `reminder` (1), made at `now` (ms).
    record(
        task_id: &str,
        lease_id: &str,
        login: &str,
        worker_id: &str,
        person: i64,
        ttl_ms: i64,
        reminder: i64,
        now: i64,
    ) = "../../sql/claims/record.sql";
}

writes! {
    /// Forgets the comment claim of `task_id`.
    forget(task_id: &str) = "../../sql/claims/forget.sql";
}

writes! {
    /// The claimer of `task_id` showed activity at `now` (ms).
    touch(task_id: &str, now: i64) = "../../sql/claims/touch.sql";
}

writes! {
    /// The claim of `task_id` reminded at `now` (ms), unless it was already or its claimer was
    /// active since `activity_at` (ms).
    reminded(task_id: &str, now: i64, activity_at: i64) = "../../sql/claims/reminded.sql";
}

writes! {
    /// Lease `lease_id` of claimed (in progress) `task_id` ends at `until` (ms), if it is still
    /// running.
    move_deadline(lease_id: &str, task_id: &str, until: i64) = "../../sql/claims/move_deadline.sql";
}
