//! Which of the pool's labels a repository lacks: read from GitHub (`GET
//! /repos/{owner}/{repo}/labels`, conditional, at most [`MAX_LABEL_PAGES`] pages) whenever the
//! repository's settings are read (when it joins, at each reconciliation), and shown on its policy
//! as [`LABELS_MISSING_FIELD`] for `owp admin state` and the dashboard. The App never creates a
//! label: it only says which ones people cannot pick yet.
//!
//! Fails closed: when GitHub does not answer, or the listing is longer than the App reads and a
//! label was not found in what it read, the field says `"unknown"`, never that a label is missing.

use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::Value;

use crate::api;
use crate::conditional::EtagCache;
use crate::domain::labels::{LabelNames, missing_labels};

pub use crate::domain::model::LABELS_MISSING_FIELD;

/// At most this many pages of 100 labels are read (1,000 labels).
pub const MAX_LABEL_PAGES: usize = 10;

/// What the policy shows when GitHub did not say.
pub const UNKNOWN: &str = "unknown";

#[derive(Deserialize)]
struct WireLabel {
    name: String,
}

/// The labels `repo` lacks, as the value of [`LABELS_MISSING_FIELD`]: an array of names
/// (`[]` when none), or `"unknown"`.
pub async fn check(client: &Octocrab, etags: &EtagCache, repo: &str, names: &LabelNames) -> Value {
    let path = format!("/repos/{repo}/labels?per_page=100");
    match api::list_pages::<WireLabel>(client, Some(etags), &path, MAX_LABEL_PAGES, "labels").await
    {
        Ok(listing) => {
            let present: Vec<String> = listing.items.into_iter().map(|l| l.name).collect();
            let missing = missing_labels(names, &present);
            if listing.truncated && !missing.is_empty() {
                Value::String(UNKNOWN.into())
            } else {
                if !missing.is_empty() {
                    tracing::info!(repo, missing = %missing.join(", "), "labels the pool reads are not in the repository yet");
                }
                Value::from(missing)
            }
        }
        Err(e) => {
            tracing::warn!(repo, error = %e, "cannot read the repository's labels");
            Value::String(UNKNOWN.into())
        }
    }
}
