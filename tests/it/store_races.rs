//! The storage layer under concurrency, on every backend from the same code (SQLite always,
//! PostgreSQL when `OWP_TEST_DATABASE_URL` names a server): two stores racing claims, the
//! write groups of SQLite that put simultaneous operations in one transaction, and a claim in
//! flight on PostgreSQL.

use crate::store_support::*;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use owp::domain::{Lease, TaskStatus};
use owp::store::rows::{TaskRow, WorkerRow};
use owp::store::tasks::TaskInput;
use owp::store::{Backend, Store, StoreError};

/// Two stores on one database (two processes, in effect) racing claims through the general
/// claim of a write transaction: every task goes to one worker, and no budget, area lock or
/// capacity is ever exceeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_claims_from_two_stores_keep_every_rule() {
    on_each_backend(
        "racing_claims_from_two_stores_keep_every_rule",
        fast_timing(),
        |db| racing_claims(db, false),
    )
    .await;
}

/// The same race through the path of a worker's request (`WorkerOps::claim`): write groups on
/// SQLite, one statement per claim on PostgreSQL, which must lose its races (the last review
/// slot, a taken area) without breaking a rule. A quarter of the workers claim tasks by name
/// meanwhile (as `/owp claim` comments do), which takes its locks in another order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_requests_from_two_stores_keep_every_rule() {
    on_each_backend(
        "racing_requests_from_two_stores_keep_every_rule",
        fast_timing(),
        |db| racing_claims(db, true),
    )
    .await;
}

/// A named claim (`/owp claim`) of one of the ready tasks, tried from the `from`-th on; a
/// refusal or a lost race tries the next.
async fn claim_by_name(store: &Store, worker: &WorkerRow, from: usize) -> Option<Lease> {
    let tasks = store
        .tasks()
        .list(&Default::default())
        .await
        .expect("tasks");
    let ready: Vec<&TaskRow> = tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Ready)
        .collect();
    for k in 0..ready.len().min(8) {
        let task_id = &ready[(from + k) % ready.len()].id;
        let named = store
            .write(|mut tx| async move {
                let r = tx.claim_task(&worker.id, task_id, false).await;
                (tx, r)
            })
            .await;
        match named {
            Ok(lease) => return Some(lease),
            Err(StoreError::Refused(_) | StoreError::Conflict { .. }) => continue,
            Err(e) => panic!("named claim: {e}"),
        }
    }
    None
}

