//! A database upgraded in place keeps what it held: the rows written by an older schema read the
//! same through the store after its migrations ran.

use crate::store_support::{TestDb, fast_timing, queue_drift};

use owp::domain::TaskStatus;
use owp::store::now_ms;

/// The lease's clock moves from the task's row into the lease's: a live lease keeps its
/// acknowledgement deadline, its expiry and its deadline, an ended one has none, the sweep still
/// finds the lease that is due, and a heartbeat renews the one that is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_keep_their_clocks_through_the_upgrade_that_moves_them() {
    let now = now_ms();
    let (accept, expires) = (now + 30_000, now + 45_000);
    let past = now - 1_000;
    let rows = [
        "INSERT INTO repos (id, name, max_open_prs, active_leases, open_prs, created_at, \
           updated_at) VALUES (1, 'acme/old', 5, 2, 1, 0, 0)"
            .to_string(),
        "INSERT INTO skill_sets (id, skills) VALUES (1, '')".to_string(),
        "INSERT INTO workers (id, name, skills, capacity_points, max_concurrent_tasks, \
           active_points, active_tasks, last_seen_at, created_at) \
         VALUES ('w_old', 'old', '', 5, 3, 2, 2, 0, 0)"
            .to_string(),
        format!(
            "INSERT INTO tasks (seq, id, repo_id, title, estimate_points, priority, skill_set_id, \
               status, worker_id, lease_id, lease_expires_at, accept_by, deadline, lease_points, \
               created_at, updated_at) VALUES \
             (1, 't_leased', 1, 'Leased', 1, 1, 1, 'leased', 'w_old', 'l_leased', {expires}, \
               {accept}, {accept}, 1, 0, 7), \
             (2, 't_due', 1, 'Due', 1, 1, 1, 'in_progress', 'w_old', 'l_due', {past}, NULL, \
               {past}, 1, 0, 7), \
             (3, 't_opened', 1, 'Opened', 1, 1, 1, 'pr_opened', 'w_old', 'l_done', NULL, NULL, \
               NULL, NULL, 0, 7), \
             (4, 't_ready', 1, 'Ready', 1, 1, 1, 'ready', NULL, NULL, NULL, NULL, NULL, NULL, \
               0, 7)"
        ),
        "INSERT INTO leases (id, task_seq, worker_id, created_at, acked_at, ended_at, outcome, \
           repo_id) VALUES ('l_leased', 1, 'w_old', 1, NULL, NULL, NULL, 1), \
           ('l_due', 2, 'w_old', 1, 2, NULL, NULL, 1), \
           ('l_done', 3, 'w_old', 1, 2, 3, 'pr_opened', 1)"
            .to_string(),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    for label in ["sqlite", "postgres"] {
        let Some(db) = TestDb::upgraded(label, 28, &rows, fast_timing()).await else {
            continue;
        };
        let s = &db.store;
        let read = |id: &'static str| async move { s.tasks().get(id).await.unwrap().expect(id) };
        let leased = read("t_leased").await;
        assert_eq!(
            (leased.accept_by, leased.lease_expires_at, leased.deadline),
            (Some(accept), Some(expires), Some(accept)),
            "{label}: the unacknowledged lease's clock"
        );
        let due = read("t_due").await;
        assert_eq!(
            (due.accept_by, due.lease_expires_at, due.deadline),
            (None, Some(past), Some(past)),
            "{label}: the acknowledged lease's clock"
        );
        let opened = read("t_opened").await;
        assert_eq!(
            (opened.lease_expires_at, opened.deadline),
            (None, None),
            "{label}: an ended lease has no clock"
        );
        assert_eq!(read("t_ready").await.status, TaskStatus::Ready);
        let pool = s.read_pool();
        let old: Result<(i64,), _> = sqlx::query_as("SELECT COUNT(deadline) FROM tasks")
            .fetch_one(pool)
            .await;
        assert!(old.is_err(), "{label}: tasks has no deadline any more");
        if label == "sqlite" {
            let broken: Vec<(String,)> =
                sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
                    .fetch_all(pool)
                    .await
                    .expect("foreign key check");
            assert!(
                broken.is_empty(),
                "{label}: keys broken by the rebuild: {broken:?}"
            );
        }

        assert_eq!(
            s.expiry().next_deadline().await.unwrap(),
            Some(past),
            "{label}"
        );
        assert_eq!(
            s.expiry().due().await.unwrap(),
            1,
            "{label}: the due lease ends"
        );
        let due = read("t_due").await;
        assert_eq!(due.status, TaskStatus::Ready, "{label}: back in the pool");
        assert_eq!(due.deadline, None, "{label}");
        assert_eq!(
            s.expiry().next_deadline().await.unwrap(),
            Some(accept),
            "{label}"
        );

        let worker = s.workers().get("w_old").await.unwrap().expect("w_old");
        let renewed = s
            .write(|mut tx| {
                let worker = worker.clone();
                async move {
                    let r = tx.workers().heartbeat(&worker, None).await;
                    (tx, r)
                }
            })
            .await
            .expect("heartbeat");
        assert_eq!(renewed, 1, "{label}: the live lease is renewed");
        let leased = read("t_leased").await;
        assert!(
            leased.lease_expires_at > Some(now + 50_000) && leased.deadline == Some(accept),
            "{label}: renewed, still due for its acknowledgement: {leased:?}"
        );
        assert_eq!(
            leased.updated_at, 7,
            "{label}: a renewal leaves the task's row alone"
        );
        assert!(queue_drift(pool).await.is_empty(), "{label}");
    }
}
