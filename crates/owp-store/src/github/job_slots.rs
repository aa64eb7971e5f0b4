//! Scheduled jobs that must run once per slot across every process (`gh_job_runs`).

use crate::engine::checked::checked_write;
use crate::{Store, StoreError};

/// The scheduled jobs' slots, each run by one process ([`Store::job_slots`]).
pub struct JobSlots<'s> {
    store: &'s Store,
}

impl Store {
    /// The view of the store named by [`JobSlots`].
    pub fn job_slots(&self) -> JobSlots<'_> {
        JobSlots { store: self }
    }
}

impl JobSlots<'_> {
    /// Claims the run of scheduled job `name` for the instant `slot` (ms): true for exactly one
    /// caller per slot, in any number of processes sharing the database.
    pub async fn claim(&self, name: &str, slot: i64, runner: &str) -> Result<bool, StoreError> {
        let now = crate::now_ms();
        let n = checked_write!(self.store, upkeep::take_job_slot(name, slot, runner, now))?;
        Ok(n == 1)
    }

    /// Records how a job slot ended, and forgets slots older than a week.
    pub async fn finish(&self, name: &str, slot: i64, outcome: &str) -> Result<(), StoreError> {
        let now = crate::now_ms();
        checked_write!(
            self.store,
            upkeep::finish_job_slot(name, slot, now, outcome)
        )?;
        let before = now - 7 * 24 * 3_600_000;
        checked_write!(self.store, upkeep::sweep_job_runs(before))?;
        Ok(())
    }
}
