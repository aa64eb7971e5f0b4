//! `owp bench --github-installations 5,40,1000`: the App among many installations, GitHub some
//! way off.
//!
//! For every backend × server processes × installations × GitHub latency (and, with `--against
//! PATH`, for this build and then for the other executable, each on a database of its own) it:
//! 1. starts a simulated GitHub in this process ([`super::github_sim`]) that knows I
//!    installations of the App, each on an account of its own with `--repos-per-installation`
//!    repositories, and answers every request `--github-latency-ms` after it arrived;
//! 2. starts `owp serve` (one, or `--replicas` processes sharing a PostgreSQL database) with the
//!    App on, its API pointed at the simulation, and waits for the App's start-up jobs; with
//!    `--server-cpu C` each process runs capped at C cores, as a replica on a small machine of
//!    its own would (so that two processes are not read against the cores they share);
//! 3. opens `--deliveries-per-installation` issues labelled `pool:ready` in each installation
//!    (spread over its repositories, the installations taking turns) and sends each one's signed
//!    `issues.opened` delivery from `--webhook-senders` concurrent senders, round-robin over the
//!    processes;
//! 4. waits until every issue's task exists (deliveries applied) and its status comment was
//!    posted, then reads the rates from the first delivery sent: deliveries applied/s, status
//!    comments posted/s; the server's peak RSS (`VmHWM`, the largest process); and, from the
//!    simulation's log of each installation's writes, the times its writes went faster than
//!    GitHub allows (a second apart, 80 a minute, 500 an hour), which must be none.

mod report;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use super::cpu_cap::ServerCpu;
use super::data::{ScratchDb, tool_pool};
use super::github_sim::apart::Simulation;
use super::github_sim::{ISSUE_LABELS, SimReport};
use super::loops::median;
use super::servers::{Build, ServerProcess, builds};
use super::webhooks::post_signed;
use super::{BenchArgs, BenchBackend, DEFAULT_GITHUB_KEY, load_average};
use report::{InstallsResult, Second, table, targets};

/// The App id the servers run as; the simulation checks their JWTs against it.
const APP_ID: u64 = 4_242;
/// The first installation's id; the others follow.
const FIRST_INSTALLATION: u64 = 70_001;
/// The person who opens every issue.
const AUTHOR: (&str, u64) = ("bench-author", 5_151);
/// How often the database and the simulation are read while waiting.
const POLL: Duration = Duration::from_millis(25);
/// The longest a server's start-up jobs are waited for.
const START_WAIT: Duration = Duration::from_secs(60);

/// One row of the report: what is run, once per executable.
#[derive(Clone, Copy, Debug)]
struct Shape {
    backend: BenchBackend,
    replicas: usize,
    installations: usize,
    latency_ms: u64,
}

/// Runs every requested row (with both executables under `--against`) and prints the report.
pub(super) async fn run(args: &BenchArgs, server_cpu: Option<&ServerCpu>) -> anyhow::Result<()> {
    if args.github_installations.contains(&0)
        || args.deliveries_per_installation == 0
        || args.repos_per_installation == 0
        || args.webhook_senders == 0
    {
        bail!(
            "--github-installations, --deliveries-per-installation, --repos-per-installation and \
             --webhook-senders must be at least 1"
        );
    }
    let key = args
        .github_key
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_GITHUB_KEY));
    let key = std::fs::canonicalize(&key)
        .with_context(|| format!("cannot read the App key {} (--github-key)", key.display()))?;
    let exe_dir = tempfile::tempdir()?;
    let builds = builds(args, exe_dir.path())?;
    let mut results = Vec::new();
    for shape in plan(args) {
        for build in &builds {
            eprintln!(
                "== {} | {} | {} server process(es) | {} installations × {} repositories × {} \
                 deliveries | GitHub {} ms away",
                build.label,
                shape.backend.name(),
                shape.replicas,
                shape.installations,
                args.repos_per_installation,
                args.deliveries_per_installation,
                shape.latency_ms
            );
            let r = run_one(args, shape, build, &key, server_cpu)
                .await
                .with_context(|| {
                    format!(
                        "{} with {} installations ({})",
                        shape.backend.name(),
                        shape.installations,
                        build.exe.display()
                    )
                })?;
            if args.json {
                println!("{}", serde_json::to_string(&r)?);
            }
            results.push(r);
        }
    }
    if !args.json {
        print!("{}", table(&results, args.against.is_some()));
        print!("{}", targets(&results));
    }
    Ok(())
}