async fn racing_claims(db: TestDb, requests: bool) {
    let label = db.label;
    let a = db.store.clone();
    let b = db.replica().await;
    repo(&a, "race/one", 3, true).await;
    repo(&a, "race/two", 100, true).await;
    let mut inputs = Vec::new();
    for i in 0..60 {
        let mut t = task(&format!("t{i}"));
        t.area = (i % 3 == 0).then(|| format!("area{}", i % 4));
        t.estimate_points = 1 + (i % 2);
        inputs.push(t);
    }
    a.tasks()
        .import("race/one", &inputs[..30], "admin")
        .await
        .unwrap();
    a.tasks()
        .import("race/two", &inputs[30..], "admin")
        .await
        .unwrap();
    let mut workers = Vec::new();
    for i in 0..16 {
        workers.push(register(&a, worker_input(&format!("w{i}"), &[], 3, 2)).await);
    }
    let stores = [a.clone(), b.clone()];
    let granted = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let barrier = Arc::new(tokio::sync::Barrier::new(workers.len()));
    let mut handles = Vec::new();
    for (i, w) in workers.iter().cloned().enumerate() {
        let store = stores[i % 2].clone();
        let granted = granted.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            for _ in 0..4 {
                let lease = if !requests {
                    claim(&store, &w).await
                } else if i % 4 != 0 {
                    store.worker_ops().claim(&w).await.expect("claim").0
                } else {
                    claim_by_name(&store, &w, i).await
                };
                if let Some(l) = lease {
                    granted
                        .lock()
                        .unwrap()
                        .push((l.task.task_id.clone(), w.id.clone()));
                }
            }
        }));
    }
    for h in handles {
        h.await.expect("claimer");
    }
    let granted = granted.lock().unwrap().clone();
    let unique: HashSet<&String> = granted.iter().map(|(t, _)| t).collect();
    assert_eq!(
        unique.len(),
        granted.len(),
        "{label}: a task was leased twice"
    );
    // No claim gave up while work it could take was ready: once the race is over, the pool
    // has nothing left for any of the workers that claimed the next task (their capacity, the
    // budget or the areas are used). Named claims try a few tasks only.
    for (i, w) in workers.iter().enumerate() {
        if requests && i % 4 == 0 {
            continue;
        }
        assert!(
            claim(&a, w).await.is_none(),
            "{label}: {} was refused during the race but could still claim ({} granted)",
            w.name,
            granted.len()
        );
    }

    let tasks = a.tasks().list(&Default::default()).await.unwrap();
    let repos = a.repos().all().await.unwrap();
    for r in &repos {
        let active = tasks
            .iter()
            .filter(|t| t.repo == r.name && t.status.is_active())
            .count() as i64;
        assert_eq!(
            active, r.active_leases,
            "{label}: {} counter drifted",
            r.name
        );
        assert!(active <= r.max_open_prs, "{label}: {} over budget", r.name);
        let mut areas = HashSet::new();
        for t in tasks
            .iter()
            .filter(|t| t.repo == r.name && t.status.holds_area())
        {
            if let Some(area) = &t.area {
                assert!(
                    areas.insert(area.clone()),
                    "{label}: area {area} held twice"
                );
            }
        }
    }
    for w in a.workers().all().await.unwrap() {
        let mine: Vec<&TaskRow> = tasks
            .iter()
            .filter(|t| t.worker_id.as_deref() == Some(w.id.as_str()) && t.status.is_active())
            .collect();
        let points: i64 = mine.iter().map(|t| t.estimate_points).sum();
        assert_eq!(
            points, w.active_points,
            "{label}: points counter of {}",
            w.name
        );
        assert!(
            points <= w.capacity_points,
            "{label}: {} over capacity",
            w.name
        );
        assert!(mine.len() as i64 <= w.max_concurrent_tasks);
    }
    // Every lease granted has its audit event (read up to the log's current horizon).
    a.event_horizon().await.unwrap();
    let leased = a
        .events()
        .after(0, 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == "task.leased")
        .count();
    assert_eq!(leased, granted.len(), "{label}: task.leased events");
    let drift = crate::store_support::queue_drift(a.read_pool()).await;
    assert!(drift.is_empty(), "{label}: {}", drift.join("; "));
    b.close().await;
    db.store.close().await;
}

/// Claims, acks and status moves that arrive together share one transaction on SQLite (a write
/// group): every rule still holds as if each ran alone, every caller gets its own answer, and an
/// operation off its plain path (unknown lease, another worker's task, no PR URL) gets its own
/// error without disturbing the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operations_arriving_together_keep_every_rule_and_get_their_own_answers() {
    on_each_backend(
        "operations_arriving_together",
        fast_timing(),
        |db| async move {
            grouped_story(&db).await;
            // Without a change hook, SQLite's groups run on the direct connection.
            match db.store.backend() {
                Backend::Sqlite => assert!(db.store.worker_ops().direct_groups() > 0),
                Backend::Postgres => assert_eq!(db.store.worker_ops().direct_groups(), 0),
            }
        },
    )
    .await;
}

/// A change hook that records the events of every transaction it sees.
#[derive(Default)]
struct RecordingHook {
    seen: std::sync::Mutex<Vec<(i64, String)>>,
}

