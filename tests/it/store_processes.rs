//! The storage layer shared by several processes, on every backend from the same code (SQLite
//! always, PostgreSQL when `OWP_TEST_DATABASE_URL` names a server): event readers that never
//! skip an event, scheduled jobs that run once, a store's connection pool, and what a store
//! remembers of the workers it has seen.

use crate::store_support::*;

use std::time::{Duration, Instant};

use serde_json::json;

use owp::domain::{TaskStatus, WorkerStatus};
use owp::store::tasks::TaskInput;
use owp::store::{Backend, NewEvent, Store, StoreError};

/// Readers that continue after the last event id they saw never miss an event, even when
/// transactions commit out of id order (PostgreSQL) or roll back after drawing an id.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_readers_never_skip_an_event() {
    on_each_backend(
        "event_readers_never_skip_an_event",
        fast_timing(),
        |db| async move {
            let label = db.label;
            let s = db.store.clone();
            let start = s.events().last_id().await.unwrap();
            if s.backend() == Backend::Postgres {
                use sqlx::Connection;
                // A writer that has drawn an event id but not committed yet…
                let mut slow = sqlx::postgres::PgConnection::connect(&db.url)
                    .await
                    .unwrap();
                let mut slow_tx = slow.begin().await.unwrap();
                let held: i64 = sqlx::query_scalar(
                "INSERT INTO events (kind, at, actor) VALUES ('test.slow', 0, 'test') RETURNING id",
            )
            .fetch_one(&mut *slow_tx)
            .await
            .unwrap();
                // …and one that drew an id and rolled back.
                let mut gone = sqlx::postgres::PgConnection::connect(&db.url)
                    .await
                    .unwrap();
                let mut gone_tx = gone.begin().await.unwrap();
                let lost: i64 = sqlx::query_scalar(
                "INSERT INTO events (kind, at, actor) VALUES ('test.gone', 0, 'test') RETURNING id",
            )
            .fetch_one(&mut *gone_tx)
            .await
            .unwrap();
                gone_tx.rollback().await.unwrap();
                // A later transaction commits first.
                let mut tx = s.begin().await.unwrap();
                tx.event(NewEvent::new("test.fast", "test"));
                let fast = tx.commit().await.unwrap()[0].id;
                assert!(held < lost && lost < fast);
                assert!(
                    s.events().last_id().await.unwrap() < held,
                    "{label}: the horizon passed an id still being committed"
                );
                assert!(s.events().after(start, 100).await.unwrap().is_empty());
                slow_tx.commit().await.unwrap();
                let deadline = Instant::now() + Duration::from_secs(5);
                while s.events().last_id().await.unwrap() < fast {
                    assert!(
                        Instant::now() < deadline,
                        "{label}: the horizon never passed the rollback"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let ids: Vec<i64> = s
                    .events()
                    .after(start, 100)
                    .await
                    .unwrap()
                    .iter()
                    .map(|e| e.id)
                    .collect();
                assert_eq!(ids, vec![held, fast], "{label}");
            }

            // Many concurrent writers on two stores; a reader following the log sees each exactly once.
            let b = db.replica().await;
            let from = s.events().last_id().await.unwrap();
            let writers: Vec<_> = (0..8)
                .map(|i| {
                    let store = if i % 2 == 0 { s.clone() } else { b.clone() };
                    tokio::spawn(async move {
                        let mut ids = Vec::new();
                        for _ in 0..25 {
                            let mut tx = store.begin().await.unwrap();
                            tx.event(NewEvent::new("test.burst", "test"));
                            ids.push(tx.commit().await.unwrap()[0].id);
                        }
                        ids
                    })
                })
                .collect();
            let reader = {
                let s = b.clone();
                tokio::spawn(async move {
                    let mut last = from;
                    let mut seen = Vec::new();
                    let deadline = Instant::now() + Duration::from_secs(20);
                    while seen.len() < 200 && Instant::now() < deadline {
                        for e in s.events().after(last, 50).await.unwrap() {
                            assert!(e.id > last);
                            last = e.id;
                            seen.push(e.id);
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    seen
                })
            };
            let mut written = Vec::new();
            for w in writers {
                written.extend(w.await.unwrap());
            }
            let seen = reader.await.unwrap();
            written.sort();
            assert_eq!(
                seen, written,
                "{label}: the reader missed or repeated events"
            );
            b.close().await;
            db.store.close().await;
        },
    )
    .await;
}

/// A scheduled job's slot is taken by exactly one caller, across stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_slots_run_once() {
    on_each_backend("job_slots_run_once", fast_timing(), |db| async move {
        let b = db.replica().await;
        let a = db.store.clone();
        for slot in 1..=5 {
            let (x, y) = tokio::join!(
                a.claim_job_slot("reconcile", slot),
                b.claim_job_slot("reconcile", slot)
            );
            let won = [x.unwrap(), y.unwrap()];
            assert_eq!(
                won.iter().filter(|w| **w).count(),
                1,
                "{}: slot {slot}",
                db.label
            );
        }
        assert!(
            !a.claim_job_slot("reconcile", 3).await.unwrap(),
            "an old slot is gone"
        );
        assert!(
            a.claim_job_slot("other", 3).await.unwrap(),
            "jobs are independent"
        );
        b.close().await;
        db.store.close().await;
    })
    .await;
}

/// A PostgreSQL store keeps at most the connections it was opened with (`OWP_DATABASE_POOL`):
/// replicas add theirs up on the database server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_keeps_the_pool_it_was_given() {
    let Some(db) = TestDb::postgres(fast_timing()).await else {
        return;
    };
    let small = Store::open_with(
        &db.url,
        fast_timing(),
        owp::store::Connect {
            pg_pool: 3,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(small.connections().0, 3, "over all its pools");
    // Work that wants more connections than that still completes, through the three.
    repo(&small, "pool/one", 50, false).await;
    let w = register(&small, worker_input("pooled", &[], 50, 50)).await;
    let tasks: Vec<TaskInput> = (0..20).map(|i| task(&format!("p{i}"))).collect();
    small
        .tasks()
        .import("pool/one", &tasks, "admin")
        .await
        .unwrap();
    let claims =
        futures_util::future::join_all((0..20).map(|_| small.worker_ops().claim(&w))).await;
    let leased = claims
        .into_iter()
        .filter(|c| c.as_ref().expect("claim").0.is_some())
        .count();
    assert_eq!(leased, 20);
    assert!(small.connections().1 <= 3);
    small.close().await;
    db.store.close().await;
}

/// PostgreSQL: a webhook delivery is stored while write transactions (the appliers', the
/// comment sender's) hold every connection the store shares: deliveries keep connections of
/// their own, so taking them in waits for none of the work they start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_stored_while_transactions_hold_the_shared_pool() {
    let Some(db) = TestDb::postgres(fast_timing()).await else {
        return;
    };
    let connect = owp::store::Connect {
        pg_pool: 8,
        ..Default::default()
    };
    let store = Store::open_with(&db.url, fast_timing(), connect)
        .await
        .unwrap();
    assert_eq!(store.connections().0, 8, "over all its pools");
    // Eight: two for the checked reads, one for deliveries, five shared. Hold the five.
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(store.begin().await.unwrap());
    }
    let wait = Duration::from_millis(300);
    assert!(
        tokio::time::timeout(wait, store.begin()).await.is_err(),
        "the shared pool is held whole"
    );
    let lane = owp::store::github::inbox::DeliveryLane {
        installation: Some(7),
        repo: Some(70),
    };
    let now = owp::store::now_ms();
    let stored = tokio::time::timeout(
        Duration::from_secs(5),
        store
            .inbox()
            .store_delivery("held-pool-1", "issues", "{}", None, lane, now),
    )
    .await;
    assert!(
        matches!(stored, Ok(Ok(true))),
        "the delivery was stored meanwhile: {stored:?}"
    );
    // Dropped, the transactions roll back and give their connections back.
    drop(held);
    assert_eq!(store.inbox().count().await.unwrap(), 1);
    store.close().await;
    db.store.close().await;
}

/// A connection of the test's own to the PostgreSQL database at `url`.
async fn connect_postgres(url: &str) -> sqlx::postgres::PgConnection {
    use sqlx::Connection;
    sqlx::postgres::PgConnection::connect(url).await.unwrap()
}

/// Whether `table` of the current schema was analyzed by an `ANALYZE` statement (autovacuum
/// sets `last_autoanalyze` instead, never `last_analyze`).
async fn analyzed_by_hand(c: &mut sqlx::postgres::PgConnection, table: &str) -> bool {
    sqlx::query_scalar(
        "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables \
         WHERE relname = $1 AND schemaname = current_schema()",
    )
    .bind(table)
    .fetch_one(c)
    .await
    .unwrap()
}

/// PostgreSQL: an import of a thousand tasks into a fresh pool has `tasks` analyzed before the
/// import returns, so the claims that follow are planned against what it wrote
/// (`engine::statistics`, `Store::after_bulk_change`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_import_has_the_tasks_analyzed_before_it_returns() {
    let Some(db) = TestDb::postgres(fast_timing()).await else {
        return;
    };
    let mut c = connect_postgres(&db.url).await;
    assert!(
        !analyzed_by_hand(&mut c, "tasks").await,
        "fresh tasks were never analyzed by hand"
    );
    repo(&db.store, "big/one", 5, false).await;
    let tasks: Vec<TaskInput> = (0..1_000).map(|i| task(&format!("t{i}"))).collect();
    db.store
        .tasks()
        .import("big/one", &tasks, "admin")
        .await
        .unwrap();
    assert!(
        analyzed_by_hand(&mut c, "tasks").await,
        "the import analyzed the tasks it wrote"
    );
    db.store.close().await;
}

