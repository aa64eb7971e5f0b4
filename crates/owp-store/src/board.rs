//! Reads for the dashboard's public board: only what concerns repositories marked public.
//!
//! Every query here filters on `repos.private = 0` (and leaves archived repositories out) itself,
//! at the moment it runs, so a repository made private in between is never read as public by a
//! later query of the same board.

use std::collections::{BTreeSet, HashSet};

use super::composed;
use super::engine::checked::checked_read;
use super::events::decode as decode_event;
use super::rows::{RepoRow, TaskRow};
use super::{Store, StoreError};
use crate::domain::Event;

/// At most this many tasks (the newest) are shown on the public board.
pub const PUBLIC_TASK_LIMIT: i64 = 10_000;

/// Ids per `IN (…)` list when looking up worker names.
const NAME_CHUNK: usize = 200;

/// The public board: public repositories, their tasks and events, and the names of the workers
/// those name (nothing else about workers).
#[derive(Debug, Default)]
pub struct PublicBoard {
    pub repos: Vec<RepoRow>,
    pub tasks: Vec<TaskRow>,
    /// `(worker_id, name)` of the workers holding a shown task or named by a shown event.
    pub workers: Vec<(String, String)>,
    pub events: Vec<Event>,
}

/// The public board: what a visitor without a token may see ([`Store::board`]).
pub struct Board<'s> {
    store: &'s Store,
}

impl Store {
    /// The view of the store named by [`Board`].
    pub fn board(&self) -> Board<'_> {
        Board { store: self }
    }
}

impl Board<'_> {
    /// Names of the repositories whose boards anyone may read.
    pub async fn public_repo_names(&self) -> Result<HashSet<String>, StoreError> {
        let names = checked_read!(self.store, board::public_repo_names())?;
        Ok(names.into_iter().collect())
    }

    /// The public board, with up to `events` of the newest events of public repositories.
    pub async fn public(&self, events: i64) -> Result<PublicBoard, StoreError> {
        let repos = composed::repos::public()
            .query()
            .fetch_all(&self.store.read)
            .await?
            .iter()
            .map(RepoRow::decode)
            .collect::<Result<Vec<_>, _>>()?;

        let mut tasks = composed::board::public_tasks()
            .query()
            .bind(PUBLIC_TASK_LIMIT)
            .fetch_all(&self.store.read)
            .await?
            .iter()
            .map(TaskRow::decode)
            .collect::<Result<Vec<_>, _>>()?;
        tasks.reverse();

        let events: Vec<_> = checked_read!(self.store, events::public_recent(events.max(0)))?
            .into_iter()
            .rev()
            .map(decode_event)
            .collect();

        let ids: BTreeSet<&str> = tasks
            .iter()
            .filter_map(|t| t.worker_id.as_deref())
            .chain(events.iter().filter_map(|e| e.worker_id.as_deref()))
            .collect();
        let ids: Vec<&str> = ids.into_iter().collect();
        let mut workers = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(NAME_CHUNK) {
            let mut q = composed::board::worker_names(chunk.len()).query_as::<(String, String)>();
            for id in chunk {
                q = q.bind(*id);
            }
            workers.extend(q.fetch_all(&self.store.read).await?);
        }
        Ok(PublicBoard {
            repos,
            tasks,
            workers,
            events,
        })
    }
}
