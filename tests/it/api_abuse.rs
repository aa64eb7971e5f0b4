//! A hostile stranger against the API (contract section 9): nobody but an admin or GitHub decides
//! `merged`, a holder's `blocked` waits for a maintainer inside the review budget, and every input
//! is bounded. Each test runs against a real `owp serve`.

use crate::support;

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

/// A direct connection to the server's database, as an older version (or another tool) could
/// have written it.
async fn raw_db(s: &Server) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let url = match &s.database {
        TestDatabase::Sqlite(path) => format!("sqlite://{}", path.display()),
        TestDatabase::Postgres { url, .. } => url.clone(),
    };
    sqlx::AnyPool::connect(&url).await.expect("connect")
}

/// Every number has a documented range (422 naming the field), and `/metrics` never answers
/// 500 on what is stored, even values from before the ranges.
#[tokio::test]
async fn numbers_out_of_range_are_422_and_metrics_survive_stored_extremes() {
    let s = Server::start().await;
    let base = json!({"name": "w", "skills": [], "capacity_points": 5, "max_concurrent_tasks": 1});
    for (field, value) in [
        ("capacity_points", json!(i64::MAX)),
        ("capacity_points", json!(10_001)),
        ("capacity_points", json!(0)),
        ("max_concurrent_tasks", json!(1_001)),
        ("max_concurrent_tasks", json!(i64::MIN)),
    ] {
        let mut body = base.clone();
        body[field] = value.clone();
        let r = s.register(body).await;
        assert_eq!(r.status, 422, "{field}={value}: {}", r.describe());
        assert!(
            r.json["detail"].as_str().unwrap().contains(field),
            "{}",
            r.describe()
        );
    }
    s.register(base.clone()).await.expect(201);
    s.upsert_repo("acme/range", 3, false).await;
    for (field, value) in [
        ("estimate_points", json!(1_001)),
        ("estimate_points", json!(0)),
        ("tier", json!(1_001)),
        ("tier", json!(-1)),
    ] {
        let mut task = json!({"title": "t"});
        task[field] = value.clone();
        let r = s
            .admin_post(
                "/v1/admin/tasks",
                json!({"repo": "acme/range", "tasks": [task]}),
            )
            .await;
        assert_eq!(r.status, 422, "{field}={value}: {}", r.describe());
        let detail = r.json["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("tasks[0].{field}")), "{detail}");
    }
    for value in [json!(10_001), json!(-1), json!(i64::MAX)] {
        let r = s
            .admin_post(
                "/v1/admin/repos",
                json!({"repo": "acme/range", "max_open_prs": value}),
            )
            .await;
        assert_eq!(r.status, 422, "max_open_prs={value}: {}", r.describe());
        assert!(r.json["detail"].as_str().unwrap().contains("max_open_prs"));
    }
    let (wid, _) = s.register_worker("trusty", &[], 5, 1).await;
    let r = s
        .admin_update_worker(&wid, json!({"trust_level": i64::MAX}))
        .await;
    assert_eq!(r.status, 422, "{}", r.describe());
    assert!(r.json["detail"].as_str().unwrap().contains("trust_level"));

    // Values stored before the ranges existed: the scrape still answers.
    let db = raw_db(&s).await;
    sqlx::query("UPDATE workers SET capacity_points = 9223372036854775807, active_points = 9223372036854775807")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE repos SET max_open_prs = 9223372036854775807")
        .execute(&db)
        .await
        .unwrap();
    let r = s
        .req(reqwest::Method::GET, "/metrics")
        .admin(&s)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.describe());
    s.state().await;
}