/// The rows: backend × processes (one on SQLite) × installations × latency.
fn plan(args: &BenchArgs) -> Vec<Shape> {
    let mut out = Vec::new();
    for &backend in &args.backends {
        let replicas: Vec<usize> = match backend {
            BenchBackend::Sqlite | BenchBackend::SqliteSqlx => vec![1],
            BenchBackend::Postgres => args.replicas.iter().map(|&r| r.max(1)).collect(),
        };
        for &replicas in &replicas {
            for &installations in &args.github_installations {
                for &latency_ms in &args.github_latency_ms {
                    out.push(Shape {
                        backend,
                        replicas,
                        installations,
                        latency_ms,
                    });
                }
            }
        }
    }
    out
}

/// An installation's id, account and repositories (`(id, owner/name)`).
fn installation(i: usize, repos: usize) -> (u64, String, Vec<(u64, String)>) {
    let id = FIRST_INSTALLATION + i as u64;
    let account = format!("bench-org{i}");
    let repos = (0..repos)
        .map(|j| {
            let repo_id = 500_000 + (i * repos + j) as u64;
            (repo_id, format!("{account}/repo{j}"))
        })
        .collect();
    (id, account, repos)
}

/// One delivery: the installation, the repository and the issue it opens.
#[derive(Clone, Debug)]
struct Delivery {
    installation: u64,
    repo_id: u64,
    repo: String,
    number: u64,
}

/// Every delivery of a run, the installations taking turns: the first issue of each, then the
/// second of each, …; an installation's issues go round its repositories.
fn deliveries(installations: usize, repos: usize, per_installation: usize) -> Vec<Delivery> {
    let all: Vec<_> = (0..installations).map(|i| installation(i, repos)).collect();
    let mut out = Vec::with_capacity(installations * per_installation);
    for d in 0..per_installation {
        for (id, _, repos) in &all {
            let (repo_id, repo) = &repos[d % repos.len()];
            out.push(Delivery {
                installation: *id,
                repo_id: *repo_id,
                repo: repo.clone(),
                number: (d / repos.len() + 1) as u64,
            });
        }
    }
    out
}

/// The `issues.opened` delivery of `d`, as GitHub sends it (the fields the App reads and those
/// that identify it).
fn opened_body(d: &Delivery, issue_id: u64, title: &str, body: &str) -> String {
    let (owner, name) = d.repo.split_once('/').unwrap_or(("", &d.repo));
    let author = json!({"login": AUTHOR.0, "id": AUTHOR.1, "type": "User"});
    json!({
        "action": "opened",
        "issue": {
            "id": issue_id,
            "number": d.number,
            "title": title,
            "body": body,
            "state": "open",
            "labels": ISSUE_LABELS.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
            "html_url": format!("https://github.com/{}/issues/{}", d.repo, d.number),
            "user": author,
            "author_association": "NONE",
            "issue_dependencies_summary": {
                "blocked_by": 0, "total_blocked_by": 0, "blocking": 0, "total_blocking": 0
            },
        },
        "repository": {
            "id": d.repo_id,
            "name": name,
            "full_name": d.repo,
            "private": false,
            "default_branch": "main",
            "owner": {"login": owner, "id": d.installation, "type": "Organization"},
        },
        "installation": {"id": d.installation},
        "sender": author,
    })
    .to_string()
}

/// The commits of all the servers together, read from their scrapes
/// (`owp_store_commits_total`); `None` when one does not say.
fn commits_in(scrapes: &[String]) -> Option<u64> {
    scrapes
        .iter()
        .map(|scrape| super::servers::store_commits(scrape))
        .sum()
}

async fn run_one(
    args: &BenchArgs,
    shape: Shape,
    build: &Build,
    key: &Path,
    server_cpu: Option<&ServerCpu>,
) -> anyhow::Result<InstallsResult> {
    let dir = tempfile::tempdir()?;
    let db = ScratchDb::create(shape.backend, args.database_url.as_deref(), dir.path()).await?;
    let outcome = measure(args, shape, build, server_cpu, key, &db, dir.path()).await;
    db.drop_database().await;
    outcome
}

