//! `owp bench --idle N`: an idle pool. N registered workers, no work, and what the server answers
//! when they are online: heartbeats (`POST /v1/workers/heartbeat`) and claims that find nothing
//! (`POST /v1/work`, no `wait`: 204), measured beside the server's own `GET /healthz` (no
//! credential, no database) as the limit of HTTP on this machine.
//!
//! For every backend × N it bulk-loads N online workers (tokens made here, stored hashed as
//! registration stores them), starts one `owp serve` with its anonymous rate limit out of the
//! way, then drives each route in turn from this process over `--idle-connections` keep-alive
//! connections, each sending its next request as soon as the last is answered, round-robin over
//! every worker's token (requests written out at start, as wrk sends them: `wire.rs`): the same generator, the same connections, the same server for the three
//! routes. Each route gets `--warmup` seconds (drawn out, up to a minute more, until every worker
//! has made one request: the window measures workers already online), then `--seconds` measured,
//! with the CPU time the server, this process and (PostgreSQL) the database's backends spent in
//! it. The three routes take turns for `--repeat` rounds, so that a machine whose speed drifts
//! over a run weighs on each route alike; the report shows each figure's median over the rounds,
//! a ratio being the median of the rounds' own ratios. The server's peak RSS is read at the end.
//!
//! With `--against PATH` each backend × N is run with this build's `owp serve` and then with
//! PATH's, each on a database of its own loaded the same way, and a second table puts each
//! route's figures beside the other build's.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use http::{Method, StatusCode};
use sqlx::AnyPool;

use super::cpu_use::{CpuProbe, CpuUse};
use super::data::{ScratchDb, tool_pool};
use super::report::beside;
use super::servers::{Build, ServerProcess, builds};
use super::wire::{RawConn, Requests};
use super::{BenchArgs, BenchBackend, load_average};
use crate::store::{Store, Timing};

/// Workers per INSERT statement of the bulk load.
const LOAD_CHUNK: usize = 1_000;

/// The longest the warm-up of a route is drawn out for every worker to have made a request.
const MAX_EXTRA_WARMUP: Duration = Duration::from_secs(60);

/// Targets of an idle pool (issue: a million online volunteers per node).
const HEARTBEAT_TARGET: f64 = 0.8;
const EMPTY_CLAIM_TARGET: f64 = 0.5;
const RSS_TARGET_MB: f64 = 200.0;
/// The pool size the RSS target is read at.
const RSS_TARGET_WORKERS: usize = 100_000;

/// One route under load.
#[derive(serde::Serialize, Clone, Copy, Debug, Default)]
pub(super) struct RouteResult {
    pub(super) per_s: f64,
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
    /// Answers other than the route's own (e.g. a 401, a 429, a 500) and failed connections.
    pub(super) errors: u64,
    /// Requests/s ÷ `/healthz` requests/s.
    pub(super) ratio: Option<f64>,
    /// CPU per request over the measured window, in ms: the database's backends (PostgreSQL),
    /// the server, and this process, the load generator (`None` where `/proc` is not read).
    pub(super) cpu: Option<CpuUse>,
}

/// One row of the idle report.
#[derive(serde::Serialize, Clone, Debug)]
pub(super) struct IdleResult {
    /// Which executable the server was: `this`, or `against` (`--against`).
    build: &'static str,
    backend: String,
    workers: usize,
    connections: usize,
    healthz: RouteResult,
    heartbeat: RouteResult,
    empty_claim: RouteResult,
    peak_rss_mb: f64,
    bulk_load_s: f64,
    warmup_s: u64,
    window_s: u64,
    rounds: usize,
    cores: usize,
    load_avg: f64,
}

/// The routes, in the order they are driven in each round.
const ROUTES: [Route; 3] = [Route::Healthz, Route::Heartbeat, Route::EmptyClaim];