impl owp::store::ChangeHook for RecordingHook {
    fn before_commit(
        &self,
        events: &[owp::domain::Event],
        _shown: &[String],
    ) -> Result<(), StoreError> {
        let mut seen = self.seen.lock().unwrap();
        seen.extend(events.iter().map(|e| (e.id, e.kind.clone())));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_hook_joins_every_transaction_of_a_group() {
    on_each_backend("hook_joins_groups", fast_timing(), |db| async move {
        let hook = Arc::new(RecordingHook::default());
        db.store.add_hook(hook.clone());
        grouped_story(&db).await;
        // The hook saw every task event that committed, each once.
        let committed: Vec<(i64, String)> = db
            .store
            .events()
            .after(0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind.starts_with("task.") || e.kind.starts_with("lease."))
            .map(|e| (e.id, e.kind))
            .collect();
        // (A transaction run again after a transient failure shows the hook its events twice,
        // once with the ids of the attempt that rolled back.)
        let seen: HashSet<(i64, String)> = hook.seen.lock().unwrap().iter().cloned().collect();
        // 12 tasks created, and in each of 5 rounds at least one lease, ack, PR and requeue.
        assert!(
            committed.len() >= 32,
            "{}: {} events",
            db.label,
            committed.len()
        );
        for event in &committed {
            assert!(seen.contains(event), "{}: the hook saw {event:?}", db.label);
        }
        // A hook cannot join the direct connection's transactions: groups ran through sqlx.
        assert_eq!(db.store.worker_ops().direct_groups(), 0, "{}", db.label);
    })
    .await;
}

/// Rounds of simultaneous claims, acks and status moves, with refusals mixed in; asserts every
/// rule and each caller's own answer.
async fn grouped_story(db: &TestDb) {
    use futures_util::future::join_all;
    let s = &db.store;
    let label = db.label;
    repo(s, "r/group", 6, true).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let mut t = task(&format!("group task {i}"));
        if i < 4 {
            t.area = Some("docs".into());
        }
        if i % 3 == 2 {
            t.required_skills = vec!["rust".into()];
        }
        tasks.push(t);
    }
    s.tasks().import("r/group", &tasks, "admin").await.unwrap();
    let mut workers = Vec::new();
    for i in 0..16 {
        let skills: &[&str] = if i % 2 == 0 { &["rust"] } else { &["docs"] };
        workers.push(register(s, worker_input(&format!("g{i}"), skills, 5, 1)).await);
    }

    let mut grouped = s.worker_ops().grouped();
    for round in 0..5 {
        // 16 claims at once, over a budget of 6 and an area lock on `docs`.
        let claims = join_all(workers.iter().map(|w| s.worker_ops().claim(w))).await;
        let mut held: Vec<(&WorkerRow, Lease)> = Vec::new();
        for (w, c) in workers.iter().zip(claims) {
            if let (Some(lease), _) = c.expect("claim") {
                held.push((w, lease));
            }
        }
        let (open, active) = repo_figures(s, "r/group").await;
        assert_eq!(active, held.len() as i64, "{label}: leases are counted");
        assert!(
            open + active <= 6,
            "{label}: the budget holds ({open} + {active})"
        );
        let ids: HashSet<&str> = held.iter().map(|(_, l)| l.task.task_id.as_str()).collect();
        assert_eq!(ids.len(), held.len(), "{label}: no task is leased twice");
        let docs = held
            .iter()
            .filter(|(_, l)| l.task.area.as_deref() == Some("docs"));
        assert!(docs.count() <= 1, "{label}: the area lock holds");
        for (w, l) in &held {
            for skill in &l.task.required_skills {
                assert!(w.skills.contains(skill), "{label}: skills match");
            }
        }
        assert!(!held.is_empty(), "{label}: round {round} leased nothing");

        // Acks together, with one for an unknown lease and one by the wrong worker.
        let (stranger, _) = held[0];
        let mut acks: Vec<_> = held
            .iter()
            .map(|(w, l)| s.worker_ops().ack(w, &l.lease_id))
            .collect();
        acks.push(s.worker_ops().ack(stranger, "l_unknown"));
        if held.len() > 1 {
            acks.push(s.worker_ops().ack(stranger, &held[1].1.lease_id));
        }
        let mut answers = join_all(acks).await.into_iter();
        for (_, l) in &held {
            let t = answers.next().unwrap().expect("ack");
            assert_eq!(t.id, l.task.task_id, "{label}: each ack gets its own task");
            assert_eq!(t.status, TaskStatus::InProgress);
        }
        let unknown = answers.next().unwrap().unwrap_err();
        assert_eq!(code_of(&unknown), "lease_not_found", "{label}");
        if held.len() > 1 {
            let other = answers.next().unwrap().unwrap_err();
            assert_eq!(code_of(&other), "not_lease_holder", "{label}");
        }

        // Status moves together: every holder opens a PR, except that the first one
        // forgets the URL in a first attempt, and a stranger tries to move a task.
        let move_of = |l: &Lease, url: bool| owp::store::StatusRequest {
            task_id: l.task.task_id.clone(),
            to: TaskStatus::PrOpened,
            artifact: Some(if url {
                json!({"pr_url": format!("https://example.invalid/pr/{}", l.task.task_id)})
            } else {
                json!({})
            }),
            note: None,
        };
        let mut moves: Vec<_> = held
            .iter()
            .skip(1)
            .map(|(w, l)| s.worker_ops().status(w, move_of(l, true)))
            .collect();
        moves.push(s.worker_ops().status(held[0].0, move_of(&held[0].1, false)));
        let outsider = workers
            .iter()
            .find(|w| held.iter().all(|(h, _)| h.id != w.id))
            .expect("a worker without a lease");
        moves.push(s.worker_ops().status(outsider, move_of(&held[0].1, true)));
        let mut answers = join_all(moves).await.into_iter();
        for (_, l) in held.iter().skip(1) {
            let t = answers.next().unwrap().expect("pr_opened");
            assert_eq!(t.id, l.task.task_id, "{label}: each move gets its own task");
            assert_eq!(t.status, TaskStatus::PrOpened);
        }
        let no_url = answers.next().unwrap().unwrap_err();
        assert_eq!(code_of(&no_url), "missing_pr_url", "{label}");
        let outsider_err = answers.next().unwrap().unwrap_err();
        assert_eq!(code_of(&outsider_err), "not_lease_holder", "{label}");
        open_pr(s, held[0].0, &held[0].1.task.task_id).await;
        let (open, active) = repo_figures(s, "r/group").await;
        assert_eq!(
            (open, active),
            (held.len() as i64, 0),
            "{label}: PRs are counted"
        );

        // The maintainer closes the PRs: the tasks go back to the queue.
        for (_, l) in &held {
            admin_status(s, &l.task.task_id, TaskStatus::Ready).await;
        }
        assert_eq!(repo_figures(s, "r/group").await, (0, 0), "{label}");
    }

    // Every change has its audit event.
    let events = s.events().after(0, 10_000).await.unwrap();
    let leased = events.iter().filter(|e| e.kind == "task.leased").count();
    let moved = events
        .iter()
        .filter(|e| e.kind == "task.status" && e.data["status"] == "pr_opened")
        .count();
    assert_eq!(leased, moved, "{label}: one pr_opened per lease");
    grouped = s.worker_ops().grouped() - grouped;
    match db.store.backend() {
        Backend::Sqlite => assert!(grouped > 0, "{label}: some operations were grouped"),
        Backend::Postgres => assert_eq!(grouped, 0),
    }
}

/// PostgreSQL: a claim that has not committed yet holds only the task it took (and its
/// repository's budget row). Another process's claim meanwhile gets a ready task of another
/// repository, not "nothing is ready". (On SQLite the second claim waits for the first, so the
/// story needs PostgreSQL.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_in_flight_holds_only_the_task_it_takes() {
    let Some(db) = TestDb::postgres(fast_timing()).await else {
        return;
    };
    let a = db.store.clone();
    let b = db.replica().await;
    // The first claim takes the one task of `flight/one` and keeps that repository's budget row
    // locked until it commits; the tasks of `flight/two` are free for anyone.
    repo(&a, "flight/one", 10, false).await;
    repo(&a, "flight/two", 10, false).await;
    a.tasks()
        .import("flight/one", &[task("one")], "admin")
        .await
        .unwrap();
    let tasks: Vec<TaskInput> = (0..2).map(|i| task(&format!("two{i}"))).collect();
    a.tasks()
        .import("flight/two", &tasks, "admin")
        .await
        .unwrap();
    let first = register(&a, worker_input("first", &[], 5, 5)).await;
    let second = register(&a, worker_input("second", &[], 5, 5)).await;