/// Texts, lists and `x_*` fields have maximum sizes (422 naming the field), and one import takes
/// a bounded number of tasks; nothing of a refused request is stored.
#[tokio::test]
async fn texts_lists_and_extensions_are_bounded() {
    let s = Server::start().await;
    let long = |n: usize| "a".repeat(n);
    let worker = |extra: serde_json::Value| {
        let mut body = json!({"name": "w", "skills": ["rust"], "capacity_points": 5, "max_concurrent_tasks": 1});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for (named, body) in [
        ("name", worker(json!({"name": long(101)}))),
        ("github_login", worker(json!({"github_login": long(101)}))),
        (
            "skills",
            worker(json!({"skills": (0..51).map(|i| format!("s{i}")).collect::<Vec<_>>()})),
        ),
        ("skills[0]", worker(json!({"skills": [long(65)]}))),
        (
            "capabilities",
            worker(json!({"capabilities": {"blob": long(5000)}})),
        ),
        ("x_big", worker(json!({"x_big": long(5000)}))),
        (
            "x_*",
            worker(
                json!({"x_1": long(4000), "x_2": long(4000), "x_3": long(4000), "x_4": long(4000), "x_5": long(4000)}),
            ),
        ),
    ] {
        let r = s.register(body).await;
        assert_eq!(r.status, 422, "{named}: {}", r.describe());
        let detail = r.json["detail"].as_str().unwrap();
        assert!(detail.contains(named), "{named}: {detail}");
    }
    assert_eq!(s.state().await["workers"].as_array().unwrap().len(), 0);

    s.upsert_repo("acme/text", 3, false).await;
    for (named, task) in [
        ("tasks[0].title", json!({"title": long(501)})),
        (
            "tasks[0].description",
            json!({"title": "t", "description": long(65_537)}),
        ),
        ("tasks[0].key", json!({"title": "t", "key": long(201)})),
        ("tasks[0].area", json!({"title": "t", "area": long(201)})),
        (
            "tasks[0].required_skills",
            json!({"title": "t", "required_skills": (0..51).map(|i| format!("s{i}")).collect::<Vec<_>>()}),
        ),
        (
            "tasks[0].x_blob",
            json!({"title": "t", "x_blob": long(5000)}),
        ),
    ] {
        let r = s
            .admin_post(
                "/v1/admin/tasks",
                json!({"repo": "acme/text", "tasks": [task]}),
            )
            .await;
        assert_eq!(r.status, 422, "{named}: {}", r.describe());
        let detail = r.json["detail"].as_str().unwrap();
        assert!(detail.contains(named), "{named}: {detail}");
    }
    // One import takes at most 1,000 tasks.
    let many: Vec<_> = (0..1_001)
        .map(|i| json!({"title": format!("t{i}")}))
        .collect();
    let r = s
        .admin_post(
            "/v1/admin/tasks",
            json!({"repo": "acme/text", "tasks": many}),
        )
        .await;
    assert_eq!(r.expect_problem(422), "too_many_tasks");
    assert_eq!(s.state().await["tasks"].as_array().unwrap().len(), 0);
    let ids = s
        .import_ids(
            "acme/text",
            json!(
                (0..1_000)
                    .map(|i| json!({"title": format!("t{i}")}))
                    .collect::<Vec<_>>()
            ),
        )
        .await;
    assert_eq!(ids.len(), 1_000);

    // Reasons and notes.
    let (_, token) = s.register_worker("w", &[], 5, 2).await;
    let (lease_id, task_id, _) = s.claim_ok(&token).await;
    let r = s
        .worker_post(
            &token,
            &format!("/v1/leases/{lease_id}/nack"),
            json!({"reason": long(2_001)}),
        )
        .await;
    assert!(
        r.expect_problem(422) == "field_too_long"
            && r.json["detail"].as_str().unwrap().contains("reason")
    );
    let r = s
        .set_status(
            &token,
            &task_id,
            json!({"status": "blocked", "note": long(2_001)}),
        )
        .await;
    assert!(
        r.expect_problem(422) == "field_too_long"
            && r.json["detail"].as_str().unwrap().contains("note")
    );
    let r = s
        .admin_post(
            &format!("/v1/admin/tasks/{task_id}/status"),
            json!({"status": "blocked", "reason": long(2_001)}),
        )
        .await;
    assert_eq!(r.expect_problem(422), "field_too_long");
    assert_eq!(s.task(&task_id).await["status"], "leased");
}

/// A 170 KB YAML import with aliases expanded into 500 MB of titles: the expansion is bounded.
#[tokio::test]
async fn yaml_aliases_cannot_expand_an_import() {
    let s = Server::start().await;
    s.upsert_repo("acme/yaml", 3, false).await;
    // One 10 KB title anchored, and then named 2,000 times: 45 KB of body, 20 MB of titles.
    let mut doc = format!(
        "repo: acme/yaml\nbig: &big \"{}\"\ntasks:\n",
        "x".repeat(10_000)
    );
    for _ in 0..2_000 {
        doc.push_str("  - title: *big\n");
    }
    assert!(doc.len() < 50_000);
    let r = s
        .req(reqwest::Method::POST, "/v1/admin/tasks")
        .admin(&s)
        .body(doc, "application/yaml")
        .send()
        .await;
    assert_eq!(r.expect_problem(413), "payload_too_large");
    assert_eq!(s.state().await["tasks"].as_array().unwrap().len(), 0);
    // Aliases within the bound still work.
    let small =
        "repo: acme/yaml\nskills: &s [rust]\ntasks:\n  - title: a\n    required_skills: *s\n";
    let r = s
        .req(reqwest::Method::POST, "/v1/admin/tasks")
        .admin(&s)
        .body(small, "application/yaml")
        .send()
        .await;
    let body = r.expect(201);
    assert_eq!(body["tasks"][0]["required_skills"], json!(["rust"]));
}

/// `pr_url` is an http(s) URL; a GitHub task's is a pull request of its own repository.
#[tokio::test]
async fn pr_urls_must_be_web_links_and_a_github_tasks_own_pull_request() {
    let s = Server::start().await;
    s.upsert_repo("acme/urls", 5, false).await;
    s.upsert_repo("octo/web", 5, false).await;
    s.import_ids("acme/urls", json!([{"title": "plain"}])).await;
    let gh = s
        .import_ids("octo/web", json!([{"title": "issue", "key": "octo/web#7"}]))
        .await;
    let (_, token) = s.register_worker("w", &[], 10, 2).await;
    let (_, plain, _) = s.claim_ok(&token).await;
    let (_, issue, _) = s.claim_ok(&token).await;
    assert_eq!(issue, gh[0]);
    for bad in [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.test/pr/1",
        "example.test/pr/1",
    ] {
        let r = s
            .set_status(
                &token,
                &plain,
                json!({"status": "pr_opened", "artifact": {"pr_url": bad}}),
            )
            .await;
        assert_eq!(r.expect_problem(422), "invalid_pr_url", "{bad}");
    }
    for bad in [
        "https://github.com/octo/other/pull/3",
        "https://github.com/octo/web/issues/7",
        "https://example.test/octo/web/pull/3",
    ] {
        let r = s
            .set_status(
                &token,
                &issue,
                json!({"status": "pr_opened", "artifact": {"pr_url": bad}}),
            )
            .await;
        assert_eq!(r.expect_problem(422), "invalid_pr_url", "{bad}");
    }
    assert_eq!(s.task(&plain).await["status"], "leased");
    assert_eq!(s.task(&issue).await["status"], "leased");
    s.set_status(
        &token,
        &plain,
        json!({"status": "pr_opened", "artifact": {"pr_url": "http://git.example.test/acme/urls/pull/1"}}),
    )
    .await
    .expect(200);
    s.set_status(
        &token,
        &issue,
        json!({"status": "pr_opened", "artifact": {"pr_url": "https://github.com/octo/web/pull/8"}}),
    )
    .await
    .expect(200);
}

/// A request in flight at a crash, retried with the same `Idempotency-Key`, ran twice. The
/// process is aborted after the import committed and before its answer was stored; a retry on a
/// restarted server does not import again.
#[tokio::test]
async fn a_request_interrupted_after_it_ran_is_not_run_again_under_its_key() {
    let first = Server::start_with_env(&[(owp::http::idempotency::CRASH_POINT_VAR, "1")]).await;
    first.upsert_repo("acme/crash", 5, false).await;
    let body = json!({"repo": "acme/crash", "tasks": [{"title": "a"}, {"title": "b"}]});
    let crashed = first
        .client
        .post(first.url("/v1/admin/tasks"))
        .header("X-Admin-Token", &first.admin_token)
        .header("Idempotency-Key", "import-once")
        .json(&body)
        .send()
        .await;
    assert!(crashed.is_err(), "the process answered: {crashed:?}");
    // The same database, served again (by a process without the crash point).
    let s = first.start_sharing(&[]).await;
    assert_eq!(s.state().await["tasks"].as_array().unwrap().len(), 2);
    for _ in 0..2 {
        let r = s
            .req(reqwest::Method::POST, "/v1/admin/tasks")
            .admin(&s)
            .idempotency_key("import-once")
            .json(&body)
            .send()
            .await;
        let code = r.expect_problem(409);
        assert!(
            code == "idempotency_in_progress" || code == "idempotency_outcome_unknown",
            "{}",
            r.describe()
        );
    }
    assert_eq!(
        s.state().await["tasks"].as_array().unwrap().len(),
        2,
        "the import ran exactly once"
    );
    // A new key runs.
    s.req(reqwest::Method::POST, "/v1/admin/tasks")
        .admin(&s)
        .idempotency_key("import-again")
        .json(&body)
        .send()
        .await
        .expect(201);
    assert_eq!(s.state().await["tasks"].as_array().unwrap().len(), 4);
}

/// Unauthenticated POSTs (and POSTs with a token nobody holds) keep no idempotency key; a
/// registration does, bound to its client address, so a replay from elsewhere cannot take the
/// first caller's worker over.
#[tokio::test]
async fn strangers_keep_no_keys_and_cannot_replay_someone_elses_registration() {
    let s = Server::start().await;
    let db = raw_db(&s).await;
    let keys = || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys")
            .fetch_one(&db)
            .await
            .unwrap();
        n
    };
    for i in 0..20 {
        let r = s
            .req(reqwest::Method::POST, "/v1/work")
            .idempotency_key(&format!("anon-{i}"))
            .json(&json!({}))
            .send()
            .await;
        r.expect_problem(401);
        let r = s
            .req(reqwest::Method::POST, "/v1/work")
            .bearer("owpw_not_a_token")
            .idempotency_key(&format!("bogus-{i}"))
            .json(&json!({}))
            .send()
            .await;
        r.expect_problem(401);
    }
    assert_eq!(keys().await, 0);

    let reg =
        json!({"name": "mine", "skills": [], "capacity_points": 3, "max_concurrent_tasks": 1});
    let send = |client: reqwest::Client| {
        let reg = reg.clone();
        let url = s.url("/v1/workers/register");
        async move {
            let r = client
                .post(url)
                .header("Idempotency-Key", "my-registration")
                .json(&reg)
                .send()
                .await
                .expect("register");
            assert_eq!(r.status().as_u16(), 201);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let first = send(s.client.clone()).await;
    assert_eq!(keys().await, 1);
    // The same caller, replaying: the same worker with a new token.
    let again = send(s.client.clone()).await;
    assert_eq!(again["worker_id"], first["worker_id"]);
    // A stranger on another address with the same key and body: a worker of its own, and the
    // first caller's current token keeps working.
    let elsewhere = reqwest::Client::builder()
        .no_proxy()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let stranger = send(elsewhere).await;
    assert_ne!(stranger["worker_id"], first["worker_id"]);
    s.heartbeat(again["token"].as_str().unwrap(), json!({}))
        .await
        .expect(200);
}

/// A file system of its own, mounted for one test and unmounted (lazily, so a server still on
/// it does not hold it) when the test ends, even when it fails.
#[cfg(target_os = "linux")]
struct SmallDisk {
    dir: tempfile::TempDir,
}

#[cfg(target_os = "linux")]
impl SmallDisk {
    /// A tmpfs of `mib` MiB, or `None` where this machine does not let the test mount one (not
    /// root, or no mount permission in a container).
    fn mount(mib: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }

    /// Writes a file until the file system is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.path().join("filler");
        let mut f = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

#[cfg(target_os = "linux")]
impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A full disk used to answer a generic 500. Now a write that finds no room answers
/// `503 storage_full` (nothing is changed, and the client may retry), and the service writes
/// again once room is made.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_full_disk_answers_503_storage_full_and_the_service_recovers() {
    let Some(disk) = SmallDisk::mount(8) else {
        eprintln!("skipped: this machine does not let the test mount a small tmpfs (needs root)");
        return;
    };
    // Declared after the disk, so the server stops before the disk is unmounted.
    let s = Server::start_on_sqlite(&disk.dir.path().join("owp.db")).await;
    s.upsert_repo("acme/full", 3, false).await;

    // About 900 KB a request: the database must grow to take it.
    let batch = |n: usize| {
        let tasks: Vec<_> = (0..30)
            .map(|i| json!({"key": format!("K-{n}-{i}"), "title": "big", "description": "x".repeat(30_000)}))
            .collect();
        json!({"repo": "acme/full", "tasks": tasks})
    };
    let filler = disk.fill();
    let mut refused = None;
    for n in 0..12 {
        let r = s.admin_post("/v1/admin/tasks", batch(n)).await;
        assert_ne!(r.status, 500, "a full disk answered 500: {}", r.describe());
        if r.status == 503 {
            refused = Some((n, r));
            break;
        }
        r.expect(201);
    }
    let (n, r) = refused.expect("a full disk never refused a write");
    assert_eq!(r.expect_problem(503), "storage_full");

    // Room again: the same import goes through, and nothing of the refused one was half kept.
    std::fs::remove_file(filler).unwrap();
    let body = s.admin_post("/v1/admin/tasks", batch(n)).await.expect(201);
    assert_eq!(body["tasks"].as_array().map(Vec::len), Some(30), "{body}");
    let state = s.state().await;
    let kept = state["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["repo"] == "acme/full")
        .count();
    assert_eq!(
        kept,
        30 * (n + 1),
        "every import kept whole, the refused one once"
    );
}
