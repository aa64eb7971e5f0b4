//! Database connections cut under load, as an operator's restart of PostgreSQL or a failover
//! does: every connection of a real `owp serve` is ended every 2 s (`pg_terminate_backend`) while
//! workers claim, acknowledge, heartbeat and give work back through `owp`'s own client. No
//! acknowledgement fails (so no lease is lost to one), no client call fails, and a request retried
//! with its `Idempotency-Key` after a 5xx runs again rather than finding its key reserved.
//!
//! Runs when `OWP_TEST_DATABASE_URL` names a PostgreSQL server; otherwise it prints why it
//! skipped and passes.

use crate::services::{postgres_enabled, postgres_url};
use crate::support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use owp::cli::client::{OwpClient, RegisterRequest};
use reqwest::Method;
use serde_json::json;
use sqlx::Connection;
use support::{Server, TestDatabase};

const REPO: &str = "acme/cut";
const WORKERS: usize = 16;
const KILL_EVERY: Duration = Duration::from_secs(2);
const KILLS: usize = 8;
/// A worker's pause between handing a task back and its next heartbeat.
const PAUSE: Duration = Duration::from_millis(400);

/// What the workers and the probe saw.
#[derive(Default)]
struct Seen {
    /// Client calls that failed after the client's own retries, by operation.
    failures: Mutex<Vec<String>>,
    acks: AtomicU64,
    claims: AtomicU64,
    heartbeats: AtomicU64,
    /// The longest client call, in ms (its retries included).
    slowest_ms: AtomicU64,
    /// Answers of 5xx the probe saw (before sending again with the same key).
    probe_5xx: AtomicU64,
    /// `409 idempotency_in_progress` answers to the probe's retries after a 5xx.
    probe_in_progress: AtomicU64,
    /// The probe's successful writes: when each was sent and when it was answered.
    probe_ok: Mutex<Vec<(Instant, Instant)>>,
}

impl Seen {
    fn failed(&self, what: &str, e: impl std::fmt::Display) {
        self.failures.lock().unwrap().push(format!("{what}: {e}"));
    }

    fn timed(&self, since: Instant) {
        let ms = since.elapsed().as_millis() as u64;
        self.slowest_ms.fetch_max(ms, Ordering::Relaxed);
    }
}

/// One worker: claim, acknowledge, heartbeat, give the task back, pause, again and again.
async fn work(client: OwpClient, seen: Arc<Seen>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        match client.heartbeat(None).await {
            Ok(_) => seen.heartbeats.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                seen.failed("heartbeat", e);
                continue;
            }
        };
        seen.timed(t);
        let t = Instant::now();
        let lease = match client.claim(None).await {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => {
                seen.failed("claim", e);
                continue;
            }
        };
        seen.timed(t);
        seen.claims.fetch_add(1, Ordering::Relaxed);
        let t = Instant::now();
        if let Err(e) = client.ack(&lease.lease_id).await {
            seen.failed("ack", e);
            continue;
        }
        seen.timed(t);
        seen.acks.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t = Instant::now();
        if let Err(e) = client.nack(&lease.lease_id, Some("handing it on")).await {
            seen.failed("nack", e);
        }
        seen.timed(t);
        // Paced, as a volunteer's worker is: sixteen of them keep the server's connections busy
        // at every kill without spending the machine's CPU the tests beside this one need.
        tokio::time::sleep(PAUSE).await;
    }
}

/// Writes through the server every 20 ms with a key of its own, sending the same request again
/// with the same key after a 5xx, as the spec tells a client to.
async fn probe(server: Arc<Server>, seen: Arc<Seen>, stop: Arc<AtomicBool>) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let key = format!("probe-{n}");
        let body = json!({"repo": REPO, "max_open_prs": 1000 + (n % 7) as i64});
        let sent = Instant::now();
        loop {
            let r = server
                .req(Method::POST, "/v1/admin/repos")
                .admin(&server)
                .idempotency_key(&key)
                .json(&body)
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            if r.status == 200 || r.status == 201 {
                seen.probe_ok.lock().unwrap().push((sent, Instant::now()));
                break;
            }
            if r.status >= 500 {
                seen.probe_5xx.fetch_add(1, Ordering::Relaxed);
            } else if r.json["code"] == "idempotency_in_progress" {
                seen.probe_in_progress.fetch_add(1, Ordering::Relaxed);
            } else {
                seen.failed("probe", r.describe());
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ends every connection to `database` but the killer's own; returns how many it ended.
async fn kill_connections(killer: &mut sqlx::PgConnection, database: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()) ended",
    )
    .bind(database)
    .fetch_one(killer)
    .await
    .expect("terminate the server's connections")
}

/// From each kill, how long until a write sent after it was answered.
fn recoveries(kills: &[Instant], ok: &[(Instant, Instant)]) -> Vec<Duration> {
    kills
        .iter()
        .filter_map(|k| {
            ok.iter()
                .filter(|(sent, _)| sent >= k)
                .map(|(_, answered)| *answered - *k)
                .min()
        })
        .collect()
}

