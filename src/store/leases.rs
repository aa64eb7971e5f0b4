//! Leases: the claim, ack/nack/renew, status moves, admin overrides and expiry.
//!
//! How the scheduling rules hold under concurrency (for any number of claims, in any number of
//! processes sharing the database):
//! - SQLite: every write transaction starts with `BEGIN IMMEDIATE`, so writers are serialised by
//!   the database file lock (across processes too) and each claim sees the previous one's result.
//! - PostgreSQL: a named claim (`/owp claim`, [`WriteTx::claim_task`]) locks the task it names,
//!   then the worker and the task's area lock entry, and takes the review budget last with a
//!   conditional `UPDATE repos` that row-locks the repository until commit, so that row (written
//!   by every claim and PR of the repository) stays locked only from that last write to the
//!   commit. Status moves lock task, worker, area, repository in the same order, so none waits
//!   on another in a cycle. A worker's own claims, acks and status moves run as one statement
//!   each ([`super::single`]); the claim there locks the worker, skips locked tasks and takes
//!   the repository row before the task's area, so a deadlock with a named claim (possible only
//!   over one area of one repository) ends one of the two, which runs again.
//! - On both, the writes themselves are conditional (`WHERE status = 'ready'`, `WHERE open_prs +
//!   active_leases < max_open_prs`, `WHERE active_points + $est <= capacity_points`), and the area
//!   lock is a partial UNIQUE index, so a rule can only be broken if the database itself is.

use serde_json::{Value, json};
use sqlx::AssertSqlSafe;

use super::batched::MovePlan;
use super::error::CLAIM_RACE;
use super::rows::{TASK_SELECT, TaskRow, WorkerRow};
use super::{Backend, NACK_COOLDOWN_MS, NewEvent, Store, StoreError, WriteTx, new_id};
use crate::domain::rules::{self, RepoView, TaskView, WorkerView};
use crate::domain::{Lease, TaskStatus};
use crate::domain::{RepoContract, disclosure, limits};

/// What ends a lease (recorded in `leases.outcome` and the audit log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseEnd {
    PrOpened,
    Nacked,
    Expired,
    Blocked,
    Released,
    Admin,
}

impl LeaseEnd {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            LeaseEnd::PrOpened => "pr_opened",
            LeaseEnd::Nacked => "nacked",
            LeaseEnd::Expired => "expired",
            LeaseEnd::Blocked => "blocked",
            LeaseEnd::Released => "released",
            LeaseEnd::Admin => "admin",
        }
    }
}

/// A requested move of a task (by its holder, an admin, GitHub or the expiry).
#[derive(Clone, Debug)]
pub struct Move {
    pub to: TaskStatus,
    pub reason: Option<String>,
    pub artifact: Option<Value>,
    pub note: Option<String>,
    pub bump_attempts: bool,
    pub lease_end: LeaseEnd,
    /// Whom a merge is recorded for (see [`CreditTo`]).
    pub credit: CreditTo,
}

/// Whom a move is recorded for: the audit event's `worker_id`, which reputation, promotion and
/// the leaderboard count (see `store::reputation`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CreditTo {
    /// The task's holder (every move but a merge of someone else's pull request).
    #[default]
    Holder,
    /// A merge of a pull request the holder did not author: the author's worker (or nobody)
    /// becomes the task's worker of record and is credited; the holder's claim ends without
    /// credit.
    Author(Option<String>),
}

impl Move {
    pub fn to(to: TaskStatus, lease_end: LeaseEnd) -> Move {
        Move {
            to,
            reason: None,
            artifact: None,
            note: None,
            bump_attempts: false,
            lease_end,
            credit: CreditTo::Holder,
        }
    }
}

/// The move a worker asks for from `from` (the rules of a worker's status update): which status
/// it reaches, with what artifact and note. A move to `in_progress` is an `ack` in disguise.
pub(super) fn worker_move(
    task: &TaskRow,
    to: TaskStatus,
    artifact: Option<Value>,
    note: Option<String>,
) -> Result<Move, StoreError> {
    let from = task.status;
    if !rules::worker_may_report(to) {
        return Err(StoreError::forbidden(
            "not_allowed",
            format!(
                "a worker cannot report `{to}`: only an admin or GitHub (the linked pull request \
                 merged) decide it"
            ),
        ));
    }
    let Some(target) = rules::worker_move(from, to) else {
        return Err(StoreError::conflict(
            "invalid_transition",
            format!("a worker cannot move a task from {from} to {to}"),
        ));
    };
    if target == TaskStatus::PrOpened {
        let has_url = artifact
            .as_ref()
            .and_then(|a| a.get("pr_url"))
            .and_then(Value::as_str)
            .is_some_and(|u| !u.trim().is_empty());
        if !has_url {
            return Err(StoreError::invalid(
                "missing_pr_url",
                "moving to pr_opened needs `artifact.pr_url`",
            ));
        }
    }
    limits::opt_free_text("note", note.as_deref(), limits::MAX_REASON_CHARS)?;
    let disclosure = RepoContract::stored_disclosure_policy(task.contract.as_deref());
    disclosure::check_report(
        artifact.as_ref(),
        disclosure,
        target == TaskStatus::PrOpened,
    )?;
    if let Some(a) = &artifact {
        limits::json("artifact", a, limits::MAX_ARTIFACT_BYTES)?;
        match a.get("pr_url") {
            None | Some(Value::Null) => {}
            Some(Value::String(url)) => match github_task_repo(task) {
                Some(repo) => limits::github_pr_url(repo, url)?,
                None => limits::pr_url(url)?,
            },
            Some(_) => {
                return Err(StoreError::invalid(
                    "invalid_pr_url",
                    "`artifact.pr_url` must be a string",
                ));
            }
        }
    }
    let blocked = target == TaskStatus::Blocked;
    Ok(Move {
        artifact,
        reason: if blocked { note.clone() } else { None },
        note,
        ..Move::to(
            target,
            if blocked {
                LeaseEnd::Blocked
            } else {
                LeaseEnd::PrOpened
            },
        )
    })
}