/// Each figure of a route's rounds, the median of that figure (the errors summed).
fn median_of(rounds: Vec<RouteResult>) -> RouteResult {
    let median = |mut v: Vec<f64>| super::loops::median(&mut v);
    let of = |f: fn(&RouteResult) -> f64| median(rounds.iter().map(f).collect());
    let ratios: Vec<f64> = rounds.iter().filter_map(|r| r.ratio).collect();
    let cpus: Vec<CpuUse> = rounds.iter().filter_map(|r| r.cpu).collect();
    let dbs: Vec<f64> = cpus.iter().filter_map(|c| c.db_ms).collect();
    RouteResult {
        per_s: of(|r| r.per_s),
        p50_ms: of(|r| r.p50_ms),
        p99_ms: of(|r| r.p99_ms),
        errors: rounds.iter().map(|r| r.errors).sum(),
        ratio: (!ratios.is_empty()).then(|| median(ratios)),
        cpu: (!cpus.is_empty()).then(|| CpuUse {
            db_ms: (!dbs.is_empty()).then(|| median(dbs)),
            server_ms: median(cpus.iter().map(|c| c.server_ms).collect()),
            load_ms: median(cpus.iter().map(|c| c.load_ms).collect()),
        }),
    }
}

#[derive(Clone, Copy, Debug)]
enum Route {
    Healthz,
    Heartbeat,
    EmptyClaim,
}

impl Route {
    fn request(self) -> (Method, &'static str, StatusCode) {
        match self {
            Route::Healthz => (Method::GET, "/healthz", StatusCode::OK),
            Route::Heartbeat => (Method::POST, "/v1/workers/heartbeat", StatusCode::OK),
            Route::EmptyClaim => (Method::POST, "/v1/work", StatusCode::NO_CONTENT),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Route::Healthz => "GET /healthz",
            Route::Heartbeat => "POST /v1/workers/heartbeat",
            Route::EmptyClaim => "POST /v1/work (nothing to claim)",
        }
    }
}

/// Runs every backend × pool size and prints the report.
pub(super) async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if args.idle.contains(&0) || args.idle_connections == 0 {
        anyhow::bail!("--idle and --idle-connections must be at least 1");
    }
    let exe_dir = tempfile::tempdir()?;
    let builds = builds(args, exe_dir.path())?;
    let mut results = Vec::new();
    for &backend in &args.backends {
        for &workers in &args.idle {
            for build in &builds {
                eprintln!(
                    "== idle | {} | {} | {workers} workers | {} connections",
                    build.label,
                    backend.name(),
                    args.idle_connections
                );
                let r = run_one(args, backend, workers, build)
                    .await
                    .with_context(|| {
                        format!(
                            "{} with {workers} idle workers ({})",
                            backend.name(),
                            build.label
                        )
                    })?;
                if args.json {
                    println!("{}", serde_json::to_string(&r)?);
                }
                results.push(r);
            }
        }
    }
    if !args.json {
        print!("{}", table(&results));
        if builds.len() > 1 {
            print!("{}", side_by_side(&results));
        }
        print!("{}", targets(&results));
    }
    Ok(())
}

/// `--idle N --idle-load URL`: the N online workers loaded into the database at `url` (its
/// schema made through the store first), their tokens printed one a line, and nothing measured.
pub(super) async fn load_only(args: &BenchArgs, url: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let &[workers] = args.idle.as_slice() else {
        anyhow::bail!("--idle-load loads one pool: give one --idle N");
    };
    let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        BenchBackend::Postgres
    } else {
        BenchBackend::Sqlite
    };
    Store::open(url, Timing::default()).await?.close().await;
    let tool = tool_pool(backend, url).await?;
    eprintln!("loading {workers} online workers…");
    let tokens = load_pool(&tool, backend, workers).await?;
    tool.close().await;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for token in &tokens {
        writeln!(out, "{token}")?;
    }
    out.flush()?;
    Ok(())
}

async fn run_one(
    args: &BenchArgs,
    backend: BenchBackend,
    workers: usize,
    build: &Build,
) -> anyhow::Result<IdleResult> {
    let dir = tempfile::tempdir()?;
    let db = ScratchDb::create(backend, args.database_url.as_deref(), dir.path()).await?;
    let outcome = measure(args, backend, workers, build, &db, dir.path()).await;
    db.drop_database().await;
    outcome
}

