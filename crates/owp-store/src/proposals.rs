//! Proposals (contract section 12, rule 11 "Plan first"): a worker's plan for a `ready` task of a
//! repository that takes plans first, and a maintainer's answer.
//!
//! The limits (one open proposal of a person or worker on a task, 5 open on a task, 3 open of a
//! person or unlinked worker across the pool) are the database's: the insert is one conditional
//! statement, which SQLite's serialised writers keep current, and PostgreSQL checks them again
//! under locks (the trigger `proposals_limit` of migrations 0037 and 0039). A person is one
//! proposer whether they propose by comment (their implicit worker) or through a worker linked
//! to their login. A task that leaves `ready` ends its open proposals by a trigger of the same
//! migration, whichever path moves it; the sweep ([`Store::sweep_proposals`]) ends those past
//! their days and records the audit event of every end a trigger wrote. An approval is the
//! named claim ([`WriteTx::claim_task`]) of the proposer, in the transaction that approves, so
//! every other rule is the claim statement's own.

mod own;
mod persons;

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::engine::checked::{checked_in_tx, checked_read};
use super::in_flight::in_flight;
use super::leases::claim_rules::{
    Pick, account_created, by_person, person_conditions, person_of, vouched_for,
};
use super::leases::person_sql::merged_count_in;
use super::leases::refusals::explain;
use super::rows::{TASK_SELECT, TaskRow, WorkerRow};
use super::{DAY_MS, HOUR_MS, NewEvent, Store, StoreError, WriteTx, format_ts, new_id};
use crate::domain::Lease;
use crate::domain::limits;
use crate::domain::person::proposer_of_worker;
use crate::domain::proposals::{
    APPROVED_ACCEPT_MS, MAX_DECLINE_REASON_CHARS, MAX_OPEN_PER_PROPOSER, MAX_OPEN_PER_TASK,
    MAX_PLAN_CHARS, Proposal, ProposalState, Scorecard,
};
use crate::domain::rules::Refusal;

/// The name under which PostgreSQL's recheck refuses a proposal past a limit.
const LIMIT_CONSTRAINT: &str = "proposals_limit";

/// The name under which PostgreSQL's recheck refuses a second open proposal of one proposer for
/// one task.
const ONCE_CONSTRAINT: &str = "proposals_once";

/// A proposal with its task and repository.
const PROPOSAL_SELECT: &str = "SELECT p.seq, p.id, t.id AS task_id, p.task_seq, t.repo_id, \
    r.name AS repo, p.worker_id, wn.name AS worker_name, p.login, p.plan, p.state, p.created_at, \
    p.expires_at FROM proposals p JOIN tasks t ON t.seq = p.task_seq \
    JOIN repos r ON r.id = t.repo_id JOIN workers wn ON wn.id = p.worker_id";

/// The most proposals of a task a list shows (the newest).
const LIST_LIMIT: i64 = 100;

/// Whose proposals a list shows.
#[derive(Clone, Debug)]
pub enum Viewer {
    /// The task's maintainers and the admin: all, each open one with its scorecard.
    Maintainer,
    /// A worker: its own.
    Worker(String),
}

/// A proposal as stored.
#[derive(Clone, Debug)]
pub struct ProposalRow {
    pub id: String,
    pub task_id: String,
    pub task_seq: i64,
    pub repo_id: i64,
    pub repo: String,
    pub worker_id: String,
    /// The proposing worker's name (a person's comment worker is named by their login).
    pub worker_name: String,
    pub login: Option<String>,
    pub plan: String,
    pub state: ProposalState,
    pub created_at: i64,
    pub expires_at: i64,
}

