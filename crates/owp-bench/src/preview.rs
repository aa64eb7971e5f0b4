//! `owp bench --preview 100000`: what previews cost another worker's claims. The pool holds N
//! ready tasks in private repositories; one worker claims, acknowledges and opens its pull
//! request (`POST /v1/work`, the ack, `pr_opened`: the claim is timed), one cycle after the other
//! (the opened tasks put back to `ready` as in the claim runs), first alone, then while 8 other
//! workers ask `GET /v1/work/preview` over and over, each as soon as its last preview is
//! answered. Each round measures both windows, alone first, on the same server; the report shows
//! the claim's median latency alone and under previews, their ratio (the median of the rounds'
//! own ratios: the contract asks under 2), and the previews' own latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use http::{Method, StatusCode};

use super::conn::WorkerConn;
use super::data::{Recycler, ScratchDb, bulk_load, tool_pool};
use super::idle::load_workers;
use super::loops::median;
use super::servers::ServerProcess;
use super::{BenchArgs, BenchBackend, add_repos, load_average};
use crate::store::{Store, Timing};

/// Workers asking for previews at once.
const PREVIEWERS: usize = 8;

/// One run: a backend and a pool size.
#[derive(serde::Serialize, Clone, Debug)]
struct PreviewResult {
    backend: String,
    tasks: usize,
    previewers: usize,
    /// The claim's median latency alone, in ms (median over the rounds).
    claim_alone_ms: f64,
    /// The claim's median latency while the previews run, in ms.
    claim_under_ms: f64,
    /// Under ÷ alone, the median of the rounds' own ratios.
    ratio: f64,
    /// A preview's median latency, in ms.
    preview_ms: f64,
    /// Previews answered per second, all previewers together.
    previews_per_s: f64,
    /// Answers other than the route's own.
    errors: u64,
    rounds: usize,
    load_avg: f64,
}

/// Runs every backend × pool size and prints the report.
pub(super) async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if args.preview.contains(&0) || args.repeat == 0 || args.repos == 0 {
        anyhow::bail!("--preview, --repeat and --repos must be at least 1");
    }
    let mut results = Vec::new();
    for &backend in &args.backends {
        for &size in &args.preview {
            eprintln!(
                "== preview | {} | {size} ready tasks in private repositories | {PREVIEWERS} \
                 previewers",
                backend.name()
            );
            let dir = tempfile::tempdir()?;
            let db = ScratchDb::create(backend, args.database_url.as_deref(), dir.path()).await?;
            let r = measure(args, backend, size, &db, dir.path())
                .await
                .with_context(|| format!("{} with {size} tasks", backend.name()));
            db.drop_database().await;
            let r = r?;
            if args.json {
                println!("{}", serde_json::to_string(&r)?);
            }
            results.push(r);
        }
    }
    if !args.json {
        println!(
            "\n| backend | tasks | previewers | claim p50 alone ms | claim p50 under previews ms \
             | ratio | preview p50 ms | previews/s | errors | rounds | load |"
        );
        println!("|{}", "---|".repeat(11));
        for r in &results {
            println!(
                "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {} | {} | {:.1} |",
                r.backend,
                r.tasks,
                r.previewers,
                r.claim_alone_ms,
                r.claim_under_ms,
                r.ratio,
                r.preview_ms,
                r.previews_per_s,
                r.errors,
                r.rounds,
                r.load_avg
            );
        }
    }
    Ok(())
}

