//! Proposing, ending and approving a proposal, and the sweep: inside a caller's transaction
//! ([`ProposalsTx`]) or in one of their own ([`Proposals`]).

use serde_json::json;

use super::{
    ProposalRow, Proposals, ProposalsTx, already_proposed, is_limit, is_once, not_found, not_open,
    proposal_event, task_not_ready, too_many,
};
use crate::claim_rules::Pick;
use crate::composed;
use crate::domain::Lease;
use crate::domain::limits;
use crate::domain::person::proposer_of_worker;
use crate::domain::proposals::{
    APPROVED_ACCEPT_MS, MAX_DECLINE_REASON_CHARS, MAX_PLAN_CHARS, ProposalState,
};
use crate::domain::rules::Refusal;
use crate::engine::checked::{checked_in_tx, checked_read};
use crate::leases::refusals::explain;
use crate::rows::WorkerRow;
use crate::{HOUR_MS, NewEvent, StoreError, format_ts, new_id, now_ms};

impl ProposalsTx<'_> {
    async fn row(&mut self, id: &str) -> Result<ProposalRow, StoreError> {
        let row = checked_in_tx!(self.tx.conn(), proposals::by_id(id))?;
        row.map(ProposalRow::of).ok_or_else(|| not_found(id))
    }

    /// A worker's plan for task `task_id` (see the module docs).
    pub async fn propose(
        &mut self,
        worker: &WorkerRow,
        task_id: &str,
        plan: &str,
        insider: bool,
    ) -> Result<ProposalRow, StoreError> {
        limits::lines("plan", plan, MAX_PLAN_CHARS)?;
        if plan.trim().is_empty() {
            return Err(StoreError::invalid(
                "invalid_plan",
                "`plan` must not be empty",
            ));
        }
        let now = self.tx.now;
        let found = checked_in_tx!(self.tx.conn(), proposals::task_of(task_id))?;
        let Some((seq, status, approval)) = found else {
            return Err(StoreError::not_found(
                "task_not_found",
                format!("unknown task `{task_id}`"),
            ));
        };
        if approval != "plan" {
            return Err(StoreError::conflict(
                "approval_not_required",
                "the task's repository does not take plans first: claim it (`POST /v1/work`)",
            ));
        }
        if status != "ready" {
            return Err(task_not_ready());
        }
        // The person the worker speaks for, as the database holds it now: proven by a link or
        // by the person's own comment, never a login typed at registration (contract section 14).
        let person = self.tx.person_links().person_of_worker(&worker.id).await?;
        let proposer = match &person {
            Some(p) => p.proposer_key(),
            None => proposer_of_worker(&worker.id),
        };
        let login = person.map(|p| p.login);
        let id = new_id("p");
        // The rules about the person, the same texts a claim joins: a proposal is refused where
        // the proposer's claim would be for who they are.
        let inserted = composed::proposals::insert(insider)
            .query()
            .bind(&id)
            .bind(seq)
            .bind(&worker.id)
            .bind(&proposer)
            .bind(&login)
            .bind(plan)
            .bind(now)
            .bind(now - HOUR_MS)
            .execute(self.tx.conn())
            .await
            .map_err(StoreError::from);
        match inserted {
            Ok(done) if done.rows_affected() == 1 => {}
            Ok(_) => {
                return Err(self
                    .why_not_proposed(seq, worker, &proposer, insider)
                    .await?);
            }
            Err(e) if is_once(&e) => return Err(already_proposed()),
            Err(e) if is_limit(&e) => return Err(too_many()),
            Err(e) => return Err(e),
        }
        let row = self.row(&id).await?;
        self.tx.event(
            NewEvent::new("proposal.opened", format!("worker:{}", worker.id))
                .repo(&row.repo)
                .task(&row.task_id)
                .worker(Some(&worker.id))
                .data(json!({"proposal_id": id})),
        );
        Ok(row)
    }

    /// Why a proposal's conditional insert wrote nothing (read after it, in the same
    /// transaction).
    async fn why_not_proposed(
        &mut self,
        seq: i64,
        worker: &WorkerRow,
        proposer: &str,
        insider: bool,
    ) -> Result<StoreError, StoreError> {
        let now = self.tx.now;
        let (status, own) = checked_in_tx!(
            self.tx.conn(),
            proposals::why_not(seq, &worker.id, now, proposer)
        )?;
        if status.as_deref() != Some("ready") {
            return Ok(task_not_ready());
        }
        if own > 0 {
            return Ok(already_proposed());
        }
        // A rule about the person, as the claim's own conditions explain it.
        let backend = self.tx.store().backend;
        let pick = Pick::Named { seq, insider };
        let explained = explain(self.tx.conn(), backend, worker, pick, 1, now).await?;
        let refusals: Vec<Refusal> = explained
            .into_iter()
            .flat_map(|e| e.refusals)
            .filter(Refusal::about_person)
            .collect();
        Ok(if refusals.is_empty() {
            too_many()
        } else {
            StoreError::Refused(refusals)
        })
    }

    /// Ends open proposal `id` as `state` (`withdrawn` by its worker, `declined` by a
    /// maintainer), with its audit event.
    pub(super) async fn end(
        &mut self,
        id: &str,
        state: ProposalState,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<ProposalRow, StoreError> {
        let now = self.tx.now;
        let done = checked_in_tx!(
            self.tx.conn(),
            proposals::end(state.as_str(), now, reason, id)
        )?;
        let row = self.row(id).await?;
        if done != 1 {
            return Err(not_open(row.state_at(now)));
        }
        let mut data = json!({"proposal_id": id, "state": state.as_str()});
        if let Some(r) = reason {
            data["reason"] = json!(r);
        }
        self.tx.event(
            NewEvent::new(proposal_event(state), actor)
                .repo(&row.repo)
                .task(&row.task_id)
                .worker(Some(&row.worker_id))
                .data(data),
        );
        Ok(row)
    }

    /// Its worker withdraws proposal `id`.
    pub async fn withdraw(&mut self, worker_id: &str, id: &str) -> Result<ProposalRow, StoreError> {
        let row = self.row(id).await?;
        if row.worker_id != worker_id {
            return Err(not_found(id));
        }
        let actor = format!("worker:{worker_id}");
        self.end(id, ProposalState::Withdrawn, None, &actor).await
    }

    /// A maintainer declines proposal `id`.
    pub async fn decline(
        &mut self,
        id: &str,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<ProposalRow, StoreError> {
        limits::opt_free_text("reason", reason, MAX_DECLINE_REASON_CHARS)?;
        self.end(id, ProposalState::Declined, reason, actor).await
    }

    /// A maintainer approves proposal `id`: it becomes `approved`, every other open proposal of
    /// the task `not_chosen`, and the proposer's worker claims the task by name — the claim's
    /// own statement, so every other rule holds (a refusal names each rule that fails, and the
    /// caller's transaction, rolled back, leaves the proposal open). The lease is given
    /// [`APPROVED_ACCEPT_MS`] to be acknowledged.
    pub async fn approve(
        &mut self,
        id: &str,
        actor: &str,
    ) -> Result<(ProposalRow, Lease), StoreError> {
        let found = self.row(id).await?;
        // The task first (the named claim's lock order), so that two approvals of one task
        // wait for each other here.
        self.tx.leases().lock_task(&found.task_id).await?;
        let now = self.tx.now;
        let done = checked_in_tx!(self.tx.conn(), proposals::approve(now, id))?;
        if done != 1 {
            let row = self.row(id).await?;
            return Err(not_open(row.state_at(now)));
        }
        let others = checked_in_tx!(
            self.tx.conn(),
            proposals::not_chosen(now, found.task_seq, id)
        )?;
        let claimed = self
            .tx
            .claim_task(&found.worker_id, &found.task_id, false)
            .await;
        let mut lease = match claimed {
            Ok(lease) => lease,
            Err(e) => {
                // Refused (or the task moved): every proposal the approval ended is open
                // again, so that a caller whose transaction goes on (a comment's delivery)
                // leaves them as they were; they were all open a moment ago, under the task's
                // lock.
                let mut ids = vec![id.to_string()];
                ids.extend(others.into_iter().map(|(other, _)| other));
                for reopened in ids {
                    checked_in_tx!(self.tx.conn(), proposals::reopen(&reopened))?;
                }
                return Err(e);
            }
        };
        let accept_by = now + APPROVED_ACCEPT_MS;
        let expires = checked_in_tx!(
            self.tx.conn(),
            proposals::accept_by(accept_by, &lease.lease_id)
        )?;
        lease.accept_by = format_ts(accept_by);
        lease.expires_at = format_ts(expires);
        let row = self.row(id).await?;
        self.tx.event(
            NewEvent::new("proposal.approved", actor)
                .repo(&row.repo)
                .task(&row.task_id)
                .worker(Some(&row.worker_id))
                .data(json!({"proposal_id": id, "state": "approved",
                             "lease_id": lease.lease_id})),
        );
        for (other, worker) in others {
            self.tx.event(
                NewEvent::new("proposal.not_chosen", actor)
                    .repo(&row.repo)
                    .task(&row.task_id)
                    .worker(Some(worker))
                    .data(json!({"proposal_id": other, "state": "not_chosen"})),
            );
        }
        Ok((row, lease))
    }

    /// The open proposal for task `task_id` of the person whose login is now `login` (any
    /// case), if any — made by comment or by a worker linked to them. The login names the person
    /// as the pool last heard it from GitHub; the proposal is found by the person's account id,
    /// so a login typed at registration finds nothing.
    pub async fn open_of_person(
        &mut self,
        task_id: &str,
        login: &str,
    ) -> Result<Option<ProposalRow>, StoreError> {
        let login = login.to_ascii_lowercase();
        let now = self.tx.now;
        let row = checked_in_tx!(
            self.tx.conn(),
            proposals::open_of_login(task_id, &login, now)
        )?;
        Ok(row.map(ProposalRow::of))
    }

    /// Ends the open proposals past their days, and records the audit event of every end the
    /// trigger of a task leaving `ready` wrote (at most 200 a call).
    pub async fn expire(&mut self) -> Result<usize, StoreError> {
        let now = self.tx.now;
        checked_in_tx!(self.tx.conn(), proposals::expire(now))?;
        let rows = checked_in_tx!(self.tx.conn(), proposals::unrecorded())?;
        let ended: Vec<ProposalRow> = rows.into_iter().map(ProposalRow::of).collect();
        for p in &ended {
            checked_in_tx!(self.tx.conn(), proposals::recorded(&p.id))?;
            self.tx.event(
                NewEvent::new("proposal.expired", "system")
                    .repo(&p.repo)
                    .task(&p.task_id)
                    .worker(Some(&p.worker_id))
                    .data(json!({"proposal_id": p.id, "state": "expired"})),
            );
        }
        Ok(ended.len())
    }
}

impl Proposals<'_> {
    /// A worker's plan (see [`ProposalsTx::propose`]).
    pub async fn propose(
        &self,
        worker: &WorkerRow,
        task_id: &str,
        plan: &str,
    ) -> Result<ProposalRow, StoreError> {
        self.store
            .write(|mut tx| async move {
                let r = tx.proposals().propose(worker, task_id, plan, false).await;
                (tx, r)
            })
            .await
    }

    /// Its worker withdraws a proposal.
    pub async fn withdraw(&self, worker_id: &str, id: &str) -> Result<ProposalRow, StoreError> {
        self.store
            .write(|mut tx| async move {
                let r = tx.proposals().withdraw(worker_id, id).await;
                (tx, r)
            })
            .await
    }

    /// A maintainer declines a proposal.
    pub async fn decline(
        &self,
        id: &str,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<ProposalRow, StoreError> {
        self.store
            .write(|mut tx| async move {
                let r = tx.proposals().decline(id, reason, actor).await;
                (tx, r)
            })
            .await
    }

    /// A maintainer approves a proposal (see [`ProposalsTx::approve`]).
    pub async fn approve(&self, id: &str, actor: &str) -> Result<(ProposalRow, Lease), StoreError> {
        self.store
            .write(|mut tx| async move {
                let r = tx.proposals().approve(id, actor).await;
                (tx, r)
            })
            .await
    }

    /// The sweep of proposals (see [`ProposalsTx::expire`]); when none is due, one read of two
    /// partial indexes and no write.
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        if !checked_read!(self.store, proposals::due(now_ms()))? {
            return Ok(0);
        }
        self.store
            .write(|mut tx| async move {
                let r = tx.proposals().expire().await;
                (tx, r)
            })
            .await
    }
}
