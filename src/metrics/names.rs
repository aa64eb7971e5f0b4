//! The names of the series `/metrics` shows, each with what it counts (its type and labels).

/// Tasks by `repo` and `status` (gauge, read at scrape time).
pub const TASKS: &str = "owp_tasks";
/// Always 1, labelled with this build's version: which replicas run which build.
pub const BUILD_INFO: &str = "owp_build_info";
/// A repository's review budget, `max_open_prs` (gauge, `repo`).
pub const REPO_REVIEW_BUDGET: &str = "owp_repo_review_budget";
/// Open pull requests counted against a repository's budget (gauge, `repo`).
pub const REPO_OPEN_PRS: &str = "owp_repo_open_prs";
/// Active leases counted against a repository's budget (gauge, `repo`).
pub const REPO_ACTIVE_LEASES: &str = "owp_repo_active_leases";
/// 1 while a repository's budget is full and new assignments wait (gauge, `repo`).
pub const REPO_THROTTLED: &str = "owp_repo_throttled";
/// Merged ÷ (merged + closed unmerged) of a repository over the last 30 days (gauge, `repo`;
/// absent while neither happened).
pub const REPO_ACCEPTANCE_RATIO: &str = "owp_repo_acceptance_ratio";
/// Median time from first claim to merge of a repository's tasks merged in the last 30 days
/// (gauge, `repo`; absent while none merged).
pub const REPO_LEAD_TIME: &str = "owp_repo_lead_time_seconds";
/// Registered workers (gauge).
pub const WORKERS_REGISTERED: &str = "owp_workers_registered";
/// Workers whose last contact is younger than the heartbeat TTL (gauge).
pub const WORKERS_ONLINE: &str = "owp_workers_online";
/// Capacity points of the online workers (gauge).
pub const CAPACITY_POINTS_ONLINE: &str = "owp_capacity_points_online";
/// Points held by active leases, over all workers (gauge).
pub const ACTIVE_POINTS: &str = "owp_active_points";
/// Share of the leases granted in the last 24 hours that expired or were given back (gauge).
pub const REQUEUE_RATIO_24H: &str = "owp_requeue_ratio_24h";