impl ProposalRow {
    fn decode(row: &AnyRow) -> Result<ProposalRow, StoreError> {
        let state: String = row.try_get("state")?;
        Ok(ProposalRow {
            id: row.try_get("id")?,
            task_id: row.try_get("task_id")?,
            task_seq: row.try_get("task_seq")?,
            repo_id: row.try_get("repo_id")?,
            repo: row.try_get("repo")?,
            worker_id: row.try_get("worker_id")?,
            worker_name: row.try_get("worker_name")?,
            login: row.try_get("login")?,
            plan: row.try_get("plan")?,
            state: ProposalState::parse(&state).unwrap_or(ProposalState::Expired),
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        })
    }

    /// Its state at `now`: an open proposal past its days is expired, whether or not the sweep
    /// has written it yet.
    pub fn state_at(&self, now: i64) -> ProposalState {
        match self.state {
            ProposalState::Open if self.expires_at <= now => ProposalState::Expired,
            s => s,
        }
    }

    pub fn to_api(&self, now: i64, scorecard: Option<Scorecard>) -> Proposal {
        Proposal {
            proposal_id: self.id.clone(),
            task_id: self.task_id.clone(),
            worker_id: self.worker_id.clone(),
            worker_name: self.worker_name.clone(),
            login: self.login.clone(),
            plan: self.plan.clone(),
            state: self.state_at(now),
            created_at: format_ts(self.created_at),
            expires_at: format_ts(self.expires_at),
            scorecard,
        }
    }
}

/// An open proposal of a repository with the task it is for (the dashboard's list).
#[derive(Clone, Debug)]
pub struct RepoProposal {
    pub task_key: Option<String>,
    pub task_title: String,
    pub proposal: Proposal,
}

fn not_found(id: &str) -> StoreError {
    StoreError::not_found("proposal_not_found", format!("unknown proposal `{id}`"))
}

fn not_open(state: ProposalState) -> StoreError {
    StoreError::conflict(
        "proposal_not_open",
        format!(
            "the proposal is {} and can no longer change",
            state.as_str()
        ),
    )
}

fn too_many() -> StoreError {
    StoreError::conflict(
        "too_many_proposals",
        format!(
            "a task has at most {MAX_OPEN_PER_TASK} open proposals, and a person or unlinked \
             worker at most {MAX_OPEN_PER_PROPOSER} across the pool"
        ),
    )
}

/// A second open proposal of one proposer for one task: a person proposes once per task, by
/// comment or through a worker linked to their login, as does an unlinked worker.
fn already_proposed() -> StoreError {
    StoreError::conflict(
        "already_proposed",
        "this person or worker already has an open proposal for the task (by comment or \
         through a worker linked to the same GitHub login)",
    )
}

/// Whether `e` is PostgreSQL's recheck refusing a second open proposal of one proposer for one
/// task.
fn is_once(e: &StoreError) -> bool {
    match e {
        StoreError::Db(sqlx::Error::Database(db)) => {
            db.constraint() == Some(ONCE_CONSTRAINT) || db.message().contains("already proposed")
        }
        _ => false,
    }
}

/// Whether `e` is PostgreSQL's recheck refusing a proposal past a limit.
fn is_limit(e: &StoreError) -> bool {
    match e {
        StoreError::Db(sqlx::Error::Database(db)) => {
            db.constraint() == Some(LIMIT_CONSTRAINT) || db.message().contains("open proposals")
        }
        _ => false,
    }
}

/// The condition that proposal `p` is open at `now` (a parameter).
pub(super) fn live(p: &str, now: &str) -> String {
    format!("{p}.state = 'open' AND {p}.expires_at > {now}")
}

