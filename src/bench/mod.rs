//! `owp bench`: measures the claim path side by side on SQLite and PostgreSQL.
//!
//! For every backend × queue size (× number of server processes on PostgreSQL) it:
//! 1. creates a fresh database (a temporary SQLite file, or a scratch PostgreSQL database that is
//!    dropped afterwards), starts `owp serve` as child process(es) on it, imports a sample of tasks
//!    over the HTTP API (timed) and bulk-loads the rest with one SQL statement per 100,000 rows
//!    (the HTTP import writes an audit event per task and answers with every task, which makes
//!    loading a million tasks slow; the rows are the same);
//! 2. registers W workers over HTTP and drives them concurrently through claim → ack → pr_opened,
//!    reporting claims/s and the p50/p99 latency of the claim request (median of `--repeat`
//!    windows after a warm-up);
//! 3. sends a stream of signed webhook deliveries (`POST /github/webhook`) from concurrent senders
//!    and reports the answer latency;
//! 4. reads the server's peak RSS (`VmHWM` in `/proc/<pid>/status`);
//! 5. runs the raw-SQL baseline in this process on the same database with the same concurrency:
//!    the simplest correct claim (`UPDATE … RETURNING` of the oldest ready row, no rules), then the
//!    same ack and pr_opened updates, so the report can print our rate as a share of what the
//!    database itself does;
//! 6. on PostgreSQL, runs the bare claim cycle (a narrow table of its own, 16 clients, three
//!    autocommit statements per cycle, as pgbench would run it): the second baseline, taken in the
//!    same invocation so the ratio OWP ÷ bare is always side by side.
//!
//! Throughout a run the queue is kept at N: every 500 ms, tasks whose PR was opened are put back
//! to `ready` (as when a pull request is closed unmerged), so a run measures a queue of constant
//! length whatever its duration.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use hmac::{Hmac, Mac};
use http::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::AnyPool;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyPoolOptions;

use crate::store::{Store, Timing};

mod conn;
mod cpu_cap;
mod cpu_use;
use conn::WorkerConn;
use cpu_cap::{CpuCap, ServerCpu};
use cpu_use::{CpuProbe, CpuUse};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchBackend {
    Sqlite,
    Postgres,
}

impl BenchBackend {
    fn name(self) -> &'static str {
        match self {
            BenchBackend::Sqlite => "sqlite",
            BenchBackend::Postgres => "postgres",
        }
    }
}

/// How opened tasks go back to `ready`, keeping the queue at N.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refill {
    /// Every 500 ms, one update per repository straight on the database (from the benchmark's
    /// process): cheap for the server, which keeps closed-loop runs about the worker protocol. On
    /// SQLite the pass is one transaction, during which the server's writer waits for the lock.
    Direct,
    /// Each opened task is put back by the admin API (`POST /v1/admin/tasks/{id}/status`, as a
    /// maintainer reopening it would), over 32 keep-alive connections: everything the database sees
    /// goes through the servers. One more request per cycle, so meant for paced runs.
    Api,
}

impl Refill {
    fn name(self) -> &'static str {
        match self {
            Refill::Direct => "direct",
            Refill::Api => "api",
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Ready tasks in the queue, one run per value (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "100000")]
    pub sizes: Vec<usize>,
    /// One queue size (same as `--sizes N`).
    #[arg(long, conflicts_with = "sizes")]
    pub tasks: Option<usize>,
    /// Backends to measure (comma-separated): sqlite, postgres.
    #[arg(long, value_delimiter = ',', default_value = "sqlite")]
    pub backends: Vec<BenchBackend>,
    /// PostgreSQL server for the postgres runs; each run creates and drops its own database.
    #[arg(long, env = "OWP_BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Server processes sharing the database on PostgreSQL, one run per value (e.g. `1,2`).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub replicas: Vec<usize>,
    /// Waiting tasks added at the head of the offer order (critical, each held by an open
    /// outside blocker), one run per value: claims must not walk past them.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub waiting: Vec<usize>,
    /// Registered workers, all claiming concurrently.
    #[arg(long, default_value_t = 1000)]
    pub workers: usize,
    /// Paced workers: together they start this many claim → ack → pr_opened cycles per second,
    /// each worker one every `workers ÷ rate` seconds (as workers that spend time on their
    /// tasks), instead of each starting its next cycle as soon as the last one ends. The claim
    /// latency then is the service's, not the queue that closed-loop workers make; a claims/s
    /// below the rate means the server could not keep up.
    #[arg(long)]
    pub rate: Option<f64>,
    /// How opened tasks are put back to `ready` during the OWP run (the raw-SQL baseline always
    /// updates directly).
    #[arg(long, value_enum, default_value = "direct")]
    pub refill: Refill,
    /// Extra registered workers that stay idle (claims must not scan workers).
    #[arg(long, default_value_t = 0)]
    pub idle_workers: usize,
    /// Length of one measured window, in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Measured windows per run; the report shows their median.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Unmeasured warm-up before the first window, in seconds.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Repositories the tasks are spread over.
    #[arg(long, default_value_t = 10)]
    pub repos: usize,
    /// Tasks imported over HTTP (timed) before the bulk load of the rest.
    #[arg(long, default_value_t = 10_000)]
    pub http_import: usize,
    /// Signed webhook deliveries to send per run (0 skips the webhook measurement).
    #[arg(long, default_value_t = 5_000)]
    pub webhooks: usize,
    /// Concurrent webhook senders.
    #[arg(long, default_value_t = 16)]
    pub webhook_senders: usize,
    /// A GitHub App private key (PEM) for the webhook measurement: the webhook endpoint exists
    /// only when the App is configured. Defaults to the test key of this repository when run from
    /// its root. The App's API is pointed at a closed local port: nothing reaches GitHub.
    #[arg(long, env = "OWP_BENCH_GITHUB_KEY")]
    pub github_key: Option<PathBuf>,
    /// Caps each claim server process at this many cores (a Linux control group of its own, as a
    /// replica on a small machine of its own would be), so that a run shows what a second process
    /// adds while the processes, not the database, are the limit. Needs root.
    #[arg(long)]
    pub server_cpu: Option<f64>,
    /// Skip the baselines (the raw-SQL one, and on PostgreSQL the bare claim cycle).
    #[arg(long)]
    pub no_baseline: bool,
    /// Print the results as JSON lines.
    #[arg(long)]
    pub json: bool,
}

const ADMIN: &str = "bench-admin-token";
/// The test App key of this repository, used when `--github-key` is not given.
const DEFAULT_GITHUB_KEY: &str = "tests/fixtures/github/test-app-key.pem";
const WEBHOOK_SECRET: &str = "bench-webhook-secret";
/// Offer order of the loaded tasks: 0 low … 3 critical.
const PRIORITY_CASE: &str = "CASE n % 4 WHEN 0 THEN 0 WHEN 3 THEN 2 ELSE 1 END";
const PRIORITIES: [&str; 4] = ["low", "normal", "normal", "high"];
const SKILL_SETS: [&[&str]; 4] = [&[], &["rust"], &["docs"], &["rust", "sql"]];
/// The executable the servers run (see [`run`]).
static SERVER_EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
/// Rows per bulk INSERT statement.
const BULK_CHUNK: usize = 100_000;
/// Where Linux mounts its control groups (for `--server-cpu`).
const CGROUP_MOUNT: &str = "/sys/fs/cgroup";
/// Connections of the baseline pool on PostgreSQL (as many as one server's pool).
const PG_POOL: u32 = 16;

