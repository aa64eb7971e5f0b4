//! What became of the pool's work: the tools merged pull requests disclosed (for the
//! leaderboard) and each repository's outcomes over a window (merged, closed unmerged, the
//! acceptance rate and the median lead time from first claim to merge).
//!
//! Counts read the `outcomes` table (see `reputation.rs`): one row per (kind, task, lease), so
//! nothing is counted twice.

use std::collections::HashMap;

use super::composed;
use super::engine::checked::checked_read;
use super::{Store, StoreError};
use crate::domain::outcomes::RepoOutcomes;

/// Tools listed per leaderboard row, the most used first.
pub const MAX_TOOLS_PER_WORKER: usize = 5;

/// What the pool's work came to: pull requests merged and closed, by tool and by repository
/// ([`Store::outcomes`]).
pub struct Outcomes<'s> {
    store: &'s Store,
}

impl Store {
    /// The view of the store named by [`Outcomes`].
    pub fn outcomes(&self) -> Outcomes<'_> {
        Outcomes { store: self }
    }
}

impl Outcomes<'_> {
    /// The tools the merged tasks of each person (or worker that speaks for nobody) disclosed
    /// since `since` (ms), with the leaderboard's filters (`repo`, `public_only`): the row's key
    /// (`LeaderRow::worker_id`) → tools, most used first, at
    /// most [`MAX_TOOLS_PER_WORKER`] each.
    pub async fn leaderboard_tools(
        &self,
        repo: Option<&str>,
        since: i64,
        public_only: bool,
    ) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let rows: Vec<(String, String, i64)> =
            composed::reputation::leaderboard_tools(self.store.backend(), public_only)
                .query_as()
                .bind(since)
                .bind(repo.unwrap_or(""))
                .fetch_all(self.store.read_pool())
                .await?;
        let mut tools: HashMap<String, Vec<String>> = HashMap::new();
        for (worker, tool, _) in rows {
            let listed = tools.entry(worker).or_default();
            if listed.len() < MAX_TOOLS_PER_WORKER {
                listed.push(tool);
            }
        }
        Ok(tools)
    }

    /// Each repository's outcomes since `since` (ms): merged and closed-unmerged counts and the
    /// median lead time from a merged task's first claim (its first lease) to its merge.
    /// `public_only` reads public, unarchived repositories alone. Keyed by repository name; a
    /// repository with nothing in the window is absent.
    pub async fn of_repo(
        &self,
        since: i64,
        public_only: bool,
    ) -> Result<HashMap<String, RepoOutcomes>, StoreError> {
        let counts = checked_read!(self.store, outcomes::decided(since, public_only))?;
        let leads = checked_read!(self.store, outcomes::lead_times(since, public_only))?;
        let mut figures: HashMap<String, (i64, i64, Vec<i64>)> = HashMap::new();
        for (repo, kind, n) in counts {
            let entry = figures.entry(repo).or_default();
            if kind == "merged" {
                entry.0 = n;
            } else {
                entry.1 = n;
            }
        }
        for (repo, lead) in leads {
            if let Some(ms) = lead {
                figures.entry(repo).or_default().2.push(ms.max(0));
            }
        }
        Ok(figures
            .into_iter()
            .map(|(repo, (merged, closed, leads))| (repo, RepoOutcomes::new(merged, closed, leads)))
            .collect())
    }
}