/// PostgreSQL: a burst of webhook deliveries has the inbox analyzed within seconds, by the
/// store's statistics keeper, not a minute later by autovacuum: the appliers' claim would
/// otherwise keep a plan made for an empty inbox (`engine::statistics`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_deliveries_has_the_inbox_analyzed_within_seconds() {
    let Some(db) = TestDb::postgres(fast_timing()).await else {
        return;
    };
    let mut c = connect_postgres(&db.url).await;
    assert!(
        !analyzed_by_hand(&mut c, "gh_deliveries").await,
        "a fresh inbox was never analyzed by hand"
    );
    let lane = owp::store::github::inbox::DeliveryLane {
        installation: Some(7),
        repo: Some(70),
    };
    let now = owp::store::now_ms();
    for i in 0..1_200 {
        let id = format!("burst-{i}");
        let stored = db
            .store
            .inbox()
            .store_delivery(&id, "issues", "{}", None, lane, now)
            .await
            .unwrap();
        assert!(stored);
    }
    // PostgreSQL counts a connection's changes at most once a second, and an idle one's within
    // ten; the keeper looks every second.
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        if analyzed_by_hand(&mut c, "gh_deliveries").await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the inbox was not analyzed after a burst of 1,200 deliveries"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    db.store.close().await;
}

