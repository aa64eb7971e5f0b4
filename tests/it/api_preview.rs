//! Why not me (contract section 11): `GET /v1/work/preview` names every rule that keeps each ready
//! task from the worker, and agrees with the claim: the first task it calls eligible is the one
//! `POST /v1/work` grants at that moment, and when it calls none eligible the claim finds none.

use crate::support;

use serde_json::{Value, json};
use sqlx::AnyPool;

use support::{Server, TestDatabase, str_field};

/// The preview of the worker with `token`.
async fn preview(s: &Server, token: &str) -> Value {
    let r = s.worker_get(token, "/v1/work/preview").await;
    assert_eq!(r.status, 200, "{}", r.describe());
    r.json
}

/// The `(rule, code)` pairs the preview gives for `task_id`, or `None` when it is eligible.
fn reasons(p: &Value, task_id: &str) -> Option<Vec<(i64, String)>> {
    if p["eligible"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == task_id)
    {
        return None;
    }
    let refused = p["refused"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["task_id"] == task_id)
        .unwrap_or_else(|| panic!("{task_id} is neither eligible nor refused: {p}"));
    Some(
        refused["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert!(
                    !str_field(r, "detail").is_empty(),
                    "a reason without words: {r}"
                );
                (r["rule"].as_i64().unwrap(), str_field(r, "code"))
            })
            .collect(),
    )
}

/// A public repository: the preview names a refused task only where the worker may see it.
async fn public_repo(s: &Server, repo: &str, max_open_prs: i64, area_locks: bool) {
    let r = s
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": repo, "max_open_prs": max_open_prs,
                   "area_locks_enabled": area_locks, "visibility": "public"}),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.describe());
}

/// How many refused tasks the preview only counts (`{hidden: N}`, the last element).
fn hidden(p: &Value) -> u64 {
    p["refused"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.get("hidden"))
        .map(|n| n.as_u64().unwrap())
        .sum()
}

/// How many ready tasks the preview looked at, the hidden ones counted.
fn looked(p: &Value) -> usize {
    let refused = p["refused"].as_array().unwrap();
    let named = refused.iter().filter(|r| r.get("hidden").is_none()).count();
    p["eligible"].as_array().unwrap().len() + named + hidden(p) as usize
}

fn pairs(list: &[(i64, &str)]) -> Option<Vec<(i64, String)>> {
    Some(list.iter().map(|(r, c)| (*r, c.to_string())).collect())
}

