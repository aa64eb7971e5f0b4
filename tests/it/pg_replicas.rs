//! Several `owp serve` processes on one PostgreSQL database: claims racing across replicas never
//! break a rule, and a change made through one replica reaches the long polls and event streams of
//! the other within a second.
//!
//! Runs when `OWP_TEST_DATABASE_URL` names a PostgreSQL server (each test gets a fresh database,
//! dropped at the end); otherwise each test prints why it skipped and passes.

use crate::services::postgres_enabled;
use crate::support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::{Server, TestDatabase};

/// Stops the servers; the first one created the database and drops it.
fn finish(servers: Vec<Arc<Server>>) {
    for s in servers.into_iter().rev() {
        drop(s);
    }
}

async fn two_replicas(env: &[(&str, &str)]) -> (Arc<Server>, Arc<Server>) {
    let a = Server::start_preferring_postgres(env).await;
    assert!(
        matches!(a.database, TestDatabase::Postgres { .. }),
        "the harness did not pick PostgreSQL"
    );
    let b = a.start_sharing(env).await;
    (Arc::new(a), Arc::new(b))
}

const PRIORITIES: [&str; 4] = ["low", "normal", "high", "critical"];

struct TaskInfo {
    repo: String,
    area: Option<String>,
    estimate: i64,
}

struct Claimer {
    id: String,
    token: String,
    capacity: i64,
    max: i64,
}

/// Moves a held task to `pr_opened`, recording anything but a 200.
async fn open_pr(server: &Server, token: &str, task_id: &str, errors: &Mutex<Vec<String>>) {
    let pr = json!({"status": "pr_opened", "artifact": {"pr_url": format!("https://example.test/pr/{task_id}")}});
    let r = server.set_status(token, task_id, pr).await;
    if r.status != 200 {
        errors
            .lock()
            .unwrap()
            .push(format!("pr_opened: {}", r.describe()));
    }
}

