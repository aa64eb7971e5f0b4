//! PostgreSQL's own account of a run: the shared buffers and WAL of each statement over the
//! measured windows (`pg_stat_statements`), and the dead row versions of the hot tables
//! (`pg_stat_user_tables`) from the start of the claim loop to its end.
//!
//! `pg_stat_statements` counts only where the server loads it (`shared_preload_libraries`); the
//! run creates the extension in its scratch database and, where the server does not load it,
//! says so and goes on without the figures. Its counters are reset for the run's database alone
//! when the measured windows begin.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// The tables every claim, ack, move or refill writes.
pub(super) const HOT_TABLES: [&str; 6] = [
    "tasks",
    "task_queue",
    "leases",
    "workers",
    "repos",
    "task_paths",
];

/// How often the dead row versions are read during the claim loop.
const DEAD_SAMPLE_EVERY: Duration = Duration::from_secs(2);

/// Statements listed on the standard error after each measurement, the largest readers first.
const TOP_STATEMENTS: usize = 6;

/// A connection to the run's database for its statistics.
#[derive(Clone)]
pub(super) struct PgStats {
    pool: PgPool,
}

impl PgStats {
    pub(super) async fn connect(url: &str) -> anyhow::Result<PgStats> {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(60))
            .connect(url)
            .await?;
        Ok(PgStats { pool })
    }

    /// Creates `pg_stat_statements` in the run's database; `Err` says why its figures cannot be
    /// read (the server does not load the library, or the extension is not installed).
    pub(super) async fn enable_statements(&self) -> Result<(), String> {
        let created = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(&self.pool)
            .await;
        if let Err(e) = created {
            return Err(format!(
                "cannot create the extension pg_stat_statements: {e}"
            ));
        }
        match sqlx::query("SELECT 1 FROM pg_stat_statements LIMIT 1")
            .fetch_optional(&self.pool)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(format!(
                "{e} (add pg_stat_statements to shared_preload_libraries and restart the server \
                 to measure the shared buffers per claim)"
            )),
        }
    }

    /// Forgets every statement of the run's database counted so far.
    pub(super) async fn reset_statements(&self) -> anyhow::Result<()> {
        sqlx::query(
            "SELECT pg_stat_statements_reset(0, \
               (SELECT oid FROM pg_database WHERE datname = current_database()), 0)",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The statements of the run's database counted since the last reset.
    pub(super) async fn statements(&self) -> anyhow::Result<Vec<PerCall>> {
        let rows: Vec<(String, i64, i64, f64, f64)> = sqlx::query_as(
            "SELECT query, calls, shared_blks_hit + shared_blks_read, total_exec_time, \
               CAST(wal_bytes AS float8) \
             FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(query, calls, buffers, exec_ms, wal_bytes)| PerCall {
                query,
                calls,
                buffers: buffers as f64,
                exec_ms,
                wal_bytes,
            })
            .collect())
    }

    /// The dead row versions of each hot table, and how often it has been vacuumed so far.
    async fn dead_tuples(&self) -> anyhow::Result<Vec<(String, i64, i64)>> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT relname::text, n_dead_tup, vacuum_count + autovacuum_count \
             FROM pg_stat_user_tables WHERE relname = ANY($1) ORDER BY relname",
        )
        .bind(HOT_TABLES.to_vec())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Whether the server runs autovacuum (without it, dead row versions only grow).
    pub(super) async fn autovacuum(&self) -> Option<bool> {
        let v: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
            .fetch_one(&self.pool)
            .await
            .ok()?;
        Some(v == "on")
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

/// One statement's figures: its totals as `pg_stat_statements` counted them, or per call
/// (with its text shortened, see [`per_call`]).
#[derive(serde::Serialize, Clone, Debug, PartialEq)]
pub(super) struct PerCall {
    pub(super) query: String,
    pub(super) calls: i64,
    /// Shared buffers hit or read.
    pub(super) buffers: f64,
    pub(super) exec_ms: f64,
    pub(super) wal_bytes: f64,
}

/// What the database's statements did over the measured windows.
#[derive(serde::Serialize, Clone, Debug, PartialEq)]
pub(super) struct StatementUse {
    /// The claim statement (the statement that inserts the lease row), per call; `None` where no
    /// statement of the run did.
    pub(super) claim: Option<PerCall>,
    /// The claim statement's shared buffers per claim answered (one statement takes the claims
    /// that arrive together); `None` without a claim statement or without claims.
    pub(super) claim_buffers_per_claim: Option<f64>,
    /// Every statement of the run's database (the servers', the refill's), per claim (or per
    /// bare cycle); `None` when no claim was answered in the windows.
    pub(super) buffers_per_claim: Option<f64>,
    pub(super) wal_bytes_per_claim: Option<f64>,
    /// The largest readers of shared buffers, per call.
    pub(super) top: Vec<PerCall>,
}

/// Whether a statement's text is the claim's: the claim is the statement that writes the lease.
fn is_claim(query: &str) -> bool {
    query
        .to_ascii_lowercase()
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .windows(3)
        .any(|w| w == ["insert", "into", "leases"])
}

/// The totals `row` per call, its text shortened.
fn per_call(row: &PerCall) -> PerCall {
    let calls = row.calls.max(1) as f64;
    let mut query: String = row.query.split_whitespace().collect::<Vec<_>>().join(" ");
    if query.chars().count() > 90 {
        query = query.chars().take(89).collect::<String>() + "…";
    }
    PerCall {
        query,
        calls: row.calls,
        buffers: row.buffers / calls,
        exec_ms: row.exec_ms / calls,
        wal_bytes: row.wal_bytes / calls,
    }
}

/// The figures of `rows` for `claims` claims (or bare cycles); `None` without any statement.
/// Without claims the statements' own figures per call remain (a claim statement so slow that
/// no claim was answered in the windows still shows what it read).
pub(super) fn statement_use(rows: &[PerCall], claims: u64) -> Option<StatementUse> {
    if rows.is_empty() {
        return None;
    }
    let per_claim = |total: f64| (claims > 0).then(|| total / claims as f64);
    let claim = rows
        .iter()
        .filter(|r| is_claim(&r.query))
        .max_by_key(|r| r.calls);
    let claim_buffers_per_claim = claim.and_then(|c| per_claim(c.buffers));
    let claim = claim.map(per_call);
    let buffers: f64 = rows.iter().map(|r| r.buffers).sum();
    let wal: f64 = rows.iter().map(|r| r.wal_bytes).sum();
    let mut by_buffers: Vec<&PerCall> = rows.iter().collect();
    by_buffers.sort_by(|a, b| b.buffers.total_cmp(&a.buffers));
    Some(StatementUse {
        claim,
        claim_buffers_per_claim,
        buffers_per_claim: per_claim(buffers),
        wal_bytes_per_claim: per_claim(wal),
        top: by_buffers
            .into_iter()
            .take(TOP_STATEMENTS)
            .map(per_call)
            .collect(),
    })
}

/// Prints what [`statement_use`] found, statement by statement, on the standard error.
pub(super) fn log_statements(what: &str, u: &StatementUse) {
    match (u.buffers_per_claim, u.wal_bytes_per_claim) {
        (Some(b), Some(w)) => eprintln!(
            "{what}: {b:.1} shared buffers and {w:.0} bytes of WAL per claim over all statements"
        ),
        _ => eprintln!("{what}: no claim in the measured windows; the statements per call:"),
    }
    for s in &u.top {
        eprintln!(
            "  {:>8} calls  {:>7.1} buffers  {:>6.3} ms  {:>6.0} WAL bytes  {}",
            s.calls, s.buffers, s.exec_ms, s.wal_bytes, s.query
        );
    }
}

/// Dead row versions of the hot tables over the claim loop.
#[derive(serde::Serialize, Clone, Debug, Default, PartialEq)]
pub(super) struct DeadTuples {
    /// Per table: (name, at the start, the most seen, at the end).
    pub(super) tables: Vec<(String, i64, i64, i64)>,
    /// All hot tables together: at the start, the most in the first half of the loop, the most
    /// in its second half, at the end.
    pub(super) start: i64,
    pub(super) peak_first_half: i64,
    pub(super) peak_second_half: i64,
    pub(super) end: i64,
    /// Vacuums of the hot tables (autovacuum's or others') during the loop.
    pub(super) vacuums: i64,
    /// Whether the server runs autovacuum.
    pub(super) autovacuum: Option<bool>,
    /// How long the loop ran, in seconds.
    pub(super) seconds: f64,
}

type Sample = Vec<(String, i64, i64)>;

/// Reads the dead row versions every [`DEAD_SAMPLE_EVERY`] until stopped.
pub(super) struct DeadSampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Sample>>,
    stats: PgStats,
    started: std::time::Instant,
}

