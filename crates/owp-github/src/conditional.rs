//! Conditional requests: a GET that names the `ETag` of its last answer in `If-None-Match` is
//! answered `304 Not Modified` when nothing changed, and such answers do not count against
//! GitHub's rate limit. Reconciliation reads every listing this way, so a reconciliation that
//! finds nothing new costs almost nothing of the installation's hourly budget.
//!
//! The cache belongs to the running App ([`crate::app_auth::GithubApp`]); each replica
//! keeps its own, and what changed is saved to the database after each reconciliation
//! (`gh_etags`) and loaded again when a process starts, so that the first reconciliation after a
//! restart is answered `304` too (a replica that has not read a listing yet simply reads it in
//! full). Entries are keyed by path and query: an `ETag` is GitHub's digest of the answer, so a
//! `304` means the stored answer is the current one for whoever asks.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// At most this many answers are kept (then the cache starts over).
pub const MAX_ENTRIES: usize = 20_000;
/// Answers larger than this are not kept.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A stored answer: its `ETag`, body and next page.
#[derive(Clone, Debug)]
pub struct Stored {
    pub etag: String,
    pub body: String,
    pub next: Option<String>,
}

/// The last answer of each path read with a conditional request.
#[derive(Default, Debug)]
pub struct EtagCache {
    entries: Mutex<HashMap<String, Stored>>,
    /// The paths whose answers changed since they were last saved.
    dirty: Mutex<HashSet<String>>,
}

impl EtagCache {
    /// The stored answer of `path`, if any.
    pub fn get(&self, path: &str) -> Option<Stored> {
        self.entries.lock().ok()?.get(path).cloned()
    }

    /// Keeps the answer of `path` (bounded: see [`MAX_ENTRIES`], [`MAX_BODY_BYTES`]), to be
    /// saved by the next [`EtagCache::take_changed`].
    pub fn put(&self, path: &str, stored: Stored) {
        if stored.body.len() > MAX_BODY_BYTES {
            return;
        }
        if let Ok(mut dirty) = self.dirty.lock() {
            if dirty.len() >= MAX_ENTRIES {
                dirty.clear();
            }
            dirty.insert(path.to_string());
        }
        self.keep(path, stored);
    }

    /// Keeps answers read back from the database (not to be saved again).
    pub fn load(&self, answers: impl IntoIterator<Item = (String, Stored)>) {
        for (path, stored) in answers {
            self.keep(&path, stored);
        }
    }

    /// The answers kept since the last call, to be saved.
    pub fn take_changed(&self) -> Vec<(String, Stored)> {
        let paths = match self.dirty.lock() {
            Ok(mut dirty) => std::mem::take(&mut *dirty),
            Err(_) => return Vec::new(),
        };
        let Ok(entries) = self.entries.lock() else {
            return Vec::new();
        };
        paths
            .into_iter()
            .filter_map(|p| entries.get(&p).map(|s| (p, s.clone())))
            .collect()
    }

    fn keep(&self, path: &str, stored: Stored) {
        if stored.body.len() > MAX_BODY_BYTES {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES && !entries.contains_key(path) {
                entries.clear();
            }
            entries.insert(path.to_string(), stored);
        }
    }

    /// How many answers are kept.
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_entries_and_size() {
        let cache = EtagCache::default();
        let stored = |body: &str| Stored {
            etag: "\"x\"".into(),
            body: body.into(),
            next: None,
        };
        cache.put("/big", stored(&"x".repeat(MAX_BODY_BYTES + 1)));
        assert!(cache.get("/big").is_none());
        for i in 0..MAX_ENTRIES {
            cache.put(&format!("/p{i}"), stored("[]"));
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        cache.put("/one-more", stored("[]"));
        assert_eq!(cache.len(), 1, "full: it starts over");
        assert!(cache.get("/one-more").is_some());
    }

    #[test]
    fn what_changed_is_taken_once_and_loaded_answers_are_not() {
        let cache = EtagCache::default();
        let stored = |etag: &str| Stored {
            etag: etag.into(),
            body: "[]".into(),
            next: None,
        };
        cache.load([("/loaded".to_string(), stored("\"a\""))]);
        cache.put("/read", stored("\"b\""));
        let changed = cache.take_changed();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].0, "/read");
        assert!(cache.take_changed().is_empty());
        assert_eq!(cache.get("/loaded").map(|s| s.etag), Some("\"a\"".into()));
    }
}
