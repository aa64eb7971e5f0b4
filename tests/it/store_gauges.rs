//! The figures of a `/metrics` scrape read by the statements the compiler checks (`sql/gauges`),
//! each from known rows on both backends: `<statement>::sqlite` and `<statement>::postgres`
//! (which needs `OWP_TEST_DATABASE_URL`).

use crate::store_support::*;

use owp::store::now_ms;

on_both_backends!(
    tasks_by_status,
    workers,
    leases_since,
    outbox_top_installations,
    outbox_pending
);

/// Tasks counted by repository and status; a pair with no task has no row.
async fn tasks_by_status(db: TestDb) {
    let s = &db.store;
    repo(s, "g/one", 10, false).await;
    repo(s, "g/two", 10, false).await;
    repo(s, "g/none", 10, false).await;
    let tasks: Vec<_> = ["a", "b", "c", "d"].map(task).into();
    s.tasks().import("g/one", &tasks, "admin").await.unwrap();
    let w = register(s, worker_input("w", &[], 5, 5)).await;
    claim(s, &w).await.expect("a task");
    claim(s, &w).await.expect("another task");
    s.tasks()
        .import("g/two", &[task("e")], "admin")
        .await
        .unwrap();

    let mut counted = s.gauges().pool().await.unwrap().tasks;
    counted.sort();
    let at = |repo: &str, status: &str, n: i64| (repo.to_string(), status.to_string(), n);
    assert_eq!(
        counted,
        [
            at("g/one", "leased", 2),
            at("g/one", "ready", 2),
            at("g/two", "ready", 1)
        ],
        "{}",
        db.label
    );
}

/// Workers: all of them, those seen within the heartbeat TTL and their capacity, and the points
/// their leases hold; a stored capacity past today's bounds counts as 2^32, not as an overflow.
async fn workers(db: TestDb) {
    let s = &db.store;
    repo(s, "g/one", 10, false).await;
    let tasks: Vec<_> = ["a", "b", "c"].map(task).into();
    s.tasks().import("g/one", &tasks, "admin").await.unwrap();
    let a = register(s, worker_input("a", &[], 5, 5)).await;
    let b = register(s, worker_input("b", &[], 7, 5)).await;
    let huge = register(s, worker_input("huge", &[], 3, 5)).await;
    let away = register(s, worker_input("away", &[], 11, 5)).await;
    claim(s, &a).await.expect("a's task");
    claim(s, &b).await.expect("b's task");
    let lease = claim(s, &a).await.expect("a's second task");
    nack(s, &a, &lease).await.unwrap();
    // Contacts as the database holds them: every worker seen now but `away`, an hour ago.
    let now = now_ms();
    let seen = format!(
        "UPDATE workers SET last_seen_at = (CASE WHEN id = '{}' THEN $1 ELSE $2 END)",
        away.id
    );
    raw(&db, &seen, &[now - 3_600_000, now]).await;
    let capacity = format!(
        "UPDATE workers SET capacity_points = $1 WHERE id = '{}'",
        huge.id
    );
    raw(&db, &capacity, &[i64::MAX]).await;

    let f = s.gauges().pool().await.unwrap();
    let label = db.label;
    assert_eq!(f.workers, 4, "{label}");
    assert_eq!(f.online, 3, "{label}: all but the one away");
    assert_eq!(f.capacity_online, 5 + 7 + (1 << 32), "{label}: capped");
    assert_eq!(f.active_points, 2, "{label}: one point per held task");
}

/// Leases granted within the last day, and those of them expired or given back.
async fn leases_since(db: TestDb) {
    let s = &db.store;
    repo(s, "g/one", 10, false).await;
    let tasks: Vec<_> = ["a", "b", "c", "d"].map(task).into();
    s.tasks().import("g/one", &tasks, "admin").await.unwrap();
    let w = register(s, worker_input("w", &[], 9, 9)).await;
    claim(s, &w).await.expect("a held lease");
    let nacked = claim(s, &w).await.expect("a lease given back");
    nack(s, &w, &nacked).await.unwrap();
    let old = claim(s, &w).await.expect("an old lease");
    let old_nacked = claim(s, &w).await.expect("an old lease given back");
    nack(s, &w, &old_nacked).await.unwrap();
    for lease in [&old, &old_nacked] {
        raw(
            &db,
            &format!(
                "UPDATE leases SET created_at = $1 WHERE id = '{}'",
                lease.lease_id
            ),
            &[now_ms() - 2 * 86_400_000],
        )
        .await;
    }

    let f = s.gauges().pool().await.unwrap();
    assert_eq!((f.leases_24h, f.requeued_24h), (2, 1), "{}", db.label);
}

/// Pending comments in the GitHub outbox of the installations with the most, most first (a tie
/// by installation), and the rest.
async fn outbox_top_installations(db: TestDb) {
    outbox_rows(&db).await;
    let s = &db.store;
    let label = db.label;
    assert_eq!(
        s.gauges().outbox_backlog_by_installation(2).await.unwrap(),
        (vec![(7, 3), (4, 2)], 3),
        "{label}"
    );
    assert_eq!(
        s.gauges().outbox_backlog_by_installation(10).await.unwrap(),
        (vec![(7, 3), (4, 2), (9, 2), (5, 1)], 0),
        "{label}"
    );
}

/// All the pending comments in the GitHub outbox, whatever their installation.
async fn outbox_pending(db: TestDb) {
    let s = &db.store;
    assert_eq!(
        s.gauges().outbox_backlog_by_installation(0).await.unwrap(),
        (vec![], 0),
        "{}: none yet",
        db.label
    );
    outbox_rows(&db).await;
    assert_eq!(
        s.gauges().outbox_backlog_by_installation(0).await.unwrap(),
        (vec![], 8),
        "{}",
        db.label
    );
}

/// Outbox rows: installation 7 has 3 pending comments, 9 and 4 have 2 each (and 9 one sent), 5 has
/// one.
async fn outbox_rows(db: &TestDb) {
    let rows = [
        (7, 3, "pending"),
        (9, 2, "pending"),
        (9, 1, "sent"),
        (4, 2, "pending"),
        (5, 1, "pending"),
    ];
    let mut n = 0;
    for (installation, count, state) in rows {
        for _ in 0..count {
            n += 1;
            raw(
                db,
                &format!(
                    "INSERT INTO gh_outbox (uid, installation_id, repo, issue_number, kind, state, \
                     next_attempt_at, created_at) VALUES ('u{n}', $1, 'g/one', $2, 'comment', \
                     '{state}', 0, 0)"
                ),
                &[installation, n],
            )
            .await;
        }
    }
}