impl DeadSampler {
    pub(super) fn start(stats: &PgStats) -> DeadSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, reader) = (stop.clone(), stats.clone());
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                if let Ok(s) = reader.dead_tuples().await {
                    samples.push(s);
                }
                if flag.load(Ordering::Relaxed) {
                    return samples;
                }
                let mut slept = Duration::ZERO;
                while slept < DEAD_SAMPLE_EVERY && !flag.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    slept += Duration::from_millis(100);
                }
            }
        });
        DeadSampler {
            stop,
            task,
            stats: stats.clone(),
            started: std::time::Instant::now(),
        }
    }

    /// Stops sampling (after one last sample) and sums up.
    pub(super) async fn finish(self) -> Option<DeadTuples> {
        // The servers report their counts to the statistics within a second of their writes.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.task.await.ok()?;
        let mut dead = dead_summary(&samples)?;
        dead.autovacuum = self.stats.autovacuum().await;
        dead.seconds = self.started.elapsed().as_secs_f64();
        Some(dead)
    }
}

/// The summary of samples taken at even intervals; `None` without any.
pub(super) fn dead_summary(samples: &[Sample]) -> Option<DeadTuples> {
    let (first, last) = (samples.first()?, samples.last()?);
    let total = |s: &Sample| s.iter().map(|(_, dead, _)| dead).sum::<i64>();
    let half = samples.len().div_ceil(2);
    let peak = |part: &[Sample]| part.iter().map(total).max().unwrap_or(0);
    let vacuums = |s: &Sample| s.iter().map(|(_, _, v)| v).sum::<i64>();
    let tables = first
        .iter()
        .map(|(name, start, _)| {
            let of = |s: &Sample| {
                s.iter()
                    .find(|(n, _, _)| n == name)
                    .map_or(0, |(_, dead, _)| *dead)
            };
            let most = samples.iter().map(of).max().unwrap_or(0);
            (name.clone(), *start, most, of(last))
        })
        .collect();
    Some(DeadTuples {
        tables,
        start: total(first),
        peak_first_half: peak(&samples[..half]),
        peak_second_half: peak(&samples[half..]),
        end: total(last),
        vacuums: vacuums(last) - vacuums(first),
        autovacuum: None,
        seconds: 0.0,
    })
}

