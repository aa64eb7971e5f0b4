//! Readiness as an operator's checks see it: `GET /readyz` and `owp healthcheck` (the Dockerfile's
//! and fly.toml's checks) are 200 and exit 0 while the database answers, and 503 `not_ready` and
//! non-zero within seconds once it is gone (an SQLite file moved away, a PostgreSQL database
//! dropped), while `/healthz` (liveness) stays 200. The version is in `/healthz`, `/v1/meta` and
//! the `owp_build_info` series.

#![cfg(unix)]

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::pg_scratch;
use crate::support::{Server, TestDatabase};

const TOKEN: &str = "readiness-test-admin-token-0123456789";

/// `owp healthcheck` as the container runs it: the port from `OWP_PORT`, nothing else.
fn healthcheck(server: &Server) -> std::process::Output {
    let port = server.base.rsplit(':').next().expect("a port");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_owp"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OWP_") {
            cmd.env_remove(key);
        }
    }
    cmd.arg("healthcheck")
        .env("OWP_PORT", port)
        .output()
        .expect("owp healthcheck")
}

/// Ready, with the version everywhere an operator looks.
async fn ready_with_its_version(server: &Server) {
    let version = env!("CARGO_PKG_VERSION");
    let ready = server.req(Method::GET, "/readyz").send().await.expect(200);
    assert_eq!(ready["version"], version);
    let health = server.req(Method::GET, "/healthz").send().await.expect(200);
    assert_eq!(health["version"], version);
    let meta = server.req(Method::GET, "/v1/meta").send().await.expect(200);
    assert_eq!(meta["server"]["version"], version);
    let metrics = server
        .req(Method::GET, "/metrics")
        .bearer(TOKEN)
        .send()
        .await;
    assert_eq!(metrics.status, 200);
    let line = format!("owp_build_info{{version=\"{version}\"}} 1");
    assert!(metrics.text.contains(&line), "{line} in {}", metrics.text);
    let out = healthcheck(server);
    assert!(out.status.success(), "healthcheck: {out:?}");
}

/// Within five seconds of the database going, readiness is 503 and the healthcheck fails;
/// liveness stays 200.
async fn not_ready_within_seconds(server: &Server, what: &str) {
    let gone = Instant::now();
    loop {
        let r = server
            .req(Method::GET, "/readyz")
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if r.status == 503 {
            assert_eq!(r.expect_problem(503), "not_ready");
            break;
        }
        assert!(
            gone.elapsed() < Duration::from_secs(5),
            "{what}: still ready after 5 s: {}",
            r.describe()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("{what}: not ready after {:?}", gone.elapsed());
    let out = healthcheck(server);
    assert!(!out.status.success(), "{what}: healthcheck exited 0");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("503") && said.lines().count() == 1, "{said}");
    server.req(Method::GET, "/healthz").send().await.expect(200);
    assert!(server.log().contains("not ready"), "the log says why");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_moved_away_is_not_ready_within_seconds() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("owp.db");
    let server = Server::start_on(TestDatabase::Sqlite(db.clone()), TOKEN, &[]).await;
    ready_with_its_version(&server).await;
    std::fs::rename(&db, dir.path().join("moved.db")).expect("move the database");
    not_ready_within_seconds(&server, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dropped_is_not_ready_within_seconds() {
    let Some(server_url) = crate::services::postgres_url() else {
        crate::services::missing("postgres", "readiness", "no PostgreSQL");
        return;
    };
    let name = pg_scratch::create(&server_url, "owp_ready").await;
    let database = TestDatabase::Postgres {
        url: owp::store::database_url::url_with_database(&server_url, &name),
        server_url: server_url.clone(),
        name: name.clone(),
    };
    let server = Server::start_on(database, TOKEN, &[]).await;
    ready_with_its_version(&server).await;
    pg_scratch::drop_blocking(&server_url, &name);
    not_ready_within_seconds(&server, "postgres").await;
}