/// A request that failed with a 5xx left nothing under its `Idempotency-Key`: sent again with
/// the same key once the database is whole, it runs (spec §10), rather than answering `409
/// idempotency_in_progress`. On SQLite, and on PostgreSQL with `OWP_TEST_BACKEND=postgres`.
#[tokio::test]
async fn a_retry_after_a_5xx_runs_with_the_same_key() {
    let server = Server::start().await;
    let repo = json!({"repo": REPO, "max_open_prs": 3});
    server.database.rename_table("repos", "repos_gone").await;
    let send = || {
        server
            .req(Method::POST, "/v1/admin/repos")
            .admin(&server)
            .idempotency_key("after-a-500")
            .json(&repo)
            .send()
    };
    for _ in 0..3 {
        let r = send().await;
        assert_eq!(r.status, 500, "{}", r.describe());
    }
    server.database.rename_table("repos_gone", "repos").await;
    let r = send().await;
    assert!(r.status == 200 || r.status == 201, "{}", r.describe());
    assert_eq!(server.repo(REPO).await["max_open_prs"], 3);
    // And now it is stored: the same key replays the answer.
    let again = send().await;
    assert_eq!(again.status, r.status, "{}", again.describe());
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cut_connections_lose_no_acknowledgement() {
    if !postgres_enabled("ops_connections::cut_connections_lose_no_acknowledgement") {
        return;
    }
    let server = Arc::new(Server::start_preferring_postgres(&[]).await);
    let TestDatabase::Postgres { name, .. } = &server.database else {
        panic!("the harness did not pick PostgreSQL");
    };
    let database = name.clone();
    server.upsert_repo(REPO, 1000, false).await;
    let tasks: Vec<_> = (0..200)
        .map(|i| support::task_doc(&format!("task {i}"), json!({})))
        .collect();
    server.import(REPO, json!(tasks)).await;

    let admin = OwpClient::new(&server.base)
        .unwrap()
        .with_admin_token(Some(server.admin_token.clone()));
    let mut clients = Vec::new();
    for i in 0..WORKERS {
        let reg = admin
            .register_as_admin(&RegisterRequest {
                name: format!("cut-{i}"),
                skills: vec![],
                capacity_points: 10,
                max_concurrent_tasks: 2,
                ..Default::default()
            })
            .await
            .expect("register a worker");
        clients.push(admin.clone().with_worker_token(Some(reg.token)));
    }

    let seen = Arc::new(Seen::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut running = Vec::new();
    for client in clients {
        running.push(tokio::spawn(work(client, seen.clone(), stop.clone())));
    }
    running.push(tokio::spawn(probe(
        server.clone(),
        seen.clone(),
        stop.clone(),
    )));

    let mut killer = sqlx::PgConnection::connect(&postgres_url().unwrap())
        .await
        .expect("connect the killer");
    let mut kills = Vec::new();
    let mut ended = 0;
    tokio::time::sleep(KILL_EVERY).await;
    for _ in 0..KILLS {
        kills.push(Instant::now());
        ended += kill_connections(&mut killer, &database).await;
        tokio::time::sleep(KILL_EVERY).await;
    }
    stop.store(true, Ordering::Relaxed);
    for r in running {
        r.await.unwrap();
    }

    let recovered = recoveries(&kills, &seen.probe_ok.lock().unwrap());
    let worst = recovered.iter().max().copied().unwrap_or_default();
    let mut sorted = recovered.clone();
    sorted.sort();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    // What a write takes anyway on this machine under this load, kills or not.
    let mut took: Vec<Duration> = seen
        .probe_ok
        .lock()
        .unwrap()
        .iter()
        .map(|(sent, answered)| *answered - *sent)
        .collect();
    took.sort();
    let usual = took.get(took.len() / 2).copied().unwrap_or_default();
    let failures = seen.failures.lock().unwrap().clone();
    let internal_errors = server.log().matches("internal error").count();
    eprintln!(
        "cut connections: {KILLS} kills ({ended} connections ended), {} claims, {} acks, {} \
         heartbeats; failed calls {}; probe 5xx {} (each sent again), recovery after a kill: \
         median {median:?}, worst {worst:?} (a write's median {usual:?}); slowest client call {} ms; 500s logged {internal_errors}",
        seen.claims.load(Ordering::Relaxed),
        seen.acks.load(Ordering::Relaxed),
        seen.heartbeats.load(Ordering::Relaxed),
        failures.len(),
        seen.probe_5xx.load(Ordering::Relaxed),
        seen.slowest_ms.load(Ordering::Relaxed),
    );
    assert!(ended >= KILLS as i64, "the kills ended no connections");
    assert!(
        failures.is_empty(),
        "client calls failed across cut connections: {failures:#?}\n{}",
        server.log_tail(40)
    );
    assert!(
        seen.acks.load(Ordering::Relaxed) > 50,
        "too little work went through"
    );
    assert_eq!(
        seen.probe_in_progress.load(Ordering::Relaxed),
        0,
        "a retry after a 5xx found its Idempotency-Key still reserved"
    );
    assert_eq!(recovered.len(), KILLS, "no write answered after some kill");
    // Within the client's retries (about 2 s), beyond what a write takes on this machine now.
    assert!(
        worst < Duration::from_secs(2) + usual * 4,
        "a write took {worst:?} to succeed after a kill (a write's median {usual:?})"
    );
    assert_eq!(
        internal_errors,
        0,
        "a cut connection was answered 500: {}",
        server.log_tail(40)
    );
    // Every task is back in the queue or held: no lease ran out for want of an acknowledgement.
    let state = server.state().await;
    let expired = state["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "lease.expired")
        .count();
    assert_eq!(expired, 0, "leases expired");
}
