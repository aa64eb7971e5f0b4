//! Many workers claiming at once, against one server and against two server processes sharing one
//! database (PostgreSQL when `OWP_TEST_DATABASE_URL` is set, otherwise one SQLite file): no
//! scheduling rule of contract section 5 may break, at any moment we can observe.
//!
//! Two independent observers check the rules:
//! - every successful claim is recorded with the moments it was surely held (from the claim's
//!   answer to the request that gave it up); overlapping holdings are then swept per task, per
//!   repo, per area and per worker;
//! - an admin sampler reads `GET /v1/admin/state` throughout the run and checks every snapshot.

use crate::support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

mod checks;
use checks::{check_holdings, check_snapshot, string_list};

const REPOS: [(&str, i64); 3] = [("load/alpha", 3), ("load/beta", 4), ("load/gamma", 6)];
const AREAS: [Option<&str>; 7] = [
    Some("api"),
    Some("ui"),
    Some("db"),
    Some("docs"),
    None,
    None,
    None,
];
const SKILLS: [&str; 4] = ["rust", "python", "go", "docs"];
/// Path patterns (rule 10): nested, equal, disjoint, and one that holds a whole repository.
const PATHS: [&str; 9] = [
    "src/auth/**",
    "src/auth/login.rs",
    "src/authz/x.rs",
    "src/db/**",
    "src/db/pool.rs",
    "docs/*.md",
    "docs/guide/intro.md",
    "ui/app.ts",
    "**",
];
const TASKS: usize = 200;
const WORKERS: usize = 40;
/// The run lasts at least `RUN_FOR`, longer (up to `RUN_AT_MOST`) on a slow machine or backend
/// until `ENOUGH_GRANTS` claims were granted and `ENOUGH_MERGES` tasks merged.
const RUN_FOR: Duration = Duration::from_secs(5);
const RUN_AT_MOST: Duration = Duration::from_secs(15);
const ENOUGH_GRANTS: usize = 60;
const ENOUGH_MERGES: usize = 10;
const MAX_STEPS_PER_WORKER: usize = 1000;

#[derive(Clone, Debug)]
struct TaskInfo {
    repo: String,
    area: Option<String>,
    paths: Vec<String>,
    estimate: i64,
    skills: HashSet<String>,
    tier: i64,
}

#[derive(Clone, Debug)]
struct WorkerInfo {
    id: String,
    token: String,
    skills: HashSet<String>,
    capacity: i64,
    max: i64,
    trust: i64,
}

