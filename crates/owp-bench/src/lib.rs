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
//!    same invocation so the ratio OWP ÷ bare is always side by side;
//! 7. on PostgreSQL, reads what the database did: the shared buffers and WAL per claim statement
//!    over the measured windows (`pg_stat_statements`, where the server loads it) and the dead
//!    row versions of the hot tables from the start of the claim loop to its end
//!    (`pg_stats.rs`).
//!
//! `--idle 20000,100000` measures an idle pool instead (`idle.rs`): online workers, no work,
//! heartbeats and empty claims beside `GET /healthz`.
//!
//! `--preview 100000` measures what previews cost another worker's claims (`preview.rs`).
//!
//! `--github-installations 5,40,1000` measures the GitHub App among that many installations,
//! against a simulated GitHub (`installs/`, `github_sim/`), optionally beside another build
//! (`--against PATH`).
//!
//! `--path-locks 0,1000` adds rule 10's load side by side with none (`data::load_paths`), and
//! `--capped-replicas 1,2,4` adds PostgreSQL runs whose server processes are each capped at
//! `--capped-cpu` cores; the report ends with the targets the rows are read against
//! (`targets.rs`).
//!
//! Throughout a run the queue is kept at N: every 500 ms, tasks whose PR was opened are put back
//! to `ready` (as when a pull request is closed unmerged), so a run measures a queue of constant
//! length whatever its duration.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use owp_protocol as domain;
use owp_store as store;
use store::{Store, Timing};

mod conn;
mod cpu_cap;
mod cpu_use;
mod data;
mod github_sim;
mod idle;
mod installs;
mod loops;
mod pg_stats;
mod plan;
mod preview;
mod report;
mod servers;
mod targets;
mod webhooks;
mod wire;
use cpu_cap::ServerCpu;
use cpu_use::{CpuProbe, CpuUse};
use data::*;
use loops::*;
use pg_stats::{DeadSampler, DeadTuples, PgStats, StatementUse};
use plan::{Planned, plan};
use report::*;
use servers::*;
pub use servers::{GITHUB_WAITED, STORE_COMMITS};
use webhooks::*;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchBackend {
    Sqlite,
    /// SQLite with every statement through sqlx (`OWP_SQLITE_DRIVER=sqlx`): beside `sqlite`, what
    /// the direct connection of the hot paths is worth.
    SqliteSqlx,
    Postgres,
}

