//! What the proposals' view reads: a proposal, a task's, a repository's open ones and a
//! worker's own (`GET /v1/proposals`: how each ended, with the task it was for, so that a worker
//! learns what became of a plan it no longer waits on), a proposer's scorecard, and the lease
//! an approval gave.

use sqlx::Row;

use super::{ProposalRow, Proposals, RepoProposal, Viewer, disclosed_tools, not_found};
use crate::composed;
use crate::domain::Lease;
use crate::domain::proposals::{OwnProposal, Proposal, ProposalState, Scorecard};
use crate::engine::checked::checked_read;
use crate::rows::TaskRow;
use crate::{DAY_MS, StoreError, format_ts, now_ms};

impl Proposals<'_> {
    /// The lease an approval gave `worker_id` that it has not acknowledged yet (`leased`, not
    /// ended), oldest first: `POST /v1/work` returns it before claiming anything new (contract
    /// section 12, rule 11).
    /// Every claim asks, so the query first asks whether the worker has an approved proposal at
    /// all (a condition on no row of the scan, which the database checks once, before it: one
    /// index probe that finds none for nearly every worker), not the tasks it ever held.
    pub async fn approved_lease(&self, worker_id: &str) -> Result<Option<Lease>, StoreError> {
        let row = composed::proposals::approved_lease()
            .query()
            .bind(worker_id)
            .bind(now_ms())
            .fetch_optional(&self.store.read)
            .await?;
        row.map(|r| Ok(crate::leases::held(&TaskRow::decode(&r)?)))
            .transpose()
    }

    /// A proposal by id, with its task and repository.
    pub async fn get(&self, id: &str) -> Result<ProposalRow, StoreError> {
        let row = checked_read!(self.store, proposals::by_id(id))?;
        row.map(ProposalRow::of).ok_or_else(|| not_found(id))
    }

    /// The proposals of task `task_id` that `viewer` sees, newest last (at most the 100
    /// newest).
    pub async fn of_task(
        &self,
        task_id: &str,
        viewer: &Viewer,
    ) -> Result<Vec<Proposal>, StoreError> {
        let worker = match viewer {
            Viewer::Maintainer => "",
            Viewer::Worker(w) => w.as_str(),
        };
        let rows = checked_read!(self.store, proposals::of_task(task_id, worker))?;
        let now = now_ms();
        let mut out = Vec::with_capacity(rows.len());
        for p in rows.into_iter().map(ProposalRow::of) {
            let card = match viewer {
                Viewer::Maintainer if p.state_at(now) == ProposalState::Open => {
                    Some(self.scorecard(&p.worker_id, p.repo_id, now).await?)
                }
                _ => None,
            };
            out.push(p.to_api(now, card));
        }
        Ok(out)
    }

    /// The open proposals of repository `repo`, oldest first, each with its task's key and
    /// title and its scorecard: at most `limit` of them, and how many open ones there are in
    /// all. `None` when no repository of the pool has this name.
    pub async fn open_in_repo(
        &self,
        repo: &str,
        limit: i64,
    ) -> Result<Option<(Vec<RepoProposal>, i64)>, StoreError> {
        let id = checked_read!(self.store, repos::id(repo))?;
        let Some(id) = id else {
            return Ok(None);
        };
        let now = now_ms();
        let total = checked_read!(self.store, proposals::open_in_repo_count(id, now))?;
        let rows = checked_read!(self.store, proposals::open_in_repo(id, now, limit.max(0)))?;
        // A proposer has at most a few open proposals: their scorecard is read once.
        let mut cards: std::collections::HashMap<String, Scorecard> = Default::default();
        let mut out = Vec::with_capacity(rows.len());
        for (fields, task_key, task_title) in rows {
            let p = ProposalRow::of(fields);
            let card = match cards.get(&p.worker_id) {
                Some(card) => card.clone(),
                None => {
                    let card = self.scorecard(&p.worker_id, p.repo_id, now).await?;
                    cards.insert(p.worker_id.clone(), card.clone());
                    card
                }
            };
            out.push(RepoProposal {
                task_key,
                task_title,
                proposal: p.to_api(now, Some(card)),
            });
        }
        Ok(Some((out, total)))
    }

    /// What a maintainer sees of the proposer `worker_id` in repository `repo_id` (see
    /// [`Scorecard`]), read from `outcomes`, `tasks` and `gh_accounts`; `vouched` from the
    /// repository's own vouch list (its file and its maintainers' commands).
    pub async fn scorecard(
        &self,
        worker_id: &str,
        repo_id: i64,
        now: i64,
    ) -> Result<Scorecard, StoreError> {
        // The person's record, on every worker of theirs (contract section 14).
        let row = composed::proposals::scorecard()
            .query()
            .bind(worker_id)
            .bind(repo_id)
            .fetch_one(&self.store.read)
            .await?;
        let merged_here: i64 = row.try_get("merged_here")?;
        let closed_here: i64 = row.try_get("closed_here")?;
        let created: Option<i64> = row.try_get("created")?;
        let artifacts: Vec<(Option<String>,)> = composed::proposals::merged_artifacts()
            .query_as()
            .bind(worker_id)
            .fetch_all(&self.store.read)
            .await?;
        Ok(Scorecard {
            merged_here,
            merged_pool: row.try_get("merged_pool")?,
            acceptance_rate_here: (merged_here + closed_here > 0)
                .then(|| merged_here as f64 / (merged_here + closed_here) as f64),
            account_age_days: created.map(|c| (now - c).max(0) / DAY_MS),
            vouched: row.try_get::<i64, _>("vouched")? != 0,
            open_holds: row.try_get("holds")?,
            tools: disclosed_tools(artifacts.into_iter().filter_map(|(a,)| a)),
        })
    }

    /// The proposals of worker `worker_id`, oldest first (at most the 100 newest).
    pub async fn of_worker(&self, worker_id: &str) -> Result<Vec<OwnProposal>, StoreError> {
        let rows = checked_read!(self.store, proposals::of_worker(worker_id))?;
        let now = now_ms();
        let mut out = Vec::with_capacity(rows.len());
        for (fields, task_key, task_title, reason, ended_at) in rows {
            let p = ProposalRow::of(fields);
            // An open proposal past its days reads as expired: it ended when they ran out.
            let expired = p.state_at(now) == ProposalState::Expired;
            let ended_at = ended_at.or(expired.then_some(p.expires_at)).map(format_ts);
            out.push(OwnProposal {
                proposal: p.to_api(now, None),
                task_key,
                task_title,
                ended_at,
                reason,
            });
        }
        Ok(out)
    }
}