/// SQLite: a store with read connections of its own (the comment sender's) reads through its
/// own, the statements the compiler checks included, and sees what the store it came from
/// writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_with_reads_of_its_own_has_its_own_checked_reads_too() {
    let db = TestDb::sqlite(fast_timing()).await;
    let (shared, _) = db.store.connections();
    let own = db.store.with_own_reads(3).await.unwrap();
    assert_eq!(
        own.connections().0,
        3 + 3,
        "three for the statements built at run time, three for the checked ones"
    );
    assert_eq!(
        db.store.connections().0,
        shared,
        "the store's own are unchanged"
    );
    repo(&db.store, "own/reads", 5, false).await;
    assert_eq!(
        own.repos().get("own/reads").await.unwrap().map(|r| r.name),
        Some("own/reads".to_string())
    );
    // A checked read through its own connections: no App record for a repository the App
    // is not installed on.
    assert_eq!(own.installations().repo("own/reads").await.unwrap(), None);
    assert_eq!(own.connections().1, 1 + 1, "one of each opened");
    own.close().await;
    db.store.close().await;
}

/// A worker's ack and status move mark it seen when its last contact is older than the
/// granularity of presence (on PostgreSQL inside the operation's one statement), and a refused
/// operation still answers as the general code does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_mark_their_worker_seen() {
    on_each_backend(
        "requests_mark_their_worker_seen",
        fast_timing(),
        |db| async move {
            let label = db.label;
            let s = db.store.clone();
            repo(&s, "seen/one", 5, false).await;
            s.tasks().import("seen/one", &[task("seen")], "admin")
                .await
                .unwrap();
            let w = register(&s, worker_input("seen", &[], 5, 2)).await;
            let (lease, _) = s.worker_ops().claim(&w).await.unwrap();
            let lease = lease.expect("a lease");
            let seen_at = |s: Store, id: String| async move {
                s.workers().get(&id).await.unwrap().unwrap().last_seen_at.unwrap()
            };
            // The request is authenticated with the worker as it was read then.
            let stale = s.workers().get(&w.id).await.unwrap().unwrap();
            let gap = owp::store::rows::SEEN_GRANULARITY_MS as u64 + 50;
            tokio::time::sleep(Duration::from_millis(gap)).await;
            let before = seen_at(s.clone(), w.id.clone()).await;
            let acked = s.worker_ops().ack(&stale, &lease.lease_id).await.unwrap();
            assert_eq!(acked.status, TaskStatus::InProgress, "{label}");
            let after_ack = seen_at(s.clone(), w.id.clone()).await;
            assert!(after_ack > before, "{label}: the ack marked the worker seen");

            let stale = s.workers().get(&w.id).await.unwrap().unwrap();
            tokio::time::sleep(Duration::from_millis(gap)).await;
            let missing_url = s
                .worker_ops().status(
                    &stale,
                    owp::store::StatusRequest {
                        task_id: lease.task.task_id.clone(),
                        to: TaskStatus::PrOpened,
                        artifact: None,
                        note: None,
                    },
                )
                .await;
            assert!(
                matches!(&missing_url, Err(StoreError::Invalid { code, .. }) if *code == "missing_pr_url"),
                "{label}: {missing_url:?}"
            );
            let opened = s
                .worker_ops().status(
                    &stale,
                    owp::store::StatusRequest {
                        task_id: lease.task.task_id.clone(),
                        to: TaskStatus::PrOpened,
                        artifact: Some(json!({"pr_url": "https://example.invalid/pr/1"})),
                        note: None,
                    },
                )
                .await
                .unwrap();
            assert_eq!(opened.status, TaskStatus::PrOpened, "{label}");
            assert!(
                seen_at(s.clone(), w.id.clone()).await > after_ack,
                "{label}: the status move marked the worker seen"
            );
            let fresh = s.workers().get(&w.id).await.unwrap().unwrap();
            assert_eq!(fresh.active_tasks, 0, "{label}: the lease ended");
            assert_eq!(fresh.active_points, 0, "{label}");
            db.store.close().await;
        },
    )
    .await;
}