/// One successful claim and the span in which the claimer surely held it.
#[derive(Clone, Debug)]
struct Holding {
    worker: usize,
    lease_id: String,
    task_id: String,
    /// The claim's answer arrived (the server granted it before this).
    from: Instant,
    /// The worker sent the request ending its active lease (pr_opened, nack); `None`: still active.
    active_until: Option<Instant>,
    /// The worker sent the request ending its hold of the task (merged, nack); `None`: still held.
    held_until: Option<Instant>,
    /// The task's status after this worker's last successful request about it.
    last_status: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Stage {
    Leased,
    InProgress,
    PrOpened,
}

#[derive(Default)]
struct Outcome {
    holdings: Vec<Holding>,
    violations: Vec<String>,
    claims_200: usize,
    claims_204: usize,
    merged: usize,
    nacked: usize,
    server_errors: Vec<String>,
}

struct Scenario {
    servers: Vec<Arc<Server>>,
    tasks: HashMap<String, TaskInfo>,
    workers: Vec<WorkerInfo>,
    budgets: HashMap<String, i64>,
}

async fn setup(servers: Vec<Arc<Server>>, seed: u64) -> Scenario {
    let admin = servers[0].clone();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut budgets = HashMap::new();
    for (repo, max) in REPOS {
        admin.upsert_repo(repo, max, true).await;
        budgets.insert(repo.to_string(), max);
    }
    // 200 tasks, imported one document per repo.
    let mut docs: HashMap<&str, Vec<Value>> = HashMap::new();
    for i in 0..TASKS {
        let repo = REPOS[i % REPOS.len()].0;
        let area = *AREAS.choose(&mut rng).unwrap();
        let n_skills = rng.random_range(0..=2);
        let skills: Vec<String> = SKILLS
            .choose_multiple(&mut rng, n_skills)
            .map(|s| {
                if rng.random_bool(0.3) {
                    s.to_uppercase()
                } else {
                    s.to_string()
                }
            })
            .collect();
        let priority = *["low", "normal", "high", "critical"]
            .choose(&mut rng)
            .unwrap();
        let tier = if rng.random_bool(0.1) { 1 } else { 0 };
        // Most tasks carry no paths; `**` is rare (it holds the whole repository).
        let n_paths = *[0, 0, 0, 1, 1, 2].choose(&mut rng).unwrap();
        let paths: Vec<&str> = PATHS[..PATHS.len() - usize::from(rng.random_bool(0.97))]
            .choose_multiple(&mut rng, n_paths)
            .copied()
            .collect();
        docs.entry(repo).or_default().push(json!({
            "paths": paths,
            "key": format!("T-{i}"),
            "title": format!("task {i}"),
            "estimate_points": rng.random_range(1..=5),
            "priority": priority,
            "required_skills": skills,
            "area": area,
            "tier": tier,
        }));
    }
    let mut tasks = HashMap::new();
    for (repo, list) in docs {
        for t in admin.import(repo, Value::Array(list)).await {
            tasks.insert(
                str_field(&t, "task_id"),
                TaskInfo {
                    repo: repo.to_string(),
                    area: t["area"].as_str().map(str::to_string),
                    paths: string_list(&t["paths"]),
                    estimate: int_field(&t, "estimate_points"),
                    skills: skill_set(&t["required_skills"]),
                    tier: int_field(&t, "tier"),
                },
            );
        }
    }
    assert_eq!(tasks.len(), TASKS);
    // 40 workers, registered on the server they will use.
    let mut workers = Vec::new();
    for i in 0..WORKERS {
        let server = &servers[i % servers.len()];
        let n_skills = rng.random_range(1..=SKILLS.len());
        let skills: Vec<&str> = SKILLS
            .choose_multiple(&mut rng, n_skills)
            .copied()
            .collect();
        let capacity = rng.random_range(2..=8);
        let max = rng.random_range(1..=3);
        let (id, token) = server
            .register_worker(&format!("load-{i}"), &skills, capacity, max)
            .await;
        let trust = if rng.random_bool(0.3) { 1 } else { 0 };
        if trust > 0 {
            admin
                .admin_update_worker(&id, json!({"trust_level": trust}))
                .await
                .expect(200);
        }
        workers.push(WorkerInfo {
            id,
            token,
            skills: skills.iter().map(|s| s.to_lowercase()).collect(),
            capacity,
            max,
            trust,
        });
    }
    Scenario {
        servers,
        tasks,
        workers,
        budgets,
    }
}

/// Sends a POST and records any 5xx or transport failure.
async fn post(
    server: &Server,
    token: &str,
    path: &str,
    body: Value,
    out: &Mutex<Outcome>,
) -> Option<Resp> {
    // Admin routes (the maintainer merging a pull request) take the admin token.
    let (name, value) = if path.starts_with("/v1/admin/") {
        ("X-Admin-Token", server.admin_token.clone())
    } else {
        ("Authorization", format!("Bearer {token}"))
    };
    let started = Instant::now();
    let resp = server
        .client
        .request(Method::POST, server.url(path))
        .header(name, value)
        .json(&body)
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            out.lock()
                .unwrap()
                .server_errors
                .push(format!("POST {path}: transport error {e}"));
            return None;
        }
    };
    let r = Resp::read(Method::POST, path.to_string(), resp, started).await;
    if r.status >= 500 {
        out.lock().unwrap().server_errors.push(r.describe());
        return None;
    }
    Some(r)
}

/// When the run stops: progress counters shared by every worker loop.
struct Clock {
    soft_end: Instant,
    hard_end: Instant,
    grants: AtomicUsize,
    merges: AtomicUsize,
}

impl Clock {
    fn over(&self) -> bool {
        let now = Instant::now();
        now >= self.hard_end
            || (now >= self.soft_end
                && self.grants.load(Ordering::Relaxed) >= ENOUGH_GRANTS
                && self.merges.load(Ordering::Relaxed) >= ENOUGH_MERGES)
    }
}

