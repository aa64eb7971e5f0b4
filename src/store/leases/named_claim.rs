//! A claim of one named task (`/owp claim` on GitHub): every rule is checked in Rust first, so
//! that a refusal says which rule failed, and then again by the conditional writes that take the
//! task, the review budget and the area.

use serde_json::json;
use sqlx::AssertSqlSafe;

use super::claim_rules::{budget_has_room, paths_free, requires_rule, trust_rule};
use crate::domain::rules::{self, RepoView, TaskView, WorkerView};
use crate::domain::{Lease, TaskStatus};
use crate::store::error::CLAIM_RACE;
use crate::store::rows::{TASK_SELECT, TaskRow, WorkerRow};
use crate::store::{Backend, NACK_COOLDOWN_MS, NewEvent, StoreError, WriteTx, new_id};

impl WriteTx {
    /// Claims one named task (a `/owp claim` comment): every rule is checked, and a refusal names
    /// every rule that failed.
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
        // Rule 7 with trust progression: the effective trust in this repository (the take below
        // checks it again in its own statement).
        let (progress, _) = self.trust_progress(worker_id, task.repo_id).await?;
        let view = WorkerView {
            trust_level: progress.effective(),
            ..worker_view(&worker, true)
        };
        let mut refused = rules::refusals(
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
        // Rules 8 and 9 of a ready task: what it waits on, what it requires.
        if task.status == TaskStatus::Ready {
            if !task.waiting_on.is_empty() {
                refused.push(rules::Refusal::Waiting {
                    on: task.waiting_on.clone(),
                });
            }
            let missing = rules::missing_capabilities(&worker.capabilities, &task.requires);
            if !missing.is_empty() {
                refused.push(rules::Refusal::MissingCapabilities(missing));
            }
            if !task.path_holds.is_empty() {
                refused.push(rules::Refusal::PathsHeld {
                    by: task.path_holds.clone(),
                });
            }
        }
        if !refused.is_empty() {
            return Err(StoreError::Refused(refused));
        }
        let cand = Candidate {
            seq: task.seq,
            repo_id: task.repo_id,
            estimate: task.estimate_points,
            area_locked: repo.area_locks_enabled && task.area.is_some(),
        };
        match self.take(&worker, &cand).await? {
            Taken::Yes(lease) => Ok(*lease),
            Taken::RepoFull => Err(StoreError::Refused(vec![rules::Refusal::BudgetFull {
                open_prs: repo.open_prs,
                active_leases: repo.active_leases,
                max_open_prs: repo.max_open_prs,
            }])),
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
            Err(e) if e.is_claim_recheck() => Err(StoreError::conflict(
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
             WHERE seq = {row} AND status = 'ready' AND waiting = 0 AND {trust} AND {requires} \
               AND {paths}",
            trust = trust_rule("tasks", "$1"),
            paths = paths_free("tasks"),
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
            expires_at: crate::store::format_ts(expires),
            accept_by: crate::store::format_ts(accept_by),
        })))
    }

    /// Counts one more active lease against the repository's review budget, if it has room.
    async fn take_budget(&mut self, repo_id: i64) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE repos SET active_leases = active_leases + 1 WHERE id = $1 AND {}",
            budget_has_room("")
        );
        let n = sqlx::query(AssertSqlSafe(sql))
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
