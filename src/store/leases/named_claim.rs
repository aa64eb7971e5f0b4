//! A claim of one named task (`/owp claim` on GitHub): every rule is checked in Rust first, so
//! that a refusal names every rule that fails, and then the task is taken by the claim's own
//! statement ([`super::sqlite_batch`], [`super::postgres_statement`]) with `t.seq = N`
//! ([`Pick::Named`]): the rules that hold under concurrency are the same SQL as every claim's.

use sqlx::AssertSqlSafe;

use super::claim_rules::{self, Pick};
use crate::domain::rules::{self, RepoView, TaskView, WorkerView};
use crate::domain::{Lease, TaskStatus};
use crate::store::rows::WorkerRow;
use crate::store::{Backend, HOUR_MS, NACK_COOLDOWN_MS, StoreError, WriteTx};

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
        // The account age rule is read as the claim's own SQL condition, so that its refusal
        // is named beside the others (and an age GitHub did not give refuses here too).
        let (old_enough, min_days, created): (i64, i64, Option<i64>) =
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT CAST(CASE WHEN {} THEN 1 ELSE 0 END AS BIGINT), \
                   CAST(r.min_account_age_days AS BIGINT), {} FROM repos r WHERE r.id = $3",
                claim_rules::account_old_enough("$1", "$2"),
                claim_rules::account_created("$1"),
            )))
            .bind(worker_id)
            .bind(self.now - HOUR_MS)
            .bind(task.repo_id)
            .fetch_one(self.conn())
            .await?;
        if old_enough == 0 {
            refused.push(claim_rules::account_refusal(min_days, created));
        }
        if !refused.is_empty() {
            return Err(StoreError::Refused(refused));
        }
        // The rules said yes in this transaction: the claim's own statement takes the task, with
        // every rule again, now under the database's locks.
        let pick = Pick::Named(task.seq);
        let taken = match self.store().backend {
            Backend::Sqlite => self.claim_batched(&worker, pick).await,
            Backend::Postgres => self.claim_single(&worker, pick).await,
        };
        match taken {
            Ok(Some(lease)) => Ok(lease),
            // Only another transaction can have changed what the rules read (PostgreSQL): the
            // repository's last review slot, or the task itself.
            Ok(None) => match self.repo_by_name(&task.repo).await? {
                Some(now) if now.open_prs + now.active_leases >= now.max_open_prs => {
                    Err(StoreError::Refused(vec![rules::Refusal::BudgetFull {
                        open_prs: now.open_prs,
                        active_leases: now.active_leases,
                        max_open_prs: now.max_open_prs,
                    }]))
                }
                _ => Err(StoreError::conflict(
                    "task_not_ready",
                    "the task was taken by someone else a moment ago",
                )),
            },
            Err(e) => Err(e),
        }
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