/// One worker's loop: claim, ack, open PRs, merge, give back, until the clock says so.
async fn worker_loop(
    sc: Arc<Scenario>,
    index: usize,
    start: Arc<tokio::sync::Barrier>,
    clock: Arc<Clock>,
    out: Arc<Mutex<Outcome>>,
) {
    let me = sc.workers[index].clone();
    let server = sc.servers[index % sc.servers.len()].clone();
    let mut rng = StdRng::seed_from_u64(1000 + index as u64);
    // Held tasks: holding index in `mine`, stage.
    let mut mine: Vec<Holding> = Vec::new();
    let mut held: Vec<(usize, Stage)> = Vec::new();
    let mut nacked: HashSet<String> = HashSet::new();
    let mut local_violations = Vec::new();
    let (mut c200, mut c204, mut merged, mut nacks) = (0, 0, 0, 0);
    start.wait().await;
    for step in 0..MAX_STEPS_PER_WORKER {
        if clock.over() {
            break;
        }
        let try_claim = step == 0 || held.is_empty() || rng.random_bool(0.5);
        if try_claim {
            let Some(r) = post(&server, &me.token, "/v1/work", json!({}), &out).await else {
                continue;
            };
            match r.status {
                200 => {
                    c200 += 1;
                    clock.grants.fetch_add(1, Ordering::Relaxed);
                    let got = Instant::now();
                    let lease = &r.json["lease"];
                    let lease_id = lease["lease_id"].as_str().unwrap_or_default().to_string();
                    let task = &lease["task"];
                    let task_id = task["task_id"].as_str().unwrap_or_default().to_string();
                    let Some(info) = sc.tasks.get(&task_id) else {
                        local_violations.push(format!("unknown task in lease: {}", r.text));
                        continue;
                    };
                    // Rules checked at the moment of the claim, from what this worker holds.
                    if task["status"] != "leased" {
                        local_violations.push(format!("leased task not `leased`: {task}"));
                    }
                    if task["assigned_worker_id"].as_str() != Some(me.id.as_str()) {
                        local_violations.push(format!("lease assigned elsewhere: {task}"));
                    }
                    if !info.skills.is_subset(&me.skills) {
                        local_violations.push(format!(
                            "skills {:?} given to worker with {:?}",
                            info.skills, me.skills
                        ));
                    }
                    if info.tier > me.trust {
                        local_violations
                            .push(format!("tier {} given to trust {}", info.tier, me.trust));
                    }
                    if nacked.contains(&task_id) {
                        local_violations.push(format!("{task_id} offered again after nack"));
                    }
                    let active: Vec<&(usize, Stage)> = held
                        .iter()
                        .filter(|(_, st)| *st != Stage::PrOpened)
                        .collect();
                    let points: i64 = active
                        .iter()
                        .map(|(h, _)| sc.tasks[&mine[*h].task_id].estimate)
                        .sum();
                    if points + info.estimate > me.capacity {
                        local_violations.push(format!(
                            "worker {index}: {points} + {} points > capacity {}",
                            info.estimate, me.capacity
                        ));
                    }
                    if active.len() as i64 >= me.max {
                        local_violations.push(format!(
                            "worker {index}: {} active tasks already, max {}",
                            active.len(),
                            me.max
                        ));
                    }
                    mine.push(Holding {
                        worker: index,
                        lease_id,
                        task_id,
                        from: got,
                        active_until: None,
                        held_until: None,
                        last_status: "leased",
                    });
                    held.push((mine.len() - 1, Stage::Leased));
                }
                204 => {
                    c204 += 1;
                    // Nothing for now; do not spin too hard.
                    tokio::time::sleep(Duration::from_millis(rng.random_range(5..25))).await;
                }
                _ => local_violations.push(format!("claim: {}", r.describe())),
            }
            continue;
        }
        // Move one held task forward.
        let pick = rng.random_range(0..held.len());
        let (h, stage) = held[pick];
        let lease_id = mine[h].lease_id.clone();
        let task_id = mine[h].task_id.clone();
        match stage {
            Stage::Leased | Stage::InProgress => {
                let roll = rng.random_range(0..100);
                if roll < 20 {
                    let sent = Instant::now();
                    let Some(r) = post(
                        &server,
                        &me.token,
                        &format!("/v1/leases/{lease_id}/nack"),
                        json!({"reason": "load test"}),
                        &out,
                    )
                    .await
                    else {
                        continue;
                    };
                    if r.status == 200 {
                        nacks += 1;
                        mine[h].active_until = Some(sent);
                        mine[h].held_until = Some(sent);
                        mine[h].last_status = "ready";
                        nacked.insert(task_id);
                        held.swap_remove(pick);
                    } else {
                        local_violations.push(format!("nack: {}", r.describe()));
                    }
                } else if stage == Stage::Leased {
                    let Some(r) = post(
                        &server,
                        &me.token,
                        &format!("/v1/leases/{lease_id}/ack"),
                        json!({}),
                        &out,
                    )
                    .await
                    else {
                        continue;
                    };
                    if r.status == 200 {
                        mine[h].last_status = "in_progress";
                        held[pick].1 = Stage::InProgress;
                    } else {
                        local_violations.push(format!("ack: {}", r.describe()));
                    }
                } else {
                    let sent = Instant::now();
                    let Some(r) = post(
                        &server,
                        &me.token,
                        &format!("/v1/tasks/{task_id}/status"),
                        json!({"status": "pr_opened", "artifact": {"pr_url": format!("https://example.test/pr/{task_id}")}}),
                        &out,
                    )
                    .await
                    else {
                        continue;
                    };
                    if r.status == 200 {
                        mine[h].active_until = Some(sent);
                        mine[h].last_status = "pr_opened";
                        held[pick].1 = Stage::PrOpened;
                    } else {
                        local_violations.push(format!("pr_opened: {}", r.describe()));
                    }
                }
            }
            Stage::PrOpened => {
                let sent = Instant::now();
                let Some(r) = post(
                    &server,
                    &me.token,
                    &format!("/v1/admin/tasks/{task_id}/status"),
                    json!({"status": "merged"}),
                    &out,
                )
                .await
                else {
                    continue;
                };
                if r.status == 200 {
                    merged += 1;
                    clock.merges.fetch_add(1, Ordering::Relaxed);
                    mine[h].held_until = Some(sent);
                    mine[h].last_status = "merged";
                    held.swap_remove(pick);
                } else {
                    local_violations.push(format!("merged: {}", r.describe()));
                }
            }
        }
    }
    let mut o = out.lock().unwrap();
    o.holdings.extend(mine);
    o.violations.extend(local_violations);
    o.claims_200 += c200;
    o.claims_204 += c204;
    o.merged += merged;
    o.nacked += nacks;
}

