//! `owp worker simulate`: workers that take tasks through their lifecycle with made-up pull
//! requests.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use chrono::Utc;
use rand::Rng;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::cli::client::present::{clip, clock, is_github_repo, now_clock};
use crate::cli::client::{ClientError, Lease, OwpClient, Task, say};
use crate::domain::model::TaskStatus;

use super::*;

/// A pull request URL for a simulated worker: on GitHub for `owner/name` repos, else on the
/// reserved `example.invalid` domain.
pub fn fake_pr_url(repo: &str, number: u64) -> String {
    if is_github_repo(repo) {
        format!("https://github.com/{repo}/pull/{number}")
    } else {
        let safe: String = repo
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/') {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        format!("https://example.invalid/{safe}/pull/{number}")
    }
}

/// Prints one simulated step, as text or a JSON line.
#[derive(Clone)]
struct StepLog {
    name: String,
    json: bool,
}

impl StepLog {
    fn step(&self, step: &str, task: Option<&Task>, detail: &str) {
        if self.json {
            let mut v = serde_json::json!({
                "at": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "worker": self.name,
                "step": step,
            });
            if let Some(t) = task {
                v["task_id"] = Value::from(t.task_id.clone());
                v["repo"] = Value::from(t.repo.clone());
                v["title"] = Value::from(t.title.clone());
            }
            if !detail.is_empty() {
                v["detail"] = Value::from(detail);
            }
            print_json_line(v);
        } else {
            let what = task
                .map(|t| format!("“{}” ({}) ", clip(&t.title, 48), t.repo))
                .unwrap_or_default();
            say!(
                "{}  {:<10} {:<11} {what}{detail}",
                now_clock(),
                self.name,
                step
            );
        }
    }
}

type ClaimFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<Option<Lease>, ClientError>> + Send>>;

/// One simulated task: acknowledged, worked on for a while, then a pull request.
async fn simulate_one(
    client: OwpClient,
    lease: Lease,
    work: Duration,
    log: StepLog,
    prs: Arc<std::sync::atomic::AtomicU64>,
) -> Result<(), ClientError> {
    let mut task = lease.task.clone();
    let changed = client.ack(&lease.lease_id).await?;
    if let Some(t) = changed.task() {
        task = t;
    }
    let until = changed
        .expires_at()
        .map(|t| format!("lease until {}", clock(&t)))
        .unwrap_or_default();
    log.step("acked", Some(&task), &until);
    if task.status == TaskStatus::Leased {
        let changed = client
            .task_status(&task.task_id, "in_progress", None, None)
            .await?;
        if let Some(t) = changed.task() {
            task = t;
        }
    }
    log.step(
        "working",
        Some(&task),
        &format!("for {:.1}s", work.as_secs_f64()),
    );
    tokio::time::sleep(work).await;
    let number = prs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let url = fake_pr_url(&task.repo, number);
    let artifact = serde_json::json!({ "pr_url": url, "x_simulated": true });
    let note = "opened by `owp worker simulate`";
    client
        .task_status(&task.task_id, "pr_opened", Some(artifact), Some(note))
        .await?;
    log.step("pr_opened", Some(&task), &url);
    Ok(())
}