    let taken = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let in_flight = {
        let (a, taken, release) = (a.clone(), taken.clone(), release.clone());
        tokio::spawn(async move {
            a.write(|mut tx| {
                let (first, taken, release) = (first.clone(), taken.clone(), release.clone());
                async move {
                    let r = tx.leases().claim(&first).await;
                    taken.notify_one();
                    release.acquire().await.expect("release").forget();
                    (tx, r)
                }
            })
            .await
            .expect("first claim")
        })
    };
    taken.notified().await;
    let other = tokio::time::timeout(Duration::from_secs(10), claim(&b, &second))
        .await
        .expect("the second claim does not wait for the first");
    release.add_permits(1);
    let first_lease = in_flight
        .await
        .unwrap()
        .expect("the first claim took a task");
    let other = other.expect("the second claim got another ready task");
    assert_eq!(first_lease.task.repo, "flight/one");
    assert_eq!(other.task.repo, "flight/two");
    assert_eq!(repo_figures(&a, "flight/one").await, (0, 1));
    assert_eq!(repo_figures(&a, "flight/two").await, (0, 1));
    b.close().await;
    db.store.close().await;
}

/// Claims that arrive together are taken together (one statement on PostgreSQL, a write group
/// on SQLite), each from what the ones before it left: a repository whose budget has room for
/// three gets three of them however many of its tasks head the queue, the others go on to the
/// next repository, no task goes twice, every lease has its audit event, and each worker holds
/// at most what it may.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_arriving_together_share_the_budget_they_use() {
    on_each_backend("claims_arriving_together", fast_timing(), |db| async move {
        use futures_util::future::join_all;
        let (s, label) = (&db.store, db.label);
        repo(s, "batch/narrow", 3, true).await;
        repo(s, "batch/wide", 100, true).await;
        let urgent: Vec<TaskInput> = (0..20)
            .map(|i| {
                let mut t = task(&format!("urgent {i}"));
                t.priority = owp::domain::Priority::Critical;
                t
            })
            .collect();
        let plain: Vec<TaskInput> = (0..40).map(|i| task(&format!("plain {i}"))).collect();
        s.tasks()
            .import("batch/narrow", &urgent, "admin")
            .await
            .unwrap();
        s.tasks()
            .import("batch/wide", &plain, "admin")
            .await
            .unwrap();
        let mut workers = Vec::new();
        for i in 0..24 {
            workers.push(register(s, worker_input(&format!("b{i}"), &[], 5, 1)).await);
        }
        let together = taken_together(s);
        let claims = join_all(workers.iter().map(|w| s.worker_ops().claim(w))).await;
        let leases: Vec<Lease> = claims
            .into_iter()
            .map(|c| c.expect("claim").0.expect("a task for every worker"))
            .collect();
        let ids: HashSet<&str> = leases.iter().map(|l| l.task.task_id.as_str()).collect();
        assert_eq!(ids.len(), 24, "{label}: no task is leased twice");
        let narrow = leases.iter().filter(|l| l.task.repo == "batch/narrow");
        assert_eq!(narrow.count(), 3, "{label}: the budget of three holds");
        assert_eq!(repo_figures(s, "batch/narrow").await, (0, 3), "{label}");
        assert_eq!(repo_figures(s, "batch/wide").await, (0, 21), "{label}");
        // A second claim of each worker (one task at most each) gets nothing.
        for w in &workers {
            assert!(
                s.worker_ops().claim(w).await.expect("claim").0.is_none(),
                "{label}"
            );
        }
        let events = s.events().after(0, 10_000).await.unwrap();
        let leased: HashSet<String> = events
            .iter()
            .filter(|e| e.kind == "task.leased")
            .filter_map(|e| e.data["lease_id"].as_str().map(str::to_string))
            .collect();
        for l in &leases {
            assert!(
                leased.contains(&l.lease_id),
                "{label}: {} has its event",
                l.lease_id
            );
        }
        assert_eq!(leased.len(), 24, "{label}: one event per lease");
        assert_taken_together(s, together, label);
    })
    .await;
}