async fn measure(
    args: &BenchArgs,
    backend: BenchBackend,
    size: usize,
    db: &ScratchDb,
    dir: &std::path::Path,
) -> anyhow::Result<PreviewResult> {
    // Schema and repositories (private until someone says otherwise), through the store itself.
    let store = Store::open(&db.url, Timing::default()).await?;
    add_repos(&store, args.repos).await?;
    store.close().await;
    let tool = tool_pool(backend, &db.url).await?;
    eprintln!("loading {size} ready tasks…");
    bulk_load(&tool, args.repos, 0, size).await?;
    let tokens = load_workers(&tool, PREVIEWERS + 1).await?;
    if backend == BenchBackend::Postgres {
        sqlx::query("ANALYZE").execute(&tool).await?;
    }

    let env = [
        ("OWP_RATE_PREVIEWS_PER_MINUTE", "0".to_string()),
        ("OWP_RATE_PREVIEWS_PER_ADDRESS_PER_MINUTE", "0".to_string()),
    ];
    let mut server = ServerProcess::spawn_with(backend, &db.url, dir, "preview", &env).await?;
    let window = Duration::from_secs(args.seconds);
    let mut claimer = WorkerConn::open(&server.base, &tokens[0]).await?;
    let recycler = Recycler::start(tool.clone(), backend, true);
    let (mut alone, mut under, mut ratios, mut previews) = (vec![], vec![], vec![], vec![]);
    let mut previews_per_s = Vec::new();
    let mut errors = 0;
    for round in 1..=args.repeat {
        eprintln!(
            "round {round} of {}: {} s of claims alone, then {} s under previews…",
            args.repeat, args.seconds, args.seconds
        );
        let (a, e) = claims(&mut claimer, window).await?;
        errors += e;
        let stop = Arc::new(AtomicBool::new(false));
        let mut loops = Vec::new();
        for token in &tokens[1..] {
            let conn = WorkerConn::open(&server.base, token).await?;
            loops.push(tokio::spawn(preview_loop(conn, stop.clone())));
        }
        tokio::time::sleep(Duration::from_secs(args.warmup)).await;
        let started = Instant::now();
        let (u, e) = claims(&mut claimer, window).await?;
        let elapsed = started.elapsed().as_secs_f64();
        errors += e;
        stop.store(true, Ordering::Relaxed);
        let mut round_previews = Vec::new();
        for l in loops {
            let (times, e) = l.await?;
            errors += e;
            round_previews.extend(times);
        }
        previews_per_s.push(round_previews.len() as f64 / (elapsed + args.warmup as f64));
        let (a, u) = (median(&mut a.clone()), median(&mut u.clone()));
        eprintln!("  claim p50 alone {a:.2} ms, under previews {u:.2} ms");
        ratios.push(u / a);
        alone.push(a);
        under.push(u);
        if !round_previews.is_empty() {
            previews.push(median(&mut round_previews));
        }
    }
    recycler.stop().await;
    tool.close().await;
    server.stop().await;
    anyhow::ensure!(!previews.is_empty(), "no preview was answered");
    Ok(PreviewResult {
        backend: backend.name().into(),
        tasks: size,
        previewers: PREVIEWERS,
        claim_alone_ms: median(&mut alone),
        claim_under_ms: median(&mut under),
        ratio: median(&mut ratios),
        preview_ms: median(&mut previews),
        previews_per_s: median(&mut previews_per_s),
        errors,
        rounds: args.repeat,
        load_avg: load_average(),
    })
}

/// Claims, acknowledges and opens a pull request, one cycle after the other, for `window`: each
/// claim's latency in ms, and the answers that were not the route's own.
async fn claims(c: &mut WorkerConn, window: Duration) -> anyhow::Result<(Vec<f64>, u64)> {
    let (mut times, mut errors) = (Vec::new(), 0);
    let until = Instant::now() + window;
    while Instant::now() < until || times.is_empty() {
        let t0 = Instant::now();
        let (status, body) = c.post("/v1/work", None).await?;
        if status != StatusCode::OK {
            errors += 1;
            anyhow::ensure!(errors < 100, "the claims keep failing ({status})");
            continue;
        }
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        let lease: serde_json::Value = serde_json::from_slice(&body)?;
        let (Some(id), Some(task)) = (
            lease["lease"]["lease_id"].as_str(),
            lease["lease"]["task"]["task_id"].as_str(),
        ) else {
            anyhow::bail!("a lease without its ids: {lease}");
        };
        let (status, _) = c.post(&format!("/v1/leases/{id}/ack"), None).await?;
        let pr = serde_json::json!({"status": "pr_opened",
            "artifact": {"pr_url": format!("https://example.invalid/pr/{task}")}});
        let (opened, _) = c
            .post(
                &format!("/v1/tasks/{task}/status"),
                Some(pr.to_string().into_bytes()),
            )
            .await?;
        if status != StatusCode::OK || opened != StatusCode::OK {
            errors += 1;
        }
    }
    Ok((times, errors))
}

/// Asks for previews until `stop`: each preview's latency in ms, and the failed ones.
async fn preview_loop(mut c: WorkerConn, stop: Arc<AtomicBool>) -> (Vec<f64>, u64) {
    let (mut times, mut errors) = (Vec::new(), 0);
    while !stop.load(Ordering::Relaxed) {
        let t0 = Instant::now();
        match c.send(Method::GET, "/v1/work/preview", None, None).await {
            Ok((StatusCode::OK, _)) => times.push(t0.elapsed().as_secs_f64() * 1000.0),
            _ => {
                errors += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    (times, errors)
}
