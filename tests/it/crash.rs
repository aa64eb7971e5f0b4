//! A server killed in the middle of claiming (`kill -9`: no shutdown, transactions cut off
//! wherever they are) leaves a database in which no task is leased twice, no lease lacks its task,
//! no task points at a lease that is not live, and the counters agree with the tasks; the pool
//! goes on granting work afterwards. On SQLite a new server opens the same file; on PostgreSQL
//! the other replica keeps serving while one dies.

#![cfg(unix)]

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{AnyPool, Row};

use support::{Server, TestDatabase, str_field};

const REPOS: [&str; 2] = ["crash/one", "crash/two"];
const WORKERS: usize = 24;

/// Loads two repositories (one with area locks) with 60 tasks each and registers the workers.
async fn load(server: &Server) -> Vec<String> {
    for (i, repo) in REPOS.iter().enumerate() {
        server.upsert_repo(repo, 200, i == 0).await;
        let tasks: Vec<Value> = (0..60)
            .map(|j| {
                json!({
                    "title": format!("task {j}"),
                    "area": format!("area-{}", j % 5),
                    "estimate_points": 1 + j % 3,
                })
            })
            .collect();
        server.import_ids(repo, Value::Array(tasks)).await;
    }
    let mut tokens = Vec::new();
    for i in 0..WORKERS {
        let (_, token) = server
            .register_worker(&format!("crash-{i}"), &[], 4, 2)
            .await;
        tokens.push(token);
    }
    tokens
}

/// One worker's loop until its server stops answering or `stop` is set: claim, then give the task
/// back, open a pull request, or take it and give it back, in turn. Counts the leases granted.
async fn claim_until_gone(
    server: Arc<Server>,
    token: String,
    stop: Arc<AtomicBool>,
    granted: Arc<AtomicUsize>,
) {
    let post = |path: String, body: Value| {
        server
            .client
            .post(server.url(&path))
            .bearer_auth(&token)
            .timeout(Duration::from_secs(10))
            .json(&body)
            .send()
    };
    let mut step = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let Ok(r) = post("/v1/work".into(), json!({})).await else {
            return;
        };
        if r.status().as_u16() != 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let Ok(body) = r.json::<Value>().await else {
            return;
        };
        granted.fetch_add(1, Ordering::Relaxed);
        let lease = &body["lease"];
        let (lease_id, task_id) = (
            str_field(lease, "lease_id"),
            str_field(&lease["task"], "task_id"),
        );
        step += 1;
        let ended = match step % 3 {
            0 => {
                post(
                    format!("/v1/leases/{lease_id}/nack"),
                    json!({"reason": "crash test"}),
                )
                .await
            }
            1 => {
                if post(format!("/v1/leases/{lease_id}/ack"), json!({}))
                    .await
                    .is_err()
                {
                    return;
                }
                post(
                    format!("/v1/tasks/{task_id}/status"),
                    json!({"status": "pr_opened", "artifact": {"pr_url": format!("https://example.org/pr/{task_id}")}}),
                )
                .await
            }
            _ => {
                if post(format!("/v1/leases/{lease_id}/ack"), json!({}))
                    .await
                    .is_err()
                {
                    return;
                }
                post(
                    format!("/v1/leases/{lease_id}/nack"),
                    json!({"reason": "crash test"}),
                )
                .await
            }
        };
        if ended.is_err() {
            return;
        }
    }
}