/// How many claims were taken by one statement (PostgreSQL) and how many operations in write
/// groups (SQLite) so far: read before claims arrive together, checked by
/// [`assert_taken_together`].
fn taken_together(s: &Store) -> (u64, u64) {
    (s.worker_ops().claims_together(), s.worker_ops().grouped())
}

/// Some of the claims since `before` ([`taken_together`]) were taken together: by one statement
/// on PostgreSQL, in write groups on SQLite.
fn assert_taken_together(s: &Store, before: (u64, u64), label: &str) {
    match s.backend() {
        Backend::Postgres => assert!(
            s.worker_ops().claims_together() > before.0,
            "{label}: some claims were taken by one statement"
        ),
        Backend::Sqlite => assert!(s.worker_ops().grouped() > before.1, "{label}"),
    }
}

/// Workers of different skills claiming together each take the first task in offer order that
/// they may take, whatever the others took beside them. On PostgreSQL a statement of several
/// claims starts each worker's scan past the head of the queue the workers before it took whole;
/// a worker that had to pass a task over (not one of its skills) leaves that task to the next
/// ones, who must start before it.
#[tokio::test]
async fn claims_arriving_together_each_take_the_first_task_they_may() {
    on_each_backend("claims_first_they_may", fast_timing(), |db| async move {
        use futures_util::future::join_all;
        let (s, label) = (&db.store, db.label);
        repo(s, "batch/skills", 100, true).await;
        // Rust and docs tasks alternate in offer order, a few urgent docs tasks at the head.
        let mut tasks: Vec<TaskInput> = (0..4)
            .map(|i| {
                let mut t = task(&format!("urgent docs {i}"));
                t.priority = owp::domain::Priority::Critical;
                t.required_skills = vec!["docs".into()];
                t
            })
            .collect();
        for i in 0..40 {
            let skill = if i % 2 == 0 { "rust" } else { "docs" };
            let mut t = task(&format!("{skill} {i}"));
            t.required_skills = vec![skill.into()];
            tasks.push(t);
        }
        s.tasks()
            .import("batch/skills", &tasks, "admin")
            .await
            .unwrap();
        let mut workers = Vec::new();
        for i in 0..24 {
            let skill = if i % 2 == 0 { "rust" } else { "docs" };
            workers.push(register(s, worker_input(&format!("s{i}"), &[skill], 5, 1)).await);
        }
        let together = taken_together(s);
        let claims = join_all(workers.iter().map(|w| s.worker_ops().claim(w))).await;
        let taken: HashSet<String> = claims
            .into_iter()
            .map(|c| c.expect("claim").0.expect("a task for every worker"))
            .map(|l| l.task.title)
            .collect();
        assert_eq!(taken.len(), 24, "{label}: no task is leased twice");
        // Each claim took the first task left that its worker may take: together, the first
        // twelve of each skill in offer order (the four urgent docs tasks first).
        let mut expected: HashSet<String> = (0..4).map(|i| format!("urgent docs {i}")).collect();
        expected.extend((0..24).step_by(2).map(|i| format!("rust {i}")));
        expected.extend((1..16).step_by(2).map(|i| format!("docs {i}")));
        assert_eq!(
            taken, expected,
            "{label}: each worker took the first task it may"
        );
        assert_taken_together(s, together, label);
    })
    .await;
}