/// The repository of a GitHub task (one keyed `owner/name#N`, as the App keys issues), whose pull
/// requests live at `https://github.com/owner/name/pull/N`.
fn github_task_repo(task: &TaskRow) -> Option<&str> {
    let key = task.key.as_deref()?;
    let (repo, number) = key.rsplit_once('#')?;
    let (owner, name) = repo.split_once('/')?;
    let github = !owner.is_empty()
        && !name.is_empty()
        && !name.contains('/')
        && repo.eq_ignore_ascii_case(&task.repo)
        && number.parse::<u64>().is_ok();
    github.then_some(task.repo.as_str())
}

impl WriteTx {
    /// Locks a task row until commit (PostgreSQL) and reads it.
    ///
    /// Lock order, to keep PostgreSQL free of deadlocks: a worker row before the rows of the
    /// tasks it holds, and both before the repository row (claims, heartbeats, status moves and
    /// expiry all take them in this order). So the holder's row is locked first here.
    pub async fn lock_task(&mut self, task_id: &str) -> Result<TaskRow, StoreError> {
        if self.store().backend == Backend::Postgres {
            for _ in 0..3 {
                let holder: Option<Option<String>> =
                    sqlx::query_scalar("SELECT worker_id FROM tasks WHERE id = $1")
                        .bind(task_id)
                        .fetch_optional(self.conn())
                        .await?;
                let Some(holder) = holder else { break };
                if let Some(w) = &holder {
                    sqlx::query("SELECT id FROM workers WHERE id = $1 FOR UPDATE")
                        .bind(w)
                        .execute(self.conn())
                        .await?;
                }
                let locked: Option<String> =
                    sqlx::query_scalar("SELECT worker_id FROM tasks WHERE id = $1 FOR UPDATE")
                        .bind(task_id)
                        .fetch_one(self.conn())
                        .await?;
                if locked == holder {
                    break;
                }
            }
        }
        self.task(task_id).await
    }

    /// The claim: offers the best eligible task to `worker` (see the module docs and
    /// `domain::rules`). `None` when nothing is eligible now. One statement (batch) per backend:
    /// SQLite's in [`super::batched`], PostgreSQL's in [`super::single`].
    pub async fn claim(&mut self, seen: &WorkerRow) -> Result<Option<Lease>, StoreError> {
        match self.store().backend {
            Backend::Sqlite => self.claim_batched(seen).await,
            Backend::Postgres => self.claim_single(seen).await,
        }
    }

