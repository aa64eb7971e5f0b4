//! `owp bench`: a load generator. It starts the service on a temporary database, loads N tasks and
//! W workers over the real HTTP API, then drives W concurrent workers through claim → ack →
//! pr_opened for a fixed time and prints throughput and latency percentiles.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::config::ServeConfig;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Ready tasks to load.
    #[arg(long, default_value_t = 100_000)]
    pub tasks: usize,
    /// Registered workers, all claiming concurrently.
    #[arg(long, default_value_t = 200)]
    pub workers: usize,
    /// Extra registered workers that stay idle (to show claims do not scan workers).
    #[arg(long, default_value_t = 0)]
    pub idle_workers: usize,
    /// How long to drive the claim loop.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Repositories the tasks are spread over.
    #[arg(long, default_value_t = 10)]
    pub repos: usize,
    /// PostgreSQL URL; default is a temporary SQLite file.
    #[arg(long, env = "OWP_BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

const ADMIN: &str = "bench-admin-token";
const PRIORITIES: [&str; 4] = ["low", "normal", "normal", "high"];
const SKILLS: [&[&str]; 4] = [&[], &["rust"], &["docs"], &["rust", "sql"]];

/// Runs the benchmark and prints its report.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = ServeConfig::for_tests(&dir.path().join("bench.db"), ADMIN);
    config.database_url = args.database_url.clone();
    let server = crate::server::start(config, false).await?;
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.workers + 8)
        .build()?;

    eprintln!("loading {} tasks over {} repos…", args.tasks, args.repos);
    let load_start = Instant::now();
    for r in 0..args.repos {
        post(&http, &format!("{base}/v1/admin/repos"), None, json!({"repo": format!("bench/r{r}"), "max_open_prs": 1_000_000_000, "area_locks_enabled": false})).await?;
    }
    let chunk = 2_000;
    let mut created = 0;
    while created < args.tasks {
        let n = chunk.min(args.tasks - created);
        let tasks: Vec<Value> = (created..created + n)
            .map(|i| {
                json!({
                    "title": format!("bench task {i}"),
                    "estimate_points": 1 + (i % 3),
                    "priority": PRIORITIES[i % 4],
                    "required_skills": SKILLS[i % SKILLS.len()],
                })
            })
            .collect();
        let repo = format!("bench/r{}", (created / chunk) % args.repos);
        post(
            &http,
            &format!("{base}/v1/admin/tasks"),
            None,
            json!({"repo": repo, "tasks": tasks}),
        )
        .await?;
        created += n;
    }
    let load_secs = load_start.elapsed().as_secs_f64();

    eprintln!(
        "registering {} workers (+{} idle)…",
        args.workers, args.idle_workers
    );
    let mut tokens = Vec::new();
    for i in 0..args.workers + args.idle_workers {
        let reg = post(
            &http,
            &format!("{base}/v1/workers/register"),
            None,
            json!({
                "name": format!("bench-{i}"),
                "skills": ["rust", "docs", "sql"],
                "capacity_points": 1_000,
                "max_concurrent_tasks": 1_000,
            }),
        )
        .await?;
        tokens.push(reg["token"].as_str().context("token")?.to_string());
    }
    tokens.truncate(args.workers);

    eprintln!("driving claim → ack → pr_opened for {} s…", args.seconds);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut handles = Vec::new();
    for token in tokens {
        let http = http.clone();
        let base = base.clone();
        let stop = stop.clone();
        handles.push(tokio::spawn(async move {
            worker_loop(http, base, token, stop).await
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut claim = Histogram::<u64>::new(3)?;
    let mut cycle = Histogram::<u64>::new(3)?;
    let mut errors = 0u64;
    let mut empty = 0u64;
    for h in handles {
        let r = h.await?;
        claim.add(&r.claim)?;
        cycle.add(&r.cycle)?;
        errors += r.errors;
        empty += r.empty;
    }
    let elapsed = started.elapsed().as_secs_f64();
    server.stop().await;

    let report = json!({
        "backend": if args.database_url.is_some() { "postgres" } else { "sqlite" },
        "tasks": args.tasks,
        "workers": args.workers,
        "idle_workers": args.idle_workers,
        "seconds": elapsed,
        "load_seconds": load_secs,
        "claims": claim.len(),
        "claims_per_second": claim.len() as f64 / elapsed,
        "claim_p50_ms": claim.value_at_quantile(0.5) as f64 / 1000.0,
        "claim_p99_ms": claim.value_at_quantile(0.99) as f64 / 1000.0,
        "cycles": cycle.len(),
        "cycles_per_second": cycle.len() as f64 / elapsed,
        "cycle_p50_ms": cycle.value_at_quantile(0.5) as f64 / 1000.0,
        "cycle_p99_ms": cycle.value_at_quantile(0.99) as f64 / 1000.0,
        "empty_claims": empty,
        "errors": errors,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "backend {} | {} ready tasks | {} workers ({} idle)\n\
             claims:  {:.0}/s  p50 {:.2} ms  p99 {:.2} ms  ({} claims, {} empty, {} errors)\n\
             cycles:  {:.0}/s  p50 {:.2} ms  p99 {:.2} ms  (claim → ack → pr_opened)\n\
             load:    {:.1} s for {} tasks",
            report["backend"].as_str().unwrap_or(""),
            args.tasks,
            args.workers,
            args.idle_workers,
            report["claims_per_second"].as_f64().unwrap_or(0.0),
            report["claim_p50_ms"].as_f64().unwrap_or(0.0),
            report["claim_p99_ms"].as_f64().unwrap_or(0.0),
            claim.len(),
            empty,
            errors,
            report["cycles_per_second"].as_f64().unwrap_or(0.0),
            report["cycle_p50_ms"].as_f64().unwrap_or(0.0),
            report["cycle_p99_ms"].as_f64().unwrap_or(0.0),
            load_secs,
            args.tasks,
        );
    }
    Ok(())
}

struct LoopResult {
    claim: Histogram<u64>,
    cycle: Histogram<u64>,
    errors: u64,
    empty: u64,
}

async fn worker_loop(
    http: reqwest::Client,
    base: String,
    token: String,
    stop: Arc<AtomicBool>,
) -> LoopResult {
    let mut out = LoopResult {
        claim: Histogram::new(3).expect("histogram"),
        cycle: Histogram::new(3).expect("histogram"),
        errors: 0,
        empty: 0,
    };
    while !stop.load(Ordering::Relaxed) {
        let t0 = Instant::now();
        let res = http
            .post(format!("{base}/v1/work"))
            .bearer_auth(&token)
            .send()
            .await;
        let claim_us = t0.elapsed().as_micros() as u64;
        let lease: Value = match res {
            Ok(r) if r.status() == 200 => match r.json().await {
                Ok(v) => v,
                Err(_) => {
                    out.errors += 1;
                    continue;
                }
            },
            Ok(r) if r.status() == 204 => {
                out.empty += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            _ => {
                out.errors += 1;
                continue;
            }
        };
        let _ = out.claim.record(claim_us.max(1));
        let lease_id = lease["lease"]["lease_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let task_id = lease["lease"]["task"]["task_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let ack = http
            .post(format!("{base}/v1/leases/{lease_id}/ack"))
            .bearer_auth(&token)
            .send()
            .await;
        if !matches!(&ack, Ok(r) if r.status() == 200) {
            out.errors += 1;
            continue;
        }
        let done = http
            .post(format!("{base}/v1/tasks/{task_id}/status"))
            .bearer_auth(&token)
            .json(&json!({"status": "pr_opened", "artifact": {"pr_url": format!("https://example.invalid/pr/{task_id}")}}))
            .send()
            .await;
        if !matches!(&done, Ok(r) if r.status() == 200) {
            out.errors += 1;
            continue;
        }
        let _ = out.cycle.record((t0.elapsed().as_micros() as u64).max(1));
    }
    out
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<Value> {
    let mut req = http.post(url).header("x-admin-token", ADMIN).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.with_context(|| format!("POST {url}"))?;
    let status = res.status();
    let text = res.text().await?;
    if !status.is_success() {
        bail!("POST {url} → {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}
