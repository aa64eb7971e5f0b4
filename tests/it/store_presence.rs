//! Presence on both backends: a request of a worker that is online writes nothing; its contact
//! waits in memory for a flush, which writes the contacts that are due (rows this process has not
//! written, or that near expiry) of every worker at once. A worker coming back online, and every
//! lease a heartbeat renews, are written at once.

use crate::store_support::*;

use std::time::Duration;

use owp::store::presence::LEAD;
use owp::store::rows::WorkerRow;
use owp::store::{Backend, Store, Timing};

/// The worker's row as the database holds it (not as this process knows it), with a value
/// that changes with every new version of the row (PostgreSQL: its `xmin` and `ctid`).
async fn raw(s: &Store, id: &str) -> (Option<i64>, String) {
    let version = match s.backend() {
        Backend::Postgres => "CAST(xmin AS TEXT) || CAST(ctid AS TEXT)",
        Backend::Sqlite => "''",
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT last_seen_at, {version} FROM workers WHERE id = $1"
    )))
    .bind(id)
    .fetch_one(s.read_pool())
    .await
    .expect("read the worker's row")
}

/// Commits by any other connection since `before` (SQLite's `data_version` of one connection);
/// `None` on PostgreSQL.
async fn data_version(
    conn: &mut Option<sqlx::pool::PoolConnection<sqlx::Any>>,
    s: &Store,
) -> Option<i64> {
    let conn = conn.as_mut().filter(|_| s.backend() == Backend::Sqlite)?;
    Some(
        sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(&mut **conn)
            .await
            .expect("data_version"),
    )
}

