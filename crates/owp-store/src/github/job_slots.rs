//! Scheduled jobs that must run once per slot across every process (`gh_job_runs`).

use crate::engine::checked::checked_write;
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
        let now = crate::now_ms();
        let n = checked_write!(self, upkeep::take_job_slot(name, slot, runner, now))?;
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
        checked_write!(self, upkeep::finish_job_slot(name, slot, now, outcome))?;
        let before = now - 7 * 24 * 3_600_000;
        checked_write!(self, upkeep::sweep_job_runs(before))?;
        Ok(())
    }
}