/// A worker found by its token is remembered for the next requests: with the contacts this
/// process commits, without any change committed through it since, and for a short time only
/// when the change came from another process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticated_workers_are_remembered_only_while_nothing_changed() {
    on_each_backend(
        "authenticated_workers_are_remembered_only_while_nothing_changed",
        fast_timing(),
        |db| async move {
            let label = db.label;
            let s = db.store.clone();
            repo(&s, "auth/one", 5, false).await;
            s.tasks()
                .import("auth/one", &[task("auth")], "admin")
                .await
                .unwrap();
            let (w, token) = s
                .workers()
                .register(&worker_input("auth", &[], 5, 2))
                .await
                .unwrap();
            let by_token = |t: String| {
                let s = s.clone();
                async move { s.workers().by_token(&t).await.unwrap() }
            };
            let read = by_token(token.clone()).await.expect("the token works");
            assert_eq!(read.id, w.id, "{label}");

            // A claim marks the worker seen: the remembered row carries that contact.
            tokio::time::sleep(Duration::from_millis(5)).await;
            let (_, seen_at) = s.worker_ops().claim(&read).await.unwrap();
            assert!(seen_at > read.last_seen_at.unwrap(), "{label}");
            let again = by_token(token.clone()).await.unwrap();
            assert_eq!(again.last_seen_at, Some(seen_at), "{label}");

            // A pause through this store is seen by the very next request.
            update_worker(&s, &w.id, None, Some(WorkerStatus::Paused)).await;
            assert!(by_token(token.clone()).await.unwrap().paused, "{label}");

            // A new token through this store: the old one stops working at once.
            let rotate = |s: Store| {
                let id = w.id.clone();
                async move {
                    s.write(|mut tx| {
                        let id = id.clone();
                        async move {
                            let r = tx.workers().rotate_token(&id).await;
                            (tx, r)
                        }
                    })
                    .await
                    .unwrap()
                }
            };
            let second = rotate(s.clone()).await;
            assert!(by_token(token.clone()).await.is_none(), "{label}");
            assert_eq!(by_token(second.clone()).await.unwrap().id, w.id, "{label}");

            // A new token through another process: the old one stops working here within the
            // time a row is remembered.
            let other = db.replica().await;
            let third = rotate(other.clone()).await;
            tokio::time::sleep(owp::store::known_workers::MAX_AGE + Duration::from_millis(50))
                .await;
            assert!(by_token(second).await.is_none(), "{label}");
            assert_eq!(by_token(third.clone()).await.unwrap().id, w.id, "{label}");

            // A worker that asks to pause is paused, even when another process resumed it after
            // this one last read its row.
            update_worker(&other, &w.id, None, Some(WorkerStatus::Idle)).await;
            let row = by_token(third).await.unwrap();
            s.write(|mut tx| {
                let row = &row;
                async move {
                    let r = tx
                        .workers()
                        .heartbeat(row, Some(WorkerStatus::Paused))
                        .await;
                    (tx, r)
                }
            })
            .await
            .unwrap();
            assert!(
                s.workers().get(&w.id).await.unwrap().unwrap().paused,
                "{label}"
            );
            other.close().await;
            db.store.close().await;
        },
    )
    .await;
}