impl WriteTx {
    async fn proposal_row(&mut self, id: &str) -> Result<ProposalRow, StoreError> {
        let sql = format!("{PROPOSAL_SELECT} WHERE p.id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        ProposalRow::decode(&row.ok_or_else(|| not_found(id))?)
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
        let now = self.now;
        let found = checked_in_tx!(self.conn(), proposals::task_of(task_id))?;
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
        let person = self.person_of_worker(&worker.id).await?;
        let proposer = match &person {
            Some(p) => p.proposer_key(),
            None => proposer_of_worker(&worker.id),
        };
        let login = person.map(|p| p.login);
        // The rules about the person, the same texts a claim joins: a proposal is refused where
        // the proposer's claim would be for who they are.
        let insider_sql = if insider { "1" } else { "0" };
        let rules: Vec<String> = person_conditions("$3", "$8", insider_sql)
            .into_iter()
            .map(|(_, sql)| sql)
            .collect();
        let id = new_id("p");
        let sql = format!(
            "INSERT INTO proposals (id, task_seq, worker_id, proposer, login, plan, state, \
               created_at, expires_at) \
             SELECT $1, t.seq, $3, $4, $5, $6, 'open', $7, \
               $7 + CAST(r.proposal_days AS BIGINT) * {DAY_MS} \
             FROM tasks t JOIN repos r ON r.id = t.repo_id \
             WHERE t.seq = $2 AND t.status = 'ready' AND r.approval = 'plan' \
               AND NOT EXISTS (SELECT 1 FROM proposals o WHERE o.task_seq = t.seq \
                 AND (o.worker_id = $3 OR o.proposer = $4) AND {own}) \
               AND (SELECT COUNT(*) FROM proposals o WHERE o.task_seq = t.seq AND {on_task}) \
                 < {MAX_OPEN_PER_TASK} \
               AND (SELECT COUNT(*) FROM proposals o WHERE o.proposer = $4 AND {of_proposer}) \
                 < {MAX_OPEN_PER_PROPOSER} \
               AND {rules}",
            own = live("o", "$7"),
            on_task = live("o", "$7"),
            of_proposer = live("o", "$7"),
            rules = rules.join(" AND "),
        );
        let inserted = sqlx::query(AssertSqlSafe(sql))
            .bind(&id)
            .bind(seq)
            .bind(&worker.id)
            .bind(&proposer)
            .bind(&login)
            .bind(plan)
            .bind(now)
            .bind(now - HOUR_MS)
            .execute(self.conn())
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
        let row = self.proposal_row(&id).await?;
        self.event(
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
        let worker_id = worker.id.as_str();
        let sql = format!(
            "SELECT (SELECT status FROM tasks WHERE seq = $1), \
               (SELECT COUNT(*) FROM proposals o WHERE o.task_seq = $1 \
                 AND (o.worker_id = $2 OR o.proposer = $4) AND {own})",
            own = live("o", "$3"),
        );
        let (status, own): (String, i64) = sqlx::query_as(AssertSqlSafe(sql))
            .bind(seq)
            .bind(worker_id)
            .bind(self.now)
            .bind(proposer)
            .fetch_one(self.conn())
            .await?;
        if status != "ready" {
            return Ok(task_not_ready());
        }
        if own > 0 {
            return Ok(already_proposed());
        }
        // A rule about the person, as the claim's own conditions explain it.
        let (backend, now) = (self.store().backend, self.now);
        let pick = Pick::Named { seq, insider };
        let explained = explain(self.conn(), backend, worker, pick, 1, now).await?;
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
    async fn end_proposal(
        &mut self,
        id: &str,
        state: ProposalState,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<ProposalRow, StoreError> {
        let now = self.now;
        let sql = format!(
            "UPDATE proposals SET state = $1, ended_at = $2, reason = $3 \
             WHERE id = $4 AND {}",
            live("proposals", "$2")
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(state.as_str())
            .bind(now)
            .bind(reason)
            .bind(id)
            .execute(self.conn())
            .await?;
        let row = self.proposal_row(id).await?;
        if done.rows_affected() != 1 {
            return Err(not_open(row.state_at(now)));
        }
        let mut data = json!({"proposal_id": id, "state": state.as_str()});
        if let Some(r) = reason {
            data["reason"] = json!(r);
        }
        self.event(
            NewEvent::new(proposal_event(state), actor)
                .repo(&row.repo)
                .task(&row.task_id)
                .worker(Some(&row.worker_id))
                .data(data),
        );
        Ok(row)
    }

    /// Its worker withdraws proposal `id`.
    pub async fn withdraw_proposal(
        &mut self,
        worker_id: &str,
        id: &str,
    ) -> Result<ProposalRow, StoreError> {
        let row = self.proposal_row(id).await?;
        if row.worker_id != worker_id {
            return Err(not_found(id));
        }
        let actor = format!("worker:{worker_id}");
        self.end_proposal(id, ProposalState::Withdrawn, None, &actor)
            .await
    }

    /// A maintainer declines proposal `id`.
    pub async fn decline_proposal(
        &mut self,
        id: &str,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<ProposalRow, StoreError> {
        limits::opt_free_text("reason", reason, MAX_DECLINE_REASON_CHARS)?;
        self.end_proposal(id, ProposalState::Declined, reason, actor)
            .await
    }

    /// A maintainer approves proposal `id`: it becomes `approved`, every other open proposal of
    /// the task `not_chosen`, and the proposer's worker claims the task by name — the claim's
    /// own statement, so every other rule holds (a refusal names each rule that fails, and the
    /// caller's transaction, rolled back, leaves the proposal open). The lease is given
    /// [`APPROVED_ACCEPT_MS`] to be acknowledged.
    pub async fn approve_proposal(
        &mut self,
        id: &str,
        actor: &str,
    ) -> Result<(ProposalRow, Lease), StoreError> {
        let found = self.proposal_row(id).await?;
        // The task first (the named claim's lock order), so that two approvals of one task
        // wait for each other here.
        self.lock_task(&found.task_id).await?;
        let now = self.now;
        let sql = format!(
            "UPDATE proposals SET state = 'approved', ended_at = $1 WHERE id = $2 AND {}",
            live("proposals", "$1")
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .bind(id)
            .execute(self.conn())
            .await?;
        if done.rows_affected() != 1 {
            let row = self.proposal_row(id).await?;
            return Err(not_open(row.state_at(now)));
        }
        let others = checked_in_tx!(self.conn(), proposals::not_chosen(now, found.task_seq, id))?;
        let claimed = self
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
                    checked_in_tx!(self.conn(), proposals::reopen(&reopened))?;
                }
                return Err(e);
            }
        };
        let accept_by = now + APPROVED_ACCEPT_MS;
        let expires = checked_in_tx!(
            self.conn(),
            proposals::accept_by(accept_by, &lease.lease_id)
        )?;
        lease.accept_by = format_ts(accept_by);
        lease.expires_at = format_ts(expires);
        let row = self.proposal_row(id).await?;
        self.event(
            NewEvent::new("proposal.approved", actor)
                .repo(&row.repo)
                .task(&row.task_id)
                .worker(Some(&row.worker_id))
                .data(json!({"proposal_id": id, "state": "approved",
                             "lease_id": lease.lease_id})),
        );
        for (other, worker) in others {
            self.event(
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
    pub async fn open_proposal_of(
        &mut self,
        task_id: &str,
        login: &str,
    ) -> Result<Option<ProposalRow>, StoreError> {
        let sql = format!(
            "{PROPOSAL_SELECT} JOIN workers pw ON pw.id = p.worker_id \
             WHERE t.id = $1 AND pw.github_account_id IS NOT NULL \
               AND p.proposer = 'github:' || pw.github_account_id \
               AND LOWER(pw.github_login) = $2 AND {} ORDER BY p.seq LIMIT 1",
            live("p", "$3")
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(task_id)
            .bind(login.to_ascii_lowercase())
            .bind(self.now)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(ProposalRow::decode).transpose()
    }

    /// Ends the open proposals past their days, and records the audit event of every end the
    /// trigger of a task leaving `ready` wrote (at most 200 a call).
    pub async fn expire_proposals(&mut self) -> Result<usize, StoreError> {
        let now = self.now;
        checked_in_tx!(self.conn(), proposals::expire(now))?;
        let sql = format!("{PROPOSAL_SELECT} WHERE p.recorded = 0 ORDER BY p.seq LIMIT 200");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(self.conn())
            .await?;
        let mut ended = Vec::with_capacity(rows.len());
        for row in &rows {
            ended.push(ProposalRow::decode(row)?);
        }
        for p in &ended {
            checked_in_tx!(self.conn(), proposals::recorded(&p.id))?;
            self.event(
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

fn task_not_ready() -> StoreError {
    StoreError::conflict("task_not_ready", "only a `ready` task takes proposals")
}

/// The audit event's kind of a proposal's end.
fn proposal_event(state: ProposalState) -> &'static str {
    match state {
        ProposalState::Open => "proposal.opened",
        ProposalState::Approved => "proposal.approved",
        ProposalState::Declined => "proposal.declined",
        ProposalState::NotChosen => "proposal.not_chosen",
        ProposalState::Withdrawn => "proposal.withdrawn",
        ProposalState::Expired => "proposal.expired",
    }
}

impl Store {
    /// The lease an approval gave `worker_id` that it has not acknowledged yet (`leased`, not
    /// ended), oldest first: `POST /v1/work` returns it before claiming anything new (contract
    /// section 12, rule 11).
    /// Every claim asks, so the query first asks whether the worker has an approved proposal at
    /// all (a condition on no row of the scan, which the database checks once, before it: one
    /// index probe that finds none for nearly every worker), not the tasks it ever held.
    pub async fn approved_lease(&self, worker_id: &str) -> Result<Option<Lease>, StoreError> {
        let sql = format!(
            "{TASK_SELECT} WHERE EXISTS (SELECT 1 FROM proposals mine \
                 WHERE mine.worker_id = $1 AND mine.state = 'approved') \
               AND t.worker_id = $1 AND t.status = 'leased' \
               AND tl.ended_at IS NULL AND tl.acked_at IS NULL AND tl.deadline > $2 \
               AND EXISTS (SELECT 1 FROM proposals ap WHERE ap.task_seq = t.seq \
                 AND ap.worker_id = $1 AND ap.state = 'approved' \
                 AND ap.ended_at <= tl.created_at) \
             ORDER BY t.seq LIMIT 1"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(worker_id)
            .bind(crate::now_ms())
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok(super::leases::held(&TaskRow::decode(&r)?)))
            .transpose()
    }

    /// A proposal by id, with its task and repository.
    pub async fn proposal(&self, id: &str) -> Result<ProposalRow, StoreError> {
        let sql = format!("{PROPOSAL_SELECT} WHERE p.id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        ProposalRow::decode(&row.ok_or_else(|| not_found(id))?)
    }

    /// The proposals of task `task_id` that `viewer` sees, newest last (at most the
    /// [`LIST_LIMIT`] newest).
    pub async fn task_proposals(
        &self,
        task_id: &str,
        viewer: &Viewer,
    ) -> Result<Vec<Proposal>, StoreError> {
        let (mine, worker) = match viewer {
            Viewer::Maintainer => (0, String::new()),
            Viewer::Worker(w) => (1, w.clone()),
        };
        let sql = format!(
            "SELECT * FROM ({PROPOSAL_SELECT} WHERE t.id = $1 AND ($2 = 0 OR p.worker_id = $3) \
             ORDER BY p.seq DESC LIMIT {LIST_LIMIT}) x ORDER BY x.seq"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(task_id)
            .bind(mine)
            .bind(&worker)
            .fetch_all(&self.read)
            .await?;
        let now = super::now_ms();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let p = ProposalRow::decode(row)?;
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
    pub async fn repo_open_proposals(
        &self,
        repo: &str,
        limit: i64,
    ) -> Result<Option<(Vec<RepoProposal>, i64)>, StoreError> {
        let id = checked_read!(self, repos::id(repo))?;
        let Some(id) = id else {
            return Ok(None);
        };
        let now = super::now_ms();
        let open = live("p", "$2");
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM proposals p JOIN tasks t ON t.seq = p.task_seq \
             WHERE t.repo_id = $1 AND {open}"
        )))
        .bind(id)
        .bind(now)
        .fetch_one(&self.read)
        .await?;
        let sql = format!(
            "SELECT p.seq, p.id, t.id AS task_id, p.task_seq, t.repo_id, r.name AS repo, \
               p.worker_id, wn.name AS worker_name, p.login, p.plan, p.state, p.created_at, \
               p.expires_at, t.key AS task_key, t.title AS task_title \
             FROM proposals p JOIN tasks t ON t.seq = p.task_seq JOIN repos r ON r.id = t.repo_id \
               JOIN workers wn ON wn.id = p.worker_id \
             WHERE t.repo_id = $1 AND {open} ORDER BY p.seq LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(now)
            .bind(limit.max(0))
            .fetch_all(&self.read)
            .await?;
        // A proposer has at most a few open proposals: their scorecard is read once.
        let mut cards: std::collections::HashMap<String, Scorecard> = Default::default();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let p = ProposalRow::decode(row)?;
            let card = match cards.get(&p.worker_id) {
                Some(card) => card.clone(),
                None => {
                    let card = self.scorecard(&p.worker_id, p.repo_id, now).await?;
                    cards.insert(p.worker_id.clone(), card.clone());
                    card
                }
            };
            out.push(RepoProposal {
                task_key: row.try_get("task_key")?,
                task_title: row.try_get("task_title")?,
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
        let sql = format!(
            "SELECT {here} AS merged_here, {pool} AS merged_pool, \
               (SELECT COUNT(*) FROM outcomes o WHERE {mine} \
                 AND o.kind = 'closed_unmerged' AND o.repo_id = $2) AS closed_here, \
               {created} AS created, \
               CASE WHEN {vouched} THEN 1 ELSE 0 END AS vouched, \
               (SELECT COUNT(*) FROM tasks h WHERE (h.worker_id = $1 OR h.worker_id IN \
                   (SELECT hw.id FROM workers hw WHERE hw.github_account_id = {person})) \
                 AND {held}) AS holds",
            here = merged_count_in("$1", Some("$2")),
            pool = merged_count_in("$1", None),
            mine = by_person("o", "$1"),
            person = person_of("$1"),
            created = account_created("$1"),
            vouched = vouched_for("$1", "$2"),
            held = in_flight("h"),
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(worker_id)
            .bind(repo_id)
            .fetch_one(&self.read)
            .await?;
        let merged_here: i64 = row.try_get("merged_here")?;
        let closed_here: i64 = row.try_get("closed_here")?;
        let created: Option<i64> = row.try_get("created")?;
        let artifacts: Vec<(Option<String>,)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT t.artifact FROM outcomes o JOIN tasks t ON t.id = o.task_id \
             WHERE {} AND o.kind = 'merged' ORDER BY o.at DESC LIMIT 10",
            by_person("o", "$1")
        )))
        .bind(worker_id)
        .fetch_all(&self.read)
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

    /// A worker's plan (see [`WriteTx::propose`]).
    pub async fn propose(
        &self,
        worker: &WorkerRow,
        task_id: &str,
        plan: &str,
    ) -> Result<ProposalRow, StoreError> {
        self.write(|mut tx| async move {
            let r = tx.propose(worker, task_id, plan, false).await;
            (tx, r)
        })
        .await
    }

    /// Its worker withdraws a proposal.
    pub async fn withdraw_proposal(
        &self,
        worker_id: &str,
        id: &str,
    ) -> Result<ProposalRow, StoreError> {
        self.write(|mut tx| async move {
            let r = tx.withdraw_proposal(worker_id, id).await;
            (tx, r)
        })
        .await
    }

    /// A maintainer declines a proposal.
    pub async fn decline_proposal(
        &self,
        id: &str,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<ProposalRow, StoreError> {
        self.write(|mut tx| async move {
            let r = tx.decline_proposal(id, reason, actor).await;
            (tx, r)
        })
        .await
    }

    /// A maintainer approves a proposal (see [`WriteTx::approve_proposal`]).
    pub async fn approve_proposal(
        &self,
        id: &str,
        actor: &str,
    ) -> Result<(ProposalRow, Lease), StoreError> {
        self.write(|mut tx| async move {
            let r = tx.approve_proposal(id, actor).await;
            (tx, r)
        })
        .await
    }

    /// The sweep of proposals (see [`WriteTx::expire_proposals`]); when none is due, one read of
    /// two partial indexes and no write.
    pub async fn sweep_proposals(&self) -> Result<usize, StoreError> {
        if !checked_read!(self, proposals::due(super::now_ms()))? {
            return Ok(0);
        }
        self.write(|mut tx| async move {
            let r = tx.expire_proposals().await;
            (tx, r)
        })
        .await
    }
}

/// The distinct `artifact.disclosure.tool` of `artifacts` (JSON texts), most frequent first
/// (ties by name).
fn disclosed_tools(artifacts: impl Iterator<Item = String>) -> Vec<String> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for a in artifacts {
        let tool = serde_json::from_str::<serde_json::Value>(&a)
            .ok()
            .and_then(|v| v["disclosure"]["tool"].as_str().map(str::to_string));
        if let Some(tool) = tool {
            *counts.entry(tool).or_default() += 1;
        }
    }
    let mut tools: Vec<(String, usize)> = counts.into_iter().collect();
    tools.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    tools.into_iter().map(|(t, _)| t).collect()
}

/// An ended proposal, as its proposer is told of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedProposal {
    /// The proposer's GitHub login (none: an unlinked worker, told over the API only).
    pub login: Option<String>,
    pub state: ProposalState,
    /// A maintainer's reason for a decline.
    pub reason: Option<String>,
    /// An approved plan of a worker (not a person's comment claim): the worker's name, whose
    /// lease waits to be claimed and acknowledged within the accept window.
    pub worker: Option<String>,
}

/// The proposals `ids` as their proposers are told of their ends, in the order given (read in
/// the transaction that ended them).
pub async fn ended_proposals(
    conn: &mut crate::engine::tx_conn::TxConnection,
    ids: &[&str],
) -> Result<Vec<EndedProposal>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row = checked_in_tx!(conn, proposals::ended(id))?;
        if let Some((login, state, reason, worker_id, name, all_skills)) = row {
            let state = ProposalState::parse(&state).unwrap_or(ProposalState::Expired);
            // A person's own comment worker holds the issue as a comment claim; any other
            // holds a lease to acknowledge.
            let by_comment = crate::rows::claims_by_comment(&worker_id, all_skills != 0);
            out.push(EndedProposal {
                login,
                state,
                reason,
                worker: (state == ProposalState::Approved && !by_comment).then_some(name),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::live;
    use crate::domain::proposals::{MAX_OPEN_PER_PROPOSER, MAX_OPEN_PER_TASK};
    use crate::rule_texts::{function_in_force, same_text};

    /// The recheck of the proposals' limits counts open proposals as the insert does, against
    /// the same limits.
    #[test]
    fn the_proposals_trigger_rechecks_the_inserts_own_limits() {
        let body = same_text(&function_in_force("owp_proposals_limit"));
        let live = same_text(&live("p", "NEW.created_at"));
        assert_eq!(body.matches(&live).count(), 3, "{body}");
        let limits =
            format!("on_task >= {MAX_OPEN_PER_TASK} OR of_proposer >= {MAX_OPEN_PER_PROPOSER}");
        assert!(body.contains(&limits), "{body} does not say {limits}");
    }
}
