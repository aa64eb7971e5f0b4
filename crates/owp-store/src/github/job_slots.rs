//! Scheduled jobs that must run once per slot across every process (`gh_job_runs`).

use crate::engine::sqlite_writer::ExecuteWrite;
use crate::{Store, StoreError};

impl Store {
    /// Claims the run of scheduled job `name` for the instant `slot` (ms): true for exactly one
    /// caller per slot, in any number of processes sharing the database.
    pub async fn gh_claim_job_slot(
        &self,
        name: &str,
        slot: i64,
        runner: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO gh_job_runs (name, slot, runner, started_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name, slot) DO NOTHING",
        )
        .bind(name)
        .bind(slot)
        .bind(runner)
        .bind(crate::now_ms())
        .execute_write(self)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records how a job slot ended, and forgets slots older than a week.
    pub async fn gh_finish_job_slot(
        &self,
        name: &str,
        slot: i64,
        outcome: &str,
    ) -> Result<(), StoreError> {
        let now = crate::now_ms();
        sqlx::query(
            "UPDATE gh_job_runs SET finished_at = $1, outcome = $2 WHERE name = $3 AND slot = $4",
        )
        .bind(now)
        .bind(outcome)
        .bind(name)
        .bind(slot)
        .execute_write(self)
        .await?;
        sqlx::query("DELETE FROM gh_job_runs WHERE started_at < $1")
            .bind(now - 7 * 24 * 3_600_000)
            .execute_write(self)
            .await?;
        Ok(())
    }
}
