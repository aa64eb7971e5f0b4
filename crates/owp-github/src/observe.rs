//! What the App reports of itself for `/metrics`. The process that runs it decides how each
//! figure is kept ([`install`]: `owp serve` counts them in its Prometheus series); until then, and
//! in a process that installs nothing, a report goes nowhere.

use std::sync::OnceLock;
use std::time::Duration;

/// The App's figures, as they happen.
pub trait GithubObserver: Send + Sync {
    /// One webhook delivery: GitHub's event name (`issues`, …) and one of a few fixed outcomes
    /// (`queued`, `duplicate`, `bad_signature`, `applied`, `error`, …). The event name comes
    /// from GitHub: the observer bounds it.
    fn webhook_delivery(&self, event: &str, outcome: &str);
    /// How many GitHub writes wait in the outbox.
    fn outbox_backlog(&self, rows: u64);
    /// The rate limit GitHub says is left (`X-RateLimit-Remaining`), of `installation` when the
    /// answer was to one of its requests.
    fn rate_limit_remaining(&self, installation: Option<i64>, left: u64);
    /// One request to GitHub answered with `status`, or with none (`None`).
    fn request(&self, status: Option<u16>);
    /// Time the appliers or the sender spent on `on` (one of [`crate::waits::STEPS`]).
    fn waited(&self, on: &'static str, took: Duration);
    /// GitHub named a secondary rate limit without `Retry-After`.
    fn secondary_limit(&self);
    /// What one installation's reconciliation asked of GitHub: requests counted against its
    /// hour, and those answered "not modified".
    fn reconcile_cost(&self, counted: u64, not_modified: u64);
    /// An installation's reconciliation stopped early to keep its share of the hour.
    fn reconcile_deferred(&self);
    /// A listing was longer than the App reads (`listing` names which).
    fn truncated_listing(&self, listing: &'static str);
}

static OBSERVER: OnceLock<&'static dyn GithubObserver> = OnceLock::new();

/// Sends the App's figures to `observer` from now on (the first one installed stays).
pub fn install(observer: &'static dyn GithubObserver) {
    let _ = OBSERVER.set(observer);
}

/// Reports to the installed observer, if any.
pub(crate) fn report(f: impl FnOnce(&dyn GithubObserver)) {
    if let Some(observer) = OBSERVER.get() {
        f(*observer);
    }
}
