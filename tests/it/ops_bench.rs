//! `owp bench --idle N`, small: an idle pool measured end to end on SQLite (and on PostgreSQL
//! when `OWP_TEST_DATABASE_URL` is set), every route answering as it should, beside a second
//! executable (`--against`, the same one here).

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
    // One connection of load: its requests follow each other, so that each one-second window (three
    // routes, two builds, each backend) keeps one core busy rather than both, beside the tests
    // running with it.
    cmd.current_dir(dir.path())
        .args(["bench", "--idle", "30", "--idle-connections", "1"])
        .args(["--seconds", "1", "--warmup", "0"])
        .args(["--backends", &backends.join(",")])
        .args(["--against", env!("CARGO_BIN_EXE_owp")]);
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
    let rows = |start: &str| -> Vec<Vec<String>> {
        stdout
            .lines()
            .filter(|l| l.starts_with(start))
            .map(|l| l.split('|').map(|c| c.trim().to_string()).collect())
            .collect()
    };
    let routes = ["/healthz", "heartbeat", "/v1/work"];
    for backend in backends {
        let mut rates = Vec::new();
        for build in ["this", "against"] {
            let rows = rows(&format!("| {build} | {backend} | 30 |"));
            assert_eq!(
                rows.len(),
                3,
                "{build} {backend}: one row per route:\n{stdout}"
            );
            for (row, route) in rows.iter().zip(routes) {
                assert!(row[4].contains(route), "{row:?}");
                let per_s: f64 = row[5].parse().expect("req/s");
                assert!(per_s > 0.0, "{backend} {route}: nothing answered: {row:?}");
                assert_eq!(row[9], "0", "{backend} {route}: errors: {row:?}");
                rates.push(per_s);
            }
            assert!(
                stdout.contains(&format!("- {build} {backend} 30 workers: heartbeats ")),
                "{stdout}"
            );
        }
        // Side by side: each route's rate with the other build's in brackets.
        let pairs = rows(&format!("| {backend} | 30 |"));
        assert_eq!(pairs.len(), 3, "{backend}: one pair per route:\n{stdout}");
        for (i, (pair, route)) in pairs.iter().zip(routes).enumerate() {
            assert!(pair[3].contains(route), "{pair:?}");
            assert_eq!(
                pair[4],
                format!("{:.0} ({:.0})", rates[i], rates[i + 3]),
                "{pair:?}"
            );
        }
    }
}

/// `owp bench` of the claim path, small but with more workers than one address may register in a
/// minute: the bench's own server takes them all, and every claim is answered. Beside a second
/// executable (`--against`, the same one here): the row runs once with each, and the side-by-side
/// table shows both with their ratio.
#[tokio::test]
async fn bench_registers_more_workers_than_one_address_may_in_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .current_dir(dir.path())
        .args(["bench", "--backends", "sqlite", "--sizes", "1000"])
        // Three seconds, not one: with no warm-up the window opens on 150 workers' first
        // requests, each reading its row, and a loaded machine has taken over a second for them.
        .args(["--workers", "150", "--seconds", "3", "--warmup", "0"])
        .args(["--repeat", "1", "--webhooks", "0", "--no-baseline"])
        .args(["--against", env!("CARGO_BIN_EXE_owp")])
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
    let row = |start: &str| -> Vec<String> {
        stdout
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no row {start}:\n{stdout}"))
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let mut claims = Vec::new();
    for build in ["this", "against"] {
        let row = row(&format!("| {build} | sqlite |"));
        assert_eq!(row[8], "150", "{row:?}");
        let per_s: f64 = row[10].parse().expect("claims/s");
        assert!(per_s > 0.0, "no claim answered: {row:?}");
        claims.push(per_s);
    }
    // The side-by-side row: this build's claims/s, the other's in brackets, and their ratio.
    let pair = row("| sqlite | 1 | 1000 |");
    assert_eq!(
        pair[5],
        format!("{:.0} ({:.0})", claims[0], claims[1]),
        "{pair:?}"
    );
    // The ratio is of the unrounded rates; the rows print them to the unit, so the ratio read
    // back from them may be off by what that rounding moves it (and the ratio's own, 0.005).
    let ratio: f64 = pair[6].parse().expect("ratio");
    let (this, other) = (claims[0], claims[1]);
    let slack = 0.5 / other * (1.0 + this / other) + 0.005;
    assert!((ratio - this / other).abs() <= slack, "{pair:?}");
}