/// Runs every requested combination and prints the report.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let sizes = match args.tasks {
        Some(n) => vec![n],
        None => args.sizes.clone(),
    };
    if args.backends.contains(&BenchBackend::Postgres) && args.database_url.is_none() {
        bail!(
            "the postgres backend needs --database-url postgres://… (or OWP_BENCH_DATABASE_URL): \
             a server on which the benchmark may create and drop scratch databases"
        );
    }
    if args.workers == 0 || args.repeat == 0 || args.repos == 0 {
        bail!("--workers, --repeat and --repos must be at least 1");
    }
    let server_cpu = args
        .server_cpu
        .map(|cores| ServerCpu::new(Path::new(CGROUP_MOUNT), cores))
        .transpose()?;
    // Servers run from a private copy of this executable, so a rebuild during a long run does not
    // pull the file from under them.
    let exe_dir = tempfile::tempdir()?;
    let exe = exe_dir.path().join("owp");
    std::fs::copy(
        std::env::current_exe().context("cannot find the owp executable")?,
        &exe,
    )
    .context("cannot copy the owp executable")?;
    SERVER_EXE.set(exe).ok();
    let mut results = Vec::new();
    for &backend in &args.backends {
        for &size in &sizes {
            let replica_counts: Vec<usize> = match backend {
                BenchBackend::Sqlite => vec![1],
                BenchBackend::Postgres => args.replicas.iter().map(|r| (*r).max(1)).collect(),
            };
            for replicas in replica_counts {
                for &waiting in &args.waiting {
                    eprintln!(
                        "== {} | {size} tasks | {waiting} waiting | {} workers | {replicas} server \
                         process(es) | refill {}",
                        backend.name(),
                        args.workers,
                        args.refill.name()
                    );
                    let shape = Shape {
                        backend,
                        size,
                        waiting,
                        replicas,
                    };
                    let r = run_one(&args, server_cpu.as_ref(), shape)
                        .await
                        .with_context(|| format!("{} with {size} tasks", backend.name()))?;
                    if args.json {
                        println!("{}", serde_json::to_string(&r)?);
                    }
                    results.push(r);
                }
            }
        }
    }
    if !args.json {
        print!("{}", table(&results));
    }
    Ok(())
}

/// One row of the report.
#[derive(serde::Serialize, Clone, Debug, Default)]
struct RunResult {
    backend: String,
    replicas: usize,
    tasks: usize,
    /// Waiting tasks ahead of the ready ones (`--waiting`).
    waiting: usize,
    workers: usize,
    /// The offered rate of paced workers (`--rate`), if any.
    rate: Option<f64>,
    /// How opened tasks went back to `ready` (`--refill`).
    refill: &'static str,
    claims_per_s: f64,
    claim_p50_ms: f64,
    claim_p99_ms: f64,
    cycles_per_s: f64,
    cycle_p99_ms: f64,
    empty_claims: u64,
    errors: u64,
    raw_claims_per_s: Option<f64>,
    raw_claim_p50_ms: Option<f64>,
    raw_claim_p99_ms: Option<f64>,
    ratio_to_raw: Option<f64>,
    /// PostgreSQL: claim cycles per second of the bare claim cycle (see [`bare_cycle`]).
    bare_per_s: Option<f64>,
    bare_claim_p50_ms: Option<f64>,
    bare_claim_p99_ms: Option<f64>,
    /// OWP claims/s ÷ bare cycles/s.
    ratio_to_bare: Option<f64>,
    /// CPU per claim over the measured windows: the database (PostgreSQL on this machine), the
    /// claim servers, this process (the load generator and the refill).
    cpu_ms: Option<CpuUse>,
    /// PostgreSQL: CPU per bare cycle: the database and this process (its clients).
    bare_cpu_ms: Option<CpuUse>,
    webhook_per_s: Option<f64>,
    webhook_p50_ms: Option<f64>,
    webhook_p99_ms: Option<f64>,
    peak_rss_mb: f64,
    http_import_tasks_per_s: f64,
    bulk_load_s: f64,
    windows: usize,
    window_s: u64,
    cores: usize,
    /// `/proc/loadavg` (1-minute) right after the measured windows: other work on the machine.
    load_avg: f64,
    /// The cores each claim server process was capped at (`--server-cpu`).
    server_cpu: Option<f64>,
}

/// What one run measures.
#[derive(Clone, Copy, Debug)]
struct Shape {
    backend: BenchBackend,
    /// Ready tasks.
    size: usize,
    /// Waiting tasks at the head of the offer order.
    waiting: usize,
    /// Server processes.
    replicas: usize,
}

async fn run_one(
    args: &BenchArgs,
    server_cpu: Option<&ServerCpu>,
    shape: Shape,
) -> anyhow::Result<RunResult> {
    let dir = tempfile::tempdir()?;
    let db = ScratchDb::create(shape.backend, args.database_url.as_deref(), dir.path()).await?;
    let outcome = measure(args, server_cpu, shape, &db, dir.path()).await;
    db.drop_database().await;
    outcome
}

