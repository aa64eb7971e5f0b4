//! The pool's figures as they are now, read in one go for a `/metrics` scrape: tasks by
//! repository and status, each repository's review budget, the workers and the last day's
//! leases. Exact whichever process (or replica) made the changes.

use super::budget_rule::budget_full_column;
use super::engine::checked::checked_read;
use super::{Store, StoreError, now_ms};

/// One repository's review budget and what counts against it.
pub struct RepoBudget {
    pub name: String,
    pub max_open_prs: i64,
    pub open_prs: i64,
    pub active_leases: i64,
    /// No new lease fits: rule 6's condition fails (`budget_rule`, as the claim reads it).
    pub throttled: bool,
}

/// What a scrape reports of the pool, read at scrape time.
pub struct PoolFigures {
    pub repos: Vec<RepoBudget>,
    /// `(repository, status, tasks)`; a missing pair has none.
    pub tasks: Vec<(String, String, i64)>,
    pub workers: i64,
    /// Workers seen within the heartbeat TTL.
    pub online: i64,
    pub capacity_online: i64,
    pub active_points: i64,
    /// Leases granted in the last 24 hours, and how many of them expired or were given back.
    pub leases_24h: i64,
    pub requeued_24h: i64,
}

/// The figures the metrics read from the database ([`Store::gauges`]).
pub struct Gauges<'s> {
    store: &'s Store,
}

impl Store {
    /// The view of the store named by [`Gauges`].
    pub fn gauges(&self) -> Gauges<'_> {
        Gauges { store: self }
    }
}

impl Gauges<'_> {
    /// Reads the pool's figures (four read-only statements: the repositories' on the read pool,
    /// as they read the budget rule's text, the others checked by the compiler).
    pub async fn pool(&self) -> Result<PoolFigures, StoreError> {
        let pool = self.store.read_pool();
        let now = now_ms();
        let repos: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(concat!(
            "SELECT name, max_open_prs, open_prs, active_leases, ",
            budget_full_column!(""),
            " FROM repos ORDER BY name"
        ))
        .fetch_all(pool)
        .await?;
        let tasks = checked_read!(self.store, gauges::tasks_by_status())?;
        let (workers, online, capacity_online, active_points) = checked_read!(
            self.store,
            gauges::workers(now - self.store.timing.heartbeat_ttl_ms)
        )?;
        let (leases_24h, requeued_24h) =
            checked_read!(self.store, gauges::leases_since(now - 86_400_000))?;
        Ok(PoolFigures {
            repos: repos
                .into_iter()
                .map(
                    |(name, max_open_prs, open_prs, active_leases, full)| RepoBudget {
                        name,
                        max_open_prs,
                        open_prs,
                        active_leases,
                        throttled: full != 0,
                    },
                )
                .collect(),
            tasks,
            workers,
            online,
            capacity_online,
            active_points,
            leases_24h,
            requeued_24h,
        })
    }

    /// The comments waiting in the GitHub outbox of the `top` installations with the most,
    /// most first, and how many wait for all the others together: a bounded set of labels
    /// however many installations the App has.
    pub async fn outbox_backlog_by_installation(
        &self,
        top: i64,
    ) -> Result<(Vec<(i64, i64)>, i64), StoreError> {
        let rows = checked_read!(self.store, gauges::outbox_top_installations(top))?;
        let total = checked_read!(self.store, gauges::outbox_pending())?;
        let shown: i64 = rows.iter().map(|r| r.1).sum();
        Ok((rows, (total - shown).max(0)))
    }
}
