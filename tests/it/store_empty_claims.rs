//! A claim that found nothing is remembered for its worker until the pool changes: the worker's
//! next claims find nothing without the database, and any change (a task of this process or of
//! another, a change of the worker) makes the next claim run the statement again.

use crate::store_support::*;

use owp::store::Store;

async fn nothing(s: &Store, w: &owp::store::rows::WorkerRow) -> bool {
    s.worker_ops().claim(w).await.expect("claim").0.is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_claim_is_remembered_until_the_pool_changes() {
    on_each_backend(
        "an_empty_claim_is_remembered_until_the_pool_changes",
        fast_timing(),
        |db| async move {
            let label = db.label;
            let s = db.store.clone();
            repo(&s, "memo/one", 5, false).await;
            let w = register(&s, worker_input("idle", &[], 5, 1)).await;
            assert!(nothing(&s, &w).await, "{label}: the pool is empty");
            let before = s.worker_ops().answered_from_memory();
            for _ in 0..3 {
                assert!(nothing(&s, &w).await, "{label}");
            }
            assert_eq!(
                s.worker_ops().answered_from_memory() - before,
                3,
                "{label}: the repeated claims were answered from memory"
            );

            // A task of this process: the next claim takes it.
            s.tasks()
                .import("memo/one", &[task("first")], "admin")
                .await
                .unwrap();
            let lease = s.worker_ops().claim(&w).await.unwrap().0;
            assert!(lease.is_some(), "{label}: a new task is claimed at once");

            // The worker now holds as many tasks as it may: its claims find nothing.
            s.tasks()
                .import("memo/one", &[task("second")], "admin")
                .await
                .unwrap();
            let held = s.workers().get(&w.id).await.unwrap().expect("worker");
            assert!(nothing(&s, &held).await, "{label}: at its limit");
            let before = s.worker_ops().answered_from_memory();
            assert!(nothing(&s, &held).await, "{label}");
            assert_eq!(s.worker_ops().answered_from_memory() - before, 1, "{label}");

            // Its own figures changed (a worker as another request reads it, with room for one
            // more task): the claim runs again and takes the second task.
            let mut roomier = held.clone();
            roomier.max_concurrent_tasks = 2;
            sqlx::query("UPDATE workers SET max_concurrent_tasks = 2 WHERE id = $1")
                .bind(&w.id)
                .execute(s.read_pool())
                .await
                .unwrap();
            let lease = s.worker_ops().claim(&roomier).await.unwrap().0;
            assert!(lease.is_some(), "{label}: the worker's room counts");

            // Another process adds a task: once this one reads the event log (as the server
            // does every 250 ms), the next claim runs again and takes it.
            let other = db.replica().await;
            let w2 = register(&s, worker_input("idle-2", &[], 5, 1)).await;
            assert!(nothing(&s, &w2).await, "{label}: nothing left");
            other
                .tasks()
                .import("memo/one", &[task("from elsewhere")], "admin")
                .await
                .unwrap();
            s.events().last_id().await.unwrap();
            let lease = s.worker_ops().claim(&w2).await.unwrap().0;
            assert!(
                lease.is_some(),
                "{label}: another process's task is claimed once its event is read"
            );
            other.close().await;
            s.close().await;
        },
    )
    .await;
}

/// The person the workers `ids` speak for from now on: the GitHub account `account_id`, as a
/// proof would record it (the fixture of a person with two workers).
async fn speak_for(s: &Store, account_id: i64, ids: &[&str]) {
    sqlx::query("INSERT INTO persons (account_id, login, first_seen_at) VALUES ($1, 'alice', 0)")
        .bind(account_id)
        .execute(s.read_pool())
        .await
        .unwrap();
    for id in ids {
        sqlx::query(
            "UPDATE workers SET github_account_id = $1, github_login = 'alice' WHERE id = $2",
        )
        .bind(account_id)
        .bind(*id)
        .execute(s.read_pool())
        .await
        .unwrap();
    }
}

/// Written as the attack: a person's many workers of one shape asking for work in a pool that
/// holds nothing for them cost one claim evaluation, not one each; and the memory never hides
/// work: a new task, or a change to the person made through any of their workers (here their
/// trust, set through the other worker), makes the next claim of every worker of theirs run
/// again, even one whose request read its row before the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_claim_is_remembered_for_the_person() {
    on_each_backend(
        "an_empty_claim_is_remembered_for_the_person",
        fast_timing(),
        |db| async move {
            let label = db.label;
            let s = db.store.clone();
            repo(&s, "memo/person", 5, false).await;
            let laptop = register(&s, worker_input("alice-laptop", &[], 5, 2)).await;
            let desktop = register(&s, worker_input("alice-desktop", &[], 5, 2)).await;
            speak_for(&s, 4242, &[&laptop.id, &desktop.id]).await;
            let laptop = s.workers().get(&laptop.id).await.unwrap().expect("laptop");
            let desktop = s
                .workers()
                .get(&desktop.id)
                .await
                .unwrap()
                .expect("desktop");
            let mut trusted = task("trusted only");
            trusted.tier = 1;
            s.tasks()
                .import("memo/person", &[trusted], "admin")
                .await
                .unwrap();

            // One evaluation for the person: the second worker is answered from memory.
            assert!(nothing(&s, &laptop).await, "{label}: beyond alice's trust");
            let before = s.worker_ops().answered_from_memory();
            assert!(nothing(&s, &desktop).await, "{label}");
            assert_eq!(
                s.worker_ops().answered_from_memory() - before,
                1,
                "{label}: the person's second worker ran the claim again"
            );

            // Work that became available is claimed by the other worker at once.
            s.tasks()
                .import("memo/person", &[task("open to all")], "admin")
                .await
                .unwrap();
            let lease = s.worker_ops().claim(&desktop).await.unwrap().0;
            assert_eq!(
                title_of(&s, &lease).await.as_deref(),
                Some("open to all"),
                "{label}: the memory hid a new task"
            );

            // The laptop finds nothing again; the person's trust is raised through the desktop:
            // the laptop's next claim (its row read before the change) runs and takes the task.
            assert!(nothing(&s, &laptop).await, "{label}");
            assert!(nothing(&s, &laptop).await, "{label}: remembered");
            update_worker(&s, &desktop.id, Some(1), None).await;
            let lease = s.worker_ops().claim(&laptop).await.unwrap().0;
            assert_eq!(
                title_of(&s, &lease).await.as_deref(),
                Some("trusted only"),
                "{label}: a change to the person through another worker was not seen"
            );
            s.close().await;
        },
    )
    .await;
}