/// Leases granted (counter, `repo`).
pub const LEASES_GRANTED: &str = "owp_leases_granted_total";
/// Leases that ended because they expired (counter, `repo`).
pub const LEASES_EXPIRED: &str = "owp_leases_expired_total";
/// Leases the worker gave back (counter, `repo`).
pub const LEASES_NACKED: &str = "owp_leases_nacked_total";
/// Tasks that reached `pr_opened` (counter, `repo`).
pub const PRS_OPENED: &str = "owp_prs_opened_total";
/// Tasks that reached `merged` (counter, `repo`).
pub const TASKS_MERGED: &str = "owp_tasks_merged_total";
/// Time of one claim attempt, from the expiry check to the commit (histogram, `outcome`:
/// `leased` or `none`). A long poll makes one attempt per change it wakes up for.
pub const CLAIM_DURATION: &str = "owp_claim_duration_seconds";
/// Lead times (histogram, `stage`: `ready_to_pr_opened` from the task's creation to its pull
/// request, `pr_opened_to_merged` from the pull request to the merge).
pub const LEAD_TIME: &str = "owp_lead_time_seconds";
/// Lead-time samples not taken because the look-ups fell behind (counter).
pub const LEAD_TIME_DROPPED: &str = "owp_lead_time_samples_dropped_total";
/// SQLite: write transactions that carried several operations (counter).
pub const WRITE_GROUPS: &str = "owp_write_groups_total";
/// SQLite: operations committed inside those groups (counter).
pub const WRITE_GROUP_OPERATIONS: &str = "owp_write_group_operations_total";
/// SQLite: frames in the write-ahead log at the last checkpoint (gauge).
pub const WAL_FRAMES: &str = "owp_sqlite_wal_frames";
/// SQLite: tries to start the write-ahead log over (counter, `outcome`: `done` or `busy`).
pub const WAL_RESTARTS: &str = "owp_sqlite_wal_restarts_total";
/// SQLite: how long such a try held this process's writes (histogram).
pub const WAL_RESTART_HOLD: &str = "owp_sqlite_wal_restart_hold_seconds";
/// PostgreSQL: claim statements that lost a race and ran again (counter).
pub const CLAIM_RACES: &str = "owp_claim_races_total";
/// Worker requests authenticated (counter, `source`: `remembered` or `read`).
pub const WORKER_AUTH: &str = "owp_worker_authentications_total";
/// HTTP requests answered (counter, `method`, `route`, `status`).
pub const HTTP_REQUESTS: &str = "owp_http_requests_total";
/// Time to answer an HTTP request, up to its headers (histogram, `method`, `route`).
pub const HTTP_DURATION: &str = "owp_http_request_duration_seconds";
/// HTTP connections open now (gauge).
pub const HTTP_CONNECTIONS: &str = "owp_http_connections";
/// HTTP connections closed at once because the connection bound was reached (counter).
pub const HTTP_CONNECTIONS_REFUSED: &str = "owp_http_connections_refused_total";
/// GitHub webhook deliveries (counter, `event`, `outcome`).
pub const WEBHOOK_DELIVERIES: &str = "owp_github_webhook_deliveries_total";
/// GitHub writes (comments) waiting in the outbox (gauge).
pub const OUTBOX_BACKLOG: &str = "owp_github_outbox_backlog";
/// GitHub writes waiting in the outbox of each of the [`BACKLOG_INSTALLATIONS`] installations
/// with the most, and of all others as `other` (gauge, `installation`; read at scrape time).
pub const OUTBOX_BACKLOG_BY_INSTALLATION: &str = "owp_github_outbox_backlog_by_installation";
/// How many installations [`OUTBOX_BACKLOG_BY_INSTALLATION`] names.
pub(super) const BACKLOG_INSTALLATIONS: i64 = 10;
/// The GitHub rate limit left of each of the installations with the least, and the least of
/// the others as `other` (gauge, `installation`; figures of the last hour).
pub const GITHUB_RATE_LIMIT_BY_INSTALLATION: &str =
    "owp_github_rate_limit_remaining_by_installation";
/// The GitHub rate limit left, as GitHub last reported it (gauge).
pub const GITHUB_RATE_LIMIT_REMAINING: &str = "owp_github_rate_limit_remaining";
/// Secondary rate limits GitHub named without `Retry-After` (counter).
pub const GITHUB_SECONDARY_LIMITS: &str = "owp_github_secondary_limits_total";
/// Listings read only in part because they were longer than the App reads (counter, `listing`).
pub const GITHUB_TRUNCATED_LISTINGS: &str = "owp_github_truncated_listings_total";
/// Requests reconciliations made to GitHub (counter, `counted`: `true` for answers counted
/// against the rate limit, `false` for `304 Not Modified`).
pub const GITHUB_RECONCILE_REQUESTS: &str = "owp_github_reconcile_requests_total";
/// Installation reconciliations stopped early to keep their share of the hour (counter).
pub const GITHUB_RECONCILE_DEFERRED: &str = "owp_github_reconcile_deferred_total";

/// Requests the App made to GitHub (counter, `class`: `2xx`, `3xx`, `4xx`, `5xx`, or `error`
/// when no answer came).
pub const GITHUB_REQUESTS: &str = "owp_github_requests_total";

/// Commits of this process's writes since it started (counter; `Store::commits`): one delivery
/// from the webhook to its status comment takes five.
pub const STORE_COMMITS: &str = "owp_store_commits_total";

/// Time the webhook appliers and the comment sender spent on each step or limit, in
/// microseconds (counter, `on`: one of [`crate::github::waits::STEPS`]).
pub const GITHUB_WAITED: &str = "owp_github_waited_microseconds_total";

#[cfg(test)]
mod tests {
    /// `owp bench` reads these series from the servers it starts, by name: a rename here must be
    /// made there too, or its reports would read nothing.
    #[test]
    fn the_bench_reads_the_series_by_the_names_exported() {
        assert_eq!(owp_bench::STORE_COMMITS, super::STORE_COMMITS);
        assert_eq!(owp_bench::GITHUB_WAITED, super::GITHUB_WAITED);
    }
}