/// `owp bench --github-installations`, small, beside a second executable (the same one here): a
/// simulated GitHub 20 ms away, 3 installations opening 2 issues each; every delivery is applied,
/// every status comment arrives, once, and no installation writes faster than GitHub allows. On
/// PostgreSQL too when `OWP_TEST_DATABASE_URL` is set.
#[tokio::test]
async fn bench_many_installations_posts_every_status_comment_within_githubs_limits() {
    let mut backends = vec!["sqlite"];
    let pg = postgres_url();
    if pg.is_some() {
        backends.push("postgres");
    }
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/github/test-app-key.pem"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"));
    cmd.current_dir(dir.path())
        .args(["bench", "--github-installations", "3"])
        .args([
            "--deliveries-per-installation",
            "2",
            "--repos-per-installation",
            "2",
        ])
        .args(["--github-latency-ms", "20", "--github-wait-s", "120"])
        .args(["--github-key", key, "--against", env!("CARGO_BIN_EXE_owp")])
        .args(["--backends", &backends.join(",")]);
    if let Some(url) = &pg {
        cmd.args(["--database-url", url]);
    }
    let out = cmd.output().await.expect("run owp bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "owp bench failed:\n{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("no answer to"), "{stdout}");
    for backend in backends {
        let row: Vec<&str> = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {backend} | 1 | 3 | 6 | 20 |")))
            .unwrap_or_else(|| panic!("no {backend} row:\n{stdout}\n{stderr}"))
            .split('|')
            .map(str::trim)
            .collect();
        // | backend | processes | installations | deliveries | GitHub ms | applied/s | against | × |
        //   status comments/s | against | × | peak RSS MB | against | violations | against |
        //   missing comments | against |
        assert_eq!(row.len(), 19, "{row:?}");
        for (column, what) in [
            (6, "applied/s"),
            (7, "against"),
            (9, "comments/s"),
            (10, "against"),
        ] {
            let rate: f64 = row[column].parse().unwrap_or(0.0);
            assert!(rate > 0.0, "{backend}: {what} is not a rate: {row:?}");
        }
        let ratio: f64 = row[8].parse().expect("a ratio");
        assert!(ratio > 0.0, "{row:?}");
        let rss: f64 = row[12].parse().expect("peak RSS");
        assert!(rss > 1.0, "{row:?}");
        assert_eq!(
            &row[14..18],
            ["0", "0", "0", "0"],
            "violations and missing comments: {row:?}"
        );
        assert!(
            stdout.contains(&format!(
                "- {backend} 1 process(es), 3 installations, GitHub 20 ms away: 0 violations, 0 \
                 status comments missing: met"
            )),
            "{stdout}"
        );
    }
}

/// `owp bench --github-installations --github-apart`: the simulated GitHub runs in a process of
/// its own, the bench opening its issues and reading what it saw over HTTP; every delivery is
/// applied and every status comment arrives, once, within GitHub's limits, as in the bench's
/// own process.
#[tokio::test]
async fn bench_many_installations_reads_a_github_in_a_process_of_its_own() {
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/github/test-app-key.pem"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
        .current_dir(dir.path())
        .args(["bench", "--github-installations", "2", "--github-apart"])
        .args([
            "--deliveries-per-installation",
            "2",
            "--repos-per-installation",
            "1",
        ])
        .args(["--github-latency-ms", "10", "--github-wait-s", "120"])
        .args(["--github-key", key, "--backends", "sqlite"])
        .output()
        .await
        .expect("run owp bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "owp bench failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("simulated GitHub (in a process of its own)"),
        "{stdout}"
    );
    let row: Vec<&str> = stdout
        .lines()
        .find(|l| l.starts_with("| sqlite | 1 | 2 | 4 | 10 |"))
        .unwrap_or_else(|| panic!("no row:\n{stdout}\n{stderr}"))
        .split('|')
        .map(str::trim)
        .collect();
    // | backend | processes | installations | deliveries | GitHub ms | applied/s |
    //   status comments/s | peak RSS MB | violations | missing comments |
    assert_eq!(row.len(), 12, "{row:?}");
    for column in [6, 7] {
        let rate: f64 = row[column].parse().unwrap_or(0.0);
        assert!(rate > 0.0, "not a rate: {row:?}");
    }
    assert_eq!(&row[9..11], ["0", "0"], "violations and missing: {row:?}");
    // GitHub's requests, counted by the other process, second by second.
    assert!(
        stdout.contains("GitHub requests; second by second"),
        "{stdout}"
    );
}