/// What must hold in the database after any crash, as a list of what does not.
async fn broken_invariants(db: &AnyPool) -> Vec<String> {
    let mut bad = Vec::new();
    let rows = |sql: &'static str| async move {
        sqlx::query(sql)
            .fetch_all(db)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    for r in rows(
        "SELECT task_seq, COUNT(*) AS n FROM leases WHERE ended_at IS NULL \
         GROUP BY task_seq HAVING COUNT(*) > 1",
    )
    .await
    {
        let seq: i64 = r.get("task_seq");
        let n: i64 = r.get("n");
        bad.push(format!("task #{seq} has {n} live leases"));
    }
    for r in rows(
        "SELECT l.id FROM leases l LEFT JOIN tasks t ON t.seq = l.task_seq \
         WHERE l.ended_at IS NULL AND (t.seq IS NULL OR t.lease_id IS NULL OR t.lease_id <> l.id \
           OR t.worker_id <> l.worker_id OR t.status NOT IN ('leased', 'in_progress'))",
    )
    .await
    {
        let id: String = r.get("id");
        bad.push(format!("live lease {id} has no task that holds it"));
    }
    for r in rows(
        "SELECT t.id FROM tasks t LEFT JOIN leases l ON l.id = t.lease_id \
         WHERE t.status IN ('leased', 'in_progress') \
           AND (l.id IS NULL OR l.ended_at IS NOT NULL OR l.worker_id <> t.worker_id)",
    )
    .await
    {
        let id: String = r.get("id");
        bad.push(format!(
            "task {id} is held without a live lease of its holder"
        ));
    }
    // Each row: a name, two stored counters, and the same two counted from the tasks.
    let counters = [
        (
            "repo",
            "leases and PRs",
            "SELECT r.name, r.active_leases AS c1, r.open_prs AS c2, \
               (SELECT COUNT(*) FROM tasks t WHERE t.repo_id = r.id \
                  AND t.status IN ('leased', 'in_progress')) AS t1, \
               (SELECT COUNT(*) FROM tasks t WHERE t.repo_id = r.id AND t.status = 'pr_opened') \
                 AS t2 \
             FROM repos r",
        ),
        (
            "worker",
            "tasks and points",
            "SELECT w.name, w.active_tasks AS c1, w.active_points AS c2, \
               (SELECT COUNT(*) FROM tasks t WHERE t.worker_id = w.id \
                  AND t.status IN ('leased', 'in_progress')) AS t1, \
               CAST((SELECT COALESCE(SUM(t.lease_points), 0) FROM tasks t WHERE t.worker_id = w.id \
                  AND t.status IN ('leased', 'in_progress')) AS BIGINT) AS t2 \
             FROM workers w",
        ),
    ];
    for (kind, what, sql) in counters {
        for r in rows(sql).await {
            let name: String = r.get("name");
            let (c1, c2, t1, t2): (i64, i64, i64, i64) =
                (r.get("c1"), r.get("c2"), r.get("t1"), r.get("t2"));
            if (c1, c2) != (t1, t2) {
                bad.push(format!(
                    "{kind} {name}: counters say {c1} and {c2} {what}, its tasks say {t1} and {t2}"
                ));
            }
        }
    }
    bad.extend(crate::store_support::queue_drift(db).await);
    bad
}

/// Races the workers through `servers` (in turn), kills `victim` once `before_kill` leases were
/// granted, lets the survivors (if any) go on a moment, and returns how many leases were granted.
async fn race_and_kill(servers: &[Arc<Server>], victim: &Server, tokens: Vec<String>) -> usize {
    let stop = Arc::new(AtomicBool::new(false));
    let granted = Arc::new(AtomicUsize::new(0));
    let loops: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, token)| {
            tokio::spawn(claim_until_gone(
                servers[i % servers.len()].clone(),
                token,
                stop.clone(),
                granted.clone(),
            ))
        })
        .collect();
    let started = tokio::time::Instant::now();
    while granted.load(Ordering::Relaxed) < 40 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    victim.kill_now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        l.await.expect("a claim loop panicked");
    }
    granted.load(Ordering::Relaxed)
}

/// A worker that claims after the crash still gets work, through `server`.
async fn pool_goes_on(server: &Server) {
    let (_, token) = server.register_worker("after-the-crash", &[], 4, 2).await;
    let lease = server.claim_lease(&token).await;
    assert!(lease.is_some(), "no work was granted after the crash");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sqlite_server_killed_mid_claim_leaves_every_task_whole() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let a = Arc::new(Server::start_on_sqlite(&path).await);
    let tokens = load(&a).await;
    let granted = race_and_kill(std::slice::from_ref(&a), &a, tokens).await;
    assert!(
        granted >= 40,
        "only {granted} leases were granted before the crash"
    );
    // A new server opens the file the dead one left (its write-ahead log included).
    let b = a.start_sharing(&[]).await;
    let db = AnyPool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let bad = broken_invariants(&db).await;
    assert!(bad.is_empty(), "after the crash:\n{}", bad.join("\n"));
    db.close().await;
    pool_goes_on(&b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_replica_killed_mid_claim_leaves_every_task_whole() {
    let test = "a_postgres_replica_killed_mid_claim_leaves_every_task_whole";
    if !crate::services::postgres_enabled(test) {
        return;
    }
    sqlx::any::install_default_drivers();
    let a = Arc::new(Server::start_preferring_postgres(&[]).await);
    let TestDatabase::Postgres { url, .. } = &a.database else {
        panic!("the harness did not pick PostgreSQL");
    };
    let url = url.clone();
    let b = Arc::new(a.start_sharing(&[]).await);
    let tokens = load(&a).await;
    let granted = race_and_kill(&[a.clone(), b.clone()], &a, tokens).await;
    assert!(
        granted >= 40,
        "only {granted} leases were granted before the crash"
    );
    let db = AnyPool::connect(&url).await.unwrap();
    // Transactions the dead replica left open end when PostgreSQL notices its connections are
    // gone; until then their rows stay locked and unchanged, which the checks below also accept.
    let bad = broken_invariants(&db).await;
    assert!(bad.is_empty(), "after the crash:\n{}", bad.join("\n"));
    db.close().await;
    pool_goes_on(&b).await;
    drop(b);
    drop(a);
}
