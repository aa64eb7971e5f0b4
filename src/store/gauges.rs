//! The pool's figures as they are now, read in one go for a `/metrics` scrape: tasks by
//! repository and status, each repository's review budget, the workers and the last day's
//! leases. Exact whichever process (or replica) made the changes.

use sqlx::AssertSqlSafe;

use super::budget_rule::budget_full_column;
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

/// A column's values capped for a sum, so that no stored value (a capacity of `i64::MAX`
/// registered before inputs were bounded) makes the sum overflow and the scrape fail.
fn capped(column: &str) -> String {
    const CAP: i64 = 1 << 32;
    format!("(CASE WHEN {column} > {CAP} THEN {CAP} WHEN {column} < 0 THEN 0 ELSE {column} END)")
}

impl Store {
    /// Reads the pool's figures (four read-only statements on the read pool).
    pub async fn pool_figures(&self) -> Result<PoolFigures, StoreError> {
        let pool = self.read_pool();
        let now = now_ms();
        let repos: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(concat!(
            "SELECT name, max_open_prs, open_prs, active_leases, ",
            budget_full_column!(""),
            " FROM repos ORDER BY name"
        ))
        .fetch_all(pool)
        .await?;
        let tasks: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT r.name, t.status, COUNT(*) FROM tasks t JOIN repos r ON r.id = t.repo_id \
             GROUP BY r.name, t.status",
        )
        .fetch_all(pool)
        .await?;
        let online_after = now - self.timing.heartbeat_ttl_ms;
        let (workers, online, capacity_online, active_points): (i64, i64, i64, i64) =
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT COUNT(*), \
                 CAST(COALESCE(SUM(CASE WHEN last_seen_at > $1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN last_seen_at > $1 THEN {capacity} ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM({active}), 0) AS BIGINT) \
                 FROM workers",
                capacity = capped("capacity_points"),
                active = capped("active_points"),
            )))
            .bind(online_after)
            .fetch_one(pool)
            .await?;
        let (leases_24h, requeued_24h): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), \
             CAST(COALESCE(SUM(CASE WHEN outcome IN ('expired', 'nacked') THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM leases WHERE created_at >= $1",
        )
        .bind(now - 86_400_000)
        .fetch_one(pool)
        .await?;
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
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT installation_id, COUNT(*) FROM gh_outbox WHERE state = 'pending' \
             GROUP BY installation_id ORDER BY COUNT(*) DESC, installation_id LIMIT $1",
        )
        .bind(top)
        .fetch_all(&self.read)
        .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM gh_outbox WHERE state = 'pending'")
                .fetch_one(&self.read)
                .await?;
        let shown: i64 = rows.iter().map(|r| r.1).sum();
        Ok((rows, (total - shown).max(0)))
    }
}
