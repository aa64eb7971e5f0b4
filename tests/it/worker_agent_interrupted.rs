//! `owp worker run --agent` when the run is interrupted, against a real `owp serve` behind a
//! proxy whose target can change: the server restarts, the lease expires or the task is
//! cancelled while the agent runs, the volunteer presses Ctrl-C, and a lease held from an earlier
//! run is resumed.

use crate::support;
use crate::worker_agent_rig::*;

use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use support::{Server, str_field};

const PR_URL: &str = "https://github.com/acme/widgets/pull/42";

/// A TCP proxy on a fixed port, forwarding to whichever server is current. Pointing it elsewhere
/// also cuts the open connections, as a real outage would.
struct Proxy {
    url: String,
    target: Arc<Mutex<String>>,
    generation: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    async fn start(target: &str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let target = Arc::new(Mutex::new(host_of(target)));
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let shared = target.clone();
        let cuts = generation.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let to = shared.lock().unwrap().clone();
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&to).await {
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                        }
                    }
                });
            }
        });
        Proxy {
            url,
            target,
            generation,
        }
    }

    fn point_to(&self, base: &str) {
        *self.target.lock().unwrap() = host_of(base);
        self.generation.send_modify(|g| *g += 1);
    }
}

fn host_of(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// Waits until the fake agent has started on the task (its log says so).
async fn wait_agent_started(rig: &Rig) {
    let log = rig.path("work/logs").join(format!("{}.log", rig.task_id));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log).is_ok_and(|t| t.contains("agent working on")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the task has the status (or panics after `secs`).
async fn wait_status(server: &Server, task_id: &str, status: &str, secs: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let task = server.task(task_id).await;
        if task["status"] == status {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "task never became {status}: {task}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_server_restart_mid_run_does_not_stop_the_run() {
    let mut first = Server::start().await;
    let proxy = Proxy::start(&first.base).await;
    let rig = Rig::new(first.start_sharing(&[]).await, None).await;
    // `rig.server` is a second process on the same database; the worker talks to the proxy.
    proxy.point_to(&rig.server.base);
    first.stop();
    let run = rig.run_once(
        &proxy.url,
        &[],
        &[("AGENT_MODE", "slow"), ("AGENT_SLEEP", "6")],
    );
    let restart = async {
        wait_agent_started(&rig).await;
        // The server goes away while the agent works, and a new process takes over.
        let mut stopped = rig.server.start_sharing(&[]).await;
        proxy.point_to(&stopped.base);
        stopped.stop();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let next = rig.server.start_sharing(&[]).await;
        proxy.point_to(&next.base);
        next
    };
    let (out, _next) = tokio::join!(run, restart);
    assert!(out.status.success(), "{}", text(&out));
    let task = rig.task().await;
    assert_eq!(str_field(&task, "status"), "pr_opened", "{task}");
    assert_eq!(task["artifact"]["pr_url"], PR_URL);
    assert!(rig.branch_in_origin(BRANCH));
}

#[cfg(unix)]
#[tokio::test]
async fn a_lease_that_expires_while_the_agent_runs_stops_it_and_pushes_nothing() {
    let ttl = [("OWP_LEASE_TTL_SECONDS", "3")];
    let first = Server::start_with_env(&ttl).await;
    let proxy = Proxy::start(&first.base).await;
    let rig = Rig::new(first, None).await;
    let run = rig.run_once(
        &proxy.url,
        &[],
        &[("AGENT_MODE", "slow"), ("AGENT_SLEEP", "25")],
    );
    let outage = async {
        wait_agent_started(&rig).await;
        // The worker cannot reach the server for longer than the lease lives.
        proxy.point_to("127.0.0.1:9");
        tokio::time::sleep(Duration::from_secs(5)).await;
        // The server expires the lease on its next request; then the worker may reach it again.
        let task = rig.server.task(&rig.task_id).await;
        assert_eq!(task["status"], "ready", "{task}");
        proxy.point_to(&rig.server.base);
    };
    let started = std::time::Instant::now();
    let (out, ()) = tokio::join!(run, outage);
    expect_stopped(&rig, &out, started, Duration::from_secs(22));
}

/// The agent was stopped within `limit` of `started` because its lease was lost: the run
/// failed, said so, and nothing reached origin or `gh`.
fn expect_stopped(rig: &Rig, out: &Output, started: std::time::Instant, limit: Duration) {
    assert!(!out.status.success(), "{}", text(out));
    assert!(
        started.elapsed() < limit,
        "the agent was not stopped: {}",
        text(out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("lease lost"), "{}", text(out));
    assert!(
        !rig.branch_in_origin(BRANCH),
        "pushed after the lease was lost"
    );
    assert!(!rig.path("gh.log").exists());
    rig.main_untouched();
}

#[cfg(unix)]
#[tokio::test]
async fn a_task_cancelled_while_the_agent_runs_stops_it() {
    let rig = Rig::new(Server::start().await, None).await;
    let run = rig.run_once(
        &rig.server.base,
        &[],
        &[
            ("AGENT_MODE", "slow"),
            ("AGENT_SLEEP", "30"),
            ("OWP_AGENT_RENEW_SECONDS", "1"),
        ],
    );
    let cancel = async {
        wait_status(&rig.server, &rig.task_id, "in_progress", 30).await;
        rig.server
            .admin_set_status(&rig.task_id, "cancelled")
            .await
            .expect_ok();
    };
    let started = std::time::Instant::now();
    let (out, ()) = tokio::join!(run, cancel);
    expect_stopped(&rig, &out, started, Duration::from_secs(20));
    assert_eq!(str_field(&rig.task().await, "status"), "cancelled");
}

#[cfg(unix)]
#[tokio::test]
async fn a_lease_held_from_an_earlier_run_is_resumed() {
    let rig = Rig::new(Server::start().await, None).await;
    // An earlier run took and acknowledged the lease, then stopped.
    let profile: Value =
        serde_json::from_str(&std::fs::read_to_string(rig.path("config/worker.json")).unwrap())
            .unwrap();
    let token = str_field(&profile, "token");
    let (lease_id, task_id, _) = rig.server.claim_ok(&token).await;
    assert_eq!(task_id, rig.task_id);
    rig.server.ack(&token, &lease_id).await.expect_ok();
    let out = rig.run_once(&rig.server.base, &[], &[]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("resuming 1 lease"),
        "{}",
        text(&out)
    );
    let task = rig.task().await;
    assert_eq!(str_field(&task, "status"), "pr_opened", "{task}");
    assert_eq!(task["artifact"]["pr_url"], PR_URL);
}

/// Ctrl-C while the command works: its process tree is stopped as on a lost lease, the task is
/// given back at once (not left to expire), and `owp` ends with 0.
#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_stops_the_agent_and_gives_the_task_back() {
    let rig = Rig::new(Server::start().await, None).await;
    let run = rig.run_once(
        &rig.server.base,
        &[],
        &[("AGENT_MODE", "slow"), ("AGENT_SLEEP", "30")],
    );
    let press = async {
        wait_agent_started(&rig).await;
        rig.ctrl_c();
        std::time::Instant::now()
    };
    let (out, pressed) = tokio::join!(run, press);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        pressed.elapsed() < Duration::from_secs(15),
        "the agent was not stopped: {}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "stopping: stopping the agent's processes… (Ctrl-C again stops at once)",
        "stopped: the task was given back",
    ] {
        assert!(stdout.contains(line), "no {line:?} in {}", text(&out));
    }
    assert_eq!(str_field(&rig.task().await, "status"), "ready");
    let events = rig.events_text().await;
    assert!(
        events.contains("the volunteer stopped the run (Ctrl-C)"),
        "{events}"
    );
    // The whole tree is gone: the script never got past its `sleep` to write and commit.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let worktree = rig.path("work/tasks").join(&rig.task_id);
    assert_eq!(
        std::fs::read_to_string(worktree.join("file.txt")).unwrap(),
        "start\n"
    );
    assert!(!rig.branch_in_origin(BRANCH));
    assert!(!rig.path("gh.log").exists());
}
