//! Limits across replicas (contract section 14): registrations and wrong credentials per
//! address, previews per worker, and one held long poll per worker are counted in the database,
//! so two `owp serve` processes on one PostgreSQL database allow what one allows.
//!
//! Runs when `OWP_TEST_DATABASE_URL` names a PostgreSQL server; otherwise it prints why it
//! skipped and passes.

use crate::services::postgres_enabled;
use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::json;

use support::{Server, TestDatabase};

const REGISTRATIONS: usize = 6;
const FAILURES: usize = 4;
const PREVIEWS: usize = 3;

/// Waits for a fresh minute when the current one is nearly over: each limit counts per minute.
async fn early_in_a_minute() {
    let into = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 60_000;
    if into > 45_000 {
        tokio::time::sleep(Duration::from_millis(60_000 - into as u64 + 100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_allow_what_one_allows() {
    if !postgres_enabled("two_replicas_allow_what_one_allows") {
        return;
    }
    let (registrations, failures, previews) = (
        REGISTRATIONS.to_string(),
        FAILURES.to_string(),
        PREVIEWS.to_string(),
    );
    let env = [
        ("OWP_RATE_REGISTRATIONS_PER_MINUTE", registrations.as_str()),
        ("OWP_RATE_AUTH_FAILURES_PER_MINUTE", failures.as_str()),
        ("OWP_RATE_PREVIEWS_PER_MINUTE", previews.as_str()),
    ];
    let a = Server::start_preferring_postgres(&env).await;
    assert!(
        matches!(a.database, TestDatabase::Postgres { .. }),
        "the harness did not pick PostgreSQL"
    );
    let b = a.start_sharing(&env).await;
    let both = [&a, &b];
    early_in_a_minute().await;

    // Registrations from one address, split over both replicas: as many as one allows.
    let mut token = None;
    let mut registered = 0;
    for i in 0..2 * REGISTRATIONS {
        let r = both[i % 2]
            .register(
                json!({"name": format!("w{i}"), "skills": [], "capacity_points": 5,
                             "max_concurrent_tasks": 1}),
            )
            .await;
        match r.status {
            201 => {
                registered += 1;
                token = Some(support::str_field(&r.json, "token"));
            }
            429 => {}
            _ => panic!("{}", r.describe()),
        }
    }
    assert_eq!(registered, REGISTRATIONS, "registrations over two replicas");
    let token = token.expect("a worker");

    // One worker's previews, split over both replicas.
    let mut answered = 0;
    for i in 0..2 * PREVIEWS {
        let r = both[i % 2].worker_get(&token, "/v1/work/preview").await;
        match r.status {
            200 => answered += 1,
            429 => {}
            _ => panic!("{}", r.describe()),
        }
    }
    assert_eq!(answered, PREVIEWS, "previews over two replicas");

    // Wrong credentials from one address: past the rate the address waits on both replicas.
    // Each replica answers one more wrong guess than the count allows, the one that tells it.
    let mut wrong = 0;
    for i in 0..4 * FAILURES {
        let r = both[i % 2]
            .worker_get("owpw_not-a-token", "/v1/work/preview")
            .await;
        match r.status {
            401 => wrong += 1,
            429 => {}
            _ => panic!("{}", r.describe()),
        }
    }
    assert!(
        wrong <= FAILURES + 2,
        "{wrong} wrong credentials answered over two replicas (one replica: {})",
        FAILURES + 1
    );
    drop(b);
    drop(a);
}

/// A worker holds one long poll across replicas: a poll begun on the second replica ends the
/// one it held on the first (204) within the recheck of credentials, long before its wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_long_poll_on_another_replica_ends_the_first() {
    if !postgres_enabled("a_second_long_poll_on_another_replica_ends_the_first") {
        return;
    }
    let a = Arc::new(Server::start_preferring_postgres(&[]).await);
    let b = Arc::new(a.start_sharing(&[]).await);
    let (_, token) = a.register_worker("poller", &[], 5, 1).await;
    let poll = |s: Arc<Server>, token: String| {
        tokio::spawn(async move {
            let r = s
                .req(Method::POST, "/v1/work?wait=30")
                .bearer(&token)
                .timeout(Duration::from_secs(40))
                .send()
                .await;
            (r.status, Instant::now())
        })
    };
    let first = poll(a.clone(), token.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second_began = Instant::now();
    let second = poll(b.clone(), token.clone());
    let (status, ended) = first.await.unwrap();
    assert_eq!(status, 204);
    let after = ended.saturating_duration_since(second_began);
    assert!(
        after < Duration::from_secs(10),
        "the first poll ended {after:?} after the second began"
    );
    assert!(!second.is_finished(), "the second poll is the one held");
    second.abort();
    drop(b);
    drop(a);
}
