//! Presence across two `owp serve` processes on one database (PostgreSQL when
//! `OWP_TEST_DATABASE_URL` is set, otherwise one SQLite file): a worker heartbeating on one
//! replica is online on the other within a second (contract section 0), although a heartbeat
//! writes no row of its own; and a lease renewal a replica acknowledged outlives the replica.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Server, ts};

/// The worker heartbeats on A only, for twice its TTL: B says it is online throughout, and B's
/// `last_heartbeat` lags the newest heartbeat A answered by at most a second.
#[tokio::test]
async fn heartbeats_on_one_replica_keep_the_worker_online_on_the_other() {
    let env = [("OWP_HEARTBEAT_TTL_SECONDS", "2")];
    let a = Server::start_preferring_postgres(&env).await;
    let b = a.start_sharing(&env).await;
    let (wid, token) = a.register_worker("roaming", &[], 5, 1).await;
    let start = Instant::now();
    let mut worst = chrono::Duration::zero();
    let mut samples = 0;
    while start.elapsed() < Duration::from_millis(4_500) {
        let r = a.heartbeat(&token, json!({})).await;
        assert_eq!(r.status, 200, "{}", r.describe());
        let answered = ts(&r.json["worker"], "last_heartbeat");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let seen = b.worker(&wid).await;
        assert_eq!(seen["online"], true, "offline on B: {seen}");
        let lag = answered - ts(&seen, "last_heartbeat");
        worst = worst.max(lag);
        samples += 1;
    }
    assert!(samples >= 8, "only {samples} samples");
    assert!(
        worst <= chrono::Duration::milliseconds(1_000),
        "B learned of A's heartbeats {worst} late"
    );
}

/// A heartbeat answered by A renewed the lease in the database: killed at once after, A takes
/// nothing with it, and B shows the lease as renewed.
#[cfg(unix)]
#[tokio::test]
async fn a_renewal_outlives_the_replica_that_answered_it() {
    let a = Server::start_preferring_postgres(&[]).await;
    let b = a.start_sharing(&[]).await;
    a.upsert_repo("acme/presence", 3, true).await;
    a.import("acme/presence", json!([{"title": "held"}])).await;
    let (_, token) = a.register_worker("holder", &[], 5, 1).await;
    let (lease_id, task_id, _) = a.claim_ok(&token).await;
    assert_eq!(a.ack(&token, &lease_id).await.status, 200);
    let before = ts(&b.task(&task_id).await, "lease_expires_at");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let r = a.heartbeat(&token, json!({})).await;
    assert_eq!(r.json["renewed_leases"], 1, "{}", r.describe());
    a.kill_now();
    let after = ts(&b.task(&task_id).await, "lease_expires_at");
    assert!(
        after >= before + chrono::Duration::milliseconds(1_000),
        "the renewal was lost with its replica: {before} → {after}"
    );
}