impl DeadTuples {
    /// The table cell: start → peak of each half → end.
    pub(super) fn cell(d: Option<&DeadTuples>) -> String {
        match d {
            Some(d) => format!(
                "{} → {} / {} → {}",
                d.start, d.peak_first_half, d.peak_second_half, d.end
            ),
            None => "–".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(query: &str, calls: i64, buffers: i64) -> PerCall {
        PerCall {
            query: query.into(),
            calls,
            buffers: buffers as f64,
            exec_ms: calls as f64 * 0.5,
            wal_bytes: calls as f64 * 100.0,
        }
    }

    #[test]
    fn the_claim_is_the_statement_that_writes_the_lease() {
        let rows = [
            row("UPDATE tasks SET status = $1 WHERE seq = $2", 1_000, 50_000),
            row(
                "WITH w AS (SELECT 1), lease AS (\n  INSERT   INTO leases (id) SELECT $1) SELECT 1",
                1_000,
                30_000,
            ),
            row("SELECT * FROM leases WHERE id = $1", 10, 40),
        ];
        let u = statement_use(&rows, 1_000).expect("claims");
        let claim = u.claim.expect("a claim statement");
        assert_eq!((claim.calls, claim.buffers), (1_000, 30.0));
        assert_eq!(claim.exec_ms, 0.5);
        assert_eq!(u.claim_buffers_per_claim, Some(30.0));
        // One statement for several claims: its buffers per claim, not per call.
        let batched = [row(
            "WITH b AS (SELECT 1), lease AS (INSERT INTO leases (id) SELECT 1) SELECT 1",
            100,
            30_000,
        )];
        let b = statement_use(&batched, 1_000).expect("claims");
        assert_eq!(b.claim.as_ref().map(|c| c.buffers), Some(300.0));
        assert_eq!(b.claim_buffers_per_claim, Some(30.0));
        assert!(
            claim
                .query
                .starts_with("WITH w AS (SELECT 1), lease AS ( INSERT INTO")
        );
        // Every statement, per claim: 80,040 buffers over 1,000 claims.
        assert_eq!(u.buffers_per_claim, Some(80.04));
        assert_eq!(u.wal_bytes_per_claim, Some(201.0));
        assert_eq!(u.top[0].buffers, 50.0);
        assert_eq!(u.top.len(), 3);
        // No claim answered: nothing per claim, the claim statement's own figures remain.
        let none = statement_use(&rows, 0).expect("statements");
        assert_eq!(none.buffers_per_claim, None);
        assert_eq!(none.claim.map(|c| c.buffers), Some(30.0));
        assert!(statement_use(&[], 10).is_none());
        // Without a claim statement (a bare cycle) the claim's figures are absent.
        let bare = statement_use(&rows[..1], 10).unwrap();
        assert_eq!(bare.claim, None);
        assert!(!is_claim(
            "SELECT * FROM leases_archive INSERT INTO leasesx"
        ));
    }

    #[test]
    fn long_statements_are_shortened() {
        let long = format!("SELECT {}", "x, ".repeat(100));
        let p = per_call(&row(&long, 0, 7));
        assert_eq!(p.query.chars().count(), 90);
        assert!(p.query.ends_with('…'));
        // No calls: the figures are the totals, not a division by zero.
        assert_eq!(p.buffers, 7.0);
    }

    #[test]
    fn dead_tuples_are_summed_per_half_and_per_table() {
        let s = |tasks: i64, leases: i64, vac: i64| -> Sample {
            vec![("leases".into(), leases, 0), ("tasks".into(), tasks, vac)]
        };
        let samples = [
            s(10, 0, 1),
            s(500, 20, 1),
            s(900, 30, 2),
            s(100, 40, 3),
            s(300, 10, 3),
        ];
        let d = dead_summary(&samples).expect("samples");
        assert_eq!((d.start, d.end), (10, 310));
        // The first half is the first three samples (930 at most), the rest the second.
        assert_eq!((d.peak_first_half, d.peak_second_half), (930, 310));
        assert_eq!(d.vacuums, 2);
        assert_eq!(
            d.tables,
            vec![("leases".into(), 0, 40, 10), ("tasks".into(), 10, 900, 300)]
        );
        assert_eq!(DeadTuples::cell(Some(&d)), "10 → 930 / 310 → 310");
        assert!(dead_summary(&[]).is_none());
    }
}
