//! A hostile stranger against the API (contract section 9): nobody but an admin or GitHub decides
//! `merged`, a holder's `blocked` waits for a maintainer inside the review budget, and every input
//! is bounded. Each test runs against a real `owp serve`.

mod support;

use serde_json::json;
use support::*;

/// One anonymous worker used to drain the queue by reporting merges, or `blocked`, a thousand
/// times despite a review budget of 3.
#[tokio::test]
async fn a_worker_cannot_drain_the_queue_with_merged_or_blocked() {
    let s = Server::start().await;
    s.upsert_repo("acme/drain", 2, false).await;
    let ids = s
        .import_ids(
            "acme/drain",
            json!([{"title": "a"}, {"title": "b"}, {"title": "c"}, {"title": "d"}]),
        )
        .await;
    let (_, token) = s.register_worker("drainer", &[], 10, 4).await;

    // `merged` from a worker: 403 not_allowed, and nothing changes.
    let (_, first, _) = s.claim_ok(&token).await;
    s.open_pr(&token, &first).await;
    let r = s
        .set_status(&token, &first, json!({"status": "merged"}))
        .await;
    assert_eq!(r.expect_problem(403), "not_allowed");
    let t = s.task(&first).await;
    assert_eq!(t["status"], "pr_opened");
    assert_eq!(s.repo("acme/drain").await["open_prs"], 1);

    // `blocked` from its holder keeps a review slot, with the reason for the maintainers.
    let (_, second, _) = s.claim_ok(&token).await;
    let body = s
        .set_status(
            &token,
            &second,
            json!({"status": "blocked", "note": "cannot reproduce"}),
        )
        .await
        .expect(200);
    assert_eq!(body["status"], "blocked");
    assert_eq!(body["awaits_maintainer"], true);
    let state = s.state().await;
    let t = find(&state["tasks"], "task_id", &second).unwrap();
    assert_eq!(t["status_reason"], "cannot reproduce");
    let repo = find(&state["repos"], "repo", "acme/drain").unwrap();
    assert_eq!(repo["open_prs"], 2, "{repo}");
    assert_eq!(repo["throttled"], true, "{repo}");
    // Budget of 2 is full: nothing more for anyone.
    s.claim_none(&token).await;
    let (_, other) = s.register_worker("other", &[], 10, 4).await;
    s.claim_none(&other).await;

    // The maintainer unblocks it: the slot is free again.
    s.admin_set_status(&second, "ready").await.expect(200);
    let repo = s.repo("acme/drain").await;
    assert_eq!(repo["open_prs"], 1, "{repo}");
    assert_eq!(repo["throttled"], false, "{repo}");
    let (_, third, _) = s.claim_ok(&other).await;
    assert!(ids.contains(&third));
}

/// Runs `owp ARGS` in `dir` with only `env` (and PATH) set, and waits up to 60 s for it to exit;
/// returns whether it succeeded and what it printed. A process still running then is killed and
/// reported as a success (it started).
async fn run_owp(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn owp");
    match tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output()).await {
        Ok(out) => {
            let out = out.expect("owp output");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.success(), text)
        }
        Err(_) => (true, "still running after 60 s".into()),
    }
}

fn serve_args(port: &str) -> Vec<&str> {
    vec!["serve", "--db", "owp.db", "--port", port]
}

/// An empty `OWP_ADMIN_TOKEN` made everyone admin; a short one is guessable. `owp serve` refuses
/// both with one clear line, and `owp doctor` fails them.
#[tokio::test]
async fn empty_and_short_admin_tokens_are_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    for (token, says) in [
        ("", "empty"),
        ("   ", "empty"),
        ("short-token", "too short"),
    ] {
        let (ok, text) = run_owp(
            dir.path(),
            &serve_args(&port),
            &[("OWP_ADMIN_TOKEN", token)],
        )
        .await;
        assert!(!ok, "serve started with {token:?}: {text}");
        assert!(
            text.contains("OWP_ADMIN_TOKEN") && text.contains(says),
            "{token:?}: {text}"
        );
        let (ok, text) = run_owp(dir.path(), &["doctor"], &[("OWP_ADMIN_TOKEN", token)]).await;
        assert!(!ok, "doctor passed {token:?}: {text}");
        assert!(text.contains(says), "{token:?}: {text}");
    }
    assert!(
        !dir.path().join("owp.db").exists(),
        "nothing is created before the refusal"
    );
}

/// Huge TTLs wrapped (a lease born expired): values out of their documented range are refused at
/// start-up, naming the setting.
#[tokio::test]
async fn ttls_out_of_range_are_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    for (var, value) in [
        ("OWP_LEASE_TTL_SECONDS", "18446744073709551615"),
        ("OWP_LEASE_TTL_SECONDS", "604801"),
        ("OWP_LEASE_TTL_SECONDS", "0"),
        ("OWP_ACCEPT_TTL_SECONDS", "9223372036854775807"),
        ("OWP_HEARTBEAT_TTL_SECONDS", "86401"),
        ("OWP_GITHUB_CLAIM_TTL_SECONDS", "99999999999"),
    ] {
        let (ok, text) = run_owp(
            dir.path(),
            &serve_args(&port),
            &[
                ("OWP_ADMIN_TOKEN", "a-long-enough-admin-token"),
                (var, value),
            ],
        )
        .await;
        assert!(!ok, "serve started with {var}={value}: {text}");
        let flag = var
            .trim_start_matches("OWP_")
            .to_ascii_lowercase()
            .replace('_', "-");
        assert!(text.contains(&flag), "{var}={value}: {text}");
    }
    // The largest lease allowed gives leases that expire in a week, not in the past.
    let s = Server::start_with_env(&[("OWP_LEASE_TTL_SECONDS", "604800")]).await;
    s.upsert_repo("acme/ttl", 3, false).await;
    s.import_ids("acme/ttl", json!([{"title": "t"}])).await;
    let (_, token) = s.register_worker("w", &[], 5, 1).await;
    let (lease_id, task_id, _) = s.claim_ok(&token).await;
    s.ack(&token, &lease_id).await.expect(200);
    let t = s.task(&task_id).await;
    let expires = chrono::DateTime::parse_from_rfc3339(t["lease_expires_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let left = expires - chrono::Utc::now();
    assert!(left > chrono::TimeDelta::days(6), "{left}");
    assert_eq!(t["status"], "in_progress");
}

/// A pre-existing `env.local` that other users can read never receives the generated admin token.
#[cfg(unix)]
#[tokio::test]
async fn a_world_readable_env_local_never_receives_the_admin_token() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let env_local = dir.path().join("env.local");
    std::fs::write(&env_local, "OWP_LOG=info\n").unwrap();
    std::fs::set_permissions(&env_local, std::fs::Permissions::from_mode(0o644)).unwrap();
    let port = free_port().to_string();
    let (ok, text) = run_owp(dir.path(), &serve_args(&port), &[]).await;
    assert!(!ok, "serve started: {text}");
    assert!(text.contains("chmod 600"), "{text}");
    let written = std::fs::read_to_string(&env_local).unwrap();
    assert!(!written.contains("OWP_ADMIN_TOKEN"), "{written}");
}