async fn measure(
    args: &BenchArgs,
    backend: BenchBackend,
    workers: usize,
    build: &Build,
    db: &ScratchDb,
    dir: &std::path::Path,
) -> anyhow::Result<IdleResult> {
    // The schema, through the store itself.
    Store::open(&db.url, Timing::default()).await?.close().await;
    let tool = tool_pool(backend, &db.url).await?;
    eprintln!("loading {workers} online workers…");
    let started = Instant::now();
    let tokens = load_pool(&tool, backend, workers).await?;
    tool.close().await;
    let bulk_load_s = started.elapsed().as_secs_f64();

    // `/healthz` is anonymous: its per-address limit would otherwise answer most of it 429.
    let env = [("OWP_RATE_ANONYMOUS_PER_MINUTE", u32::MAX.to_string())];
    let mut server =
        ServerProcess::spawn_exe(&build.exe, backend, &db.url, dir, "idle", &env).await?;
    let probe_db = match backend {
        BenchBackend::Postgres => Some(tool_pool(backend, &db.url).await?),
        BenchBackend::Sqlite | BenchBackend::SqliteSqlx => None,
    };
    let probe = server
        .child
        .id()
        .and_then(|pid| CpuProbe::new(vec![pid], probe_db.clone()));
    // The routes take turns, round after round: a machine whose speed drifts over a run
    // affects each route of a round alike.
    let mut rounds: Vec<[RouteResult; 3]> = Vec::new();
    for round in 1..=args.repeat {
        let mut routes = [RouteResult::default(); 3];
        for (slot, route) in routes.iter_mut().zip(ROUTES) {
            eprintln!(
                "{} (round {round} of {}): {} s warm-up, {} s measured…",
                route.name(),
                args.repeat,
                args.warmup,
                args.seconds
            );
            *slot = drive(args, &server.base, route, &tokens, probe.as_ref()).await?;
        }
        let limit = routes[0].per_s;
        for r in &mut routes[1..] {
            r.ratio = (limit > 0.0).then(|| r.per_s / limit);
        }
        rounds.push(routes);
    }
    if let Some(pool) = probe_db {
        pool.close().await;
    }
    let peak_rss_mb = server.peak_rss_kb() as f64 / 1024.0;
    let load_avg = load_average();
    server.stop().await;
    let routes: Vec<RouteResult> = (0..ROUTES.len())
        .map(|i| median_of(rounds.iter().map(|r| r[i]).collect()))
        .collect();
    Ok(IdleResult {
        build: build.label,
        backend: backend.name().into(),
        workers,
        connections: args.idle_connections,
        healthz: routes[0],
        heartbeat: routes[1],
        empty_claim: routes[2],
        peak_rss_mb,
        bulk_load_s,
        warmup_s: args.warmup,
        window_s: args.seconds,
        rounds: args.repeat,
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        load_avg,
    })
}

/// [`load_workers`], then (PostgreSQL) the statistics of the loaded tables.
async fn load_pool(
    pool: &AnyPool,
    backend: BenchBackend,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let tokens = load_workers(pool, count).await?;
    if backend == BenchBackend::Postgres {
        sqlx::query("ANALYZE").execute(pool).await?;
    }
    Ok(tokens)
}

/// Inserts `count` online workers as registration would (token stored as its SHA-256), in
/// statements of [`LOAD_CHUNK`] rows; returns their tokens.
pub(super) async fn load_workers(pool: &AnyPool, count: usize) -> anyhow::Result<Vec<String>> {
    let now = crate::store::now_ms();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let tokens: Vec<String> = (0..count)
        .map(|i| format!("owpw_bench{i:08}{run}"))
        .collect();
    for (chunk_no, chunk) in tokens.chunks(LOAD_CHUNK).enumerate() {
        // The chunk's digests side by side, each 64 hex digits: worker `first + n` takes the
        // n-th.
        let digests: String = chunk
            .iter()
            .map(|token| crate::store::workers::hash_token(token))
            .collect();
        anyhow::ensure!(
            digests.len() == 64 * chunk.len(),
            "a token digest is not 64 digits"
        );
        sqlx::query(
            "WITH RECURSIVE g(n) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT n + 1 FROM g \
                 WHERE n < $2) \
             INSERT INTO workers (id, name, token_hash, skills, capacity_points, \
               max_concurrent_tasks, status, last_seen_at, presence, capabilities, extensions, \
               created_at, reputation_opt_in, leaderboard_opt_in, specialist) \
             SELECT 'w_idle_' || ($1 + n), 'idle-' || ($1 + n), \
               substr($3, CAST(n * 64 + 1 AS INTEGER), 64), 'rust', 5, 1, 'idle', $4, 'online', \
               '{}', '{}', $4, 0, 0, 0 FROM g",
        )
        .bind((chunk_no * LOAD_CHUNK) as i64)
        .bind(chunk.len() as i64 - 1)
        .bind(digests)
        .bind(now)
        .execute(pool)
        .await?;
    }
    Ok(tokens)
}

