//! Which installation each installation client belongs to, so that the rate limit an answer
//! reports is counted to its installation (`owp_github_rate_limit_remaining_by_installation`).

use std::sync::Arc;

use octocrab::Octocrab;

/// The installation of each installation client, by the client's address (clients are kept
/// and handed out again by [`GithubApp::installation`]): the rate limit an answer reports is
/// that installation's.
///
/// [`GithubApp::installation`]: crate::api::app::installation
static CLIENTS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<usize, i64>>> =
    std::sync::LazyLock::new(Default::default);
/// A bound on [`CLIENTS`] (each installation's client is one entry).
const MAX_CLIENTS: usize = 100_000;

pub(super) fn client_of(installation: i64, client: &Arc<Octocrab>) {
    let mut clients = CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
    if clients.len() >= MAX_CLIENTS {
        clients.clear();
    }
    clients.insert(Arc::as_ptr(client) as usize, installation);
}

/// The installation whose client `client` is (none for the App's own).
pub(super) fn installation_of(client: &Octocrab) -> Option<i64> {
    let clients = CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
    clients.get(&(client as *const Octocrab as usize)).copied()
}