async fn measure(
    args: &BenchArgs,
    shape: Shape,
    build: &Build,
    server_cpu: Option<&ServerCpu>,
    key: &Path,
    db: &ScratchDb,
    dir: &Path,
) -> anyhow::Result<InstallsResult> {
    let latency = Duration::from_millis(shape.latency_ms);
    let sim = Simulation::start(args.github_apart, latency, APP_ID, key).await?;
    sim.add_installations(
        (0..shape.installations)
            .map(|i| installation(i, args.repos_per_installation))
            .collect(),
    )
    .await?;
    let env = [
        ("GITHUB_APP_ID", APP_ID.to_string()),
        ("GITHUB_PRIVATE_KEY_PATH", key.display().to_string()),
        ("GITHUB_API_URL", sim.url().to_string()),
    ];
    // The first process makes the schema (its own build's), the others join it. With
    // `--server-cpu`, each one runs in a control group of its own, as a replica on a small
    // machine of its own would.
    let mut servers = Vec::new();
    for k in 0..shape.replicas {
        let name = format!("app-{k}");
        let mut server =
            ServerProcess::spawn_exe(&build.exe, shape.backend, &db.url, dir, &name, &env).await?;
        server.capped(server_cpu)?;
        servers.push(server);
    }
    let started = Instant::now();
    while sim.progress().await?.deliveries_listed < shape.replicas {
        if started.elapsed() > START_WAIT {
            eprintln!("warning: the App's start-up jobs did not finish; sending all the same");
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    // This process reads the count of tasks without opening a store (whose schema is the
    // servers' build's).
    sqlx::any::install_default_drivers();
    let tool = tool_pool(shape.backend, &db.url).await?;
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let all = deliveries(
        shape.installations,
        args.repos_per_installation,
        args.deliveries_per_installation,
    );
    let total = all.len();
    eprintln!(
        "sending {total} signed issues.opened deliveries from {} senders…",
        args.webhook_senders
    );
    let mut scrapes = Vec::new();
    for base in &bases {
        scrapes.push(super::servers::scrape(base).await);
    }
    let commits_before = commits_in(&scrapes);
    let sim = Arc::new(sim);
    let t0_ms = sim.progress().await?.now_ms;
    let t0 = Instant::now();
    let sent = send_all(&sim, &bases, Arc::new(all), args.webhook_senders);
    let deadline = t0 + Duration::from_secs(args.github_wait_s);
    let mut applied_s = None;
    let mut applied = 0;
    let mut timed_out = false;
    // Tasks made by the end of each second after the first delivery.
    let mut applied_by_second: Vec<usize> = Vec::new();
    loop {
        if applied_s.is_none() {
            applied = tasks(&tool).await?;
            let second = t0.elapsed().as_secs() as usize;
            if applied_by_second.len() <= second {
                let last = applied_by_second.last().copied().unwrap_or(0);
                applied_by_second.resize(second + 1, last);
            }
            applied_by_second[second] = applied;
            if applied >= total {
                applied_s = Some(t0.elapsed().as_secs_f64());
            }
        }
        let status_issues = sim.progress().await?.status_issues;
        if applied_s.is_some() && status_issues >= total {
            break;
        }
        if Instant::now() > deadline {
            timed_out = true;
            eprintln!(
                "warning: gave up after {} s (--github-wait-s): {applied} of {total} applied, \
                 {status_issues} status comments",
                args.github_wait_s,
            );
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let (send_failures, sending_s) = sent.await?;
    let mut peak_rss_kb = 0;
    let mut waited: std::collections::BTreeMap<String, f64> = Default::default();
    let mut scrapes = Vec::new();
    for s in &mut servers {
        let scrape = super::servers::scrape(&s.base).await;
        for (on, secs) in super::servers::github_waited(&scrape) {
            *waited.entry(on).or_default() += secs;
        }
        scrapes.push(scrape);
        peak_rss_kb = peak_rss_kb.max(s.peak_rss_kb());
        s.stop().await;
    }
    tool.close().await;
    let commits = commits_before
        .zip(commits_in(&scrapes))
        .map(|(before, after)| after.saturating_sub(before));
    let report = sim.report().await?;
    let status_s = report
        .last_status_ms
        .map(|last| last.saturating_sub(t0_ms) as f64 / 1000.0);
    let rate = |secs: Option<f64>, n: usize| secs.map_or(0.0, |s| n as f64 / s.max(1e-3));
    let per_second = seconds(&report, t0_ms, &applied_by_second);
    Ok(InstallsResult {
        binary: build.label.to_string(),
        exe: build.exe.display().to_string(),
        backend: shape.backend.name().to_string(),
        replicas: shape.replicas,
        server_cpu: server_cpu.map(ServerCpu::cores),
        installations: shape.installations,
        repos_per_installation: args.repos_per_installation,
        deliveries: total,
        latency_ms: shape.latency_ms,
        senders: args.webhook_senders,
        github_apart: args.github_apart,
        send_failures,
        sending_s,
        applied: applied.min(total),
        applied_s,
        applied_per_s: rate(applied_s, total),
        status_comments: report.status_issues,
        duplicate_status_comments: report.duplicate_status,
        status_s,
        status_per_s: rate(status_s, report.status_issues),
        peak_rss_mb: peak_rss_kb as f64 / 1024.0,
        violations: report.writes.values().map(|w| w.violations()).sum(),
        installations_too_fast: report
            .writes
            .iter()
            .filter(|(_, w)| w.violations() > 0)
            .map(|(id, w)| (*id, w.clone()))
            .collect(),
        first_write_s: median_of(
            report
                .writes
                .values()
                .filter_map(|w| w.first_ms)
                .map(|first| first.saturating_sub(t0_ms) as f64 / 1000.0),
        ),
        write_gap_ms: median_of(report.writes.values().filter_map(|w| w.mean_gap_ms())),
        writes: report.writes.values().map(|w| w.writes).sum(),
        max_writes_per_minute: report
            .writes
            .values()
            .map(|w| w.max_per_minute)
            .max()
            .unwrap_or(0),
        requests: report.per_second.values().flat_map(|k| k.values()).sum(),
        per_second,
        waited,
        commits,
        limited: report.limited,
        refused: report.refused,
        unknown_routes: report.unknown,
        timed_out,
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        load_avg: load_average(),
    })
}

/// Second by second from the first delivery: the deliveries applied and GitHub's requests by
/// kind (as the simulation saw them arrive), up to the last second with either.
fn seconds(report: &SimReport, t0_ms: u64, applied_by_second: &[usize]) -> Vec<Second> {
    let first = t0_ms / 1000;
    let last_request = report
        .per_second
        .keys()
        .next_back()
        .copied()
        .unwrap_or(first);
    let len = (last_request.saturating_sub(first) as usize + 1).max(applied_by_second.len());
    (0..len)
        .map(|i| {
            let done = |i: usize| {
                applied_by_second
                    .get(i)
                    .or(applied_by_second.last())
                    .copied()
                    .unwrap_or(0)
            };
            let applied = done(i) - if i == 0 { 0 } else { done(i - 1) };
            // The simulation counts whole seconds since it started; the run's first second
            // starts within its first one.
            let requests = report
                .per_second
                .get(&(first + i as u64))
                .map(|k| k.iter().map(|(k, n)| (k.to_string(), *n)).collect())
                .unwrap_or_default();
            Second {
                second: i,
                applied,
                requests,
            }
        })
        .collect()
}

/// The number of tasks in the database (one per applied delivery).
async fn tasks(pool: &sqlx::AnyPool) -> anyhow::Result<usize> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks")
        .fetch_one(pool)
        .await?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Opens each delivery's issue on the simulation and sends its delivery, from `senders`
/// concurrent senders; resolves to (deliveries not accepted, seconds taken).
fn send_all(
    sim: &Arc<Simulation>,
    bases: &[String],
    all: Arc<Vec<Delivery>>,
    senders: usize,
) -> tokio::task::JoinHandle<(usize, f64)> {
    let sim = Arc::clone(sim);
    let bases = bases.to_vec();
    tokio::spawn(async move {
        let started = Instant::now();
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("an HTTP client");
        let next = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..senders)
            .map(|s| {
                let (sim, all, next, http) = (sim.clone(), all.clone(), next.clone(), http.clone());
                let base = bases[s % bases.len()].clone();
                tokio::spawn(async move {
                    let mut failed = 0;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(d) = all.get(i) else { break };
                        let title = format!("Bench issue {} of {}", d.number, d.repo);
                        let text = "Opened by owp bench.";
                        let opened = sim.open_issue(&d.repo, d.number, &title, text, AUTHOR);
                        let Ok(id) = opened.await else {
                            failed += 1;
                            continue;
                        };
                        let body = opened_body(d, id, &title, text);
                        match post_signed(&http, &base, "issues", body).await {
                            Ok(status) if (200..300).contains(&status) => {}
                            _ => failed += 1,
                        }
                    }
                    failed
                })
            })
            .collect();
        let mut failed = 0;
        for h in handles {
            failed += h.await.unwrap_or(0);
        }
        if failed > 0 {
            eprintln!("warning: {failed} deliveries were not accepted");
        }
        (failed, started.elapsed().as_secs_f64())
    })
}

/// The median of some values; `None` without any.
fn median_of(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.collect();
    (!v.is_empty()).then(|| median(&mut v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installations_take_turns_and_issues_go_round_the_repositories() {
        let all = deliveries(2, 2, 3);
        let seen: Vec<(u64, &str, u64)> = all
            .iter()
            .map(|d| (d.installation, d.repo.as_str(), d.number))
            .collect();
        assert_eq!(
            seen,
            [
                (70_001, "bench-org0/repo0", 1),
                (70_002, "bench-org1/repo0", 1),
                (70_001, "bench-org0/repo1", 1),
                (70_002, "bench-org1/repo1", 1),
                (70_001, "bench-org0/repo0", 2),
                (70_002, "bench-org1/repo0", 2),
            ]
        );
        // Every repository id is its own.
        let mut ids: Vec<u64> = (0..3)
            .flat_map(|i| installation(i, 4).2)
            .map(|(id, _)| id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 12);
    }
}
