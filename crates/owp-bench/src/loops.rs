//! The claim loops: paced or closed-loop workers driving OWP, the raw-SQL baseline and the bare
//! PostgreSQL cycle, and what they measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use http::StatusCode;
use sqlx::AnyPool;

use super::conn::WorkerConn;
use super::cpu_use::{CpuProbe, CpuUse};
use super::pg_stats::{PgStats, StatementUse, statement_use};

use super::*;

/// Which window the loops are in: 0 warm-up, 1..=repeat measured, beyond that stop.
pub(super) struct Clock {
    pub(super) window: AtomicUsize,
    pub(super) windows: usize,
}

impl Clock {
    pub(super) fn current(&self) -> usize {
        self.window.load(Ordering::Relaxed)
    }
    pub(super) fn running(&self) -> bool {
        self.current() <= self.windows
    }
}

/// What one loop measured, per window (index 0 is the warm-up).
pub(super) struct LoopStats {
    pub(super) claim: Vec<Histogram<u64>>,
    pub(super) cycle: Vec<Histogram<u64>>,
    pub(super) errors: u64,
    pub(super) empty: u64,
}

impl LoopStats {
    pub(super) fn new(windows: usize) -> LoopStats {
        let h = || Histogram::new(3).expect("histogram");
        LoopStats {
            claim: (0..=windows).map(|_| h()).collect(),
            cycle: (0..=windows).map(|_| h()).collect(),
            errors: 0,
            empty: 0,
        }
    }

    /// Counts a granted claim (and its latency) in the window in which its answer arrived.
    pub(super) fn claimed(&mut self, clock: &Clock, latency: Duration) {
        if let Some(h) = self.claim.get_mut(clock.current()) {
            let _ = h.record((latency.as_micros() as u64).max(1));
        }
    }

    /// Counts a finished claim → ack → pr_opened cycle in the window in which it ended.
    pub(super) fn cycled(&mut self, clock: &Clock, latency: Duration) {
        if let Some(h) = self.cycle.get_mut(clock.current()) {
            let _ = h.record((latency.as_micros() as u64).max(1));
        }
    }
}

/// The median over the measured windows.
pub(super) struct Measured {
    pub(super) claims_per_s: f64,
    pub(super) claim_p50_ms: f64,
    pub(super) claim_p99_ms: f64,
    pub(super) cycles_per_s: f64,
    pub(super) cycle_p99_ms: f64,
    pub(super) errors: u64,
    pub(super) empty: u64,
    /// The CPU per claim over all measured windows (with a probe).
    pub(super) cpu: Option<CpuUse>,
    /// PostgreSQL: what the statements of the run's database did over the measured windows.
    pub(super) statements: Option<StatementUse>,
}

/// What a measurement reads besides its own counts, at the start and the end of its measured
/// windows.
#[derive(Default, Clone, Copy)]
pub(super) struct Probes<'a> {
    /// The CPU of the servers, the database and this process.
    pub(super) cpu: Option<&'a CpuProbe>,
    /// The statements of the run's database (`pg_stat_statements`, reset as the windows begin).
    pub(super) statements: Option<&'a PgStats>,
}

