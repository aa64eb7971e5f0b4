//! PostgreSQL's claim queue (`task_queue`, migration 0027): one narrow row per claimable task,
//! kept by triggers in step with every change of a task, whoever makes it; and the renewals of a
//! lease, which leave every index of `tasks` alone (heap-only updates). The stories run on both
//! backends (SQLite has no queue and offers the same tasks); the drift check and the heap-only
//! count read PostgreSQL's own tables.

use crate::store_support::*;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::Row;

use owp::domain::{Priority, TaskStatus};
use owp::store::Store;
use owp::store::tasks::TaskInput;

/// Panics where PostgreSQL's claim queue is out of step with the tasks (nothing on SQLite).
async fn queue_in_step(store: &Store, label: &str, step: &str) {
    let drift = crate::store_support::queue_drift(store.read_pool()).await;
    assert!(drift.is_empty(), "{label}, {step}: {}", drift.join("; "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claim_queue_follows_every_change_of_a_task_and_offers_what_it_says() {
    on_each_backend(
        "the_claim_queue_follows_every_change_of_a_task_and_offers_what_it_says",
        fast_timing(),
        |db| async move {
            let s = &db.store;
            let l = db.label;
            repo(s, "acme/queue", 100, true).await;
            let inputs = vec![
                blocked("A", Priority::Low, &[]),
                blocked("B", Priority::Normal, &[]),
                blocked("C", Priority::Normal, &["A"]),
            ];
            s.tasks()
                .import("acme/queue", &inputs, "admin")
                .await
                .expect("import");
            queue_in_step(s, l, "after the import").await;
            // Re-imported with other fields while ready: A is now the most urgent, in an area.
            let mut a = blocked("A", Priority::Critical, &[]);
            a.area = Some("auth".into());
            a.estimate_points = 2;
            a.tier = 1;
            s.tasks()
                .import("acme/queue", &[a], "admin")
                .await
                .expect("re-import");
            queue_in_step(s, l, "after the re-import").await;
            let w = register(s, worker_input("w", &[], 10, 5)).await;
            // The tier is above the worker's trust: B is offered, not A.
            let first = claim(s, &w).await.expect("B is offered");
            assert_eq!(first.task.title, "B", "{l}: offer order");
            queue_in_step(s, l, "after a claim").await;
            nack(s, &w, &first).await.expect("nack");
            queue_in_step(s, l, "after a nack").await;
            let a = task_named(s, "A").await;
            let b = task_named(s, "B").await;
            for (to, step) in [
                (TaskStatus::Blocked, "blocked"),
                (TaskStatus::Ready, "ready again"),
                (TaskStatus::Cancelled, "cancelled"),
            ] {
                admin_status(s, &a.id, to).await;
                queue_in_step(s, l, step).await;
            }
            // A cancelled blocker frees C; B was given back by w within the hour.
            let c = claim(s, &w).await.expect("C is free");
            assert_eq!(c.task.title, "C", "{l}: the freed dependant is offered");
            ack(s, &w, &c).await.expect("ack");
            open_pr(s, &w, &c.task.task_id).await;
            queue_in_step(s, l, "a pull request opened").await;
            admin_status(s, &c.task.task_id, TaskStatus::Ready).await;
            admin_status(s, &a.id, TaskStatus::Ready).await;
            queue_in_step(s, l, "both back").await;
            // A is back and holds C again; B stays where it was.
            let other = register(s, worker_input("other", &[], 10, 5)).await;
            let next = claim(s, &other).await.expect("B for another worker");
            assert_eq!(next.task.title, "B", "{l}: C waits on A again");
            assert_eq!(task_named(s, "B").await.id, b.id);
            queue_in_step(s, l, "the end").await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_heartbeats_renew_leases_in_their_own_rows_on_their_pages() {
    let Some(db) = TestDb::postgres(fast_timing()).await else {
        return;
    };
    let s = &db.store;
    repo(s, "acme/hot", 100, true).await;
    let inputs: Vec<TaskInput> = (0..3)
        .map(|i| blocked(&format!("T{i}"), Priority::Normal, &[]))
        .collect();
    s.tasks()
        .import("acme/hot", &inputs, "admin")
        .await
        .expect("import");
    let w = register(s, worker_input("w", &[], 10, 3)).await;
    let first = claim(s, &w).await.expect("a first lease");
    ack(s, &w, &first).await.expect("ack");
    claim(s, &w)
        .await
        .expect("a second lease, not yet acknowledged");
    let (renewed, [tasks, leases, hot]) = s
        .write(|mut tx| {
            let w = w.clone();
            async move {
                let r = async {
                    // The backend's counters of updates not yet sent to the statistics, read
                    // before and after on the transaction's own connection.
                    let counts = "SELECT pg_stat_get_xact_tuples_updated('tasks'::regclass) AS t, \
                        pg_stat_get_xact_tuples_updated('leases'::regclass) AS l, \
                        pg_stat_get_xact_tuples_hot_updated('leases'::regclass) AS h";
                    let before = sqlx::query(counts).fetch_one(tx.conn()).await?;
                    let renewed = tx.workers().heartbeat(&w, None).await?;
                    let after = sqlx::query(counts).fetch_one(tx.conn()).await?;
                    let diff = |c: &str| after.get::<i64, _>(c) - before.get::<i64, _>(c);
                    Ok((renewed, [diff("t"), diff("l"), diff("h")]))
                }
                .await;
                (tx, r)
            }
        })
        .await
        .expect("heartbeat");
    assert_eq!(renewed, 2, "both leases are renewed");
    assert_eq!(tasks, 0, "a renewal writes no task row");
    assert_eq!(leases, 2, "the heartbeat writes the two lease rows");
    assert_eq!(
        hot, 2,
        "a renewal changes no indexed column of leases: every update stays on its page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_claim_passes_over_a_task_another_transaction_is_changing() {
    use sqlx::Connection;
    let Some(db) = TestDb::postgres(fast_timing()).await else {
        return;
    };
    let s = &db.store;
    repo(s, "acme/busy", 100, true).await;
    let inputs = vec![
        blocked("A", Priority::Critical, &[]),
        blocked("B", Priority::Normal, &[]),
        blocked("C", Priority::Low, &[]),
    ];
    s.tasks()
        .import("acme/busy", &inputs, "admin")
        .await
        .expect("import");
    // A maintainer's change of A is under way in a transaction of its own, holding A's row.
    let mut other = sqlx::AnyConnection::connect(&db.url)
        .await
        .expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut other)
        .await
        .expect("begin");
    sqlx::query("UPDATE tasks SET description = 'being edited' WHERE title = 'A'")
        .execute(&mut other)
        .await
        .expect("hold A");
    let w = register(s, worker_input("w", &[], 10, 5)).await;
    // In a write transaction of its own (as when a hook joins it), and on its own.
    let first = claim(s, &w).await.expect("a task while A is being changed");
    assert_eq!(
        first.task.title, "B",
        "the claim passes over A, it does not give up"
    );
    let (second, _) = s.worker_ops().claim(&w).await.expect("claim");
    assert_eq!(second.expect("C").task.title, "C");
    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("rollback");
    let third = claim(s, &w).await.expect("A once the change is over");
    assert_eq!(third.task.title, "A");
    queue_in_step(s, db.label, "the end").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_racing_changes_of_the_same_tasks_keep_the_queue_in_step() {
    on_each_backend(
        "claims_racing_changes_of_the_same_tasks_keep_the_queue_in_step",
        fast_timing(),
        |db| async move {
            let l = db.label;
            let stores = [db.store.clone(), db.replica().await];
            let s = &stores[0];
            repo(s, "acme/churn", 1000, false).await;
            let all = |priority: Priority| -> Vec<_> {
                (0..40)
                    .map(|i| blocked(&format!("T{i}"), priority, &[]))
                    .collect()
            };
            let imported = s
                .tasks()
                .import("acme/churn", &all(Priority::Normal), "admin")
                .await
                .expect("import");
            // T30 to T39 are blocked and reopened by a maintainer while the claims run.
            let toggled: Vec<String> = imported[30..].iter().map(|t| t.id.clone()).collect();
            let mut workers = Vec::new();
            for i in 0..8 {
                workers.push(register(s, worker_input(&format!("w{i}"), &[], 100, 100)).await);
            }
            // Each worker claims at least four times, and goes on, a few milliseconds apart,
            // while the changes run: a claim passes over the rows a change holds, and a claim that
            // found nothing is remembered until the change commits, so claims in a quick row
            // could all fall inside the first re-import, which holds every task.
            let changing = Arc::new(AtomicBool::new(true));
            let mut claimers = Vec::new();
            for (i, w) in workers.iter().cloned().enumerate() {
                let store = stores[i % 2].clone();
                let changing = changing.clone();
                claimers.push(tokio::spawn(async move {
                    let mut got = Vec::new();
                    let mut claims = 0;
                    while claims < 4 || (changing.load(Ordering::SeqCst) && claims < 1_000) {
                        let (lease, _) = store.worker_ops().claim(&w).await.expect("claim");
                        got.extend(lease.map(|lease| (lease.task.task_id, w.id.clone())));
                        claims += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    got
                }));
            }
            let mut changers = Vec::new();
            for (k, store) in stores.iter().cloned().enumerate() {
                let toggled = toggled.clone();
                changers.push(tokio::spawn(async move {
                    for round in 0..6 {
                        // Every task's priority changes while it is claimable or claimed.
                        let priority =
                            [Priority::Low, Priority::High, Priority::Critical][(round + k) % 3];
                        store
                            .tasks()
                            .import("acme/churn", &all(priority), "admin")
                            .await
                            .expect("re-import");
                        let id = &toggled[(round * 2 + k) % toggled.len()];
                        admin_status(&store, id, TaskStatus::Blocked).await;
                        admin_status(&store, id, TaskStatus::Ready).await;
                    }
                }));
            }
            for c in changers {
                c.await.expect("changer");
            }
            changing.store(false, Ordering::SeqCst);
            let mut granted = Vec::new();
            for c in claimers {
                granted.extend(c.await.expect("claimer"));
            }
            assert!(!granted.is_empty(), "{l}: no claim was granted");
            // A task nobody toggled is leased once, and still held by the worker it went to.
            let mut seen = std::collections::HashSet::new();
            for (task_id, worker_id) in granted.iter().filter(|(t, _)| !toggled.contains(t)) {
                assert!(seen.insert(task_id), "{l}: {task_id} was leased twice");
                let task = s.tasks().get(task_id).await.expect("read").expect("task");
                assert_eq!(task.status, TaskStatus::Leased, "{l}: {task_id}");
                assert_eq!(task.worker_id.as_deref(), Some(worker_id.as_str()));
            }
            queue_in_step(s, l, "after the race").await;
        },
    )
    .await;
}
