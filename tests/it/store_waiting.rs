//! Rule 8 as the claim reads it: the `waiting` count on each task row, kept by the database's
//! triggers, always equals the number of its blockers that still hold it — through merges,
//! cancellations, reopenings and outside blockers, and while two stores free the same tasks at
//! once. A waiting task is never offered, however high its priority.

use crate::store_support::*;

use std::collections::BTreeMap;

use sqlx::Row;

use owp::domain::{Priority, TaskStatus};
use owp::store::Store;
use owp::store::deps::ExternalBlocker;

/// Every task's stored `waiting` next to a count made from `task_deps` now; panics where they
/// differ. Returns the stored counts by title.
async fn counts(store: &Store, label: &str) -> BTreeMap<String, i64> {
    let rows = sqlx::query(
        "SELECT t.title, CAST(t.waiting AS BIGINT) AS stored, \
           (SELECT COUNT(*) FROM task_deps d LEFT JOIN tasks b ON b.seq = d.blocker_seq \
             WHERE d.task_seq = t.seq AND (d.blocker_seq IS NULL AND d.holds = 1 \
               OR d.blocker_seq IS NOT NULL AND b.status NOT IN ('merged', 'cancelled'))) AS counted \
         FROM tasks t ORDER BY t.seq",
    )
    .fetch_all(store.read_pool())
    .await
    .expect("read waiting counts");
    let mut out = BTreeMap::new();
    for row in rows {
        let title: String = row.get("title");
        let stored: i64 = row.get("stored");
        let counted: i64 = row.get("counted");
        assert_eq!(
            stored, counted,
            "{label}: task {title:?} stores {stored} blockers holding it, but {counted} do"
        );
        out.insert(title, stored);
    }
    let drift = crate::store_support::queue_drift(store.read_pool()).await;
    assert!(drift.is_empty(), "{label}: {}", drift.join("; "));
    out
}

async fn outside_blockers(store: &Store, title: &str, open: bool) {
    let row = task_named(store, title).await;
    store
        .write(|mut tx| {
            let row = row.clone();
            async move {
                let blockers = [ExternalBlocker {
                    key: "acme/other#5".into(),
                    open,
                }];
                let r = tx
                    .external_blockers()
                    .set_all(&row, &blockers, "admin")
                    .await;
                (tx, r)
            }
        })
        .await
        .expect("set outside blockers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waiting_count_follows_every_blocker_and_keeps_waiting_tasks_out_of_claims() {
    on_each_backend(
        "the_waiting_count_follows_every_blocker_and_keeps_waiting_tasks_out_of_claims",
        fast_timing(),
        |db| async move {
            let s = &db.store;
            let l = db.label;
            repo(s, "acme/deps", 10, false).await;
            let inputs = [
                blocked("C", Priority::Critical, &["A", "B"]),
                blocked("B", Priority::Critical, &["A"]),
                blocked("A", Priority::Low, &[]),
                blocked("D", Priority::Critical, &[]),
            ];
            s.tasks()
                .import("acme/deps", &inputs, "admin")
                .await
                .expect("import");
            outside_blockers(s, "D", true).await;
            let expect = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
                pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
            };
            assert_eq!(
                counts(s, l).await,
                expect(&[("A", 0), ("B", 1), ("C", 2), ("D", 1)])
            );

            // Three critical tasks wait: the low one is the only offer.
            let w1 = register(s, worker_input("w1", &[], 10, 5)).await;
            let lease = claim(s, &w1).await.expect("{l}: A is offered");
            assert_eq!(lease.task.title, "A", "{l}");
            assert!(claim(s, &w1).await.is_none(), "{l}: the rest wait");

            ack(s, &w1, &lease).await.expect("ack");
            open_pr(s, &w1, &lease.task.task_id).await;
            admin_status(s, &lease.task.task_id, TaskStatus::Merged).await;
            assert_eq!(
                counts(s, l).await,
                expect(&[("A", 0), ("B", 0), ("C", 1), ("D", 1)])
            );
            let lease_b = claim(s, &w1).await.expect("{l}: B is free");
            assert_eq!(lease_b.task.title, "B");

            admin_status(s, &lease_b.task.task_id, TaskStatus::Cancelled).await;
            assert_eq!(counts(s, l).await["C"], 0, "{l}: a cancelled blocker frees");
            admin_status(s, &lease_b.task.task_id, TaskStatus::Ready).await;
            assert_eq!(
                counts(s, l).await["C"],
                1,
                "{l}: a reopened one holds again"
            );

            outside_blockers(s, "D", false).await;
            assert_eq!(counts(s, l).await["D"], 0, "{l}: a closed issue frees");
            // B (reopened) and D are free; C still waits on B.
            let mut offered = vec![];
            for _ in 0..2 {
                offered.push(
                    claim(s, &w1)
                        .await
                        .expect("{l}: B and D are free")
                        .task
                        .title,
                );
            }
            offered.sort();
            assert_eq!(offered, ["B", "D"], "{l}");
            assert!(claim(s, &w1).await.is_none(), "{l}: C waits on B");
            outside_blockers(s, "D", true).await;
            assert_eq!(counts(s, l).await["D"], 1, "{l}: a reopened issue holds");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_freeing_the_same_tasks_at_once_leave_every_count_right() {
    on_each_backend(
        "two_stores_freeing_the_same_tasks_at_once_leave_every_count_right",
        fast_timing(),
        |db| async move {
            let s = &db.store;
            let l = db.label;
            let other = db.replica().await;
            repo(s, "acme/race", 1000, false).await;
            for round in 0..5 {
                let x = format!("X{round}");
                let y = format!("Y{round}");
                let mut inputs = vec![
                    blocked(&x, Priority::Low, &[]),
                    blocked(&y, Priority::Low, &[]),
                ];
                let names: Vec<String> = (0..40).map(|i| format!("Z{round}-{i}")).collect();
                for name in &names {
                    inputs.push(blocked(name, Priority::Normal, &[&x, &y]));
                }
                let imported = s
                    .tasks()
                    .import("acme/race", &inputs, "admin")
                    .await
                    .expect("import");
                // The import answers in the order given: the two blockers first.
                let (xi, yi) = (imported[0].id.clone(), imported[1].id.clone());
                assert_eq!((&imported[0].title, &imported[1].title), (&x, &y));
                // Each store cancels one blocker of the same forty tasks, at the same moment.
                let (a, b) = tokio::join!(
                    admin_status(s, &xi, TaskStatus::Cancelled),
                    admin_status(&other, &yi, TaskStatus::Cancelled)
                );
                assert_eq!(
                    (a.status, b.status),
                    (TaskStatus::Cancelled, TaskStatus::Cancelled)
                );
                let after = counts(s, l).await;
                for name in &names {
                    assert_eq!(after[name], 0, "{l}: {name} is free after round {round}");
                }
                // And back: both reopen at once, and every dependant waits on both again.
                let (a, b) = tokio::join!(
                    admin_status(&other, &xi, TaskStatus::Ready),
                    admin_status(s, &yi, TaskStatus::Ready)
                );
                assert_eq!((a.status, b.status), (TaskStatus::Ready, TaskStatus::Ready));
                let after = counts(s, l).await;
                for name in &names {
                    assert_eq!(
                        after[name], 2,
                        "{l}: {name} waits again after round {round}"
                    );
                }
            }
        },
    )
    .await;
}
