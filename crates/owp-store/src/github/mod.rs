//! Every query of the GitHub App, one file per thing it stores (schema in
//! `migrations/*/0002_github.sql` and later):
//! - [`installations`]: installations and the repositories they put in the pool;
//! - [`identity`]: GitHub's numeric ids as the identity of repositories (renames, transfers);
//! - [`issues`]: tasks made from issues, and their status comments;
//! - [`claims`]: comment claims (`/owp claim`);
//! - [`pulls`]: pull requests linked to tasks;
//! - [`reviewers`]: a repository's reviewers and who reviews each task's pull request (rule 13);
//! - [`worker_links`]: GitHub logins proven for workers;
//! - [`device_links`]: a worker's proof of its person with GitHub's device flow, under way;
//! - [`vouch`]: vouch lists and maintainers' vouch commands;
//! - [`inbox`]: the webhook inbox;
//! - [`outbox`]: the comment outbox;
//! - [`on_commit`]: what every task change writes to the outbox, in its own transaction;
//! - [`write_pacing`]: how fast the App writes to GitHub;
//! - [`job_slots`]: once-per-slot scheduled jobs;
//! - [`etags`]: GitHub's last answers to conditional requests;
//! - [`known_answers`]: what GitHub said lately of pull requests and of vouch lists' logins.
//!
//! This file holds what the inbox and the outbox, both queues that one process at a time claims
//! rows of, have in common. The fixed statements that read the App's rows are in
//! `sql/github_rows/` and `sql/github/`.
//!
//! Task changes never happen here: they go through [`WriteTx`]'s task methods like every other
//! change. What these modules write inside a transaction (outbox rows, claim records, the inbox's
//! `applied` mark) is written with the change it belongs to; the free functions that take a
//! connection serve both [`WriteTx`] and the outbox's commit step ([`on_commit`]), which only has
//! the connection.
//!
//! [`WriteTx`]: crate::WriteTx

pub mod claims;
pub mod device_links;
pub mod etags;
mod identity;
pub mod inbox;
pub mod installations;
pub mod issues;
mod job_slots;
pub mod known_answers;
pub mod on_commit;
pub mod outbox;
pub mod pulls;
pub mod reviewers;
pub mod vouch;
pub mod worker_links;
pub mod write_pacing;

use crate::engine::checked::{checked_read, checked_write};
use crate::{Store, StoreError};

/// The App's inbox and outbox taken together: what is pending, when it is due, and the rows a
/// stopping process gives back ([`Store::github_backlog`]).
pub struct GithubBacklog<'s> {
    store: &'s Store,
}

impl Store {
    /// The view of the store named by [`GithubBacklog`].
    pub fn github_backlog(&self) -> GithubBacklog<'_> {
        GithubBacklog { store: self }
    }
}

impl GithubBacklog<'_> {
    /// Gives back every inbox and outbox row `runner` had claimed (the process is stopping).
    pub async fn release_claims(&self, runner: &str) -> Result<(), StoreError> {
        checked_write!(self.store, upkeep::release_outbox(runner))?;
        checked_write!(self.store, upkeep::release_deliveries(runner))?;
        Ok(())
    }

    /// Pending deliveries and pending outbox rows.
    pub async fn counts(&self) -> Result<(i64, i64), StoreError> {
        Ok(checked_read!(self.store, github::backlog())?)
    }

    /// The earliest instant a pending delivery or outbox row is due (None when there is none).
    pub async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(match checked_read!(self.store, github::next_due())? {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }
}