async fn run(sc: Scenario) {
    let sc = Arc::new(sc);
    let out = Arc::new(Mutex::new(Outcome::default()));
    let barrier = Arc::new(tokio::sync::Barrier::new(WORKERS));
    let started = Instant::now();
    let clock = Arc::new(Clock {
        soft_end: started + RUN_FOR,
        hard_end: started + RUN_AT_MOST,
        grants: AtomicUsize::new(0),
        merges: AtomicUsize::new(0),
    });
    let running = Arc::new(AtomicBool::new(true));
    let mut handles = Vec::new();
    for i in 0..WORKERS {
        handles.push(tokio::spawn(worker_loop(
            sc.clone(),
            i,
            barrier.clone(),
            clock.clone(),
            out.clone(),
        )));
    }
    // Sample the admin state during the run, alternating between servers.
    let sampler = {
        let sc = sc.clone();
        let running = running.clone();
        tokio::spawn(async move {
            let mut samples = 0usize;
            let mut bad = Vec::new();
            let mut i = 0usize;
            while running.load(Ordering::Relaxed) && samples < 1000 {
                let server = &sc.servers[i % sc.servers.len()];
                i += 1;
                let r = server.admin_get("/v1/admin/state").await;
                if r.status != 200 {
                    bad.push(format!("admin state during the run: {}", r.describe()));
                } else {
                    samples += 1;
                    for v in check_snapshot(&sc, &r.json) {
                        bad.push(format!("sample {samples}: {v}"));
                    }
                }
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            (samples, bad)
        })
    };
    for h in handles {
        h.await.expect("worker loop panicked");
    }
    running.store(false, Ordering::Relaxed);
    let (samples, sample_violations) = sampler.await.expect("sampler panicked");
    let finished = Instant::now();
    assert!(
        finished.duration_since(started) < RUN_AT_MOST + Duration::from_secs(30),
        "the run overran"
    );

    let out = std::mem::take(&mut *out.lock().unwrap());
    let final_state = sc.servers[0].state().await;
    let mut problems: Vec<String> = Vec::new();
    problems.extend(
        out.server_errors
            .iter()
            .map(|e| format!("server error: {e}")),
    );
    problems.extend(out.violations.iter().cloned());
    problems.extend(sample_violations);
    problems.extend(check_holdings(&sc, &out.holdings, finished));
    problems.extend(
        check_snapshot(&sc, &final_state)
            .into_iter()
            .map(|v| format!("final state: {v}")),
    );
    // The final state agrees with what the last holder of each task did; others are untouched.
    let mut last: HashMap<&str, &Holding> = HashMap::new();
    for h in &out.holdings {
        let e = last.entry(h.task_id.as_str()).or_insert(h);
        if h.from > e.from {
            *e = h;
        }
    }
    for t in final_state["tasks"].as_array().into_iter().flatten() {
        let task_id = t["task_id"].as_str().unwrap_or_default();
        let actual = t["status"].as_str().unwrap_or_default();
        match last.get(task_id) {
            None => {
                if actual != "ready" {
                    problems.push(format!("{task_id} was never claimed but is {actual}"));
                }
            }
            Some(h) => {
                if actual != h.last_status {
                    problems.push(format!(
                        "{task_id}: final status {actual}, its last holder left it {}",
                        h.last_status
                    ));
                }
                let holder = sc.workers[h.worker].id.as_str();
                if matches!(h.last_status, "leased" | "in_progress" | "pr_opened")
                    && t["assigned_worker_id"].as_str() != Some(holder)
                {
                    problems.push(format!("{task_id}: not assigned to its holder: {t}"));
                }
            }
        }
    }
    eprintln!(
        "concurrency run: {} servers, {} claims granted, {} refused (204), {} merged, {} nacked, {} admin samples",
        sc.servers.len(),
        out.claims_200,
        out.claims_204,
        out.merged,
        out.nacked,
        samples
    );
    if !problems.is_empty() {
        let shown: Vec<&String> = problems.iter().take(40).collect();
        panic!(
            "{} rule violations or errors under concurrency (first {}):\n{}",
            problems.len(),
            shown.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    // The run must have exercised the scheduler for its checks to mean something.
    assert!(
        out.claims_200 >= 30,
        "only {} claims succeeded",
        out.claims_200
    );
    assert!(
        out.claims_204 >= 30,
        "only {} claims were refused",
        out.claims_204
    );
    assert!(out.merged >= 5, "only {} tasks merged", out.merged);
    assert!(samples >= 5, "only {samples} admin samples");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_rule_breaks_under_concurrent_claims() {
    let server = Arc::new(Server::start_preferring_postgres(&[]).await);
    let sc = setup(vec![server.clone()], 7).await;
    run(sc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_rule_breaks_with_two_servers_on_one_database() {
    let a = Arc::new(Server::start_preferring_postgres(&[]).await);
    let b = Arc::new(a.start_sharing(&[]).await);
    let sc = setup(vec![a.clone(), b.clone()], 11).await;
    run(sc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_claims_for_one_task_give_it_to_one_worker() {
    let s = Arc::new(Server::start_preferring_postgres(&[]).await);
    s.upsert_repo("race/one", 10, true).await;
    let ids = s.import_ids("race/one", json!([{"title": "only"}])).await;
    let mut tokens = Vec::new();
    for i in 0..20 {
        tokens.push(s.register_worker(&format!("r{i}"), &[], 5, 1).await.1);
    }
    for round in 0..5 {
        let barrier = Arc::new(tokio::sync::Barrier::new(tokens.len()));
        let mut handles = Vec::new();
        for t in &tokens {
            let (s, t, b) = (s.clone(), t.clone(), barrier.clone());
            handles.push(tokio::spawn(async move {
                b.wait().await;
                let r = s.claim(&t).await;
                (t, r)
            }));
        }
        let mut winners = Vec::new();
        for h in handles {
            let (t, r) = h.await.unwrap();
            match r.status {
                200 => winners.push((t, r.json["lease"].clone())),
                204 => {}
                _ => panic!("round {round}: {}", r.describe()),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: {} workers got the one task",
            winners.len()
        );
        let (token, lease) = &winners[0];
        assert_eq!(lease["task"]["task_id"], ids[0].as_str());
        // Give it back for the next round; the winner is not offered it again after its nack.
        let lease_id = str_field(lease, "lease_id");
        s.nack(token, &lease_id).await.expect(200);
        tokens.retain(|t| t != token);
    }
}