/// Checks one snapshot of the task list (one statement, so one consistent view).
fn check_snapshot(
    state: &Value,
    budgets: &HashMap<String, i64>,
    workers: &HashMap<String, (i64, i64)>,
) -> Vec<String> {
    let mut bad = Vec::new();
    let mut per_repo: HashMap<&str, i64> = HashMap::new();
    let mut areas: HashSet<(String, String)> = HashSet::new();
    let mut load: HashMap<&str, (i64, i64)> = HashMap::new();
    for t in state["tasks"].as_array().into_iter().flatten() {
        let status = t["status"].as_str().unwrap_or_default();
        let repo = t["repo"].as_str().unwrap_or_default();
        let holds = matches!(status, "leased" | "in_progress" | "pr_opened");
        if holds {
            *per_repo.entry(repo).or_default() += 1;
            if let Some(area) = t["area"].as_str()
                && !areas.insert((repo.to_string(), area.to_string()))
            {
                bad.push(format!("{repo} area {area} held twice"));
            }
        }
        if matches!(status, "leased" | "in_progress") {
            let w = t["assigned_worker_id"].as_str().unwrap_or_default();
            let e = load.entry(w).or_default();
            e.0 += t["estimate_points"].as_i64().unwrap_or(0);
            e.1 += 1;
        }
    }
    for (repo, n) in per_repo {
        if let Some(max) = budgets.get(repo)
            && n > *max
        {
            bad.push(format!("{repo}: {n} open PRs and leases > budget {max}"));
        }
    }
    for (w, (points, n)) in load {
        if let Some((cap, max)) = workers.get(w)
            && (points > *cap || n > *max)
        {
            bad.push(format!(
                "worker {w}: {points} points / {n} tasks > {cap} / {max}"
            ));
        }
    }
    bad
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_racing_across_two_replicas_keep_every_rule() {
    if !postgres_enabled("claims_racing_across_two_replicas_keep_every_rule") {
        return;
    }
    let (a, b) = two_replicas(&[]).await;
    let servers = [a.clone(), b.clone()];

    let budgets: HashMap<String, i64> = [("rep/alpha", 4), ("rep/beta", 7), ("rep/gamma", 12)]
        .into_iter()
        .map(|(r, n)| (r.to_string(), n))
        .collect();
    let mut tasks: HashMap<String, TaskInfo> = HashMap::new();
    for (i, (repo, budget)) in budgets.iter().enumerate() {
        a.upsert_repo(repo, *budget, true).await;
        let docs: Vec<Value> = (0..50)
            .map(|j| {
                json!({
                    "title": format!("{repo} #{j}"),
                    "estimate_points": 1 + (j % 3),
                    "priority": PRIORITIES[(i + j) % 4],
                    "area": if j % 4 == 0 { Value::from(format!("area{}", j % 3)) } else { Value::Null },
                })
            })
            .collect();
        for t in a.import(repo, Value::Array(docs)).await {
            tasks.insert(
                t["task_id"].as_str().unwrap().to_string(),
                TaskInfo {
                    repo: repo.clone(),
                    area: t["area"].as_str().map(str::to_string),
                    estimate: t["estimate_points"].as_i64().unwrap(),
                },
            );
        }
    }
    let mut claimers = Vec::new();
    for i in 0..24 {
        let server = &servers[i % 2];
        let (capacity, max) = (2 + (i as i64 % 3), 1 + (i as i64 % 2));
        let (id, token) = server
            .register_worker(&format!("racer-{i}"), &[], capacity, max)
            .await;
        claimers.push(Claimer {
            id,
            token,
            capacity,
            max,
        });
    }
    let limits: HashMap<String, (i64, i64)> = claimers
        .iter()
        .map(|c| (c.id.clone(), (c.capacity, c.max)))
        .collect();
    let tasks = Arc::new(tasks);

    // Every grant, in the order the workers saw them: (task, worker).
    let grants = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let end = Instant::now() + Duration::from_secs(6);
    let barrier = Arc::new(tokio::sync::Barrier::new(claimers.len() + 1));
    let mut handles = Vec::new();
    for (i, c) in claimers.into_iter().enumerate() {
        let server = servers[i % 2].clone();
        let (grants, errors, barrier, tasks) = (
            grants.clone(),
            errors.clone(),
            barrier.clone(),
            tasks.clone(),
        );
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            // What this worker holds: task → points, while leased or in progress.
            let mut active: HashMap<String, i64> = HashMap::new();
            let mut open_prs: Vec<String> = Vec::new();
            let mut step = 0u64;
            while Instant::now() < end {
                step += 1;
                let r = server.claim(&c.token).await;
                match r.status {
                    200 => {
                        let task_id = r.json["lease"]["task"]["task_id"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string();
                        let lease_id = r.json["lease"]["lease_id"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string();
                        let est = tasks.get(&task_id).map(|t| t.estimate).unwrap_or(0);
                        let points: i64 = active.values().sum::<i64>() + est;
                        if points > c.capacity || active.len() as i64 >= c.max {
                            errors.lock().unwrap().push(format!(
                                "{} got {task_id} beyond its limits ({points} points)",
                                c.id
                            ));
                        }
                        grants.lock().unwrap().push((task_id.clone(), c.id.clone()));
                        active.insert(task_id.clone(), est);
                        let ack = server.ack(&c.token, &lease_id).await;
                        if ack.status != 200 {
                            errors
                                .lock()
                                .unwrap()
                                .push(format!("ack: {}", ack.describe()));
                        }
                        // Half the leases become PRs at once; the rest are held a little longer.
                        if step.is_multiple_of(2) {
                            open_pr(&server, &c.token, &task_id, &errors).await;
                            active.remove(&task_id);
                            open_prs.push(task_id);
                        }
                    }
                    204 => {}
                    _ => errors
                        .lock()
                        .unwrap()
                        .push(format!("claim: {}", r.describe())),
                }
                // Work the backlog: open PRs for held tasks, merge old PRs (frees budget and areas).
                if step.is_multiple_of(3)
                    && let Some(task_id) = active.keys().next().cloned()
                {
                    open_pr(&server, &c.token, &task_id, &errors).await;
                    active.remove(&task_id);
                    open_prs.push(task_id);
                }
                if step % 2 == 1 && !open_prs.is_empty() {
                    let task_id = open_prs.remove(0);
                    let r = server.admin_set_status(&task_id, "merged").await;
                    if r.status != 200 {
                        errors
                            .lock()
                            .unwrap()
                            .push(format!("merge: {}", r.describe()));
                    }
                }
            }
        }));
    }
    // Sample the task list through both replicas while the race runs.
    let sampler = {
        let servers = servers.clone();
        let budgets = budgets.clone();
        let limits = limits.clone();
        let barrier = barrier.clone();
        tokio::spawn(async move {
            barrier.wait().await;
            let mut samples = 0;
            let mut bad = Vec::new();
            while Instant::now() < end {
                let state = servers[samples % 2].state().await;
                bad.extend(check_snapshot(&state, &budgets, &limits));
                samples += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (samples, bad)
        })
    };
    for h in handles {
        h.await.expect("claimer panicked");
    }
    let (samples, mut bad) = sampler.await.expect("sampler panicked");
    bad.extend(errors.lock().unwrap().iter().cloned());

    // Merged tasks never come back, so a task is granted at most once in this story.
    let grants = grants.lock().unwrap().clone();
    let mut seen = HashSet::new();
    for (task, worker) in &grants {
        if !seen.insert(task.clone()) {
            bad.push(format!("{task} leased twice (again to {worker})"));
        }
    }
    // The final state agrees with itself and with the counters of both replicas.
    let state = a.state().await;
    bad.extend(check_snapshot(&state, &budgets, &limits));
    for r in state["repos"].as_array().unwrap() {
        let name = r["repo"].as_str().unwrap();
        let holding = |statuses: &[&str]| {
            state["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| {
                    t["repo"] == name && statuses.contains(&t["status"].as_str().unwrap_or(""))
                })
                .count() as i64
        };
        assert_eq!(
            r["active_leases"].as_i64(),
            Some(holding(&["leased", "in_progress"]))
        );
        assert_eq!(r["open_prs"].as_i64(), Some(holding(&["pr_opened"])));
    }
    let b_state = b.state().await;
    assert_eq!(
        state["tasks"], b_state["tasks"],
        "the replicas disagree about the tasks"
    );
    for t in state["tasks"].as_array().unwrap() {
        let id = t["task_id"].as_str().unwrap();
        let info = &tasks[id];
        assert_eq!(t["repo"].as_str(), Some(info.repo.as_str()));
        assert_eq!(t["area"].as_str(), info.area.as_deref());
    }
    eprintln!(
        "two replicas: {} grants, {} samples, {} merged",
        grants.len(),
        samples,
        state["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["status"] == "merged")
            .count()
    );
    if !bad.is_empty() {
        eprintln!("----- replica A -----\n{}", a.log_tail(40));
        eprintln!("----- replica B -----\n{}", b.log_tail(40));
    }
    assert!(
        bad.is_empty(),
        "rules broken across replicas:\n{}",
        bad.join("\n")
    );
    assert!(
        grants.len() >= 30,
        "only {} grants: the race did not run",
        grants.len()
    );
    // Each sample reads the whole state through a replica of a debug build that the race keeps
    // busy (a few hundred milliseconds each on two cores): enough of them to have checked the
    // rules while the race ran.
    assert!(samples >= 5, "only {samples} samples");
    drop(servers);
    finish(vec![a, b]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_task_claimed_through_both_replicas_at_once_goes_to_one_worker() {
    if !postgres_enabled("one_task_claimed_through_both_replicas_at_once_goes_to_one_worker") {
        return;
    }
    let (a, b) = two_replicas(&[]).await;
    a.upsert_repo("rep/one", 50, true).await;
    let mut tokens = Vec::new();
    for i in 0..16 {
        let server = if i % 2 == 0 { &a } else { &b };
        tokens.push(server.register_worker(&format!("w{i}"), &[], 5, 5).await.1);
    }
    for round in 0..6 {
        let id = a
            .import_ids(
                "rep/one",
                json!([{"title": format!("only one, round {round}")}]),
            )
            .await
            .remove(0);
        let barrier = Arc::new(tokio::sync::Barrier::new(tokens.len()));
        let mut handles = Vec::new();
        for (i, token) in tokens.iter().enumerate() {
            let server = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (token, barrier) = (token.clone(), barrier.clone());
            handles.push(tokio::spawn(async move {
                barrier.wait().await;
                server.claim_lease(&token).await
            }));
        }
        let mut winners = 0;
        for h in handles {
            if let Some(lease) = h.await.expect("claimer") {
                assert_eq!(lease["task"]["task_id"].as_str(), Some(id.as_str()));
                winners += 1;
            }
        }
        assert_eq!(
            winners, 1,
            "round {round}: {winners} workers got the one task"
        );
    }
    finish(vec![a, b]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_through_one_replica_wake_the_other_within_a_second() {
    if !postgres_enabled("changes_through_one_replica_wake_the_other_within_a_second") {
        return;
    }
    let (a, b) = two_replicas(&[]).await;
    a.upsert_repo("rep/wake", 10, false).await;
    let (_, token) = a.register_worker("sleeper", &["rare"], 5, 5).await;
    let mut events = a.events().await;

    for round in 0..3 {
        // A long poll on A, with nothing it may take…
        let poll = {
            let a = a.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let r = a
                    .req(reqwest::Method::POST, "/v1/work?wait=20")
                    .bearer(&token)
                    .send()
                    .await;
                (r, Instant::now())
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !poll.is_finished(),
            "round {round}: the long poll answered early"
        );
        // …wakes when B makes a task ready for it.
        let made = Instant::now();
        let id = b
            .import_ids(
                "rep/wake",
                json!([{"title": format!("rare {round}"), "required_skills": ["rare"]}]),
            )
            .await
            .remove(0);
        let (r, answered) = poll.await.expect("long poll");
        assert_eq!(r.status, 200, "round {round}: {}", r.describe());
        assert_eq!(
            r.json["lease"]["task"]["task_id"].as_str(),
            Some(id.as_str())
        );
        let waited = answered.duration_since(made);
        assert!(
            waited < Duration::from_secs(1),
            "round {round}: the long poll on A woke {waited:?} after the import on B"
        );
        // A's event stream shows what B did.
        let seen = events
            .wait_for(Instant::now() + Duration::from_secs(1), |e| {
                e["kind"] == "task.created" && e["task_id"].as_str() == Some(id.as_str())
            })
            .await;
        assert!(
            seen.is_some(),
            "round {round}: A's event stream missed B's import"
        );
    }
    finish(vec![a, b]);
}

/// Twelve workers on two replicas claim at the same moment from a repository that takes one new
/// claim per hour, whose tasks come first, beside one without a cap: the capped repository
/// grants exactly one lease, in each of four trials, and the claims it refuses still find the
/// other repository's work. (Counted in each claim's snapshot alone, the cap let through 3, 11,
/// 1 and 2.)
/// Registers twelve workers, alternately on each replica (named `prefix-N`, capacity 5, one task
/// at a time), and sends one claim from each at the same moment; returns the task ids granted.
async fn twelve_claims_at_once(servers: &[Arc<Server>; 2], prefix: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for i in 0..12 {
        let (_, token) = servers[i % 2]
            .register_worker(&format!("{prefix}-{i}"), &[], 5, 1)
            .await;
        tokens.push(token);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(tokens.len()));
    let claims = tokens.into_iter().enumerate().map(|(i, token)| {
        let (server, barrier) = (servers[i % 2].clone(), barrier.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            let r = server.claim(&token).await;
            match r.status {
                200 => Some(
                    r.json["lease"]["task"]["task_id"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                ),
                204 => None,
                other => panic!("a claim answered {other}: {}", r.json),
            }
        })
    });
    futures_util::future::join_all(claims)
        .await
        .into_iter()
        .filter_map(|r| r.unwrap())
        .collect()
}

/// A race against a limit of one repository: two replicas, and per trial a repository that
/// `limit` (statements taking the repository's name as `$1`) limits, with twelve critical tasks,
/// beside an open one with twelve low tasks; twelve claims at once. `check` gets the trial, how
/// many tasks of the limited repository were granted, the whole grant, the limited repository's
/// name and the database.
async fn twelve_claims_at_once_on_a_limited_repository<F>(prefix: &str, limit: &[&str], check: F)
where
    F: AsyncFn(usize, usize, &[String], &str, &sqlx::AnyPool),
{
    let (a, b) = two_replicas(&[]).await;
    let TestDatabase::Postgres { url, .. } = &a.database else {
        unreachable!("two_replicas checks the backend")
    };
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(url).await.unwrap();
    let servers = [a.clone(), b.clone()];
    for trial in 0..4 {
        let (limited, open) = (
            format!("{prefix}/one-{trial}"),
            format!("{prefix}/open-{trial}"),
        );
        a.upsert_repo(&limited, 50, false).await;
        a.upsert_repo(&open, 50, false).await;
        for statement in limit {
            sqlx::query(sqlx::AssertSqlSafe(*statement))
                .bind(&limited)
                .execute(&db)
                .await
                .unwrap();
        }
        let tasks = |priority: &str| {
            Value::Array(
                (0..12)
                    .map(|j| json!({"title": format!("task {j}"), "priority": priority}))
                    .collect(),
            )
        };
        let limited_ids: HashSet<String> = a
            .import_ids(&limited, tasks("critical"))
            .await
            .into_iter()
            .collect();
        a.import_ids(&open, tasks("low")).await;
        let granted = twelve_claims_at_once(&servers, &format!("{prefix}-{trial}")).await;
        let from_limited = granted.iter().filter(|t| limited_ids.contains(*t)).count();
        check(trial, from_limited, &granted, &limited, &db).await;
    }
    db.close().await;
    finish(vec![a, b]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_hourly_cap_of_one_grants_one_lease_to_twelve_claims_at_once() {
    if !postgres_enabled("an_hourly_cap_of_one_grants_one_lease_to_twelve_claims_at_once") {
        return;
    }
    let cap = ["UPDATE repos SET claims_per_hour = 1 WHERE name = $1"];
    twelve_claims_at_once_on_a_limited_repository(
        "cap",
        &cap,
        async |trial, from_capped, granted, capped, db| {
            assert_eq!(
                from_capped, 1,
                "trial {trial}: the repository that takes one claim per hour granted {from_capped}"
            );
            let leases: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM leases l JOIN repos r ON r.id = l.repo_id WHERE r.name = $1",
            )
            .bind(capped)
            .fetch_one(db)
            .await
            .unwrap();
            assert_eq!(
                leases, 1,
                "trial {trial}: leases written in the capped repository"
            );
            assert!(
                granted.len() > 1,
                "trial {trial}: the refused claims found the other repository's work: {granted:?}"
            );
        },
    )
    .await;
}

/// Rule 10 across replicas: twelve claims at once on twelve tasks whose paths overlap pairwise
/// (`src/core/**`, `src/**`, and one file under both) grant exactly one of them, trial after
/// trial; the others find the disjoint tasks of lower priority. Each claim reads the paths as free
/// in its own snapshot; only the database's recheck at the repository's row keeps the second one
/// out. (Two different files under `src/core/**` overlap the pattern but not each other: both
/// may be held at once, so the test gives every file task the same file.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twelve_claims_at_once_on_overlapping_paths_lease_one() {
    if !postgres_enabled("twelve_claims_at_once_on_overlapping_paths_lease_one") {
        return;
    }
    let (a, b) = two_replicas(&[]).await;
    let servers = [a.clone(), b.clone()];
    for trial in 0..4 {
        let repo = format!("paths/race-{trial}");
        a.upsert_repo(&repo, 50, false).await;
        let overlapping: Vec<Value> = (0..12)
            .map(|j| {
                let path = match j % 3 {
                    0 => "src/core/**".to_string(),
                    1 => "src/core/lib.rs".to_string(),
                    _ => "src/**".to_string(),
                };
                json!({"title": format!("core {j}"), "priority": "critical", "paths": [path]})
            })
            .collect();
        let core: HashSet<String> = a
            .import_ids(&repo, Value::Array(overlapping))
            .await
            .into_iter()
            .collect();
        let disjoint: Vec<Value> = (0..12)
            .map(|j| {
                json!({"title": format!("docs {j}"), "priority": "low",
                            "paths": [format!("docs/d{j}.md")]})
            })
            .collect();
        a.import_ids(&repo, Value::Array(disjoint)).await;
        let granted = twelve_claims_at_once(&servers, &format!("paths-{trial}")).await;
        let from_core = granted.iter().filter(|t| core.contains(*t)).count();
        assert_eq!(
            from_core, 1,
            "trial {trial}: {from_core} tasks with overlapping paths were granted at once"
        );
        let state = a.state().await;
        let held: Vec<&Value> = state["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| core.contains(t["task_id"].as_str().unwrap()) && t["status"] == "leased")
            .collect();
        assert_eq!(held.len(), 1, "trial {trial}: {held:?}");
        assert!(
            granted.len() > 1,
            "trial {trial}: the refused claims found the disjoint work: {granted:?}"
        );
    }
    finish(vec![a, b]);
}

/// Rule 13 across replicas: a repository whose one reviewer has room for two pull requests
/// grants exactly two of twelve claims at once (each a future review), trial after trial; the
/// others find the other repository's work. Each claim reads the room in its own snapshot; only
/// the database's recheck at the repository's row (migration 0035) keeps the third one out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reviewers_with_room_for_two_grant_two_of_twelve_claims_at_once() {
    if !postgres_enabled("reviewers_with_room_for_two_grant_two_of_twelve_claims_at_once") {
        return;
    }
    let one_reviewer_of_two = [
        "INSERT INTO repo_reviewers (repo_id, login_key, login, capacity, account_id) \
         SELECT id, 'alice', 'alice', 2, 4242 FROM repos WHERE name = $1",
        "UPDATE repos SET reviewers = 1 WHERE name = $1",
    ];
    twelve_claims_at_once_on_a_limited_repository(
        "room",
        &one_reviewer_of_two,
        async |trial, from_reviewed, granted, _, _| {
            assert_eq!(
                from_reviewed, 2,
                "trial {trial}: the repository whose reviewers have room for two granted {from_reviewed}"
            );
            assert!(
                granted.len() > 2,
                "trial {trial}: the refused claims found the other repository's work: {granted:?}"
            );
        },
    )
    .await;
}