/// While a process knows that the others' changes reach it (on PostgreSQL its listener hears its
/// own pings; on SQLite it has just read the event log), a worker found by its token is remembered
/// well past `MAX_AGE`: a change written behind every store's back is not seen. A new token
/// through another store is seen within a moment all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_processes_remember_workers_long_and_forget_them_on_a_change() {
    on_each_backend(
        "watching_processes_remember_workers_long_and_forget_them_on_a_change",
        fast_timing(),
        |db| async move {
            let label = db.label;
            let s = db.store.clone();
            let other = db.replica().await;
            let (w, token) = s
                .workers()
                .register(&worker_input("watched", &[], 5, 2))
                .await
                .unwrap();
            until_watched(&s, label).await;
            let by_token = |t: String| {
                let s = s.clone();
                async move { s.workers().by_token(&t).await.unwrap() }
            };
            assert_eq!(by_token(token.clone()).await.unwrap().id, w.id, "{label}");

            // Behind every store's back: no event, no notification.
            let behind = "UPDATE workers SET token_hash = 'replaced' WHERE id = $1";
            if label == "postgres" {
                use sqlx::Connection;
                let mut c = sqlx::postgres::PgConnection::connect(&db.url)
                    .await
                    .unwrap();
                sqlx::query(behind)
                    .bind(&w.id)
                    .execute(&mut c)
                    .await
                    .unwrap();
            } else {
                use sqlx::Connection;
                let mut c = sqlx::sqlite::SqliteConnection::connect(&db.url)
                    .await
                    .unwrap();
                sqlx::query(behind)
                    .bind(&w.id)
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
            let until = Instant::now() + owp::store::known_workers::MAX_AGE * 2;
            while Instant::now() < until {
                assert!(tail(&s).await, "{label}: still watched");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(
                by_token(token.clone()).await.map(|r| r.id),
                Some(w.id.clone()),
                "{label}: remembered past MAX_AGE while watched"
            );

            // A new token through another store: forgotten here within a moment.
            other
                .write(|mut tx| {
                    let id = w.id.clone();
                    async move {
                        let r = tx.workers().rotate_token(&id).await;
                        (tx, r)
                    }
                })
                .await
                .unwrap();
            let changed = Instant::now();
            loop {
                tail(&s).await;
                if by_token(token.clone()).await.is_none() {
                    break;
                }
                assert!(
                    changed.elapsed() < owp::store::known_workers::MAX_AGE,
                    "{label}: the old token still works here"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other.close().await;
            db.store.close().await;
        },
    )
    .await;
}

/// A process that commits more often than its notifier would ping (every 100 ms here, as a busy
/// server does) still knows that the others' changes reach it: hearing its own commits proves
/// its listener as its pings do, so workers stay remembered for long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_commits_often_stays_watched() {
    on_each_backend(
        "a_process_that_commits_often_stays_watched",
        fast_timing(),
        |db| async move {
            let label = db.label;
            let s = db.store.clone();
            until_watched(&s, label).await;
            let busy = Instant::now();
            let mut n = 0;
            while busy.elapsed() < Duration::from_secs(4) {
                n += 1;
                s.workers()
                    .register(&worker_input(&format!("busy-{n}"), &[], 5, 1))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
                assert!(
                    tail(&s).await,
                    "{label}: no longer watched after {n} commits ({:?})",
                    busy.elapsed()
                );
            }
            db.store.close().await;
        },
    )
    .await;
}

/// What a server does every 250 ms (and all a SQLite process has to watch with): reads the event
/// log; then whether `s` remembers workers for long.
async fn tail(s: &Store) -> bool {
    s.events().last_id().await.unwrap();
    s.workers().remembered_long()
}

/// Waits until `s` knows that the others' changes reach it.
async fn until_watched(s: &Store, label: &str) {
    let started = Instant::now();
    while !tail(s).await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{label}: never watched"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