pub(super) async fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    if !(args.work_seconds.is_finite() && args.work_seconds >= 0.0) {
        bail!("--work-seconds must be a number of seconds ≥ 0");
    }
    if args.max_tasks == Some(0) {
        bail!("--max-tasks must be at least 1");
    }
    let session = if args.register {
        let name = args.name.as_deref().unwrap_or_default();
        let (config, path, _) = register_and_save(name, &args.worker, &args.common, None).await?;
        if !args.common.json {
            say!(
                "registered {} as worker {} (saved to {})",
                config.name,
                config.worker_id,
                path.display()
            );
        }
        Session::load(&args.common)?
    } else {
        Session::load(&args.common)?
    };
    let client = session.client.clone();
    client.heartbeat(Some("idle")).await?;
    let me = client.me().await?;
    let max_concurrent = usize::try_from(me.worker.max_concurrent_tasks.max(1)).unwrap_or(1);
    let log = StepLog {
        name: me.worker.name.clone(),
        json: session.json,
    };
    log.step(
        "online",
        None,
        &format!(
            "skills {} · {} points · {} at a time · {} · Ctrl-C to stop",
            if me.worker.skills.is_empty() {
                "(none)".to_string()
            } else {
                me.worker.skills.join(",")
            },
            me.worker.capacity_points,
            max_concurrent,
            client.base_url
        ),
    );
    let heartbeats = spawn_heartbeats(client.clone(), session.heartbeat_every(), session.json);
    let prs = Arc::new(std::sync::atomic::AtomicU64::new(
        rand::rng().random_range(100..900),
    ));
    let mut jobs: JoinSet<Result<(), ClientError>> = JoinSet::new();
    let mut started: u64 = 0;
    let mut finished: u64 = 0;
    let mut claim: Option<ClaimFuture> = None;
    let mut backoff = Duration::from_secs(2);
    let mut idle_reported = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);

    let outcome: anyhow::Result<()> = loop {
        let more_wanted = args.max_tasks.is_none_or(|max| started < max);
        if claim.is_none() && more_wanted && jobs.len() < max_concurrent {
            let c = client.clone();
            let wait = args.wait;
            claim = Some(Box::pin(async move {
                let t0 = tokio::time::Instant::now();
                let r = c.claim(Some(wait)).await;
                if matches!(r, Ok(None)) && t0.elapsed() < Duration::from_secs(1) {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
                r
            }));
        }
        if claim.is_none() && jobs.is_empty() {
            break Ok(());
        }
        tokio::select! {
            _ = &mut ctrl_c => {
                if !session.json {
                    say!();
                }
                log.step(
                    "stopped",
                    None,
                    &format!(
                        "{} task(s) still held: they expire and return to the pool, or resume with `owp worker run{}`",
                        jobs.len(),
                        profile_flag(&args.common)
                    ),
                );
                break Ok(());
            }
            result = async { claim.as_mut().expect("guarded by is_some").await }, if claim.is_some() => {
                claim = None;
                match result {
                    Ok(Some(lease)) => {
                        backoff = Duration::from_secs(2);
                        idle_reported = false;
                        started += 1;
                        let task = &lease.task;
                        log.step(
                            "claimed",
                            Some(task),
                            &format!(
                                "{}{} pts{}",
                                task.key.as_deref().map(|k| format!("{k} · ")).unwrap_or_default(),
                                task.estimate_points,
                                task.area.as_deref().map(|a| format!(" · area {a}")).unwrap_or_default()
                            ),
                        );
                        let jitter = rand::rng().random_range(0.75..=1.25);
                        let work = Duration::from_secs_f64(args.work_seconds * jitter);
                        jobs.spawn(simulate_one(client.clone(), lease, work, log.clone(), prs.clone()));
                    }
                    Ok(None) => {
                        if !idle_reported {
                            idle_reported = true;
                            log.step(
                                "waiting",
                                None,
                                "nothing eligible now (skills, capacity, review budget or area locks); still asking",
                            );
                        }
                    }
                    Err(e) if e.is_auth() => break Err(e.into()),
                    Err(e) => {
                        log.step("waiting", None, &format!("claim failed: {e}; retry in {}s", backoff.as_secs()));
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                }
            }
            Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                match done {
                    Ok(Ok(())) => finished += 1,
                    Ok(Err(e)) if e.is_auth() => break Err(e.into()),
                    Ok(Err(e)) => log.step("failed", None, &e.to_string()),
                    Err(e) => log.step("failed", None, &format!("simulated task stopped: {e}")),
                }
            }
        }
    };
    heartbeats.abort();
    jobs.abort_all();
    if outcome.is_ok() && args.max_tasks.is_some_and(|max| finished >= max) {
        log.step("done", None, &format!("{finished} task(s) simulated"));
    }
    outcome
}