async fn measure(
    args: &BenchArgs,
    server_cpu: Option<&ServerCpu>,
    shape: Shape,
    db: &ScratchDb,
    dir: &Path,
) -> anyhow::Result<RunResult> {
    let Shape {
        backend,
        size,
        waiting,
        replicas,
    } = shape;
    // Schema, repositories and the four skill sets, through the store itself.
    let store = Store::open(&db.url, Timing::default()).await?;
    for r in 0..args.repos {
        store
            .upsert_repo(
                &crate::store::repos::RepoUpsert {
                    name: repo_name(r),
                    max_open_prs: 1_000_000_000,
                    area_locks_enabled: Some(false),
                    extensions: Default::default(),
                    ..Default::default()
                },
                "bench",
            )
            .await?;
    }
    let tool = tool_pool(backend, &db.url).await?;

    let mut servers = Vec::new();
    for i in 0..replicas {
        servers.push(ServerProcess::spawn(backend, &db.url, dir, i, server_cpu).await?);
    }
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(args.workers + 64)
        .timeout(Duration::from_secs(120))
        .build()?;

    // Load: the bulk rows first, then a timed sample over HTTP. Both spread the tasks over the
    // repositories in small runs, so the head of the ready queue (the oldest tasks of each
    // priority) holds tasks of every repository, as a pool of many repositories does, not a
    // long run of one (whose review-budget row every claim would then write).
    let sample = args.http_import.min(size);
    eprintln!("bulk-loading {} tasks…", size - sample);
    let started = Instant::now();
    bulk_load(&tool, args.repos, sample, size).await?;
    load_waiting(&tool, waiting).await?;
    let bulk_load_s = started.elapsed().as_secs_f64();
    eprintln!("importing {sample} tasks over HTTP…");
    let started = Instant::now();
    let mut done = 0;
    let mut request = 0;
    while done < sample {
        let n = HTTP_IMPORT_BATCH.min(sample - done);
        let tasks: Vec<Value> = (done..done + n)
            .map(|i| {
                json!({
                    "title": format!("bench task {i}"),
                    "estimate_points": 1 + (i % 3),
                    "priority": PRIORITIES[i % 4],
                    "required_skills": SKILL_SETS[i % 4],
                })
            })
            .collect();
        let base = &servers[request % servers.len()].base;
        admin_post(
            &http,
            &format!("{base}/v1/admin/tasks"),
            json!({"repo": repo_name(request % args.repos), "tasks": tasks}),
        )
        .await?;
        done += n;
        request += 1;
    }
    let import_secs = started.elapsed().as_secs_f64();
    let http_import_tasks_per_s = if sample > 0 {
        sample as f64 / import_secs
    } else {
        0.0
    };
    if backend == BenchBackend::Postgres {
        sqlx::query("ANALYZE").execute(&tool).await?;
    }
    store.close().await;

    eprintln!(
        "registering {} workers (+{} idle)…",
        args.workers, args.idle_workers
    );
    let mut tokens = Vec::new();
    let mut worker_ids = Vec::new();
    let total = args.workers + args.idle_workers;
    let mut i = 0;
    while i < total {
        let batch: Vec<_> = (i..(i + 50).min(total))
            .map(|k| {
                let http = http.clone();
                let base = servers[k % servers.len()].base.clone();
                tokio::spawn(async move {
                    admin_post(
                        &http,
                        &format!("{base}/v1/workers/register"),
                        json!({
                            "name": format!("bench-{k}"),
                            "skills": ["rust", "docs", "sql"],
                            "capacity_points": crate::domain::limits::CAPACITY_POINTS.1,
                            "max_concurrent_tasks": crate::domain::limits::MAX_CONCURRENT_TASKS.1,
                        }),
                    )
                    .await
                })
            })
            .collect();
        for h in batch {
            let reg = h.await??;
            tokens.push(reg["token"].as_str().context("token")?.to_string());
            worker_ids.push(reg["worker_id"].as_str().context("worker_id")?.to_string());
        }
        i += 50;
    }
    tokens.truncate(args.workers);
    worker_ids.truncate(args.workers);

    // The OWP claim loop.
    eprintln!(
        "driving claim → ack → pr_opened: {} s warm-up, {} × {} s measured…",
        args.warmup, args.repeat, args.seconds
    );
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let (recycler, refiller) = match args.refill {
        Refill::Direct => (Some(Recycler::start(tool.clone(), backend, true)), None),
        Refill::Api => (None, Some(Refiller::start(&bases))),
    };
    let opened: Option<Opened> = refiller.as_ref().map(|r| r.queue.clone());
    let pacing = args.rate.filter(|r| *r > 0.0).map(|rate| {
        let period = Duration::from_secs_f64(args.workers as f64 / rate);
        (period, period.div_f64(args.workers as f64))
    });
    let probe = CpuProbe::new(
        servers.iter().filter_map(|s| s.child.id()).collect(),
        db.pg.is_some().then(|| tool.clone()),
    );
    let owp = drive(args, args.workers, probe.as_ref(), |i, clock| {
        let base = bases[i % bases.len()].clone();
        let token = tokens[i].clone();
        // Paced workers start spread evenly over one period.
        let pace = pacing.map(|(period, step)| (period, step * i as u32));
        let opened = opened.clone();
        async move { owp_cycle_loop(base, token, clock, pace, opened).await }
    })
    .await;
    drop(opened);
    if let Some(refiller) = refiller {
        let (errors, late) = refiller.finish().await;
        if errors > 0 || late > size / 10 {
            eprintln!(
                "warning: the API refill failed {errors} time(s) and ended {late} task(s) behind \
                 (the queue was that much shorter than {size})"
            );
        }
    }

    let load_avg = load_average();
    let mut peak_rss_kb = 0;
    for s in &mut servers {
        peak_rss_kb = peak_rss_kb.max(s.peak_rss_kb());
        s.stop().await;
    }
    if let Some(recycler) = recycler {
        recycler.stop().await;
    }

    // Webhooks, on a server with the GitHub App on (its change hook stays out of the claim run).
    let key = args.github_key.clone().or_else(|| {
        let default = PathBuf::from(DEFAULT_GITHUB_KEY);
        default.exists().then_some(default)
    });
    let webhooks = match key {
        Some(key) if args.webhooks > 0 => {
            let key = std::fs::canonicalize(&key)
                .with_context(|| format!("cannot read {}", key.display()))?;
            let mut hook_server = ServerProcess::spawn_github(backend, &db.url, dir, &key).await?;
            let out = webhook_stream(
                &http,
                std::slice::from_ref(&hook_server.base),
                args.webhooks,
                args.webhook_senders,
            )
            .await;
            hook_server.stop().await;
            out?
        }
        _ => {
            if args.webhooks > 0 {
                eprintln!("no GitHub App key (--github-key): skipping the webhook measurement");
            }
            None
        }
    };

    // The raw-SQL baseline on the same database, with the same concurrency.
    let raw = if args.no_baseline {
        None
    } else {
        eprintln!("raw-SQL baseline…");
        sqlx::query(
            "UPDATE tasks SET status = 'ready', worker_id = NULL, lease_id = NULL, \
             lease_points = NULL, accept_by = NULL, lease_expires_at = NULL, deadline = NULL, \
             artifact = NULL, area_lock = NULL WHERE status <> 'ready'",
        )
        .execute(&tool)
        .await?;
        let pool = baseline_pool(backend, &db.url).await?;
        let recycler = Recycler::start(tool.clone(), backend, false);
        let claim_sql = Arc::new(baseline_claim_sql(backend));
        let ids = Arc::new(worker_ids.clone());
        let m = drive(args, args.workers, None, |i, clock| {
            let pool = pool.clone();
            let sql = claim_sql.clone();
            let worker = ids[i].clone();
            async move { raw_cycle_loop(pool, sql, worker, clock).await }
        })
        .await;
        recycler.stop().await;
        pool.close().await;
        Some(m)
    };

    // The bare PostgreSQL claim cycle, on a table of its own in the same database.
    let bare = match (&db.pg, args.no_baseline) {
        (Some(_), false) => {
            eprintln!("bare PostgreSQL claim cycle ({BARE_CLIENTS} clients)…");
            Some(bare_cycle(args, &db.url, &tool, size).await?)
        }
        _ => None,
    };
    tool.close().await;

    let ratio = raw
        .as_ref()
        .map(|r| owp.claims_per_s / r.claims_per_s.max(1e-9));
    let ratio_to_bare = bare
        .as_ref()
        .map(|b| owp.claims_per_s / b.claims_per_s.max(1e-9));
    Ok(RunResult {
        backend: backend.name().to_string(),
        replicas,
        tasks: size,
        waiting,
        workers: args.workers,
        rate: args.rate,
        refill: args.refill.name(),
        claims_per_s: owp.claims_per_s,
        claim_p50_ms: owp.claim_p50_ms,
        claim_p99_ms: owp.claim_p99_ms,
        cycles_per_s: owp.cycles_per_s,
        cycle_p99_ms: owp.cycle_p99_ms,
        empty_claims: owp.empty,
        errors: owp.errors,
        raw_claims_per_s: raw.as_ref().map(|r| r.claims_per_s),
        raw_claim_p50_ms: raw.as_ref().map(|r| r.claim_p50_ms),
        raw_claim_p99_ms: raw.as_ref().map(|r| r.claim_p99_ms),
        ratio_to_raw: ratio,
        bare_per_s: bare.as_ref().map(|b| b.claims_per_s),
        bare_claim_p50_ms: bare.as_ref().map(|b| b.claim_p50_ms),
        bare_claim_p99_ms: bare.as_ref().map(|b| b.claim_p99_ms),
        ratio_to_bare,
        cpu_ms: owp.cpu,
        bare_cpu_ms: bare.as_ref().and_then(|b| b.cpu),
        webhook_per_s: webhooks.as_ref().map(|w| w.0),
        webhook_p50_ms: webhooks.as_ref().map(|w| w.1),
        webhook_p99_ms: webhooks.as_ref().map(|w| w.2),
        peak_rss_mb: peak_rss_kb as f64 / 1024.0,
        http_import_tasks_per_s,
        bulk_load_s,
        windows: args.repeat,
        window_s: args.seconds,
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        load_avg,
        server_cpu: server_cpu.map(ServerCpu::cores),
    })
}