/// Acks and status moves that arrive together (one statement on PostgreSQL, a write group on
/// SQLite) each apply as if alone: every count of the repositories and the workers comes out
/// right, one event per change (none in a stranger's name), and a worker acknowledging or moving
/// another's task changes nothing, even in the same statement as the holder's own request.
#[tokio::test]
async fn acks_and_moves_arriving_together_keep_every_count() {
    on_each_backend("acks_moves_together", fast_timing(), |db| async move {
        use futures_util::future::join_all;
        let (s, label) = (&db.store, db.label);
        for name in ["together/a", "together/b"] {
            repo(s, name, 100, true).await;
            let tasks: Vec<TaskInput> = (0..12).map(|i| task(&format!("{name} {i}"))).collect();
            s.tasks().import(name, &tasks, "admin").await.unwrap();
        }
        let mut workers = Vec::new();
        for i in 0..20 {
            workers.push(register(s, worker_input(&format!("t{i}"), &[], 5, 1)).await);
        }
        let claims = join_all(workers.iter().map(|w| s.worker_ops().claim(w))).await;
        let leases: Vec<Lease> = claims
            .into_iter()
            .map(|c| c.expect("claim").0.expect("a task for every worker"))
            .collect();
        let mut fresh = Vec::new();
        for w in &workers {
            fresh.push(s.workers().get(&w.id).await.unwrap().expect("worker"));
        }
        let before = (
            s.worker_ops().acks_together(),
            s.worker_ops().moves_together(),
            s.worker_ops().grouped(),
        );
        // Every worker acknowledges its lease at once; each odd worker first acknowledges the
        // lease of the worker before it (a statement takes one operation per worker, so the
        // stranger's ack and the holder's of one lease share a statement); worker 2 acks twice.
        let n = fresh.len();
        let mut acks = Vec::new();
        for (i, (w, l)) in fresh.iter().zip(&leases).enumerate() {
            if i % 2 == 1 {
                acks.push((false, s.worker_ops().ack(w, &leases[i - 1].lease_id)));
            }
            acks.push((true, s.worker_ops().ack(w, &l.lease_id)));
        }
        let (own, acks): (Vec<bool>, Vec<_>) = acks.into_iter().unzip();
        let acked = join_all(acks).await.into_iter().zip(own);
        let (mut mine, mut stolen) = (Vec::new(), Vec::new());
        for (a, own) in acked {
            if own { mine.push(a) } else { stolen.push(a) }
        }
        assert_eq!((mine.len(), stolen.len()), (n, n / 2), "{label}");
        for (a, l) in mine.iter().zip(&leases) {
            let a = a.as_ref().expect("own ack");
            assert_eq!(a.status, TaskStatus::InProgress, "{label}");
            assert_eq!(a.id, l.task.task_id, "{label}");
        }
        for a in &stolen {
            assert!(a.is_err(), "{label}: another's lease is not acknowledged");
        }
        let again = s.worker_ops().ack(&fresh[2], &leases[2].lease_id).await;
        assert_eq!(
            again.expect("a second ack is harmless").status,
            TaskStatus::InProgress
        );
        // Every worker opens its pull request at once; each odd worker first reports one for the
        // task of the worker before it.
        fn opened<'a>(
            s: &'a Store,
            w: &'a WorkerRow,
            l: &Lease,
            n: usize,
        ) -> impl std::future::Future<Output = Result<TaskRow, StoreError>> + 'a {
            let request = owp::store::StatusRequest {
                task_id: l.task.task_id.clone(),
                to: TaskStatus::PrOpened,
                artifact: Some(json!({"pr_url": format!("https://example.com/pr/{n}")})),
                note: None,
            };
            s.worker_ops().status(w, request)
        }
        let mut moves = Vec::new();
        for (i, (w, l)) in fresh.iter().zip(&leases).enumerate() {
            if i % 2 == 1 {
                moves.push((false, opened(s, w, &leases[i - 1], 100 + i)));
            }
            moves.push((true, opened(s, w, l, i)));
        }
        let (own, moves): (Vec<bool>, Vec<_>) = moves.into_iter().unzip();
        let mut moved = Vec::new();
        for (m, own) in join_all(moves).await.into_iter().zip(own) {
            if own {
                moved.push(m);
            } else {
                assert!(m.is_err(), "{label}: another's task is not moved");
            }
        }
        let (a, b) = (
            repo_figures(s, "together/a").await,
            repo_figures(s, "together/b").await,
        );
        assert_eq!(
            (a.0 + b.0, a.1 + b.1),
            (20, 0),
            "{label}: 20 open, none leased"
        );
        for w in &workers {
            let w = s.workers().get(&w.id).await.unwrap().expect("worker");
            assert_eq!(
                (w.active_tasks, w.active_points),
                (0, 0),
                "{label}: {}",
                w.id
            );
        }
        let events = s.events().after(0, 10_000).await.unwrap();
        for status in ["in_progress", "pr_opened"] {
            let tasks: Vec<&str> = events
                .iter()
                .filter(|e| e.kind == "task.status" && e.data["status"] == status)
                .filter_map(|e| e.task_id.as_deref())
                .collect();
            let distinct: HashSet<&str> = tasks.iter().copied().collect();
            let holders: HashSet<(&str, &str)> = events
                .iter()
                .filter(|e| e.kind == "task.status" && e.data["status"] == status)
                .filter_map(|e| Some((e.task_id.as_deref()?, e.actor.as_str())))
                .collect();
            for (l, w) in leases.iter().zip(&workers) {
                let holder = format!("worker:{}", w.id);
                assert!(
                    holders.contains(&(l.task.task_id.as_str(), holder.as_str())),
                    "{label}: {status} of {} in its holder's name",
                    l.task.task_id
                );
            }
            assert_eq!(
                (tasks.len(), distinct.len()),
                (20, 20),
                "{label}: one {status} event per task"
            );
        }
        match s.backend() {
            Backend::Postgres => {
                assert!(
                    s.worker_ops().acks_together() > before.0,
                    "{label}: acks together"
                );
                assert!(
                    s.worker_ops().moves_together() > before.1,
                    "{label}: moves together"
                );
            }
            Backend::Sqlite => assert!(s.worker_ops().grouped() > before.2, "{label}"),
        }
    })
    .await;
}
