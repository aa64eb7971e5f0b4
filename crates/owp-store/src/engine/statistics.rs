//! PostgreSQL's planner statistics of the tables that grow in bursts, kept current.
//!
//! A statement the store runs often is prepared once per connection, and after a few runs
//! PostgreSQL keeps one generic plan for it, made from the statistics of the moment. A table
//! analyzed while it was nearly empty makes plans that walk every row for each probe once it is
//! not: the appliers' claim over an inbox that thousands of webhook deliveries filled within
//! seconds, or the comment sender's pick over an outbox that their status comments filled (an
//! anti-join of every due row with every pending one, 4 ms a claim instead of 0.3). Autovacuum
//! looks at a table at most once a minute, after the burst. So:
//!
//! - after an import, the importing process analyzes `tasks` once the rows it wrote since the
//!   last analysis are a tenth of the table ([`Store::after_bulk_change`]), before the claims
//!   that follow it;
//! - every process looks each second at the changes PostgreSQL counted in the inbox and the
//!   outbox since their last analysis, whoever made them (`sql/postgres/statistics/`), and
//!   analyzes a table once they are a tenth of it ([`Store::start_statistics`]).
//!
//! A new analysis makes every cached plan of the table's statements be planned again. On SQLite
//! nothing here runs: its plans are made per statement from the schema.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::checked::CheckedPool;
use super::sqlite_writer::ExecuteWrite;
use crate::Store;

/// Imports smaller than this never trigger an `ANALYZE`.
const ANALYZE_AFTER_ROWS: i64 = 1000;
/// Fewer changed rows than this never make the keeper analyze a table.
const KEEPER_AFTER_ROWS: i64 = 500;
/// How often the keeper looks.
const KEEPER_EVERY: Duration = Duration::from_secs(1);

impl Store {
    /// Keeps PostgreSQL's planner statistics of `tasks` current after large imports. The claim
    /// relies on walking the ready-queue index in offer order; with no statistics (a fresh
    /// database, or right after a large import, before autovacuum's next round) the planner may
    /// instead sort every ready task on each claim.
    pub(crate) async fn after_bulk_change(&self, rows: usize) {
        let CheckedPool::Postgres(pool) = &self.checked else {
            return;
        };
        if rows == 0 {
            return;
        }
        let counter = &self.signals.rows_since_analyze;
        let since = counter.fetch_add(rows as i64, Ordering::AcqRel) + rows as i64;
        if since < ANALYZE_AFTER_ROWS {
            return;
        }
        let analyzed = owp_sql_postgres::statistics::table_rows(pool, "tasks").await;
        if analyzed.is_ok_and(|n| (since as f64) * 10.0 >= n.max(0.0)) {
            counter.store(0, Ordering::Release);
            analyze(self, "tasks").await;
        }
    }

    /// Starts the keeper of the inbox's and the outbox's statistics (PostgreSQL; see the module
    /// docs). It ends when the store is closed.
    pub(crate) fn start_statistics(&self) {
        let CheckedPool::Postgres(pool) = &self.checked else {
            return;
        };
        let (store, pool) = (self.clone(), pool.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(KEEPER_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if store.write.is_closed() {
                    break;
                }
                let stale =
                    owp_sql_postgres::statistics::stale_tables(&pool, KEEPER_AFTER_ROWS).await;
                match stale {
                    Ok(tables) => {
                        for table in tables {
                            analyze(&store, &table).await;
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "cannot read the tables' statistics"),
                }
            }
        });
    }
}

/// `ANALYZE` of one of the tables named here.
async fn analyze(store: &Store, table: &str) {
    let statement = match table {
        "tasks" => "ANALYZE tasks",
        "gh_deliveries" => "ANALYZE gh_deliveries",
        "gh_outbox" => "ANALYZE gh_outbox",
        _ => return,
    };
    if let Err(e) = sqlx::query(statement).execute_write(store).await {
        tracing::debug!(error = %e, table, "ANALYZE failed");
    }
}