/// Runs `workers` loops through the warm-up and the measured windows; with probes, also reads
/// the CPU its processes used and what the database's statements did in the measured windows.
pub(super) async fn drive<F, Fut>(
    args: &BenchArgs,
    loops: usize,
    probes: Probes<'_>,
    make: F,
) -> Measured
where
    F: Fn(usize, Arc<Clock>) -> Fut,
    Fut: std::future::Future<Output = LoopStats> + Send + 'static,
{
    let clock = Arc::new(Clock {
        window: AtomicUsize::new(0),
        windows: args.repeat,
    });
    let handles: Vec<_> = (0..loops)
        .map(|i| tokio::spawn(make(i, clock.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    let cpu_start = match probes.cpu {
        Some(p) => Some(p.snapshot().await),
        None => None,
    };
    if let Some(stats) = probes.statements
        && let Err(e) = stats.reset_statements().await
    {
        eprintln!("warning: cannot reset pg_stat_statements: {e}");
    }
    let mut lengths = Vec::new();
    for w in 1..=args.repeat {
        clock.window.store(w, Ordering::Relaxed);
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
        lengths.push(t0.elapsed().as_secs_f64());
    }
    clock.window.store(args.repeat + 1, Ordering::Relaxed);
    let cpu_end = match probes.cpu {
        Some(p) => Some(p.snapshot().await),
        None => None,
    };
    let statement_rows = match probes.statements {
        Some(stats) => match stats.statements().await {
            Ok(rows) => Some(rows),
            Err(e) => {
                eprintln!("warning: cannot read pg_stat_statements: {e}");
                None
            }
        },
        None => None,
    };
    let mut claim: Vec<Histogram<u64>> = (0..=args.repeat)
        .map(|_| Histogram::new(3).expect("histogram"))
        .collect();
    let mut cycle = claim.clone();
    let (mut errors, mut empty) = (0, 0);
    for h in handles {
        if let Ok(s) = h.await {
            for w in 0..=args.repeat {
                let _ = claim[w].add(&s.claim[w]);
                let _ = cycle[w].add(&s.cycle[w]);
            }
            errors += s.errors;
            empty += s.empty;
        }
    }
    let per_window = |f: &dyn Fn(usize) -> f64| {
        median(
            (1..=args.repeat)
                .map(f)
                .collect::<Vec<f64>>()
                .as_mut_slice(),
        )
    };
    let ms = |v: u64| v as f64 / 1000.0;
    let claims: u64 = (1..=args.repeat).map(|w| claim[w].len()).sum();
    let cpu = cpu_start
        .zip(cpu_end)
        .and_then(|(start, end)| start.per_claim(&end, claims));
    let statements = statement_rows.and_then(|rows| statement_use(&rows, claims));
    Measured {
        claims_per_s: per_window(&|w| claim[w].len() as f64 / lengths[w - 1]),
        claim_p50_ms: per_window(&|w| ms(claim[w].value_at_quantile(0.5))),
        claim_p99_ms: per_window(&|w| ms(claim[w].value_at_quantile(0.99))),
        cycles_per_s: per_window(&|w| cycle[w].len() as f64 / lengths[w - 1]),
        cycle_p99_ms: per_window(&|w| ms(cycle[w].value_at_quantile(0.99))),
        errors,
        empty,
        cpu,
        statements,
    }
}

pub(super) fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The parts of a claim's answer the loop needs.
#[derive(serde::Deserialize)]
struct Claimed {
    pub(super) lease: ClaimedLease,
}

#[derive(serde::Deserialize)]
struct ClaimedLease {
    pub(super) lease_id: String,
    pub(super) task: ClaimedTask,
}

#[derive(serde::Deserialize)]
struct ClaimedTask {
    pub(super) task_id: String,
}

/// One worker of OWP: claim → ack → pr_opened over HTTP, on a keep-alive connection of its own
/// (opened again after a failed request); with `pace` (period, first delay) it starts a cycle
/// once per period, or at once when the last one took longer (no catching up).
pub(super) async fn owp_cycle_loop(
    base: String,
    token: String,
    clock: Arc<Clock>,
    pace: Option<(Duration, Duration)>,
    opened: Option<Opened>,
) -> LoopStats {
    let mut out = LoopStats::new(clock.windows);
    let mut ticks = pace.map(|(period, delay)| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + delay, period);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut conn: Option<WorkerConn> = None;
    while clock.running() {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match WorkerConn::open(&base, &token).await {
                Ok(c) => conn.insert(c),
                Err(_) => {
                    out.errors += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Some(t) = ticks.as_mut() {
            t.tick().await;
        }
        match owp_cycle(c, &mut out, &clock).await {
            Ok(Some(task_id)) => {
                if let Some(opened) = &opened {
                    opened.send(task_id);
                }
            }
            Ok(None) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(_) => {
                out.errors += 1;
                conn = None;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    out
}

/// One cycle: the task whose pull request it opened, or `None` when the queue had nothing for the
/// worker (or a request was refused).
pub(super) async fn owp_cycle(
    c: &mut WorkerConn,
    out: &mut LoopStats,
    clock: &Clock,
) -> anyhow::Result<Option<String>> {
    let t0 = Instant::now();
    let (status, body) = c.post("/v1/work", None).await?;
    if status == StatusCode::NO_CONTENT {
        out.empty += 1;
        return Ok(None);
    }
    if status != StatusCode::OK {
        out.errors += 1;
        return Ok(None);
    }
    out.claimed(clock, t0.elapsed());
    let claimed: Claimed = serde_json::from_slice(&body)?;
    let (lease_id, task_id) = (claimed.lease.lease_id, claimed.lease.task.task_id);
    let (status, _) = c.post(&format!("/v1/leases/{lease_id}/ack"), None).await?;
    if status != StatusCode::OK {
        out.errors += 1;
        return Ok(None);
    }
    let pr = format!(
        r#"{{"status":"pr_opened","artifact":{{"pr_url":"https://example.invalid/pr/{task_id}"}}}}"#
    );
    let (status, _) = c
        .post(
            &format!("/v1/tasks/{task_id}/status"),
            Some(pr.into_bytes()),
        )
        .await?;
    if status != StatusCode::OK {
        out.errors += 1;
        return Ok(None);
    }
    out.cycled(clock, t0.elapsed());
    Ok(Some(task_id))
}

/// The simplest correct claim: the oldest ready row of the highest priority, no rules. On
/// PostgreSQL concurrent claimers skip each other's row (`FOR UPDATE SKIP LOCKED`); SQLite has one
/// writer at a time.
pub(super) fn baseline_claim_sql(backend: BenchBackend) -> &'static str {
    match backend {
        BenchBackend::Postgres => {
            "UPDATE tasks SET status = 'leased', worker_id = $1, lease_id = $2, updated_at = $3 \
             WHERE seq = (SELECT seq FROM tasks WHERE status = 'ready' AND waiting = 0 \
                          ORDER BY priority DESC, seq LIMIT 1 FOR UPDATE SKIP LOCKED) \
               AND status = 'ready' \
             RETURNING seq, id"
        }
        BenchBackend::Sqlite | BenchBackend::SqliteSqlx => {
            "UPDATE tasks SET status = 'leased', worker_id = $1, lease_id = $2, updated_at = $3 \
             WHERE seq = (SELECT seq FROM tasks WHERE status = 'ready' AND waiting = 0 \
                          ORDER BY priority DESC, seq LIMIT 1) \
               AND status = 'ready' \
             RETURNING seq, id"
        }
    }
}

/// One worker of the baseline: the same cycle in three plain statements.
pub(super) async fn raw_cycle_loop(
    pool: AnyPool,
    claim_sql: &'static str,
    worker: String,
    clock: Arc<Clock>,
) -> LoopStats {
    use sqlx::Row;
    let mut out = LoopStats::new(clock.windows);
    while clock.running() {
        let t0 = Instant::now();
        let now = crate::store::now_ms();
        let lease_id = crate::store::new_id("l");
        let row = sqlx::query(claim_sql)
            .bind(&worker)
            .bind(&lease_id)
            .bind(now)
            .fetch_optional(&pool)
            .await;
        let seq: i64 = match row {
            Ok(Some(r)) => r.try_get("seq").unwrap_or_default(),
            Ok(None) => {
                out.empty += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            Err(_) => {
                out.errors += 1;
                continue;
            }
        };
        out.claimed(&clock, t0.elapsed());
        let ack = sqlx::query(
            "UPDATE tasks SET status = 'in_progress', updated_at = $2 \
             WHERE seq = $1 AND status = 'leased'",
        )
        .bind(seq)
        .bind(crate::store::now_ms())
        .execute(&pool)
        .await;
        let pr = sqlx::query(
            "UPDATE tasks SET status = 'pr_opened', artifact = $2, updated_at = $3 \
             WHERE seq = $1 AND status = 'in_progress'",
        )
        .bind(seq)
        .bind(r#"{"pr_url":"https://example.invalid/pr"}"#)
        .bind(crate::store::now_ms())
        .execute(&pool)
        .await;
        if ack.is_err() || pr.is_err() {
            out.errors += 1;
            continue;
        }
        out.cycled(&clock, t0.elapsed());
    }
    out
}

/// Clients of the bare claim cycle (as `pgbench --client 16`).
pub(super) const BARE_CLIENTS: usize = 16;

/// The bare PostgreSQL claim cycle: what the database does for a queue with no rules at all.
/// A table of its own (`bare_queue`, `size` ready rows over four priorities, a partial index on
/// the ready rows in offer order), [`BARE_CLIENTS`] connections, and per cycle three autocommit
/// statements: claim the first ready row (`FOR UPDATE SKIP LOCKED`), move it to in-progress, put
/// it back to ready. Counted over the same windows as the OWP run.
pub(super) async fn bare_cycle(
    args: &BenchArgs,
    url: &str,
    tool: &AnyPool,
    size: usize,
    statements: Option<&PgStats>,
) -> anyhow::Result<Measured> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(BARE_CLIENTS as u32)
        .acquire_timeout(Duration::from_secs(60))
        .connect(url)
        .await?;
    sqlx::query(
        "CREATE TABLE bare_queue (id BIGINT PRIMARY KEY, priority INTEGER NOT NULL, \
         status TEXT NOT NULL)",
    )
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO bare_queue (id, priority, status) \
         SELECT n, n % 4, 'ready' FROM generate_series(1, $1) AS n",
    )
    .bind(size as i64)
    .execute(&pool)
    .await?;
    sqlx::query(
        "CREATE INDEX bare_queue_ready ON bare_queue (priority DESC, id) WHERE status = 'ready'",
    )
    .execute(&pool)
    .await?;
    sqlx::query("ANALYZE bare_queue").execute(&pool).await?;
    let probe = CpuProbe::new(Vec::new(), Some(tool.clone()));
    let probes = Probes {
        cpu: probe.as_ref(),
        statements,
    };
    let m = drive(args, BARE_CLIENTS, probes, |_, clock| {
        let pool = pool.clone();
        async move { bare_cycle_loop(pool, clock).await }
    })
    .await;
    sqlx::query("DROP TABLE bare_queue").execute(&pool).await?;
    pool.close().await;
    Ok(m)
}

/// One client of the bare cycle.
async fn bare_cycle_loop(pool: sqlx::PgPool, clock: Arc<Clock>) -> LoopStats {
    let mut out = LoopStats::new(clock.windows);
    while clock.running() {
        let t0 = Instant::now();
        let claimed: Result<Option<i64>, _> = sqlx::query_scalar(
            "UPDATE bare_queue SET status = 'leased' WHERE id = (SELECT id FROM bare_queue \
             WHERE status = 'ready' ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING id",
        )
        .fetch_optional(&pool)
        .await;
        let id = match claimed {
            Ok(Some(id)) => id,
            Ok(None) => {
                out.empty += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            Err(_) => {
                out.errors += 1;
                continue;
            }
        };
        out.claimed(&clock, t0.elapsed());
        let mut failed = false;
        for status in ["in_progress", "ready"] {
            failed |= sqlx::query("UPDATE bare_queue SET status = $2 WHERE id = $1")
                .bind(id)
                .bind(status)
                .execute(&pool)
                .await
                .is_err();
        }
        if failed {
            out.errors += 1;
            continue;
        }
        out.cycled(&clock, t0.elapsed());
    }
    out
}