/// A request as the HTTP layer makes it: authenticated (marked online), then the heartbeat.
async fn heartbeat(s: &Store, id: &str) -> (WorkerRow, u64) {
    let mut row = s.workers().get(id).await.unwrap().expect("the worker");
    s.workers().contact(&mut row).await.expect("contact");
    s.workers().heartbeat(row, None).await.expect("heartbeat")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_without_leases_write_nothing_until_the_flush() {
    on_each_backend(
        "heartbeats_without_leases_write_nothing_until_the_flush",
        fast_timing(),
        |db| async move {
            let label = db.label;
            let s = db.store.clone();
            let w = register(&s, worker_input("idle", &[], 5, 1)).await;
            let others = [
                register(&s, worker_input("idle-2", &[], 5, 1)).await,
                register(&s, worker_input("idle-3", &[], 5, 1)).await,
            ];
            // SQLite's own connection (PostgreSQL has no `data_version`).
            let mut watcher = match s.read_pool().sqlite() {
                Some(pool) => Some(pool.acquire().await.unwrap()),
                None => None,
            };
            let events = s.events().last_id().await.unwrap();
            let before = raw(&s, &w.id).await;
            let version = data_version(&mut watcher, &s).await;
            tokio::time::sleep(Duration::from_millis(20)).await;

            let mut last = 0;
            for _ in 0..50 {
                let (fresh, renewed) = heartbeat(&s, &w.id).await;
                assert_eq!(renewed, 0, "{label}");
                let seen = fresh.last_seen_at.expect("seen");
                assert!(seen > before.0.unwrap() && seen >= last, "{label}");
                assert!(fresh.online(owp::store::now_ms(), 60_000), "{label}");
                last = seen;
            }
            for o in &others {
                heartbeat(&s, &o.id).await;
            }
            assert_eq!(
                raw(&s, &w.id).await,
                before,
                "{label}: a heartbeat wrote the worker's row"
            );
            assert_eq!(
                data_version(&mut watcher, &s).await,
                version,
                "{label}: something committed"
            );
            assert_eq!(s.events().last_id().await.unwrap(), events, "{label}");
            // This process answers with the contact it noted.
            assert_eq!(
                s.workers().get(&w.id).await.unwrap().unwrap().last_seen_at,
                Some(last)
            );
            assert_eq!(s.contacts().pending(), 3, "{label}");

            // One flush writes the three workers' latest contacts.
            assert_eq!(s.contacts().flush().await.unwrap(), 3, "{label}");
            let after = raw(&s, &w.id).await;
            assert_eq!(after.0, Some(last), "{label}");
            if s.backend() == Backend::Postgres {
                assert_ne!(after.1, before.1, "{label}: one new version of the row");
            }
            assert_eq!(s.contacts().pending(), 0, "{label}");
            assert_eq!(s.contacts().flush().await.unwrap(), 0, "{label}");
            assert_eq!(
                s.events().last_id().await.unwrap(),
                events,
                "{label}: no event"
            );
            drop(watcher);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_and_coming_back_online_are_written_at_once() {
    let timing = Timing {
        heartbeat_ttl_ms: 1_000,
        ..fast_timing()
    };
    on_each_backend(
        "renewals_and_coming_back_online_are_written_at_once",
        timing,
        |db| async move {
            let label = db.label;
            let s = db.store.clone();
            repo(&s, "presence/one", 5, false).await;
            s.tasks()
                .import("presence/one", &[task("held")], "admin")
                .await
                .unwrap();
            let w = register(&s, worker_input("busy", &[], 5, 1)).await;
            let lease = claim(&s, &w).await.expect("a lease");
            let expires = |s: Store, id: String| async move {
                let (at,): (i64,) = sqlx::query_as("SELECT expires_at FROM leases WHERE id = $1")
                    .bind(id)
                    .fetch_one(s.read_pool())
                    .await
                    .unwrap();
                at
            };
            let first = expires(s.clone(), lease.lease_id.clone()).await;
            tokio::time::sleep(Duration::from_millis(30)).await;
            let (_, renewed) = heartbeat(&s, &w.id).await;
            assert_eq!(renewed, 1, "{label}");
            assert!(
                expires(s.clone(), lease.lease_id.clone()).await > first,
                "{label}: the renewal is in the database before the answer"
            );

            // Silent past its TTL, the sweep logs it offline; its next request brings it back
            // in the database at once, with its event.
            tokio::time::sleep(Duration::from_millis(1_100)).await;
            assert_eq!(s.workers().sweep_presence().await.unwrap(), 1, "{label}");
            let events = s.events().last_id().await.unwrap();
            let before = raw(&s, &w.id).await;
            let mut row = s.workers().get(&w.id).await.unwrap().unwrap();
            assert!(!row.online(owp::store::now_ms(), 1_000), "{label}");
            s.workers().contact(&mut row).await.unwrap();
            let after = raw(&s, &w.id).await;
            assert!(after.0 > before.0, "{label}: written at once");
            assert_eq!(after.0, row.last_seen_at, "{label}");
            let logged = s.events().after(events, 10).await.unwrap();
            assert_eq!(
                logged.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
                ["worker.online"],
                "{label}"
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_is_written_again_only_as_it_nears_expiry() {
    // Rows this process wrote expire `LEAD` + 1 s after their contact.
    let ttl = LEAD.as_millis() as i64 + 1_000;
    let timing = Timing {
        heartbeat_ttl_ms: ttl,
        ..fast_timing()
    };
    on_each_backend(
        "a_row_is_written_again_only_as_it_nears_expiry",
        timing,
        |db| async move {
            let label = db.label;
            let s = db.store.clone();
            let w = register(&s, worker_input("steady", &[], 5, 1)).await;
            let (first, _) = heartbeat(&s, &w.id).await;
            assert_eq!(
                s.contacts().flush().await.unwrap(),
                1,
                "{label}: never written here"
            );
            assert_eq!(raw(&s, &w.id).await.0, first.last_seen_at, "{label}");

            // Far from expiry: noted, not written.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let (second, _) = heartbeat(&s, &w.id).await;
            assert_eq!(s.contacts().flush().await.unwrap(), 0, "{label}");
            assert_eq!(s.contacts().pending(), 1, "{label}");
            assert_eq!(raw(&s, &w.id).await.0, first.last_seen_at, "{label}");
            assert_eq!(
                s.workers().get(&w.id).await.unwrap().unwrap().last_seen_at,
                second.last_seen_at,
                "{label}: this process answers with the contact it noted"
            );

            // Within `LEAD` of expiry: written.
            tokio::time::sleep(Duration::from_millis(1_050)).await;
            let (third, _) = heartbeat(&s, &w.id).await;
            assert_eq!(s.contacts().flush().await.unwrap(), 1, "{label}");
            assert_eq!(raw(&s, &w.id).await.0, third.last_seen_at, "{label}");

            // A process that stops writes every contact it holds.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let (fourth, _) = heartbeat(&s, &w.id).await;
            assert_eq!(s.contacts().flush().await.unwrap(), 0, "{label}");
            assert_eq!(s.contacts().flush_all().await.unwrap(), 1, "{label}");
            assert_eq!(raw(&s, &w.id).await.0, fourth.last_seen_at, "{label}");
            assert_eq!(s.contacts().pending(), 0, "{label}");
        },
    )
    .await;
}

/// One replica's worker, heartbeating there for longer than the TTL while another replica
/// sweeps: never offline, its row written a few times only, and its last contact written
/// before the row would expire once it falls silent.
async fn another_replica_never_sees_a_live_worker_offline(db: TestDb) {
    let label = db.label;
    let a = db.store.clone();
    let ttl = a.timing.heartbeat_ttl_ms;
    let b = Store::open(&db.url, (*a.timing).clone())
        .await
        .expect("a second replica");
    let w = register(&a, worker_input("travels", &[], 5, 1)).await;
    let started = std::time::Instant::now();
    let (mut heartbeats, mut writes, mut last) = (0, 0, None);
    while started.elapsed() < Duration::from_millis(ttl as u64 + 3_000) {
        last = heartbeat(&a, &w.id).await.0.last_seen_at;
        heartbeats += 1;
        writes += a.contacts().flush().await.unwrap();
        assert_eq!(
            b.workers().sweep_presence().await.unwrap(),
            0,
            "{label}: marked offline"
        );
        let seen = b.workers().get(&w.id).await.unwrap().unwrap();
        assert!(seen.online(owp::store::now_ms(), ttl), "{label}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The row was written every ~2 s (the TTL less `LEAD`), not with every heartbeat.
    assert!(
        (3..=heartbeats / 4).contains(&writes),
        "{label}: {writes} writes for {heartbeats} heartbeats"
    );
    // Silent now: its last contact reaches the row with the first flush that begins once the row
    // is within `LEAD` of expiring (the TTL less `LEAD` after what it holds), however slowly a
    // busy machine runs the flushes.
    let silent = std::time::Instant::now();
    let lead = LEAD.as_millis() as i64;
    loop {
        let flush_began = owp::store::now_ms();
        a.contacts().flush().await.unwrap();
        let held = raw(&a, &w.id).await.0;
        if held == last {
            break;
        }
        let due = held.expect("a written row") + ttl - lead;
        assert!(
            flush_began < due,
            "{label}: the last contact was not written by a flush that began at {flush_began}, \
             though the row was due at {due}"
        );
        assert!(
            silent.elapsed() < Duration::from_secs(60),
            "{label}: the last contact was never written"
        );
        assert_eq!(b.workers().sweep_presence().await.unwrap(), 0, "{label}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_heartbeating_at_one_replica_stays_online_at_another() {
    // Rows expire `LEAD` + 2 s after the contact they hold.
    let timing = Timing {
        heartbeat_ttl_ms: LEAD.as_millis() as i64 + 2_000,
        ..fast_timing()
    };
    let sqlite = async {
        another_replica_never_sees_a_live_worker_offline(TestDb::sqlite(timing.clone()).await).await
    };
    let postgres = async {
        match TestDb::postgres(timing.clone()).await {
            Some(db) => another_replica_never_sees_a_live_worker_offline(db).await,
            None => eprintln!("PostgreSQL part skipped"),
        }
    };
    tokio::join!(sqlite, postgres);
}