#[tokio::test]
async fn the_preview_names_every_refusing_rule_of_every_task() {
    let s = Server::start().await;
    public_repo(&s, "why/open", 10, true).await;
    public_repo(&s, "why/full", 1, false).await;
    let (_, me) = s.register_worker("me", &["rust"], 3, 2).await;
    let (_, other) = s
        .register_worker("other", &["rust", "python"], 100, 10)
        .await;

    // Another worker holds a task of area `auth` and the only review slot of why/full.
    let held = s
        .import_ids(
            "why/open",
            json!([{"key": "A1", "title": "auth one", "area": "auth"}]),
        )
        .await;
    s.import_ids("why/full", json!([{"title": "full one"}]))
        .await;
    s.claim_ok(&other).await;
    s.claim_ok(&other).await;
    // This worker gave one task back a moment ago.
    let nacked = s
        .import_ids("why/open", json!([{"title": "given back"}]))
        .await;
    let (lease, task, _) = s.claim_ok(&me).await;
    assert_eq!(task, nacked[0]);
    s.nack(&me, &lease).await.expect(200);

    let ids = s
        .import_ids(
            "why/open",
            json!([
                {"title": "fits", "required_skills": ["rust"], "priority": "low"},
                {"title": "python and big", "required_skills": ["python"], "estimate_points": 5},
                {"title": "risky", "tier": 2},
                {"title": "needs a gpu", "requires": {"gpu": true}},
                {"title": "auth two", "area": "auth"},
                {"title": "after auth one", "blocked_by": ["A1"]},
            ]),
        )
        .await;
    let full = s
        .import_ids("why/full", json!([{"title": "full two"}]))
        .await;
    let p = preview(&s, &me).await;
    assert_eq!(p["eligible"], json!([ids[0]]), "{p}");
    assert_eq!(reasons(&p, &ids[0]), None);
    assert_eq!(reasons(&p, &nacked[0]), pairs(&[(1, "recently_released")]));
    assert_eq!(
        reasons(&p, &ids[1]),
        pairs(&[(3, "skills_missing"), (4, "capacity_exceeded")]),
        "every refusing rule, not only the first"
    );
    // Above the worker's trust: counted, never named (contract section 13).
    assert!(!p.to_string().contains(&ids[2]), "{p}");
    assert_eq!(
        p["refused"].as_array().unwrap().last(),
        Some(&json!({"hidden": 1}))
    );
    assert_eq!(reasons(&p, &ids[3]), pairs(&[(9, "capabilities_missing")]));
    assert_eq!(reasons(&p, &ids[4]), pairs(&[(5, "area_locked")]));
    assert_eq!(reasons(&p, &ids[5]), pairs(&[(8, "task_waiting")]));
    assert_eq!(reasons(&p, &full[0]), pairs(&[(6, "review_budget_full")]));
    assert!(
        !p.to_string().contains(&held[0]),
        "a task another worker holds is not ready, so not looked at: {p}"
    );
    // The preview changed nothing, and the claim takes what it called eligible.
    let (_, task, _) = s.claim_ok(&me).await;
    assert_eq!(task, ids[0]);
    // Holding two of two tasks now refuses everything for this worker, named on every task.
    let id = s
        .import_ids(
            "why/open",
            json!([{"title": "one more", "priority": "critical"}]),
        )
        .await;
    let (_, task, _) = s.claim_ok(&me).await;
    assert_eq!(task, id[0]);
    let p = preview(&s, &me).await;
    assert_eq!(p["eligible"], json!([]), "{p}");
    for r in p["refused"].as_array().unwrap() {
        if r.get("hidden").is_some() {
            continue;
        }
        assert!(
            r["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["code"] == "concurrency_exceeded"),
            "{r}"
        );
    }
    s.claim_none(&me).await;
}

#[tokio::test]
async fn the_preview_needs_a_worker_token_and_is_rate_limited() {
    let s = Server::start_with_env(&[("OWP_RATE_PREVIEWS_PER_MINUTE", "3")]).await;
    let r = s.req(reqwest::Method::GET, "/v1/work/preview").send().await;
    assert_eq!(r.status, 401, "{}", r.describe());
    r.assert_problem_shape();
    let (_, a) = s.register_worker("a", &[], 3, 1).await;
    let (_, b) = s.register_worker("b", &[], 3, 1).await;
    for _ in 0..3 {
        preview(&s, &a).await;
    }
    let r = s.worker_get(&a, "/v1/work/preview").await;
    assert_eq!(r.status, 429, "{}", r.describe());
    assert_eq!(r.expect_problem(429), "rate_limited");
    // One worker's burst makes only that worker wait.
    preview(&s, &b).await;
}

/// One address registers a worker per preview it wants: registrations are cheap, so the
/// previews of all its workers together are held to the address's own limit, while a worker of
/// another address is not held.
#[tokio::test]
async fn many_workers_of_one_address_share_its_preview_limit() {
    let s = Server::start_with_env(&[
        ("OWP_RATE_PREVIEWS_PER_MINUTE", "30"),
        ("OWP_RATE_PREVIEWS_PER_ADDRESS_PER_MINUTE", "5"),
    ])
    .await;
    let mut statuses = Vec::new();
    for i in 0..12 {
        let (_, token) = s.register_worker(&format!("sock-{i}"), &[], 3, 1).await;
        let r = s.worker_get(&token, "/v1/work/preview").await;
        if r.status == 429 {
            assert_eq!(r.expect_problem(429), "rate_limited");
        }
        statuses.push(r.status);
    }
    assert!(statuses[..5].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(
        statuses[5..].iter().all(|s| *s == 429),
        "past five a minute from one address, fresh workers are refused too: {statuses:?}"
    );
    // A worker registered from another address previews as before.
    let (_, token) = s.register_worker("elsewhere", &[], 3, 1).await;
    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let r = other
        .get(s.url("/v1/work/preview"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// A small deterministic generator (xorshift), so a failing run can be repeated.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Random pools, random workers and random moves; before every claim, the worker's preview
/// predicts what the claim grants.
async fn the_preview_agrees_with_the_claim(s: Server, db_url: String) {
    sqlx::any::install_default_drivers();
    let db = AnyPool::connect(&db_url).await.unwrap();
    const SKILLS: [&str; 3] = ["rust", "python", "docs"];
    const PRIORITIES: [&str; 4] = ["low", "normal", "high", "critical"];
    for seed in [7_u64, 1_234_567, 99_991] {
        let mut d = Draw(seed);
        let repos = [format!("agree/a{seed}"), format!("agree/b{seed}")];
        for repo in &repos {
            public_repo(&s, repo, 3 + d.below(5) as i64, d.chance(60)).await;
        }
        sqlx::query("UPDATE repos SET claims_per_hour = 3 WHERE name = $1")
            .bind(&repos[1])
            .execute(&db)
            .await
            .unwrap();
        let mut workers = Vec::new();
        for i in 0..6 {
            let skills: Vec<&str> = SKILLS.iter().copied().filter(|_| d.chance(50)).collect();
            let mut body = json!({
                "name": format!("agree-{seed}-{i}"),
                "skills": skills,
                "capacity_points": 1 + d.below(6),
                "max_concurrent_tasks": 1 + d.below(3),
                "specialist": i == 5 && !skills.is_empty(),
            });
            if d.chance(30) {
                body["capabilities"] = json!({"gpu": true});
            }
            let reg = s.register(body).await.expect(201);
            let (id, token) = (str_field(&reg, "worker_id"), str_field(&reg, "token"));
            if d.chance(30) {
                s.admin_update_worker(&id, json!({"trust_level": 1}))
                    .await
                    .expect(200);
            }
            workers.push(token);
        }
        for (r, repo) in repos.iter().enumerate() {
            let tasks: Vec<Value> = (0..15)
                .map(|j| {
                    let skills: Vec<&str> =
                        SKILLS.iter().copied().filter(|_| d.chance(25)).collect();
                    let mut t = json!({
                        "key": format!("K{r}-{j}"),
                        "title": format!("task {r}-{j}"),
                        "required_skills": skills,
                        "estimate_points": 1 + d.below(4),
                        "tier": d.below(2),
                        "priority": PRIORITIES[d.below(4) as usize],
                    });
                    if d.chance(40) {
                        t["area"] = json!(if d.chance(50) { "ui" } else { "db" });
                    }
                    if d.chance(20) {
                        t["requires"] = json!({"gpu": true});
                    }
                    if d.chance(30) {
                        const PATHS: [&str; 5] = [
                            "src/**",
                            "src/ui/**",
                            "src/ui/app.rs",
                            "src/db.rs",
                            "docs/*.md",
                        ];
                        t["paths"] = json!([PATHS[d.below(5) as usize]]);
                    }
                    if j > 0 && d.chance(15) {
                        t["blocked_by"] = json!([format!("K{r}-{}", d.below(j))]);
                    }
                    t
                })
                .collect();
            s.import_ids(repo, Value::Array(tasks)).await;
        }
        let mut open_prs: Vec<(String, String)> = Vec::new();
        let mut granted = 0;
        let mut saw_paths_locked = false;
        for step in 0..90 {
            let w = &workers[d.below(workers.len() as u64) as usize];
            let p = preview(&s, w).await;
            saw_paths_locked |= p.to_string().contains("paths_locked");
            let first = p["eligible"].as_array().unwrap().first().cloned();
            let looked = looked(&p);
            assert!(looked <= 50, "the preview looked at {looked} tasks");
            let claim = s.claim(w).await;
            match (&first, claim.status) {
                (Some(want), 200) => {
                    let got = &claim.json["lease"]["task"]["task_id"];
                    assert_eq!(got, want, "seed {seed} step {step}: preview {p}");
                }
                (None, 204) => {}
                // Past the 50 tasks a preview looks at, the claim may find one further down.
                (None, 200) if looked == 50 => {
                    let got = &claim.json["lease"]["task"]["task_id"];
                    assert!(
                        !p.to_string().contains(got.as_str().unwrap()),
                        "seed {seed} step {step}: the claim granted {got}, which the preview refused: {p}"
                    );
                }
                (_, status) => panic!(
                    "seed {seed} step {step}: the preview said {first:?}, the claim answered {status}: {} — preview {p}",
                    claim.text
                ),
            }
            if claim.status != 200 {
                continue;
            }
            granted += 1;
            let lease = &claim.json["lease"];
            let (lease_id, task_id) = (
                str_field(lease, "lease_id"),
                str_field(&lease["task"], "task_id"),
            );
            match d.below(10) {
                0..=3 => {
                    s.nack(w, &lease_id).await.expect(200);
                }
                4..=8 => {
                    s.ack(w, &lease_id).await.expect(200);
                    s.open_pr(w, &task_id).await;
                    open_prs.push((w.clone(), task_id));
                }
                _ => {}
            }
            if d.chance(50) && !open_prs.is_empty() {
                let (_, task) = open_prs.remove(d.below(open_prs.len() as u64) as usize);
                s.admin_set_status(&task, "merged").await.expect(200);
            }
        }
        assert!(granted >= 8, "seed {seed}: only {granted} claims granted");
        assert!(saw_paths_locked, "seed {seed}: no preview met a path lock");
    }
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_agrees_with_the_claim_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("owp.db");
    let s = Server::start_on_sqlite(&path).await;
    let url = format!("sqlite://{}", path.display());
    the_preview_agrees_with_the_claim(s, url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_agrees_with_the_claim_on_postgres() {
    let test = "the_preview_agrees_with_the_claim_on_postgres";
    if !crate::services::postgres_enabled(test) {
        return;
    }
    let s = Server::start_preferring_postgres(&[]).await;
    let TestDatabase::Postgres { url, .. } = &s.database else {
        panic!("the harness did not pick PostgreSQL");
    };
    let url = url.clone();
    the_preview_agrees_with_the_claim(s, url).await;
}

#[tokio::test]
async fn owp_worker_why_prints_every_reason_in_plain_lines() {
    let s = Server::start().await;
    public_repo(&s, "why/cli", 5, false).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let config = config.to_str().unwrap();
    let server = s.url("");
    let server = server.trim_end_matches('/');
    let env = [("OWP_SERVER", server), ("OWP_CONFIG_DIR", config)];
    let (ok, text) = support::run_owp(
        dir.path(),
        &[
            "worker",
            "register",
            "--name",
            "cli",
            "--skills",
            "rust",
            "--capacity",
            "2",
        ],
        &env,
    )
    .await;
    assert!(ok, "{text}");
    let (ok, text) = support::run_owp(dir.path(), &["worker", "why"], &env).await;
    assert!(ok, "{text}");
    assert_eq!(text.trim(), "no task is ready in this pool now");
    s.import_ids(
        "why/cli",
        json!([
            {"key": "PY-1", "title": "python", "required_skills": ["python"], "estimate_points": 3},
            {"key": "RS-1", "title": "rust", "required_skills": ["rust"]},
            {"key": "HI-1", "title": "risky", "tier": 2},
        ]),
    )
    .await;
    let (ok, text) = support::run_owp(dir.path(), &["worker", "why"], &env).await;
    assert!(ok, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("1 ready task would be offered to you now; the next claim takes t_"),
        "{text}"
    );
    assert!(lines[1].starts_with("PY-1 (t_"), "{text}");
    assert_eq!(
        &lines[2..],
        [
            "  rule 3: the task needs skills you have not declared: python",
            "  rule 4: capacity full: 0 of 2 points in use and this task needs 3",
            "1 more ready task not shown: in a private repository, or above your trust level",
        ],
        "{text}"
    );
    let (ok, json_text) = support::run_owp(dir.path(), &["worker", "why", "--json"], &env).await;
    assert!(ok, "{json_text}");
    let p: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(p["refused"][0]["reasons"][1]["code"], "capacity_exceeded");
    assert_eq!(p["refused"][1], json!({"hidden": 1}));
    assert!(!json_text.contains("HI-1"), "{json_text}");
}

/// A trust-0 stranger asks for its preview in a pool that holds a private repository and tasks
/// above its trust: it learns only how many it may not see. No key or id of such a task appears,
/// and a reason that would name one (the task holding a path, the task waited on) says "another
/// task" instead.
#[tokio::test]
async fn the_preview_shows_a_stranger_nothing_of_private_or_higher_tier_tasks() {
    let s = Server::start().await;
    public_repo(&s, "open/app", 10, false).await;
    s.upsert_repo("secret/vault", 10, false).await;
    let (trusted_id, trusted) = s.register_worker("trusted", &["rust"], 10, 5).await;
    s.admin_update_worker(&trusted_id, json!({"trust_level": 3}))
        .await
        .expect(200);
    let holder = s
        .import_ids(
            "open/app",
            json!([{"key": "HOLD-9", "title": "rework auth", "tier": 3,
                    "paths": ["src/auth/**"]}]),
        )
        .await;
    let (_, task, _) = s.claim_ok(&trusted).await;
    assert_eq!(task, holder[0]);
    let higher = s
        .import_ids(
            "open/app",
            json!([{"key": "DEP-9", "title": "migrate the session store", "tier": 3}]),
        )
        .await;
    let seen = s
        .import_ids(
            "open/app",
            json!([
                {"key": "PUB-1", "title": "login", "paths": ["src/auth/login.rs"]},
                {"key": "PUB-2", "title": "after the store", "blocked_by": ["DEP-9"]},
            ]),
        )
        .await;
    let private = s
        .import_ids(
            "secret/vault",
            json!([
                {"key": "VAULT-1", "title": "rotate the root keys", "tier": 3},
                {"key": "VAULT-2", "title": "python tooling", "required_skills": ["python"]},
            ]),
        )
        .await;
    let (_, stranger) = s.register_worker("stranger", &["rust"], 10, 5).await;

    let p = preview(&s, &stranger).await;
    let text = p.to_string();
    for unseen in [&holder[0], &higher[0], &private[0], &private[1]] {
        assert!(!text.contains(unseen.as_str()), "{unseen} shown: {p}");
    }
    for key in ["HOLD-9", "DEP-9", "VAULT", "src/auth/**", "vault"] {
        assert!(!text.contains(key), "{key} shown: {p}");
    }
    assert_eq!(reasons(&p, &seen[0]), pairs(&[(10, "paths_locked")]));
    assert_eq!(reasons(&p, &seen[1]), pairs(&[(8, "task_waiting")]));
    let detail = |id: &str| {
        p["refused"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["task_id"] == id)
            .map(|r| str_field(&r["reasons"][0], "detail"))
            .unwrap()
    };
    assert!(
        detail(&seen[0]).contains("another task is changing src/auth/login.rs"),
        "{p}"
    );
    assert!(detail(&seen[1]).contains("waiting on another task"), "{p}");
    // The three it may not see, counted in one last element.
    assert_eq!(
        p["refused"].as_array().unwrap().last(),
        Some(&json!({"hidden": 3})),
        "{p}"
    );
    assert_eq!(looked(&p), 5, "{p}");

    // The trusted worker sees the public tasks within its trust, with their names.
    let p = preview(&s, &trusted).await;
    let text = p.to_string();
    assert!(text.contains(&higher[0]), "{p}");
    assert!(
        !text.contains("VAULT"),
        "a private repository's refused task: {p}"
    );
}

/// Contract section 13: no reason names another task that the worker could not see, on every
/// read a worker has of its task (its lease, `GET /v1/tasks/{id}`, a lease move's answer), as
/// the preview decides it. A trust-0 worker holds a task of a public repository that a tier-5
/// task blocked: that blocker is "another task"; the blocker it may see keeps its key, and the
/// admin still reads both.
#[tokio::test]
async fn a_workers_own_task_names_no_blocker_it_could_not_see() {
    let s = Server::start().await;
    public_repo(&s, "acme/open", 10, false).await;
    let tasks = s
        .import(
            "acme/open",
            json!([
                {"key": "SECRET", "title": "tier five", "tier": 5},
                {"key": "PLAIN", "title": "tier zero"},
                {"key": "MINE", "title": "after both", "blocked_by": ["SECRET", "PLAIN"]}
            ]),
        )
        .await;
    let id = |i: usize| str_field(&tasks[i], "task_id");
    for blocker in [id(0), id(1)] {
        s.admin_set_status(&blocker, "cancelled").await.expect(200);
    }
    let (_, token) = s.register_worker("low", &[], 10, 1).await;
    let shown = json!(["another task", "PLAIN"]);

    let (lease_id, got, lease) = s.claim_ok(&token).await;
    assert_eq!(got, id(2));
    assert_eq!(lease["task"]["blocked_by"], shown, "the lease: {lease}");
    let read = s
        .worker_get(&token, &format!("/v1/tasks/{got}"))
        .await
        .expect(200);
    assert_eq!(read["blocked_by"], shown, "GET /v1/tasks/{{id}}");
    let acked = s
        .worker_post(&token, &format!("/v1/leases/{lease_id}/ack"), json!({}))
        .await
        .expect(200);
    assert_eq!(acked["blocked_by"], shown, "the ack's answer");
    let given_back = s.nack(&token, &lease_id).await.expect(200);
    assert_eq!(given_back["blocked_by"], shown, "the nack's answer");
    for body in [&lease, &read, &acked, &given_back].map(Value::to_string) {
        assert!(!body.contains("SECRET"), "{body}");
        assert!(!body.contains(&id(0)), "{body}");
    }
    // The admin reads every blocker by its key.
    assert_eq!(
        s.task(&id(2)).await["blocked_by"],
        json!(["SECRET", "PLAIN"])
    );
}

/// The same for `waiting_on_paths`: the task a worker gives back waits on the paths of a tier-5
/// task in review, which the nack's answer names only as "another task".
#[tokio::test]
async fn a_given_back_task_names_no_path_holder_it_could_not_see() {
    let s = Server::start().await;
    public_repo(&s, "acme/paths", 10, false).await;
    let tasks = s
        .import(
            "acme/paths",
            json!([
                {"key": "HIGH", "title": "tier five", "tier": 5, "paths": ["src/core/**"]},
                {"key": "LOW", "title": "tier zero", "paths": ["src/core/io/**"]}
            ]),
        )
        .await;
    let (high, low) = (
        str_field(&tasks[0], "task_id"),
        str_field(&tasks[1], "task_id"),
    );
    let (_, token) = s.register_worker("low", &[], 10, 1).await;
    let (lease_id, got, _) = s.claim_ok(&token).await;
    assert_eq!(got, low);
    // The tier-5 task goes into flight beside it (a maintainer's move); the worker gives its
    // own back, and the answer says what it waits on.
    s.admin_set_status(&high, "pr_opened").await.expect(200);
    let given_back = s.nack(&token, &lease_id).await.expect(200);
    assert_eq!(given_back["status"], "ready");
    assert_eq!(given_back["waiting_on_paths"], json!(["another task"]));
    assert!(!given_back.to_string().contains("HIGH"), "{given_back}");
    // The admin reads the holder by its key.
    assert_eq!(s.task(&low).await["waiting_on_paths"], json!(["HIGH"]));
}
