//! The GitHub App's inbox of webhook deliveries (`owp::store::github::inbox`, table
//! `gh_deliveries`) and the redeliveries it asked for (`gh_redeliveries`). The claim of the
//! next delivery in each lane's order is composed (its lock differs by backend:
//! `owp::store::composed::github`); the writes return the rows they changed.

use super::Db;

writes! {
    /// A verified delivery `delivery_id` of `event` with `body` (its SHA-256 `body_sha256`),
    /// received at `now` (ms), in the lane of `lane_installation` and `lane_repo`: 0 when its id,
    /// or the same signed body, was stored before.
    store_delivery(
        delivery_id: &str,
        event: &str,
        body: &str,
        body_sha256: Option<&str>,
        now: i64,
        lane_installation: Option<i64>,
        lane_repo: Option<i64>,
    ) = "../../sql/inbox/store_delivery.sql";
}

writes! {
    /// Delivery `seq` ended (`state`: `applied`, `ignored` or `failed`) at `now` (ms), with `error`
    /// if any.
    finish(seq: i64, state: &str, now: i64, error: Option<&str>) = "../../sql/inbox/finish.sql";
}

writes! {
    /// Delivery `seq` is given back, to be tried again at `at` (ms), after `error`.
    retry(seq: i64, at: i64, error: &str) = "../../sql/inbox/retry.sql";
}

writes! {
    /// The App asked GitHub to redeliver `guid` (GitHub's attempt `attempt_id`) at `now` (ms).
    redelivery_asked(guid: &str, attempt_id: i64, now: i64)
        = "../../sql/inbox/redelivery_asked.sql";
}

writes! {
    /// Forgets the redeliveries asked for before `before` (ms).
    sweep_redeliveries(before: i64) = "../../sql/inbox/sweep_redeliveries.sql";
}
