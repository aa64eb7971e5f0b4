//! `owp bench --idle N`, small: an idle pool measured end to end on SQLite (and on PostgreSQL
//! when `OWP_TEST_DATABASE_URL` is set), every route answering as it should.

use crate::services::postgres_url;

#[tokio::test]
async fn bench_idle_measures_the_three_routes_of_an_idle_pool() {
    let mut backends = vec!["sqlite"];
    let pg = postgres_url();
    if pg.is_some() {
        backends.push("postgres");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"));
    cmd.current_dir(dir.path())
        .args(["bench", "--idle", "30", "--idle-connections", "4"])
        .args(["--seconds", "1", "--warmup", "0"])
        .args(["--backends", &backends.join(",")]);
    if let Some(url) = &pg {
        cmd.args(["--database-url", url]);
    }
    let out = cmd.output().await.expect("run owp bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "owp bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for backend in backends {
        let rows: Vec<Vec<&str>> = stdout
            .lines()
            .filter(|l| l.starts_with(&format!("| {backend} | 30 |")))
            .map(|l| l.split('|').map(str::trim).collect())
            .collect();
        assert_eq!(rows.len(), 3, "{backend}: one row per route:\n{stdout}");
        for (row, route) in rows.iter().zip(["/healthz", "heartbeat", "/v1/work"]) {
            assert!(row[3].contains(route), "{row:?}");
            let per_s: f64 = row[4].parse().expect("req/s");
            assert!(per_s > 0.0, "{backend} {route}: nothing answered: {row:?}");
            assert_eq!(row[8], "0", "{backend} {route}: errors: {row:?}");
        }
        assert!(
            stdout.contains(&format!("- {backend} 30 workers: heartbeats ")),
            "{stdout}"
        );
    }
}

/// `owp bench` of the claim path, small but with more workers than one address may register in a
/// minute: the bench's own server takes them all, and every claim is answered.
#[tokio::test]
async fn bench_registers_more_workers_than_one_address_may_in_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .current_dir(dir.path())
        .args(["bench", "--backends", "sqlite", "--sizes", "1000"])
        .args(["--workers", "150", "--seconds", "1", "--warmup", "0"])
        .args(["--repeat", "1", "--webhooks", "0", "--no-baseline"])
        .env_remove("OWP_RATE_REGISTRATIONS_PER_MINUTE")
        .output()
        .await
        .expect("run owp bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "owp bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row: Vec<&str> = stdout
        .lines()
        .find(|l| l.starts_with("| sqlite |"))
        .unwrap_or_else(|| panic!("no sqlite row:\n{stdout}"))
        .split('|')
        .map(str::trim)
        .collect();
    assert_eq!(row[7], "150", "{row:?}");
    let claims: f64 = row[9].parse().expect("claims/s");
    assert!(claims > 0.0, "no claim answered: {row:?}");
}
