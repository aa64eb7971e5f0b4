//! The GitHub App's upkeep (`owp::store::github::job_slots`, `etags`, `mod`): the slots of
//! jobs that run once across replicas, GitHub's answers kept for conditional requests, and
//! the claims a stopping process gives back. The writes return the rows they changed.

use super::Db;

writes! {
    /// `runner` takes `slot` (its scheduled instant) of job `name` at `now` (ms), unless another
    /// did.
    take_job_slot(name: &str, slot: i64, runner: &str, now: i64)
        = "../../sql/upkeep/take_job_slot.sql";
}

writes! {
    /// `slot` of job `name` ended at `now` (ms) with `outcome`.
    finish_job_slot(name: &str, slot: i64, now: i64, outcome: &str)
        = "../../sql/upkeep/finish_job_slot.sql";
}

writes! {
    /// Forgets the job slots started before `before` (ms).
    sweep_job_runs(before: i64) = "../../sql/upkeep/sweep_job_runs.sql";
}

writes! {
    /// GitHub's answer to `path` at `now` (ms): its `etag`, `body` and `next_page`.
    save_etag(path: &str, etag: &str, body: &str, next_page: Option<&str>, now: i64)
        = "../../sql/upkeep/save_etag.sql";
}

writes! {
    /// Forgets GitHub's answers kept since before `before` (ms).
    sweep_etags(before: i64) = "../../sql/upkeep/sweep_etags.sql";
}

writes! {
    /// Gives back every outbox row `runner` claimed.
    release_outbox(runner: &str) = "../../sql/upkeep/release_outbox.sql";
}

writes! {
    /// Gives back every delivery `runner` claimed.
    release_deliveries(runner: &str) = "../../sql/upkeep/release_deliveries.sql";
}