/// Drives `route` over the connections through the warm-up and the measured window.
async fn drive(
    args: &BenchArgs,
    base: &str,
    route: Route,
    tokens: &[String],
    probe: Option<&CpuProbe>,
) -> anyhow::Result<RouteResult> {
    let host = base
        .strip_prefix("http://")
        .with_context(|| format!("not an http:// address: {base}"))?;
    let (method, path, _) = route.request();
    let bearers = match route {
        Route::Healthz => &[][..],
        _ => tokens,
    };
    let requests = Arc::new(Requests::new(method.as_str(), path, host, bearers));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let mut loops = Vec::new();
    for _ in 0..args.idle_connections {
        let conn = RawConn::open(host).await?;
        loops.push(tokio::spawn(connection_loop(
            conn,
            route,
            requests.clone(),
            next.clone(),
            measuring.clone(),
            stop.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    // The measured window is of workers already online: the warm-up goes on until every worker
    // has made one request (its first is the one that reads its row), within a bound.
    let warming = Instant::now();
    while !matches!(route, Route::Healthz)
        && next.load(Ordering::Relaxed) < requests.len()
        && warming.elapsed() < MAX_EXTRA_WARMUP
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu_before = match probe {
        Some(p) => Some(p.snapshot().await),
        None => None,
    };
    measuring.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu_after = match probe {
        Some(p) => Some(p.snapshot().await),
        None => None,
    };
    stop.store(true, Ordering::Relaxed);
    let mut all = Histogram::<u64>::new(3).expect("histogram");
    let mut errors = 0;
    for l in loops {
        let (h, e) = l.await?;
        let _ = all.add(&h);
        errors += e;
    }
    let ms = |v: u64| v as f64 / 1000.0;
    Ok(RouteResult {
        per_s: all.len() as f64 / elapsed,
        p50_ms: ms(all.value_at_quantile(0.5)),
        p99_ms: ms(all.value_at_quantile(0.99)),
        errors,
        ratio: None,
        cpu: cpu_before
            .zip(cpu_after)
            .and_then(|(b, a)| b.per_claim(&a, all.len())),
    })
}

/// One connection sending `route` back to back, each request as the next worker in turn (the
/// next of `requests`, shared by the connections). Returns the latencies of the answers it got
/// while measuring, and its errors then.
async fn connection_loop(
    mut conn: RawConn,
    route: Route,
    requests: Arc<Requests>,
    next: Arc<AtomicUsize>,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> (Histogram<u64>, u64) {
    let mut latencies = Histogram::<u64>::new(3).expect("histogram");
    let mut errors = 0;
    let expected = route.request().2.as_u16();
    while !stop.load(Ordering::Relaxed) {
        let request = requests.get(next.fetch_add(1, Ordering::Relaxed));
        let started = Instant::now();
        let answer = conn.exchange(request).await;
        let counted = measuring.load(Ordering::Relaxed);
        match answer {
            Ok(status) if status == expected => {
                if counted {
                    let _ = latencies.record((started.elapsed().as_micros() as u64).max(1));
                }
            }
            Ok(_) => errors += u64::from(counted),
            Err(_) => {
                errors += u64::from(counted);
                // The connection is gone: the loop ends (its absence shows in the rate).
                break;
            }
        }
    }
    (latencies, errors)
}

fn table(results: &[IdleResult]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nIdle pool: N online workers, no work; {} connections, round-robin over the workers",
        results.first().map_or(0, |r| r.connections)
    );
    let _ = writeln!(
        out,
        "| build | backend | workers | route | req/s | × /healthz | p50 ms | p99 ms | errors | CPU µs/request (database + server + load) | server peak RSS MB |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        for (route, m) in [
            (Route::Healthz, r.healthz),
            (Route::Heartbeat, r.heartbeat),
            (Route::EmptyClaim, r.empty_claim),
        ] {
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` | {:.0} | {} | {:.2} | {:.2} | {} | {} | {:.0} |",
                r.build,
                r.backend,
                r.workers,
                route.name(),
                m.per_s,
                m.ratio
                    .map_or("1 (the limit)".into(), |x| format!("{x:.2}")),
                m.p50_ms,
                m.p99_ms,
                m.errors,
                micros(m.cpu),
                r.peak_rss_mb
            );
        }
    }
    if let Some(r) = results.first() {
        let _ = writeln!(
            out,
            "{} round(s) of the three routes, each {} s measured after {} s of warm-up (medians of the rounds; a ratio is the median of the rounds' ratios); {} cores, load average {:.1} after the last run",
            r.rounds,
            r.window_s,
            r.warmup_s,
            r.cores,
            results.last().map_or(0.0, |l| l.load_avg)
        );
    }
    out
}

/// Each row of this build beside the other build's (`--against`): per route its requests/s and
/// its share of `/healthz`, and the server's CPU per request, each with this build's ÷ the
/// other's; the server's peak RSS.
fn side_by_side(results: &[IdleResult]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "\nSide by side with --against (this build, the other in brackets, and this ÷ the other):\n\n\
         | backend | workers | route | req/s | × | × /healthz | × | server CPU µs/request | × | server peak RSS MB |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for this in results.iter().filter(|r| r.build == "this") {
        let Some(other) = results
            .iter()
            .find(|o| o.build != "this" && o.backend == this.backend && o.workers == this.workers)
        else {
            continue;
        };
        let (rss, _) = beside(Some(this.peak_rss_mb), Some(other.peak_rss_mb), 0);
        for (route, a, b) in [
            (Route::Healthz, this.healthz, other.healthz),
            (Route::Heartbeat, this.heartbeat, other.heartbeat),
            (Route::EmptyClaim, this.empty_claim, other.empty_claim),
        ] {
            let (rate, rate_x) = beside(Some(a.per_s), Some(b.per_s), 0);
            let (share, share_x) = if a.ratio.is_some() && b.ratio.is_some() {
                beside(a.ratio, b.ratio, 2)
            } else {
                ("1 (the limit)".into(), "–".into())
            };
            let server = |m: RouteResult| m.cpu.map(|c| c.server_ms * 1000.0);
            let (cpu, cpu_x) = beside(server(a), server(b), 1);
            let _ = writeln!(
                out,
                "| {} | {} | `{}` | {rate} | {rate_x} | {share} | {share_x} | {cpu} | {cpu_x} | {rss} |",
                this.backend,
                this.workers,
                route.name(),
            );
        }
    }
    out
}

/// A cell of CPU per request in µs: `database + server + load`, `–` for what was not read.
fn micros(cpu: Option<CpuUse>) -> String {
    let Some(c) = cpu else {
        return "–".into();
    };
    let db = c.db_ms.map_or("–".into(), |v| format!("{:.1}", v * 1000.0));
    format!(
        "{db} + {:.1} + {:.1}",
        c.server_ms * 1000.0,
        c.load_ms * 1000.0
    )
}

/// The targets each row is read against.
fn targets(results: &[IdleResult]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("\nTargets\n");
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    for r in results {
        let hb = r.heartbeat.ratio.unwrap_or(0.0);
        let claim = r.empty_claim.ratio.unwrap_or(0.0);
        let _ = writeln!(
            out,
            "- {} {} {} workers: heartbeats {hb:.2}× /healthz (≥ {HEARTBEAT_TARGET}): {}; empty claims {claim:.2}× (≥ {EMPTY_CLAIM_TARGET}): {}",
            r.build,
            r.backend,
            r.workers,
            verdict(hb >= HEARTBEAT_TARGET),
            verdict(claim >= EMPTY_CLAIM_TARGET),
        );
        if r.workers >= RSS_TARGET_WORKERS {
            let _ = writeln!(
                out,
                "- {} {} {} workers: server peak RSS {:.0} MB (< {RSS_TARGET_MB} MB at {RSS_TARGET_WORKERS}): {}",
                r.build,
                r.backend,
                r.workers,
                r.peak_rss_mb,
                verdict(r.peak_rss_mb < RSS_TARGET_MB)
            );
        }
    }
    out
}