    /// Claims one named task (a `/owp claim` comment): every rule is checked, and a refusal says
    /// which rule failed.
    pub async fn claim_task(
        &mut self,
        worker_id: &str,
        task_id: &str,
    ) -> Result<Lease, StoreError> {
        let worker = self.worker(worker_id).await?;
        self.mark_seen(&worker).await?;
        let task = self.lock_task(task_id).await?;
        let repo = self
            .repo_by_name(&task.repo)
            .await?
            .ok_or_else(|| StoreError::not_found("repo_not_found", "unknown repo"))?;
        let area_held: i64 = match &task.area {
            Some(area) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM tasks WHERE repo_id = $1 AND area = $2 AND id <> $3 \
                 AND status IN ('leased', 'in_progress', 'pr_opened')",
                )
                .bind(task.repo_id)
                .bind(area)
                .bind(&task.id)
                .fetch_one(self.conn())
                .await?
            }
            None => 0,
        };
        let nacked: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM nacks WHERE task_seq = $1 AND worker_id = $2 AND at > $3",
        )
        .bind(task.seq)
        .bind(worker_id)
        .bind(self.now - NACK_COOLDOWN_MS)
        .fetch_one(self.conn())
        .await?;
        if task.status == TaskStatus::Ready && !task.waiting_on.is_empty() {
            return Err(StoreError::Refused(rules::Refusal::Waiting {
                on: task.waiting_on.clone(),
            }));
        }
        let missing = rules::missing_capabilities(&worker.capabilities, &task.requires);
        if task.status == TaskStatus::Ready && !missing.is_empty() {
            return Err(StoreError::Refused(rules::Refusal::MissingCapabilities(
                missing,
            )));
        }
        // Rule 7 with trust progression: the effective trust in this repository (the take below
        // checks it again in its own statement).
        let (progress, _) = self.trust_progress(worker_id, task.repo_id).await?;
        let view = WorkerView {
            trust_level: progress.effective(),
            ..worker_view(&worker, true)
        };
        let verdict = rules::check(
            &view,
            &TaskView {
                status: task.status,
                required_skills: task.required_skills.clone(),
                estimate_points: task.estimate_points,
                area: task.area.clone(),
                tier: task.tier,
                nacked_by_worker_recently: nacked > 0,
            },
            &RepoView {
                max_open_prs: repo.max_open_prs,
                open_prs: repo.open_prs,
                active_leases: repo.active_leases,
                area_locks_enabled: repo.area_locks_enabled,
                area_held_by_other: area_held > 0,
            },
        );
        if let Err(refusal) = verdict {
            return Err(StoreError::Refused(refusal));
        }
        let cand = Candidate {
            seq: task.seq,
            repo_id: task.repo_id,
            estimate: task.estimate_points,
            area_locked: repo.area_locks_enabled && task.area.is_some(),
        };
        match self.take(&worker, &cand).await? {
            Taken::Yes(lease) => Ok(*lease),
            Taken::RepoFull => Err(StoreError::Refused(rules::Refusal::BudgetFull {
                open_prs: repo.open_prs,
                active_leases: repo.active_leases,
                max_open_prs: repo.max_open_prs,
            })),
            Taken::Lost => Err(StoreError::conflict(
                "task_not_ready",
                "the task was taken by someone else a moment ago",
            )),
        }
    }

    /// Takes one candidate with conditional writes; a lost race leaves nothing behind.
    async fn take(&mut self, worker: &WorkerRow, c: &Candidate) -> Result<Taken, StoreError> {
        let pg = self.store().backend == Backend::Postgres;
        if pg {
            sqlx::query("SAVEPOINT owp_take")
                .execute(self.conn())
                .await?;
        }
        let outcome = self.try_take(worker, c).await;
        let undo = !matches!(outcome, Ok(Taken::Yes(_)));
        // A kept savepoint ends with the transaction; releasing it would cost a round trip while
        // the repository row is locked.
        if pg && undo {
            sqlx::query("ROLLBACK TO SAVEPOINT owp_take")
                .execute(self.conn())
                .await?;
        }
        match outcome {
            Err(e) if e.is_unique_violation() => Ok(Taken::Lost),
            // Another claim took the repository's last claim of the hour after this transaction
            // counted: the whole transaction runs again, and counts again.
            Err(e) if e.is_claim_cap() => Err(StoreError::conflict(
                CLAIM_RACE,
                "another claim took the repository's last claim of the hour first",
            )),
            other => other,
        }
    }

    async fn try_take(&mut self, worker: &WorkerRow, c: &Candidate) -> Result<Taken, StoreError> {
        let timing = self.store().timing.clone();
        let lease_id = new_id("l");
        let now = self.now;
        let accept_by = now + timing.accept_ttl_ms;
        let expires = now + timing.lease_ttl_ms;
        let deadline = accept_by.min(expires);
        // The review budget is the one row every claim of a repository writes. On SQLite it is
        // taken first (a failed conditional write costs nothing to undo; writers are serialised
        // anyway). On PostgreSQL it is taken last, so the row stays locked only from this write
        // to the commit, and a failure rolls back to the savepoint of `take`.
        let pg = self.store().backend == Backend::Postgres;
        if !pg && !self.take_budget(c.repo_id).await? {
            return Ok(Taken::RepoFull);
        }
        // On PostgreSQL the task row is locked here, and one that another transaction holds is
        // skipped, not waited for: that claim is taking it (or a move is ending it).
        let row = if pg {
            "(SELECT seq FROM tasks WHERE seq = $9 AND status = 'ready' FOR UPDATE SKIP LOCKED)"
        } else {
            "$9"
        };
        let sql = format!(
            "UPDATE tasks SET status = 'leased', worker_id = $1, lease_id = $2, lease_points = $3, \
             accept_by = $4, lease_expires_at = $5, deadline = $6, status_reason = NULL, \
             area_lock = CASE WHEN $7 = 1 THEN area ELSE NULL END, updated_at = $8 \
             WHERE seq = {row} AND status = 'ready' AND waiting = 0 {trust} AND {requires}",
            trust = trust_rule("tasks", "$1"),
            requires = requires_rule(self.store().backend, "tasks", "$1"),
        );
        let took = sqlx::query(AssertSqlSafe(sql))
            .bind(&worker.id)
            .bind(&lease_id)
            .bind(c.estimate)
            .bind(accept_by)
            .bind(expires)
            .bind(deadline)
            .bind(i64::from(c.area_locked))
            .bind(now)
            .bind(c.seq)
            .execute(self.conn())
            .await?
            .rows_affected();
        if took == 0 {
            if !pg {
                self.undo_budget(c.repo_id).await?;
            }
            return Ok(Taken::Lost);
        }
        let fits = sqlx::query(
            "UPDATE workers SET active_points = active_points + $1, active_tasks = active_tasks + 1 \
             WHERE id = $2 AND active_points + $1 <= capacity_points \
               AND active_tasks < max_concurrent_tasks",
        )
        .bind(c.estimate)
        .bind(&worker.id)
        .execute(self.conn())
        .await?
        .rows_affected();
        if fits == 0 {
            // Only reachable if the worker row changed under us; put everything back.
            sqlx::query(
                "UPDATE tasks SET status = 'ready', worker_id = NULL, lease_id = NULL, \
                 lease_points = NULL, accept_by = NULL, lease_expires_at = NULL, deadline = NULL, \
                 area_lock = NULL WHERE seq = $1",
            )
            .bind(c.seq)
            .execute(self.conn())
            .await?;
            if !pg {
                self.undo_budget(c.repo_id).await?;
            }
            return Ok(Taken::Lost);
        }
        sqlx::query(
            "INSERT INTO leases (id, task_seq, worker_id, created_at, repo_id) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&lease_id)
        .bind(c.seq)
        .bind(&worker.id)
        .bind(now)
        .bind(c.repo_id)
        .execute(self.conn())
        .await?;
        let task = self.task_by_seq(c.seq).await?;
        if pg && !self.take_budget(c.repo_id).await? {
            return Ok(Taken::RepoFull);
        }
        self.event(
            NewEvent::new("task.leased", format!("worker:{}", worker.id))
                .repo(&task.repo)
                .task(&task.id)
                .worker(Some(&worker.id))
                .data(json!({"lease_id": lease_id, "status": "leased"})),
        );
        Ok(Taken::Yes(Box::new(Lease {
            lease_id,
            task: task.to_holder_api(),
            expires_at: super::format_ts(expires),
            accept_by: super::format_ts(accept_by),
        })))
    }

    /// Counts one more active lease against the repository's review budget, if it has room.
    async fn take_budget(&mut self, repo_id: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE repos SET active_leases = active_leases + 1 \
             WHERE id = $1 AND open_prs + active_leases < max_open_prs",
        )
        .bind(repo_id)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    async fn undo_budget(&mut self, repo_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE repos SET active_leases = active_leases - 1 WHERE id = $1")
            .bind(repo_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    async fn task_by_seq(&mut self, seq: i64) -> Result<TaskRow, StoreError> {
        let sql = format!("{TASK_SELECT} WHERE t.seq = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(seq)
            .fetch_one(self.conn())
            .await?;
        TaskRow::decode(&row)
    }

    /// Finds the task of a lease that `worker_id` holds right now. An ended lease is a 409, another
    /// worker's lease a 403, an unknown one a 404. A lease past its deadline is expired here, so a
    /// late request never sees it as alive.
    pub async fn held_lease(
        &mut self,
        worker_id: &str,
        lease_id: &str,
    ) -> Result<TaskRow, StoreError> {
        let holder: Option<(String, String, Option<i64>)> = sqlx::query_as(
            "SELECT t.id, l.worker_id, l.ended_at FROM leases l JOIN tasks t ON t.seq = l.task_seq \
             WHERE l.id = $1",
        )
        .bind(lease_id)
        .fetch_optional(self.conn())
        .await?;
        let Some((id, holder, ended)) = holder else {
            return Err(StoreError::not_found(
                "lease_not_found",
                format!("unknown lease `{lease_id}`"),
            ));
        };
        if holder != worker_id {
            return Err(StoreError::forbidden(
                "not_lease_holder",
                "this lease belongs to another worker",
            ));
        }
        if ended.is_some() {
            return Err(lease_ended());
        }
        let task = self.lock_task(&id).await?;
        if task.lease_id.as_deref() != Some(lease_id) || !task.status.is_active() {
            return Err(lease_ended());
        }
        if task.deadline.is_some_and(|d| d <= self.now) {
            self.expire(&task).await?;
            return Err(StoreError::conflict(
                "lease_expired",
                "the lease expired before this request; the task went back to the queue",
            ));
        }
        Ok(task)
    }

    /// `ack`: the worker accepts its lease; the task is `in_progress` and the lease lives a full
    /// TTL from now. Acknowledging an acknowledged lease changes nothing.
    pub async fn ack(&mut self, worker_id: &str, lease_id: &str) -> Result<TaskRow, StoreError> {
        if self.store().backend == Backend::Sqlite {
            return self.ack_batched(worker_id, lease_id).await;
        }
        self.ack_general(worker_id, lease_id).await
    }

    /// `ack` on any backend, for every case (see [`WriteTx::ack`]).
    pub(super) async fn ack_general(
        &mut self,
        worker_id: &str,
        lease_id: &str,
    ) -> Result<TaskRow, StoreError> {
        let task = self.held_lease(worker_id, lease_id).await?;
        self.start_work(&task, worker_id).await
    }

    async fn start_work(&mut self, task: &TaskRow, worker_id: &str) -> Result<TaskRow, StoreError> {
        if task.status == TaskStatus::InProgress {
            return Ok(task.clone());
        }
        let expires = self.now + self.store().timing.lease_ttl_ms;
        sqlx::query(
            "UPDATE tasks SET status = 'in_progress', accept_by = NULL, lease_expires_at = $1, \
             deadline = $1, updated_at = $2 WHERE seq = $3 AND status = 'leased'",
        )
        .bind(expires)
        .bind(self.now)
        .bind(task.seq)
        .execute(self.conn())
        .await?;
        sqlx::query("UPDATE leases SET acked_at = $1 WHERE id = $2")
            .bind(self.now)
            .bind(task.lease_id.clone())
            .execute(self.conn())
            .await?;
        self.event(
            NewEvent::new("task.status", format!("worker:{worker_id}"))
                .repo(&task.repo)
                .task(&task.id)
                .worker(Some(worker_id))
                .data(
                    json!({"from": "leased", "status": "in_progress", "lease_id": task.lease_id}),
                ),
        );
        self.task(&task.id).await
    }

    /// `nack`: the worker gives the task back; it is not offered to this worker for an hour.
    pub async fn nack(
        &mut self,
        worker_id: &str,
        lease_id: &str,
        reason: Option<String>,
    ) -> Result<TaskRow, StoreError> {
        let task = self.held_lease(worker_id, lease_id).await?;
        sqlx::query(
            "INSERT INTO nacks (task_seq, worker_id, at) VALUES ($1, $2, $3) \
             ON CONFLICT (task_seq, worker_id) DO UPDATE SET at = $3",
        )
        .bind(task.seq)
        .bind(worker_id)
        .bind(self.now)
        .execute(self.conn())
        .await?;
        let mv = Move {
            note: reason,
            ..Move::to(TaskStatus::Ready, LeaseEnd::Nacked)
        };
        self.apply_move(&task, &mv, &format!("worker:{worker_id}"))
            .await
    }

    /// `renew`: extends the lease by its TTL.
    pub async fn renew(&mut self, worker_id: &str, lease_id: &str) -> Result<TaskRow, StoreError> {
        let task = self.held_lease(worker_id, lease_id).await?;
        self.renew_worker_leases(worker_id, Some(lease_id)).await?;
        self.event(
            NewEvent::new("lease.renewed", format!("worker:{worker_id}"))
                .repo(&task.repo)
                .task(&task.id)
                .worker(Some(worker_id))
                .data(json!({"lease_id": lease_id})),
        );
        self.task(&task.id).await
    }

    /// A status move requested by the worker holding the task.
    pub async fn worker_status(
        &mut self,
        worker_id: &str,
        task_id: &str,
        to: TaskStatus,
        artifact: Option<Value>,
        note: Option<String>,
    ) -> Result<TaskRow, StoreError> {
        let (task, alive) = if self.store().backend == Backend::Sqlite {
            self.read_for_move(worker_id, task_id).await?
        } else {
            (self.lock_task(task_id).await?, false)
        };
        if task.worker_id.as_deref() != Some(worker_id) {
            return Err(StoreError::forbidden(
                "not_lease_holder",
                "this task is not held by you",
            ));
        }
        if task.status.is_active() && !alive {
            // Confirms the lease is alive (and expires it if its deadline passed).
            let lease_id = task.lease_id.clone().unwrap_or_default();
            self.held_lease(worker_id, &lease_id).await?;
        }
        let mv = worker_move(&task, to, artifact, note)?;
        if mv.to == TaskStatus::InProgress {
            return self.start_work(&task, worker_id).await;
        }
        let actor = format!("worker:{worker_id}");
        if self.store().backend == Backend::Sqlite {
            // The task was read in this transaction, which holds SQLite's write lock: the move
            // cannot find it changed, so it may commit in the same round trip.
            let plan = MovePlan::new(&task, &mv);
            return self
                .apply_move_batched(&task, &mv, &plan, &actor, true)
                .await;
        }
        self.apply_move(&task, &mv, &actor).await
    }

    /// An admin forces a status (`ready`, `blocked`, `merged`, …). Leases are never forced.
    pub async fn admin_status(
        &mut self,
        task_id: &str,
        to: TaskStatus,
        reason: Option<String>,
        actor: &str,
    ) -> Result<TaskRow, StoreError> {
        if !rules::admin_may_force(to) {
            return Err(StoreError::invalid(
                "invalid_status",
                format!("`{to}` cannot be forced: leases are only granted by claims"),
            ));
        }
        let task = self.lock_task(task_id).await?;
        if task.status == to {
            return Ok(task);
        }
        let mv = Move {
            reason,
            ..Move::to(to, LeaseEnd::Admin)
        };
        self.apply_move(&task, &mv, actor).await
    }

    /// Moves a task, keeping every counter (repo budget, worker load, area lock, lease record) in
    /// step, and logs it. The only place a task leaves `leased`/`in_progress`/`pr_opened`.
    pub async fn apply_move(
        &mut self,
        task: &TaskRow,
        mv: &Move,
        actor: &str,
    ) -> Result<TaskRow, StoreError> {
        debug_assert!(!mv.to.is_active(), "leases are only granted by claims");
        let plan = MovePlan::new(task, mv);
        if self.store().backend == Backend::Sqlite {
            return self.apply_move_batched(task, mv, &plan, actor, false).await;
        }
        let from = task.status;
        let to = mv.to;
        let leaving_lease = plan.leaving_lease;
        let artifact = plan.artifact.clone();
        // Lock order (PostgreSQL): the task row (callers lock it), the worker, the task's area lock
        // entry, and the repository last. A claim takes the worker, its task and area, and the
        // repository last too, so no two transactions wait on each other in a cycle: whoever
        // holds a repository row only appends its events and commits. Taking the repository last
        // also keeps its row (the one every claim and PR of the repository writes) locked for
        // the shortest time. If the task changed under us, the error rolls everything back.
        if leaving_lease && let Some(holder) = &task.worker_id {
            sqlx::query(
                "UPDATE workers SET active_points = active_points - $1, \
                 active_tasks = active_tasks - 1 WHERE id = $2",
            )
            .bind(task_lease_points(task))
            .bind(holder)
            .execute(self.conn())
            .await?;
            sqlx::query("UPDATE leases SET ended_at = $1, outcome = $2 WHERE id = $3")
                .bind(self.now)
                .bind(mv.lease_end.as_str())
                .bind(task.lease_id.clone())
                .execute(self.conn())
                .await?;
        }
        let changed = sqlx::query(AssertSqlSafe(format!(
            "UPDATE tasks SET status = $1, status_reason = $2, artifact = $3, \
             attempts = attempts + $4, deadline = NULL, accept_by = NULL, lease_expires_at = NULL, \
             lease_points = NULL, {holder} \
             area_lock = CASE WHEN $5 = 1 THEN area_lock ELSE NULL END, updated_at = $6, \
             awaits_maintainer = $9 \
             WHERE seq = $7 AND status = $8",
            holder = plan.holder_sql("$10")
        )))
        .bind(to.as_str())
        .bind(mv.reason.clone())
        .bind(artifact.as_ref().map(Value::to_string))
        .bind(i64::from(mv.bump_attempts))
        .bind(i64::from(to.holds_area()))
        .bind(self.now)
        .bind(task.seq)
        .bind(from.as_str())
        .bind(i64::from(plan.awaits_maintainer))
        .bind(plan.recorded_worker.clone())
        .execute(self.conn())
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::conflict(
                "concurrent_change",
                "the task changed while this request was processed; retry",
            ));
        }
        self.event(
            NewEvent::new(plan.kind, actor)
                .repo(&task.repo)
                .task(&task.id)
                .worker(plan.recorded_worker.as_deref())
                .data(plan.data.clone()),
        );
        let moved = self.task(&task.id).await?;
        let (active_delta, pr_delta) = (plan.active_delta, plan.pr_delta);
        if active_delta != 0 || pr_delta != 0 {
            sqlx::query(
                "UPDATE repos SET active_leases = active_leases + $1, open_prs = open_prs + $2 \
                 WHERE id = $3",
            )
            .bind(active_delta)
            .bind(pr_delta)
            .bind(task.repo_id)
            .execute(self.conn())
            .await?;
        }
        Ok(moved)
    }

    /// Ends an expired lease: the task is requeued with `attempts + 1`, or blocked once it has
    /// failed `max_attempts` times.
    pub async fn expire(&mut self, task: &TaskRow) -> Result<TaskRow, StoreError> {
        let attempts = task.attempts + 1;
        let to = rules::after_expiry(attempts, self.store().timing.max_attempts);
        let mv = Move {
            bump_attempts: true,
            reason: (to == TaskStatus::Blocked).then(|| {
                format!(
                    "leases expired {attempts} times without progress; a maintainer must unblock it"
                )
            }),
            ..Move::to(to, LeaseEnd::Expired)
        };
        self.apply_move(task, &mv, "system").await
    }
}

/// The points a task's lease counts against its holder.
pub(super) fn task_lease_points(task: &TaskRow) -> i64 {
    task.lease_points.unwrap_or(task.estimate_points)
}

fn lease_ended() -> StoreError {
    StoreError::conflict(
        "lease_not_held",
        "this lease has ended and is no longer held",
    )
}

/// The window of a repository's hourly claim cap (the trigger of migration 0021 counts the same hour).
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// Rules 5–8 of a candidate `t` in repository `r`: nothing it depends on still holds it (its
/// `waiting` count, kept by the triggers of migration 0020, is 0), the
/// review budget has room, the area is not held, the worker (parameter `worker`) did not nack it
/// since `since`, and its tier is within the worker's effective trust ([`trust_rule`]); and the
/// repository's hourly claim cap (`pr_hourly_limit`), if it has one, counting leases granted
/// after `hour`.
pub(super) fn repo_rules(backend: Backend, worker: &str, since: &str, hour: &str) -> String {
    let requires = requires_rule(backend, "t", worker);
    format!(
        "AND t.waiting = 0 \
         AND r.open_prs + r.active_leases < r.max_open_prs \
         AND (r.claims_per_hour IS NULL OR r.claims_per_hour > (SELECT COUNT(*) FROM leases hl \
               WHERE hl.repo_id = r.id AND hl.created_at > {hour})) \
         AND (t.area IS NULL OR r.area_locks_enabled = 0 OR NOT EXISTS ( \
               SELECT 1 FROM tasks h WHERE h.repo_id = t.repo_id AND h.area = t.area \
                 AND h.status IN ('leased', 'in_progress', 'pr_opened'))) \
         AND NOT EXISTS (SELECT 1 FROM nacks n WHERE n.task_seq = t.seq \
               AND n.worker_id = {worker} AND n.at > {since}) {trust} AND {requires}",
        trust = trust_rule("t", worker)
    )
}

/// Rule 9: the worker (parameter `worker`) holds every capability that task `task` (an alias of
/// `tasks`) requires, with an equal value (numbers by value; `true` is not `1` nor `"true"`).
pub(super) fn requires_rule(backend: Backend, task: &str, worker: &str) -> String {
    match backend {
        Backend::Postgres => format!(
            "({task}.requires = '{{}}' OR CAST((SELECT cw.capabilities FROM workers cw \
               WHERE cw.id = {worker}) AS jsonb) @> CAST({task}.requires AS jsonb))"
        ),
        Backend::Sqlite => format!(
            "({task}.requires = '{{}}' OR NOT EXISTS (SELECT 1 FROM json_each({task}.requires) rq \
               WHERE NOT EXISTS (SELECT 1 FROM workers cw, json_each(cw.capabilities) cc \
                 WHERE cw.id = {worker} AND cc.key = rq.key AND cc.atom = rq.atom \
                   AND (cc.type = rq.type OR (cc.type IN ('integer', 'real') \
                     AND rq.type IN ('integer', 'real'))))))"
        ),
    }
}

/// Rule 7 with trust progression: task `task` (an alias of `tasks`) is at most the effective
/// trust of the worker (parameter `worker`) in the task's repository — the larger of its
/// `trust_level` and the highest level a promotion rule of the repository grants it (when it
/// opted in to reputation) for the merges counted in `outcomes`. Read in the statement that takes
/// the task, so two claims never see a trust the database does not hold.
pub(super) fn trust_rule(task: &str, worker: &str) -> String {
    format!(
        "AND ({task}.tier <= (SELECT tw.trust_level FROM workers tw WHERE tw.id = {worker}) \
           OR EXISTS (SELECT 1 FROM repo_promotions p JOIN workers pw ON pw.id = {worker} \
             WHERE p.repo_id = {task}.repo_id AND p.level >= {task}.tier \
               AND pw.reputation_opt_in = 1 \
               AND p.merged <= (SELECT COUNT(*) FROM outcomes o WHERE o.worker_id = {worker} \
                 AND o.repo_id = {task}.repo_id AND o.kind = 'merged')))"
    )
}

/// Rule 3 as SQL on the task `t`: every skill of the task is one of the worker's, which come as
/// one JSON array parameter (`param`), so the statement's text does not depend on how many skills
/// the worker has; for a specialist, also at least one. Empty when the worker takes every skill.
pub(super) fn skill_rule(backend: Backend, worker: &WorkerRow, param: &str) -> String {
    if worker.all_skills {
        return String::new();
    }
    let skills = match backend {
        Backend::Sqlite => format!("SELECT value FROM json_each({param})"),
        Backend::Postgres => format!("SELECT jsonb_array_elements_text(CAST({param} AS jsonb))"),
    };
    let mut rule = format!(
        " AND t.skill_set_id IN (SELECT s.id FROM skill_sets s WHERE NOT EXISTS \
           (SELECT 1 FROM skill_set_members m WHERE m.skill_set_id = s.id \
            AND m.skill NOT IN ({skills})))"
    );
    if worker.specialist {
        // A specialist is offered only tasks that require at least one of its skills (a claim
        // by name, `/owp claim`, is a person's own pick and is not limited so).
        rule.push_str(&format!(
            " AND t.skill_set_id IN (SELECT o.skill_set_id FROM skill_set_members o \
               WHERE o.skill IN ({skills}))"
        ));
    }
    rule
}

fn worker_view(w: &WorkerRow, online: bool) -> WorkerView {
    WorkerView {
        online,
        paused: w.paused,
        skills: w.skills.clone(),
        all_skills: w.all_skills,
        capacity_points: w.capacity_points,
        active_points: w.active_points,
        max_concurrent_tasks: w.max_concurrent_tasks,
        active_tasks: w.active_tasks,
        trust_level: w.trust_level,
    }
}

struct Candidate {
    seq: i64,
    repo_id: i64,
    estimate: i64,
    area_locked: bool,
}

enum Taken {
    Yes(Box<Lease>),
    RepoFull,
    Lost,
}

impl Store {
    /// Expires every lease whose deadline has passed, before a request reads or claims: it
    /// waits for a due lease that another transaction holds (a sweep of this or another process
    /// that is still committing its expiry), so that what the request then reads already shows
    /// the lease ended. Cheap when none is due: one indexed read.
    pub async fn expire_due(&self) -> Result<usize, StoreError> {
        self.expire_due_leases(true).await
    }

    /// The background sweep's [`Store::expire_due`]: a due lease another transaction holds is
    /// skipped (that transaction settles it, and the next sweep looks again), so sweeps of
    /// several processes never wait for each other.
    pub async fn sweep_expired(&self) -> Result<usize, StoreError> {
        self.expire_due_leases(false).await
    }

    async fn expire_due_leases(&self, wait_for_held: bool) -> Result<usize, StoreError> {
        use std::sync::atomic::Ordering::Relaxed;
        let now = super::now_ms();
        if now < self.expiry_quiet_until.load(Relaxed) {
            return Ok(0);
        }
        let next: Option<i64> =
            sqlx::query_scalar("SELECT MIN(deadline) FROM tasks WHERE deadline IS NOT NULL")
                .fetch_one(&self.read)
                .await?;
        if next.is_none_or(|d| d > now) {
            // Nothing is due. No lease can fall due before the earliest deadline seen, nor before
            // a lease granted from now on could end (at least the shorter TTL later; 5 s are kept
            // for transactions that began before this read and commit after it). Until then this
            // check costs nothing.
            let ttl = self.timing.accept_ttl_ms.min(self.timing.lease_ttl_ms);
            if ttl >= 10_000 {
                let until = next.unwrap_or(i64::MAX).min(now + ttl - 5_000);
                self.expiry_quiet_until.store(until, Relaxed);
            }
            return Ok(0);
        }
        let due: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM tasks WHERE deadline IS NOT NULL AND deadline <= $1 \
             ORDER BY deadline LIMIT 200",
        )
        .bind(now)
        .fetch_all(&self.read)
        .await?;
        if due.is_empty() {
            return Ok(0);
        }
        // One transaction per lease: a transaction that holds a repository row must not go on to
        // wait for another worker (see the lock order in `apply_move`). Each begins by locking
        // its task, holding nothing else, so waiting there cannot close a cycle. A request waits
        // for a row another transaction holds (whose commit may be what expires it: the lock
        // then finds the row no longer due); the sweep skips it.
        let lock = match (self.backend, wait_for_held) {
            (Backend::Postgres, true) => " FOR UPDATE",
            (Backend::Postgres, false) => " FOR UPDATE SKIP LOCKED",
            (Backend::Sqlite, _) => "",
        };
        let sql = format!(
            "SELECT id FROM tasks WHERE id = $1 AND deadline IS NOT NULL AND deadline <= $2{lock}"
        );
        let mut n = 0;
        for (id,) in &due {
            let expired = self
                .write(|mut tx| {
                    let sql = sql.clone();
                    async move {
                        let r = async {
                            let due: Option<(String,)> = sqlx::query_as(AssertSqlSafe(sql))
                                .bind(id)
                                .bind(tx.now)
                                .fetch_optional(tx.conn())
                                .await?;
                            if due.is_none() {
                                return Ok(false);
                            }
                            let task = tx.task(id).await?;
                            if !task.status.is_active() || task.deadline.is_none_or(|d| d > tx.now)
                            {
                                return Ok(false);
                            }
                            tx.expire(&task).await?;
                            Ok(true)
                        }
                        .await;
                        (tx, r)
                    }
                })
                .await?;
            n += usize::from(expired);
        }
        Ok(n)
    }

    /// The earliest lease deadline, if any lease is alive.
    pub async fn next_deadline(&self) -> Result<Option<i64>, StoreError> {
        let d: Option<i64> =
            sqlx::query_scalar("SELECT MIN(deadline) FROM tasks WHERE deadline IS NOT NULL")
                .fetch_one(&self.read)
                .await?;
        Ok(d)
    }

    /// The live leases of a worker.
    pub async fn worker_leases(&self, worker_id: &str) -> Result<Vec<Lease>, StoreError> {
        let sql = format!(
            "{TASK_SELECT} WHERE t.worker_id = $1 AND t.status IN ('leased', 'in_progress') ORDER BY t.seq"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(worker_id)
            .fetch_all(&self.read)
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let t = TaskRow::decode(&r)?;
            out.push(Lease {
                lease_id: t.lease_id.clone().unwrap_or_default(),
                expires_at: super::format_ts(t.lease_expires_at.unwrap_or_default()),
                accept_by: super::format_ts(t.accept_by.or(t.lease_expires_at).unwrap_or_default()),
                task: t.to_holder_api(),
            });
        }
        Ok(out)
    }
}