impl BenchBackend {
    fn name(self) -> &'static str {
        match self {
            BenchBackend::Sqlite => "sqlite",
            BenchBackend::SqliteSqlx => "sqlite-sqlx",
            BenchBackend::Postgres => "postgres",
        }
    }

    /// Whether the database is a SQLite file (whichever driver the server runs it with).
    fn is_sqlite(self) -> bool {
        self != BenchBackend::Postgres
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

/// The PostgreSQL pool of each of a run's `replicas` server processes under `--pool-total`.
/// The benchmark's `repos` repositories, through the store itself: no review budget to speak of,
/// no area locks.
async fn add_repos(store: &Store, repos: usize) -> anyhow::Result<()> {
    for r in 0..repos {
        store
            .repos()
            .upsert(
                &crate::store::repos::RepoUpsert {
                    name: repo_name(r),
                    max_open_prs: 1_000_000_000,
                    area_locks_enabled: Some(false),
                    ..Default::default()
                },
                "bench",
            )
            .await?;
    }
    Ok(())
}

fn pool_each(args: &BenchArgs, replicas: usize) -> Option<u32> {
    let replicas = u32::try_from(replicas.max(1)).unwrap_or(u32::MAX);
    args.pool_total.map(|total| (total / replicas).max(1))
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
    /// PostgreSQL server for the postgres runs; each run creates and drops its own database from
    /// the server's `postgres` database, as `createdb` does (kept, and its name printed, when
    /// OWP_BENCH_KEEP_DATABASE is set: for a look at its plans).
    #[arg(long, env = "OWP_BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Server processes sharing the database on PostgreSQL, one run per value (e.g. `1,2`).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub replicas: Vec<usize>,
    /// Waiting tasks added at the head of the offer order (critical, each held by an open
    /// outside blocker), one run per value: claims must not walk past them.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub waiting: Vec<usize>,
    /// Path locks (rule 10) held by tasks in flight, one run per value: with a value above 0,
    /// that many tasks (each waiting for a maintainer, so in flight for the whole run) hold a
    /// path each, and every ready task declares a path of its own that overlaps none of them;
    /// with 0, no task has paths. `0,1000` measures both in one invocation.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub path_locks: Vec<usize>,
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
    /// Caps each server process (of the claim runs, and of the `--github-installations` runs) at
    /// this many cores (a Linux control group of its own, as a replica on a small machine of its
    /// own would be), so that a run shows what a second process adds while the processes, not the
    /// database, are the limit. Needs root.
    #[arg(long)]
    pub server_cpu: Option<f64>,
    /// PostgreSQL: after the other runs of each queue size, one run per value with that many
    /// server processes, each capped at `--capped-cpu` cores (e.g. `1,2,4`, to read what a
    /// further process adds while the processes are the limit), with the first `--waiting` and
    /// `--path-locks` values and without the baselines. Needs root, as `--server-cpu` does.
    #[arg(long, value_delimiter = ',')]
    pub capped_replicas: Vec<usize>,
    /// The cores each server process of a `--capped-replicas` run is capped at.
    #[arg(long, default_value_t = 0.15)]
    pub capped_cpu: f64,
    /// PostgreSQL connections shared by the server processes of each run, as `owp serve
    /// --database-pool` advises for replicas: each process of a run of N gets this ÷ N (at
    /// least 1). Without it, each process keeps the server's own pool (16).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pool_total: Option<u32>,
    /// Skip the baselines (the raw-SQL one, and on PostgreSQL the bare claim cycle).
    #[arg(long)]
    pub no_baseline: bool,
    /// Print the results as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Idle pools instead of the claim runs, one run per value (e.g. `20000,100000`): that many
    /// online workers and no work; heartbeats and claims that find nothing beside `GET
    /// /healthz`, and the server's RSS (see `idle.rs`).
    #[arg(long, value_delimiter = ',')]
    pub idle: Vec<usize>,
    /// Keep-alive connections of an idle run's load, each sending its next request as soon as
    /// the last is answered.
    #[arg(long, default_value_t = 64)]
    pub idle_connections: usize,
    /// With one `--idle N`: only load the N online workers into the database at this URL
    /// (`sqlite://FILE?mode=rwc` or `postgres://…`, its schema made first), print their tokens
    /// on standard output, one a line, and stop: the pool for an outside load generator
    /// (`scripts/idle-wrk.sh`).
    #[arg(long, requires = "idle", conflicts_with = "against")]
    pub idle_load: Option<String>,
    /// Previews instead of the claim runs, one run per value (e.g. `100000`): that many ready
    /// tasks in private repositories, one worker's claims alone and while 8 others ask for
    /// previews at once (see `preview.rs`).
    #[arg(long, value_delimiter = ',', conflicts_with = "idle")]
    pub preview: Vec<usize>,
    /// Many installations instead of the claim runs, one run per value (e.g. `5,40,1000`): that
    /// many installations of the App on a GitHub simulated in this process, each opening
    /// `--deliveries-per-installation` `pool:ready` issues; reports deliveries applied/s, status
    /// comments posted/s, the server's peak RSS and any write faster than GitHub allows (see
    /// `installs/`). Uses `--backends`, `--replicas`, `--webhook-senders`, `--github-key`.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["idle", "preview"])]
    pub github_installations: Vec<usize>,
    /// How far away the simulated GitHub is: every answer comes this many ms after its request,
    /// one run per value (e.g. `0,100`).
    #[arg(long, value_delimiter = ',', default_value = "100")]
    pub github_latency_ms: Vec<u64>,
    /// Runs the simulated GitHub of `--github-installations` in a process of its own (this
    /// executable, started again) instead of the bench's, as a fake GitHub outside the bench
    /// would be; the bench opens its issues and reads what it saw over HTTP.
    #[arg(long, requires = "github_installations")]
    pub github_apart: bool,
    /// The simulated GitHub's process of `--github-apart`, for the App of this id (with the first
    /// `--github-latency-ms` and `--github-key`): prints where it listens, then serves until its
    /// standard input closes.
    #[arg(long, hide = true, conflicts_with = "github_installations")]
    pub github_sim_serve: Option<u64>,
    /// Issues opened (one signed `issues.opened` delivery each) per installation.
    #[arg(long, default_value_t = 10)]
    pub deliveries_per_installation: usize,
    /// Repositories of each installation; its issues go round them.
    #[arg(long, default_value_t = 2)]
    pub repos_per_installation: usize,
    /// Another `owp` executable (e.g. an earlier build) to run the same claim rows, installation
    /// rows or idle pools with: each row is run with this build and then with that one, each on
    /// a database of its own, and the report shows them side by side with their ratios.
    #[arg(long, conflicts_with = "preview")]
    pub against: Option<PathBuf>,
    /// The longest one installation run waits for its deliveries and status comments, in
    /// seconds.
    #[arg(long, default_value_t = 1800)]
    pub github_wait_s: u64,
}

const ADMIN: &str = "bench-admin-token";
/// The test App key of this repository, used when `--github-key` is not given.
const DEFAULT_GITHUB_KEY: &str = "tests/fixtures/github/test-app-key.pem";
const WEBHOOK_SECRET: &str = "bench-webhook-secret";
/// Offer order of the loaded tasks (`data::bulk_load` gives task n the priority of n % 4).
const PRIORITIES: [&str; 4] = ["low", "normal", "normal", "high"];
const SKILL_SETS: [&[&str]; 4] = [&[], &["rust"], &["docs"], &["rust", "sql"]];
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
    if let Some(app_id) = args.github_sim_serve {
        let latency = args.github_latency_ms.first().copied().unwrap_or(100);
        let key = args
            .github_key
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_GITHUB_KEY));
        return github_sim::apart::serve(app_id, Duration::from_millis(latency), &key).await;
    }
    if let Some(url) = &args.idle_load {
        return idle::load_only(&args, url).await;
    }
    if !args.idle.is_empty() {
        return idle::run(&args).await;
    }
    if !args.preview.is_empty() {
        return preview::run(&args).await;
    }
    let many_installations = !args.github_installations.is_empty();
    if args.workers == 0 || args.repeat == 0 || args.repos == 0 {
        bail!("--workers, --repeat and --repos must be at least 1");
    }
    let server_cpu = args
        .server_cpu
        .map(|cores| ServerCpu::new(Path::new(CGROUP_MOUNT), cores))
        .transpose()?;
    let planned = plan(&args, &sizes);
    let capped_cpu = if planned.iter().any(|p| p.capped) {
        Some(ServerCpu::new(Path::new(CGROUP_MOUNT), args.capped_cpu)?)
    } else {
        None
    };
    if many_installations {
        return installs::run(&args, server_cpu.as_ref()).await;
    }
    let exe_dir = tempfile::tempdir()?;
    let builds = servers::builds(&args, exe_dir.path())?;
    let mut results = Vec::new();
    for Planned { shape, capped } in planned {
        let cpu = if capped {
            capped_cpu.as_ref()
        } else {
            server_cpu.as_ref()
        };
        for build in &builds {
            let who = if builds.len() > 1 {
                format!("{} | ", build.label)
            } else {
                String::new()
            };
            eprintln!(
                "== {who}{} | {} tasks | {} waiting | {} path locks | {} workers | {} server \
                 process(es){}{} | refill {}",
                shape.backend.name(),
                shape.size,
                shape.waiting,
                shape.path_locks,
                args.workers,
                shape.replicas,
                cpu.map(|c| format!(" capped at {} core(s) each", c.cores()))
                    .unwrap_or_default(),
                match (shape.backend, pool_each(&args, shape.replicas)) {
                    (BenchBackend::Postgres, Some(pool)) => {
                        format!(" with {pool} connection(s) each")
                    }
                    _ => String::new(),
                },
                args.refill.name()
            );
            // The baselines measure the database, not a build: once per row.
            let baselines = !capped && build.label == "this";
            let r = run_one(&args, cpu, shape, baselines, build)
                .await
                .with_context(|| format!("{} with {} tasks", shape.backend.name(), shape.size))?;
            if args.json {
                println!("{}", serde_json::to_string(&r)?);
            }
            results.push(r);
        }
    }
    if !args.json {
        print!("{}", table(&results));
        print!("{}", report::side_by_side(&results));
        print!("{}", targets::summary(&results));
    }
    Ok(())
}