/// The 1-minute load average (0 where `/proc/loadavg` is missing).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

fn repo_name(r: usize) -> String {
    format!("bench/r{r}")
}

// ----- databases ---------------------------------------------------------------------------

/// A database that exists for one run.
struct ScratchDb {
    url: String,
    /// PostgreSQL: (server URL, database name) to drop afterwards.
    pg: Option<(String, String)>,
}

impl ScratchDb {
    async fn create(
        backend: BenchBackend,
        server: Option<&str>,
        dir: &Path,
    ) -> anyhow::Result<ScratchDb> {
        match backend {
            BenchBackend::Sqlite => Ok(ScratchDb {
                url: format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
                pg: None,
            }),
            BenchBackend::Postgres => {
                use sqlx::Connection;
                let server = server.context("no PostgreSQL server URL")?;
                let name = format!("owp_bench_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::postgres::PgConnection::connect(server)
                    .await
                    .with_context(|| {
                        format!("cannot connect to {}", crate::store::redact_url(server))
                    })?;
                // The name is made here from a UUID, never from input.
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                Ok(ScratchDb {
                    url: crate::config::url_with_database(server, &name),
                    pg: Some((server.to_string(), name)),
                })
            }
        }
    }

    async fn drop_database(&self) {
        use sqlx::Connection;
        if let Some((server, name)) = &self.pg
            && let Ok(mut conn) = sqlx::postgres::PgConnection::connect(server).await
        {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(e) = sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await {
                eprintln!("warning: could not drop the scratch database {name}: {e}");
            }
            let _ = conn.close().await;
        }
    }
}

/// Tasks per HTTP import request (each request imports into one repository, in turn).
const HTTP_IMPORT_BATCH: usize = 100;

/// A small pool for loading, recycling and the baseline's setup.
async fn tool_pool(backend: BenchBackend, url: &str) -> anyhow::Result<AnyPool> {
    Ok(AnyPoolOptions::new()
        .max_connections(2)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == BenchBackend::Sqlite {
                    use sqlx::Executor;
                    conn.execute("PRAGMA busy_timeout = 30000").await?;
                    // A commit of the recycler (below) writes the log without waiting for the
                    // disk, as the server's commits do.
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    // The server checkpoints its database; a checkpoint after each of these
                    // commits would hold the checkpoint lock that its own checkpoints need.
                    conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

/// The baseline's pool: like the server's write pool (one connection on SQLite, whose writers
/// queue anyway; the server's pool size on PostgreSQL).
async fn baseline_pool(backend: BenchBackend, url: &str) -> anyhow::Result<AnyPool> {
    let max = match backend {
        BenchBackend::Sqlite => 1,
        BenchBackend::Postgres => PG_POOL,
    };
    Ok(AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(60))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == BenchBackend::Sqlite {
                    use sqlx::Executor;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

/// Inserts tasks `from..to` (creation order = n), round-robin over the repositories, with the
/// same priorities, points and skill sets as the HTTP sample. One statement per chunk, the same
/// SQL on both backends (a recursive row generator).
async fn bulk_load(pool: &AnyPool, repos: usize, from: usize, to: usize) -> anyhow::Result<()> {
    if from >= to {
        return Ok(());
    }
    let skill_ids = skill_set_ids(pool).await?;
    let repo_ids: Vec<i64> = {
        let mut ids = Vec::new();
        for r in 0..repos {
            let id: i64 = sqlx::query_scalar("SELECT id FROM repos WHERE name = $1")
                .bind(repo_name(r))
                .fetch_one(pool)
                .await?;
            ids.push(id);
        }
        ids
    };
    let repo_case = case_of("n", &repo_ids);
    let skill_case = case_of("n", &skill_ids);
    let now = crate::store::now_ms();
    let mut start = from;
    while start < to {
        let end = (start + BULK_CHUNK).min(to);
        // Ids and numbers are integers made here; nothing in this SQL comes from input.
        let sql = format!(
            "WITH RECURSIVE g(n) AS (SELECT {start} UNION ALL SELECT n + 1 FROM g WHERE n < {last}) \
             INSERT INTO tasks (id, repo_id, title, description, estimate_points, priority, \
               skill_set_id, tier, status, extensions, created_at, updated_at) \
             SELECT 't_bench_' || n, {repo_case}, 'bench task ' || n, '', 1 + n % 3, \
               {PRIORITY_CASE}, {skill_case}, 0, 'ready', '{{}}', {now}, {now} FROM g",
            last = end - 1,
        );
        sqlx::query(AssertSqlSafe(sql)).execute(pool).await?;
        start = end;
    }
    Ok(())
}

/// Adds `count` critical tasks, each held by an open outside blocker (rule 8), so they come first
/// in the offer order and none may be offered. The triggers of the schema count their blockers.
async fn load_waiting(pool: &AnyPool, count: usize) -> anyhow::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let repo_id: i64 = sqlx::query_scalar("SELECT id FROM repos WHERE name = $1")
        .bind(repo_name(0))
        .fetch_one(pool)
        .await?;
    let skill_id = skill_set_ids(pool).await?[0];
    let now = crate::store::now_ms();
    // Numbers made here; nothing in this SQL comes from input.
    let sql = format!(
        "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < {last}) \
         INSERT INTO tasks (id, repo_id, title, description, estimate_points, priority, \
           skill_set_id, tier, status, extensions, created_at, updated_at) \
         SELECT 't_bench_waiting_' || n, {repo_id}, 'waiting task ' || n, '', 1, 3, {skill_id}, \
           0, 'ready', '{{}}', {now}, {now} FROM g",
        last = count - 1,
    );
    sqlx::query(AssertSqlSafe(sql)).execute(pool).await?;
    sqlx::query(
        "INSERT INTO task_deps (task_seq, blocker_key, position, holds) \
         SELECT seq, 'bench/outside#1', 0, 1 FROM tasks WHERE id LIKE 't_bench_waiting_%'",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// `CASE <var> % len WHEN 0 THEN ids[0] … END`.
fn case_of(var: &str, ids: &[i64]) -> String {
    let mut s = format!("CASE {var} % {} ", ids.len());
    for (i, id) in ids.iter().enumerate() {
        let _ = write!(s, "WHEN {i} THEN {id} ");
    }
    s.push_str("END");
    s
}

/// The ids of the four skill sets, created on first use (as an import would).
async fn skill_set_ids(pool: &AnyPool) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::new();
    for set in SKILL_SETS {
        let mut skills: Vec<&str> = set.to_vec();
        skills.sort_unstable();
        let canonical = skills.join(",");
        sqlx::query("INSERT INTO skill_sets (skills) VALUES ($1) ON CONFLICT (skills) DO NOTHING")
            .bind(&canonical)
            .execute(pool)
            .await?;
        let id: i64 = sqlx::query_scalar("SELECT id FROM skill_sets WHERE skills = $1")
            .bind(&canonical)
            .fetch_one(pool)
            .await?;
        for skill in &skills {
            sqlx::query(
                "INSERT INTO skill_set_members (skill_set_id, skill) VALUES ($1, $2) \
                 ON CONFLICT (skill_set_id, skill) DO NOTHING",
            )
            .bind(id)
            .bind(*skill)
            .execute(pool)
            .await?;
        }
        ids.push(id);
    }
    Ok(ids)
}

/// Puts tasks whose PR was opened back to `ready` every 500 ms, keeping the queue at N.
struct Recycler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Recycler {
    /// `counters`: keep the repositories' `open_prs` in step (the OWP run; the baseline's own
    /// updates do not count PRs).
    fn start(pool: AnyPool, backend: BenchBackend, counters: bool) -> Recycler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            while !flag.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if let Err(e) = recycle(&pool, backend, counters).await {
                    eprintln!("warning: recycling failed: {e}");
                }
            }
        });
        Recycler { stop, task }
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
    }
}

/// `--refill api`: connections that put each opened task back to `ready` through the admin API
/// of the servers, as the tasks arrive on `queue`.
struct Refiller {
    queue: Opened,
    senders: Vec<tokio::task::JoinHandle<u64>>,
}

/// Keep-alive connections of the API refill, spread over the servers.
const REFILL_CONNECTIONS: usize = 32;

/// Where the claim loops send the tasks they opened (`--refill api`).
#[derive(Clone)]
struct Opened {
    tx: tokio::sync::mpsc::UnboundedSender<String>,
    /// Tasks sent and not yet put back.
    pending: Arc<AtomicUsize>,
}

impl Opened {
    fn send(&self, task_id: String) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(task_id).is_err() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Refiller {
    fn start(bases: &[String]) -> Refiller {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let queue = Opened {
            tx,
            pending: Arc::new(AtomicUsize::new(0)),
        };
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let senders = (0..REFILL_CONNECTIONS)
            .map(|i| {
                let base = bases[i % bases.len()].clone();
                tokio::spawn(refill_loop(base, rx.clone(), queue.pending.clone()))
            })
            .collect();
        Refiller { queue, senders }
    }

    /// The tasks not put back yet when the claim loops stopped, and (after the rest are put
    /// back) the requests that failed.
    async fn finish(self) -> (u64, usize) {
        let late = self.queue.pending.load(Ordering::Relaxed);
        drop(self.queue);
        let mut errors = 0;
        for h in self.senders {
            errors += h.await.unwrap_or(1);
        }
        (errors, late)
    }
}

/// One connection of the API refill: takes opened tasks off `rx` until it closes; the number of
/// requests that failed.
async fn refill_loop(
    base: String,
    rx: Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<String>>>,
    pending: Arc<AtomicUsize>,
) -> u64 {
    let mut errors = 0;
    let mut conn: Option<WorkerConn> = None;
    loop {
        let Some(task_id) = rx.lock().await.recv().await else {
            return errors;
        };
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                let admin = http::HeaderName::from_static("x-admin-token");
                match WorkerConn::open_with(&base, admin, ADMIN.into()).await {
                    Ok(c) => conn.insert(c),
                    Err(_) => {
                        errors += 1;
                        pending.fetch_sub(1, Ordering::Relaxed);
                        continue;
                    }
                }
            }
        };
        let body = br#"{"status":"ready","reason":"owp bench refill"}"#.to_vec();
        match c
            .post(&format!("/v1/admin/tasks/{task_id}/status"), Some(body))
            .await
        {
            Ok((status, _)) if status == StatusCode::OK => {}
            Ok(_) => errors += 1,
            Err(_) => {
                errors += 1;
                conn = None;
            }
        }
        pending.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Puts every opened task back to `ready`, repository by repository through the
/// `(repo_id, status)` index: the tasks, then the repository's counter (the lock order of every
/// other transaction).
///
/// On PostgreSQL each repository is a small transaction of its own, so that no counter row stays
/// locked longer than its own update. On SQLite the whole pass is one transaction that takes the
/// write lock as it begins (`BEGIN IMMEDIATE`) and commits without a flush (`synchronous =
/// NORMAL`, see [`tool_pool`]): the server's writer waits for it once per pass, for no longer
/// than the updates take. Separate deferred transactions each waited for the lock behind the
/// server's writer and then held it, with a flush at every commit, for as long as the server's
/// writer slept in SQLite's busy handler: that doubled the claim p99 of closed-loop runs and
/// put 60–80 ms into that of paced ones (see `docs/performance.md`).
async fn recycle(pool: &AnyPool, backend: BenchBackend, counters: bool) -> Result<(), sqlx::Error> {
    let repos: Vec<i64> = sqlx::query_scalar("SELECT id FROM repos ORDER BY id")
        .fetch_all(pool)
        .await?;
    let now = crate::store::now_ms();
    if backend == BenchBackend::Postgres {
        for repo in repos {
            let mut tx = pool.begin().await?;
            recycle_repo(&mut tx, repo, now, counters).await?;
            tx.commit().await?;
        }
        return Ok(());
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    for repo in repos {
        recycle_repo(&mut tx, repo, now, counters).await?;
    }
    tx.commit().await
}

/// The opened tasks of one repository back to `ready`, and its `open_prs` counter with them.
async fn recycle_repo(
    conn: &mut sqlx::AnyConnection,
    repo: i64,
    now: i64,
    counters: bool,
) -> Result<(), sqlx::Error> {
    let n = sqlx::query(
        "UPDATE tasks SET status = 'ready', worker_id = NULL, lease_id = NULL, \
         artifact = NULL, area_lock = NULL, updated_at = $1 \
         WHERE repo_id = $2 AND status = 'pr_opened'",
    )
    .bind(now)
    .bind(repo)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if counters && n > 0 {
        sqlx::query("UPDATE repos SET open_prs = open_prs - $1 WHERE id = $2")
            .bind(n as i64)
            .bind(repo)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

// ----- servers -----------------------------------------------------------------------------

/// `owp serve` as a child process (so its memory is its own).
struct ServerProcess {
    base: String,
    child: tokio::process::Child,
    log: PathBuf,
    /// The process's control group under `--server-cpu` (dropped after the process).
    cap: Option<CpuCap>,
}

impl ServerProcess {
    async fn spawn(
        backend: BenchBackend,
        url: &str,
        dir: &Path,
        index: usize,
        cpu: Option<&ServerCpu>,
    ) -> anyhow::Result<ServerProcess> {
        let mut server =
            Self::spawn_with(backend, url, dir, &format!("server-{index}"), &[]).await?;
        if let (Some(cpu), Some(pid)) = (cpu, server.child.id()) {
            server.cap = Some(cpu.cap(pid)?);
        }
        Ok(server)
    }

    /// A server with the GitHub App on (webhook endpoint), its API pointed at a closed port.
    async fn spawn_github(
        backend: BenchBackend,
        url: &str,
        dir: &Path,
        key: &Path,
    ) -> anyhow::Result<ServerProcess> {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let env = [
            ("GITHUB_APP_ID", "1".to_string()),
            ("GITHUB_PRIVATE_KEY_PATH", key.display().to_string()),
            ("GITHUB_API_URL", format!("http://127.0.0.1:{closed}")),
        ];
        Self::spawn_with(backend, url, dir, "github", &env).await
    }

    async fn spawn_with(
        backend: BenchBackend,
        url: &str,
        dir: &Path,
        name: &str,
        env: &[(&str, String)],
    ) -> anyhow::Result<ServerProcess> {
        let exe = match SERVER_EXE.get() {
            Some(exe) => exe.clone(),
            None => std::env::current_exe().context("cannot find the owp executable")?,
        };
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.arg("serve");
        match backend {
            BenchBackend::Sqlite => {
                cmd.args(["--db", &dir.join("bench.db").display().to_string()]);
            }
            BenchBackend::Postgres => {
                cmd.args(["--database-url", url]);
            }
        }
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(dir)
            .env("OWP_ADMIN_TOKEN", ADMIN)
            .env("GITHUB_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("OWP_LOG", "warn")
            .env_remove("OWP_DATABASE_URL")
            .env_remove("OWP_DB")
            .env_remove("GITHUB_APP_ID")
            .env_remove("GITHUB_PRIVATE_KEY")
            .env_remove("GITHUB_PRIVATE_KEY_PATH")
            .env_remove("GITHUB_API_URL")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true);
        let child = cmd.spawn().context("cannot start owp serve")?;
        let server = ServerProcess {
            base: format!("http://127.0.0.1:{port}"),
            child,
            log,
            cap: None,
        };
        let http = reqwest::Client::builder().no_proxy().build()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(format!("{}/healthz", server.base)).send().await
                && r.status().is_success()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!(
                    "owp serve did not start; its log:\n{}",
                    std::fs::read_to_string(&server.log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Peak resident set size of the process so far, in KiB.
    fn peak_rss_kb(&self) -> u64 {
        let Some(pid) = self.child.id() else {
            return 0;
        };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    }

    async fn stop(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        self.cap = None;
    }
}

async fn admin_post(http: &reqwest::Client, url: &str, body: Value) -> anyhow::Result<Value> {
    let res = http
        .post(url)
        .header("x-admin-token", ADMIN)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = res.status();
    let text = res.text().await?;
    if !status.is_success() {
        bail!("POST {url} → {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

// ----- the claim loops ---------------------------------------------------------------------

/// Which window the loops are in: 0 warm-up, 1..=repeat measured, beyond that stop.
struct Clock {
    window: AtomicUsize,
    windows: usize,
}

impl Clock {
    fn current(&self) -> usize {
        self.window.load(Ordering::Relaxed)
    }
    fn running(&self) -> bool {
        self.current() <= self.windows
    }
}

/// What one loop measured, per window (index 0 is the warm-up).
struct LoopStats {
    claim: Vec<Histogram<u64>>,
    cycle: Vec<Histogram<u64>>,
    errors: u64,
    empty: u64,
}

impl LoopStats {
    fn new(windows: usize) -> LoopStats {
        let h = || Histogram::new(3).expect("histogram");
        LoopStats {
            claim: (0..=windows).map(|_| h()).collect(),
            cycle: (0..=windows).map(|_| h()).collect(),
            errors: 0,
            empty: 0,
        }
    }

    /// Counts a granted claim (and its latency) in the window in which its answer arrived.
    fn claimed(&mut self, clock: &Clock, latency: Duration) {
        if let Some(h) = self.claim.get_mut(clock.current()) {
            let _ = h.record((latency.as_micros() as u64).max(1));
        }
    }

    /// Counts a finished claim → ack → pr_opened cycle in the window in which it ended.
    fn cycled(&mut self, clock: &Clock, latency: Duration) {
        if let Some(h) = self.cycle.get_mut(clock.current()) {
            let _ = h.record((latency.as_micros() as u64).max(1));
        }
    }
}

/// The median over the measured windows.
struct Measured {
    claims_per_s: f64,
    claim_p50_ms: f64,
    claim_p99_ms: f64,
    cycles_per_s: f64,
    cycle_p99_ms: f64,
    errors: u64,
    empty: u64,
    /// The CPU per claim over all measured windows (with a probe).
    cpu: Option<CpuUse>,
}

/// Runs `workers` loops through the warm-up and the measured windows; with a probe, also reads
/// the CPU its processes used in the measured windows.
async fn drive<F, Fut>(
    args: &BenchArgs,
    loops: usize,
    probe: Option<&CpuProbe>,
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
    let cpu_start = match probe {
        Some(p) => Some(p.snapshot().await),
        None => None,
    };
    let mut lengths = Vec::new();
    for w in 1..=args.repeat {
        clock.window.store(w, Ordering::Relaxed);
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
        lengths.push(t0.elapsed().as_secs_f64());
    }
    clock.window.store(args.repeat + 1, Ordering::Relaxed);
    let cpu_end = match probe {
        Some(p) => Some(p.snapshot().await),
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
    Measured {
        claims_per_s: per_window(&|w| claim[w].len() as f64 / lengths[w - 1]),
        claim_p50_ms: per_window(&|w| ms(claim[w].value_at_quantile(0.5))),
        claim_p99_ms: per_window(&|w| ms(claim[w].value_at_quantile(0.99))),
        cycles_per_s: per_window(&|w| cycle[w].len() as f64 / lengths[w - 1]),
        cycle_p99_ms: per_window(&|w| ms(cycle[w].value_at_quantile(0.99))),
        errors,
        empty,
        cpu,
    }
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The parts of a claim's answer the loop needs.
#[derive(serde::Deserialize)]
struct Claimed {
    lease: ClaimedLease,
}

#[derive(serde::Deserialize)]
struct ClaimedLease {
    lease_id: String,
    task: ClaimedTask,
}

#[derive(serde::Deserialize)]
struct ClaimedTask {
    task_id: String,
}

/// One worker of OWP: claim → ack → pr_opened over HTTP, on a keep-alive connection of its own
/// (opened again after a failed request); with `pace` (period, first delay) it starts a cycle
/// once per period, or at once when the last one took longer (no catching up).
async fn owp_cycle_loop(
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
async fn owp_cycle(
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
fn baseline_claim_sql(backend: BenchBackend) -> String {
    let lock = match backend {
        BenchBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        BenchBackend::Sqlite => "",
    };
    format!(
        "UPDATE tasks SET status = 'leased', worker_id = $1, lease_id = $2, deadline = $3, \
         lease_expires_at = $3, updated_at = $4 \
         WHERE seq = (SELECT seq FROM tasks WHERE status = 'ready' AND waiting = 0 \
                      ORDER BY priority DESC, seq LIMIT 1{lock}) AND status = 'ready' \
         RETURNING seq, id"
    )
}

/// One worker of the baseline: the same cycle in three plain statements.
async fn raw_cycle_loop(
    pool: AnyPool,
    claim_sql: Arc<String>,
    worker: String,
    clock: Arc<Clock>,
) -> LoopStats {
    use sqlx::Row;
    let mut out = LoopStats::new(clock.windows);
    while clock.running() {
        let t0 = Instant::now();
        let now = crate::store::now_ms();
        let lease_id = crate::store::new_id("l");
        let row = sqlx::query(AssertSqlSafe(claim_sql.as_str()))
            .bind(&worker)
            .bind(&lease_id)
            .bind(now + 1_800_000)
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
            "UPDATE tasks SET status = 'pr_opened', artifact = $2, deadline = NULL, \
             lease_expires_at = NULL, updated_at = $3 WHERE seq = $1 AND status = 'in_progress'",
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
const BARE_CLIENTS: usize = 16;

/// The bare PostgreSQL claim cycle: what the database does for a queue with no rules at all.
/// A table of its own (`bare_queue`, `size` ready rows over four priorities, a partial index on
/// the ready rows in offer order), [`BARE_CLIENTS`] connections, and per cycle three autocommit
/// statements: claim the first ready row (`FOR UPDATE SKIP LOCKED`), move it to in-progress, put
/// it back to ready. Counted over the same windows as the OWP run.
async fn bare_cycle(
    args: &BenchArgs,
    url: &str,
    tool: &AnyPool,
    size: usize,
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
    let m = drive(args, BARE_CLIENTS, probe.as_ref(), |_, clock| {
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

// ----- webhooks ----------------------------------------------------------------------------

/// Sends `total` signed `issues` deliveries from `senders` concurrent senders; returns
/// (deliveries/s, p50 ms, p99 ms), or `None` when the service has no webhook endpoint.
async fn webhook_stream(
    http: &reqwest::Client,
    bases: &[String],
    total: usize,
    senders: usize,
) -> anyhow::Result<Option<(f64, f64, f64)>> {
    let probe = send_delivery(http, &bases[0], 0).await?;
    if probe == 404 || probe == 405 {
        eprintln!("no webhook endpoint: skipping the webhook measurement");
        return Ok(None);
    }
    if !(200..300).contains(&probe) {
        bail!("the webhook endpoint answered {probe} to a signed delivery");
    }
    eprintln!("sending {total} signed webhook deliveries from {senders} senders…");
    let next = Arc::new(AtomicUsize::new(1));
    let started = Instant::now();
    let handles: Vec<_> = (0..senders.max(1))
        .map(|s| {
            let http = http.clone();
            let base = bases[s % bases.len()].clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut h = Histogram::<u64>::new(3).expect("histogram");
                let mut failed = 0u64;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i > total {
                        break;
                    }
                    let t0 = Instant::now();
                    match send_delivery(&http, &base, i).await {
                        Ok(s) if (200..300).contains(&s) => {
                            let _ = h.record((t0.elapsed().as_micros() as u64).max(1));
                        }
                        _ => failed += 1,
                    }
                }
                (h, failed)
            })
        })
        .collect();
    let mut all = Histogram::<u64>::new(3)?;
    let mut failed = 0;
    for h in handles {
        let (hist, f) = h.await?;
        all.add(&hist)?;
        failed += f;
    }
    let secs = started.elapsed().as_secs_f64();
    if failed > 0 {
        eprintln!("warning: {failed} webhook deliveries were not accepted");
    }
    Ok(Some((
        all.len() as f64 / secs,
        all.value_at_quantile(0.5) as f64 / 1000.0,
        all.value_at_quantile(0.99) as f64 / 1000.0,
    )))
}

/// One signed `issues.opened` delivery; returns the HTTP status.
async fn send_delivery(http: &reqwest::Client, base: &str, n: usize) -> anyhow::Result<u16> {
    let body = json!({
        "action": "opened",
        "issue": {
            "number": n + 1,
            "title": format!("Bench issue {n}"),
            "body": "Generated by owp bench.",
            "state": "open",
            "labels": [{"name": "pool:ready"}, {"name": "estimate:2"}],
            "html_url": format!("https://github.com/bench/hooks/issues/{}", n + 1),
            "user": {"login": "bench-user", "id": 1},
        },
        "repository": {"id": 1, "name": "hooks", "full_name": "bench/hooks",
                        "owner": {"login": "bench", "id": 1}},
        "installation": {"id": 1},
        "sender": {"login": "bench-user", "id": 1},
    })
    .to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let res = http
        .post(format!("{base}/github/webhook"))
        .header("content-type", "application/json")
        .header("x-github-event", "issues")
        .header("x-github-delivery", uuid::Uuid::new_v4().to_string())
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await?;
    let status = res.status().as_u16();
    // Read to the end, so that the connection carries the next delivery.
    res.bytes().await?;
    Ok(status)
}

// ----- report ------------------------------------------------------------------------------

fn opt(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) => format!("{x:.digits$}"),
        None => "–".into(),
    }
}

fn table(results: &[RunResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n| backend | procs | tasks | waiting | workers | offered/s | claims/s | p50 ms | p99 ms | raw claims/s | raw p50 | raw p99 | ratio | bare/s | bare p50 | bare p99 | ÷ bare | CPU ms/claim: db + server + load | bare CPU ms/cycle: db + clients | cycles/s | webhook/s | webhook p50 | webhook p99 | peak RSS MB | HTTP import tasks/s | load |"
    );
    let _ = writeln!(
        out,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} | {} | {} | {:.1} | {:.0} | {:.1} |",
            r.backend,
            r.replicas,
            r.tasks,
            r.waiting,
            r.workers,
            opt(r.rate, 0),
            r.claims_per_s,
            r.claim_p50_ms,
            r.claim_p99_ms,
            opt(r.raw_claims_per_s, 0),
            opt(r.raw_claim_p50_ms, 2),
            opt(r.raw_claim_p99_ms, 2),
            opt(r.ratio_to_raw, 2),
            opt(r.bare_per_s, 0),
            opt(r.bare_claim_p50_ms, 2),
            opt(r.bare_claim_p99_ms, 2),
            opt(r.ratio_to_bare, 2),
            CpuUse::cell(r.cpu_ms, true),
            CpuUse::cell(r.bare_cpu_ms, false),
            r.cycles_per_s,
            opt(r.webhook_per_s, 0),
            opt(r.webhook_p50_ms, 2),
            opt(r.webhook_p99_ms, 2),
            r.peak_rss_mb,
            r.http_import_tasks_per_s,
            r.load_avg,
        );
    }
    let errors: u64 = results.iter().map(|r| r.errors).sum();
    let capped = match results.first().and_then(|r| r.server_cpu) {
        Some(cores) => format!(" each claim server capped at {cores} core(s);"),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "\n{} measured window(s) of {} s per row (median shown); {} core(s);{capped} {} failed requests.",
        results.first().map(|r| r.windows).unwrap_or(0),
        results.first().map(|r| r.window_s).unwrap_or(0),
        results.first().map(|r| r.cores).unwrap_or(0),
        errors
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_expressions_list_every_id() {
        assert_eq!(
            case_of("n", &[7, 9]),
            "CASE n % 2 WHEN 0 THEN 7 WHEN 1 THEN 9 END"
        );
    }

    #[test]
    fn median_of_windows() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut []), 0.0);
    }

    /// `owp serve` on a fresh SQLite file, in this process, with the benchmark's admin token.
    async fn serve(dir: &Path) -> crate::server::Running {
        let db = dir.join("bench.db");
        let mut config =
            crate::config::parse_serve(&["--db", db.to_str().unwrap(), "--port", "0"]).unwrap();
        config.admin_token = Some(crate::config::Secret::new(ADMIN));
        config.database_url = None;
        let store = Store::open(&config.database_url(), Timing::default())
            .await
            .unwrap();
        store
            .upsert_repo(
                &crate::store::repos::RepoUpsert {
                    name: repo_name(0),
                    max_open_prs: 10,
                    area_locks_enabled: Some(false),
                    extensions: Default::default(),
                    ..Default::default()
                },
                "test",
            )
            .await
            .unwrap();
        store.close().await;
        crate::server::start(config, false).await.unwrap()
    }

    /// The load generator's cycle, against a real server: a claim, its ack and the PR leave the
    /// task `pr_opened` and count one claim and one cycle; an empty queue and a refused token
    /// count as such, both refills put an opened task back, and a connection to a closed port
    /// fails.
    #[tokio::test]
    async fn a_cycle_claims_acks_and_opens_the_pull_request() {
        let dir = tempfile::tempdir().unwrap();
        let server = serve(dir.path()).await;
        let base = format!("http://{}", server.addr);
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let reg = admin_post(
            &http,
            &format!("{base}/v1/workers/register"),
            json!({"name": "w", "skills": ["rust"], "capacity_points": 10}),
        )
        .await
        .unwrap();
        let token = reg["token"].as_str().unwrap();
        let imported = admin_post(
            &http,
            &format!("{base}/v1/admin/tasks"),
            json!({"repo": repo_name(0), "tasks": [{"title": "one", "estimate_points": 1}]}),
        )
        .await
        .unwrap();
        let task_id = imported["tasks"][0]["task_id"]
            .as_str()
            .unwrap()
            .to_string();

        let clock = Clock {
            window: AtomicUsize::new(1),
            windows: 1,
        };
        let mut out = LoopStats::new(1);
        let mut conn = WorkerConn::open(&base, token).await.unwrap();
        let opened = owp_cycle(&mut conn, &mut out, &clock).await.unwrap();
        assert_eq!(opened.as_deref(), Some(task_id.as_str()));
        assert_eq!((out.claim[1].len(), out.cycle[1].len()), (1, 1));
        assert_eq!((out.errors, out.empty), (0, 0));
        let task: Value = http
            .get(format!("{base}/v1/tasks/{task_id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(task["status"], "pr_opened", "{task}");

        // The same connection carries the next cycle: nothing is left to claim.
        assert_eq!(owp_cycle(&mut conn, &mut out, &clock).await.unwrap(), None);
        assert_eq!((out.claim[1].len(), out.empty, out.errors), (1, 1, 0));

        // The API refill puts the opened task back through the admin API; then it is claimed
        // again. An unknown task is counted as a failed request.
        let refiller = Refiller::start(std::slice::from_ref(&base));
        refiller.queue.send(task_id.clone());
        refiller.queue.send("t_no_such_task".into());
        let (errors, _) = refiller.finish().await;
        assert_eq!(errors, 1);
        let again = owp_cycle(&mut conn, &mut out, &clock).await.unwrap();
        assert_eq!(again.as_deref(), Some(task_id.as_str()));
        assert_eq!((out.claim[1].len(), out.cycle[1].len()), (2, 2));

        // The direct refill puts it back straight on the database, in one transaction that
        // takes the write lock first, with the repository's open PR counter; then it is
        // claimed again.
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let tool = tool_pool(BenchBackend::Sqlite, &url).await.unwrap();
        let open_prs = "SELECT open_prs FROM repos";
        let before: i64 = sqlx::query_scalar(open_prs).fetch_one(&tool).await.unwrap();
        recycle(&tool, BenchBackend::Sqlite, true).await.unwrap();
        let after: i64 = sqlx::query_scalar(open_prs).fetch_one(&tool).await.unwrap();
        assert_eq!((before, after), (1, 0));
        let status: String = sqlx::query_scalar("SELECT status FROM tasks")
            .fetch_one(&tool)
            .await
            .unwrap();
        assert_eq!(status, "ready");
        tool.close().await;
        let third = owp_cycle(&mut conn, &mut out, &clock).await.unwrap();
        assert_eq!(third.as_deref(), Some(task_id.as_str()));
        assert_eq!((out.claim[1].len(), out.cycle[1].len()), (3, 3));

        let mut stranger = WorkerConn::open(&base, "owpw_not_a_token").await.unwrap();
        assert_eq!(
            owp_cycle(&mut stranger, &mut out, &clock).await.unwrap(),
            None
        );
        assert_eq!(out.errors, 1);

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        assert!(
            WorkerConn::open(&format!("http://127.0.0.1:{port}"), token)
                .await
                .is_err()
        );
        assert!(
            WorkerConn::open("https://example.invalid", token)
                .await
                .is_err()
        );
        drop((conn, stranger));
        server.stop().await;
    }
}