/// One row of the report.
#[derive(serde::Serialize, Clone, Debug, Default)]
struct RunResult {
    /// Which executable the servers were: `this`, or `against` (`--against`).
    build: &'static str,
    backend: String,
    replicas: usize,
    tasks: usize,
    /// Waiting tasks ahead of the ready ones (`--waiting`).
    waiting: usize,
    /// Path locks held by tasks in flight (`--path-locks`); above 0, every ready task has a path.
    path_locks: usize,
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
    /// PostgreSQL: the statements of the OWP run over the measured windows, per claim and per
    /// claim statement (`pg_stat_statements`).
    statements: Option<StatementUse>,
    /// PostgreSQL: the same for the bare cycle, per cycle.
    bare_statements: Option<StatementUse>,
    /// PostgreSQL: why `pg_stat_statements` could not be read, if it could not.
    statements_missing: Option<String>,
    /// PostgreSQL: dead row versions of the hot tables over the claim loop.
    dead_tuples: Option<DeadTuples>,
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
#[derive(Clone, Copy, Debug, PartialEq)]
struct Shape {
    backend: BenchBackend,
    /// Ready tasks.
    size: usize,
    /// Waiting tasks at the head of the offer order.
    waiting: usize,
    /// Path locks held by tasks in flight (0: no task has paths).
    path_locks: usize,
    /// Server processes.
    replicas: usize,
}

/// One run; `baselines`: also the raw-SQL baseline and the bare cycle (unless `--no-baseline`),
/// which a capped run and one with path locks leave to the run beside them.
async fn run_one(
    args: &BenchArgs,
    server_cpu: Option<&ServerCpu>,
    shape: Shape,
    baselines: bool,
    build: &servers::Build,
) -> anyhow::Result<RunResult> {
    let dir = tempfile::tempdir()?;
    let db = ScratchDb::create(shape.backend, args.database_url.as_deref(), dir.path()).await?;
    let baselines = baselines && !args.no_baseline && shape.path_locks == 0;
    let outcome = measure(args, server_cpu, shape, baselines, build, &db, dir.path()).await;
    db.drop_database().await;
    outcome
}

async fn measure(
    args: &BenchArgs,
    server_cpu: Option<&ServerCpu>,
    shape: Shape,
    baselines: bool,
    build: &servers::Build,
    db: &ScratchDb,
    dir: &Path,
) -> anyhow::Result<RunResult> {
    let exe = build.exe.as_path();
    let Shape {
        backend,
        size,
        waiting,
        path_locks,
        replicas,
    } = shape;
    // Schema, repositories and the four skill sets, through the store itself.
    let store = Store::open(&db.url, Timing::default()).await?;
    add_repos(&store, args.repos).await?;
    let tool = tool_pool(backend, &db.url).await?;

    let mut servers = Vec::new();
    let pool = pool_each(args, replicas);
    for i in 0..replicas {
        servers.push(ServerProcess::spawn(exe, backend, &db.url, dir, i, server_cpu, pool).await?);
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
    if path_locks > 0 {
        load_paths(&tool, args.repos, path_locks).await?;
    }
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
                let mut task = json!({
                    "title": format!("bench task {i}"),
                    "estimate_points": 1 + (i % 3),
                    "priority": PRIORITIES[i % 4],
                    "required_skills": SKILL_SETS[i % 4],
                });
                if path_locks > 0 {
                    task["paths"] = json!([bench_pattern(&format!("http-{i}"))]);
                }
                task
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
    let pg_stats = match db.pg {
        Some(_) => Some(PgStats::connect(&db.url).await?),
        None => None,
    };
    let statements_missing = match &pg_stats {
        Some(stats) => stats.enable_statements().await.err(),
        None => None,
    };
    if let Some(why) = &statements_missing {
        eprintln!("pg_stat_statements is not available: {why}");
    }
    // The statements are read where the server counts them.
    let statements = pg_stats.as_ref().filter(|_| statements_missing.is_none());
    let dead_sampler = pg_stats.as_ref().map(DeadSampler::start);
    let probes = Probes {
        cpu: probe.as_ref(),
        statements,
    };
    let owp = drive(args, args.workers, probes, |i, clock| {
        let base = bases[i % bases.len()].clone();
        let token = tokens[i].clone();
        // Paced workers start spread evenly over one period.
        let pace = pacing.map(|(period, step)| (period, step * i as u32));
        let opened = opened.clone();
        async move { owp_cycle_loop(base, token, clock, pace, opened).await }
    })
    .await;
    let dead_tuples = match dead_sampler {
        Some(s) => s.finish().await,
        None => None,
    };
    if let Some(u) = &owp.statements {
        pg_stats::log_statements("OWP", u);
    }
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

    // Webhooks, on a server with the GitHub App on (its outbox's commit step stays out of the claim run).
    let key = args.github_key.clone().or_else(|| {
        let default = PathBuf::from(DEFAULT_GITHUB_KEY);
        default.exists().then_some(default)
    });
    let webhooks = match key {
        Some(key) if args.webhooks > 0 => {
            let key = std::fs::canonicalize(&key)
                .with_context(|| format!("cannot read {}", key.display()))?;
            let mut hook_server =
                ServerProcess::spawn_github(exe, backend, &db.url, dir, &key).await?;
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
    let raw = if !baselines {
        None
    } else {
        eprintln!("raw-SQL baseline…");
        sqlx::query(
            "UPDATE tasks SET status = 'ready', worker_id = NULL, lease_id = NULL, \
             lease_points = NULL, artifact = NULL, area_lock = NULL \
             WHERE status <> 'ready' AND awaits_maintainer = 0",
        )
        .execute(&tool)
        .await?;
        let pool = baseline_pool(backend, &db.url).await?;
        let recycler = Recycler::start(tool.clone(), backend, false);
        let claim_sql = baseline_claim_sql(backend);
        let ids = Arc::new(worker_ids.clone());
        let m = drive(args, args.workers, Probes::default(), |i, clock| {
            let pool = pool.clone();
            let worker = ids[i].clone();
            async move { raw_cycle_loop(pool, claim_sql, worker, clock).await }
        })
        .await;
        recycler.stop().await;
        pool.close().await;
        Some(m)
    };

    // The bare PostgreSQL claim cycle, on a table of its own in the same database.
    let bare = match (&db.pg, baselines) {
        (Some(_), true) => {
            eprintln!("bare PostgreSQL claim cycle ({BARE_CLIENTS} clients)…");
            let m = bare_cycle(args, &db.url, &tool, size, statements).await?;
            if let Some(u) = &m.statements {
                pg_stats::log_statements("bare cycle", u);
            }
            Some(m)
        }
        _ => None,
    };
    tool.close().await;
    if let Some(s) = &pg_stats {
        s.close().await;
    }

    let ratio = raw
        .as_ref()
        .map(|r| owp.claims_per_s / r.claims_per_s.max(1e-9));
    let ratio_to_bare = bare
        .as_ref()
        .map(|b| owp.claims_per_s / b.claims_per_s.max(1e-9));
    Ok(RunResult {
        build: build.label,
        backend: backend.name().to_string(),
        replicas,
        tasks: size,
        waiting,
        path_locks,
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
        statements: owp.statements.clone(),
        bare_statements: bare.as_ref().and_then(|b| b.statements.clone()),
        statements_missing,
        dead_tuples,
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

/// How the names of a run's repositories begin: `bench/r0`, `bench/r1`, …
const REPO_PREFIX: &str = "bench/r";

fn repo_name(r: usize) -> String {
    format!("{REPO_PREFIX}{r}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use conn::WorkerConn;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn median_of_windows() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut []), 0.0);
    }

    /// `owp serve` on a fresh SQLite file, in this process, with the benchmark's admin token.
    async fn serve(dir: &Path) -> owp::server::Running {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            serve: owp::config::ServeConfig,
        }
        let db = dir.join("bench.db");
        let args = ["owp", "--db", db.to_str().unwrap(), "--port", "0"];
        let mut config = <Cli as clap::Parser>::try_parse_from(args).unwrap().serve;
        config.admin_token = Some(owp::domain::secret::Secret::new(ADMIN));
        config.database_url = None;
        let store = Store::open(&config.database_url(), Timing::default())
            .await
            .unwrap();
        store
            .repos()
            .upsert(
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
        owp::server::start(config, false).await.unwrap()
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
