//! Reputation, trust progression and the leaderboard over HTTP (contract section 7): opt-in,
//! counts from outcomes, promotion rules enforced by every claim (also under racing claims), and
//! the leaderboard's opt-in and privacy rules.

use crate::support;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

async fn register(server: &Server, name: &str, extra: Value) -> (String, String) {
    let mut body = json!({"name": name, "skills": [], "capacity_points": 100,
        "max_concurrent_tasks": 20});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = server.register(body).await.expect(201);
    (
        r["worker_id"].as_str().unwrap().to_string(),
        r["token"].as_str().unwrap().to_string(),
    )
}

async fn repo(server: &Server, name: &str, visibility: &str, extra: Value) {
    let mut body = json!({"repo": name, "max_open_prs": 100, "visibility": visibility});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = server.admin_post("/v1/admin/repos", body).await;
    assert!(r.status == 200 || r.status == 201, "{}", r.describe());
}

/// `token` claims the one task there is to claim, opens its pull request, and a maintainer
/// merges it.
async fn do_one(server: &Server, token: &str) -> String {
    let (lease_id, task_id, _) = server.claim_ok(token).await;
    server.ack(token, &lease_id).await.expect(200);
    server.open_pr(token, &task_id).await;
    server.merge(token, &task_id).await;
    task_id
}

async fn me(server: &Server, token: &str) -> Value {
    server.worker_get(token, "/v1/workers/me").await.expect(200)["worker"].clone()
}

#[tokio::test]
async fn reputation_is_counted_from_outcomes_and_shown_to_workers_that_opted_in() {
    let server = Server::start().await;
    // A clone URL: a nack where there is none is the maintainers' gap and does not count (see
    // the last test).
    repo(
        &server,
        "rep/one",
        "private",
        json!({"clone_url": "https://git.example/rep/one.git"}),
    )
    .await;
    let (_, token) = register(&server, "ada", json!({})).await;
    let worker = me(&server, &token).await;
    assert_eq!(worker["reputation_opt_in"], false);
    assert_eq!(worker["leaderboard_opt_in"], false);
    assert_eq!(worker["reputation"], Value::Null, "not opted in: not shown");

    server
        .import(
            "rep/one",
            json!([{"key": "a", "title": "A", "estimate_points": 3}]),
        )
        .await;
    do_one(&server, &token).await;
    server
        .import(
            "rep/one",
            json!([{"key": "b", "title": "B", "estimate_points": 1}]),
        )
        .await;
    let (lease_id, _, _) = server.claim_ok(&token).await;
    server.nack(&token, &lease_id).await.expect(200);

    // Bad settings are refused with the field named; nothing changes.
    let r = server
        .worker_post(
            &token,
            "/v1/workers/me",
            json!({"reputation_opt_in": "yes"}),
        )
        .await;
    r.expect_problem(422);
    let r = server
        .worker_post(&token, "/v1/workers/me", json!({"reputation": true}))
        .await;
    r.expect_problem(422);
    assert_eq!(me(&server, &token).await["reputation_opt_in"], false);

    let r = server
        .worker_post(&token, "/v1/workers/me", json!({"reputation_opt_in": true}))
        .await
        .expect(200);
    assert_eq!(r["worker"]["reputation_opt_in"], true);
    assert_eq!(r["worker"]["leaderboard_opt_in"], false);
    assert_eq!(
        r["worker"]["reputation"],
        json!({"merged": 1, "closed_unmerged": 0, "expired": 0, "nacked": 1, "score": 9})
    );
    // The admin sees it as well.
    let w = server
        .worker(r["worker"]["worker_id"].as_str().unwrap())
        .await;
    assert_eq!(w["reputation"]["merged"], 1);

    // A worker registered opted in.
    let (_, t2) = register(
        &server,
        "bob",
        json!({"reputation_opt_in": true, "leaderboard_opt_in": true}),
    )
    .await;
    let w = me(&server, &t2).await;
    assert_eq!(w["leaderboard_opt_in"], true);
    assert_eq!(w["reputation"]["score"], 0);
}

#[tokio::test]
async fn promote_rules_are_validated_and_let_an_opted_in_worker_claim_higher_tiers() {
    let server = Server::start().await;
    for bad in [
        json!([{"level": 0, "merged": 3}]),
        json!([{"level": 1, "merged": 0}]),
        json!([{"level": 1, "merged": 3}, {"level": 1, "merged": 5}]),
        json!([{"level": 1, "merged": 3, "extra": 1}]),
        Value::Array((1..=11).map(|l| json!({"level": l, "merged": l})).collect()),
    ] {
        let r = server
            .admin_post(
                "/v1/admin/repos",
                json!({"repo": "rep/bad", "max_open_prs": 3, "promote": bad}),
            )
            .await;
        r.expect_problem(422);
    }
    let r = server
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "rep/up", "max_open_prs": 50,
                   "promote": [{"level": 2, "merged": 4}, {"level": 1, "merged": 2}]}),
        )
        .await;
    let policy = r.expect(201);
    assert_eq!(
        policy["promote"],
        json!([{"level": 1, "merged": 2}, {"level": 2, "merged": 4}])
    );

    let (_, token) = register(&server, "ada", json!({"reputation_opt_in": true})).await;
    let (_, other) = register(&server, "eve", json!({})).await;
    server
        .import(
            "rep/up",
            json!([{"key": "risky", "title": "Risky", "estimate_points": 1, "tier": 1, "priority": "critical"}]),
        )
        .await;
    server.claim_none(&token).await;
    for key in ["one", "two"] {
        server
            .import(
                "rep/up",
                json!([{"key": key, "title": key, "estimate_points": 1}]),
            )
            .await;
        // Tier 0 comes first for ada until she has earned tier 1.
        let task_id = do_one(&server, &token).await;
        assert_eq!(server.task(&task_id).await["key"], key);
    }
    // Two merges: tier 1 is hers in this repository, not for a worker that did not opt in.
    server.claim_none(&other).await;
    let (_, task_id, _) = server.claim_ok(&token).await;
    assert_eq!(server.task(&task_id).await["key"], "risky");
    // An admin's trust level still counts on its own.
    server
        .import(
            "rep/up",
            json!([{"key": "risky2", "title": "Risky 2", "estimate_points": 1, "tier": 1}]),
        )
        .await;
    let eve_id = me(&server, &other).await["worker_id"].clone();
    server
        .admin_update_worker(eve_id.as_str().unwrap(), json!({"trust_level": 1}))
        .await
        .expect(200);
    let (_, task_id, _) = server.claim_ok(&other).await;
    assert_eq!(server.task(&task_id).await["key"], "risky2");
}

/// Racing claims at the edge of a promotion: a worker one merge short of trust 1 fires many
/// claims at once at a queue of tier-1 tasks and gets none; after the merge that promotes it,
/// racing claims take tier-1 tasks up to its own limits and never a tier-2 one.
#[tokio::test]
async fn racing_claims_at_the_edge_of_a_promotion_never_pass_the_effective_trust() {
    let server = Server::start().await;
    repo(
        &server,
        "rep/race",
        "private",
        json!({"promote": [{"level": 1, "merged": 2}]}),
    )
    .await;
    let mut workers = Vec::new();
    for i in 0..4 {
        let (id, token) = register(
            &server,
            &format!("racer-{i}"),
            json!({"reputation_opt_in": true, "max_concurrent_tasks": 6}),
        )
        .await;
        workers.push((id, token));
    }
    // Everyone merges one task: one short of the promotion.
    for (_, token) in &workers {
        server
            .import(
                "rep/race",
                json!([{"key": format!("warmup-{token}"), "title": "warm-up", "estimate_points": 1}]),
            )
            .await;
        do_one(&server, token).await;
    }
    let risky: Vec<Value> = (0..20)
        .map(|i| json!({"key": format!("risky-{i}"), "title": "risky", "estimate_points": 1, "tier": 1}))
        .chain((0..5).map(|i| json!({"key": format!("riskier-{i}"), "title": "riskier", "estimate_points": 1, "tier": 2})))
        .collect();
    server.import("rep/race", Value::Array(risky)).await;

    let claims = workers
        .iter()
        .flat_map(|(_, token)| std::iter::repeat_n(token, 6))
        .map(|token| server.claim(token));
    for r in join_all(claims).await {
        assert_eq!(r.status, 204, "nobody has trust 1 yet: {}", r.describe());
    }

    // The first worker merges once more (its last tier-0 task), while everyone races again.
    server
        .import(
            "rep/race",
            json!([{"key": "promotion", "title": "the promoting one", "estimate_points": 1, "priority": "critical"}]),
        )
        .await;
    let (first_id, first_token) = workers[0].clone();
    let (lease_id, task_id, _) = server.claim_ok(&first_token).await;
    server.ack(&first_token, &lease_id).await.expect(200);
    server.open_pr(&first_token, &task_id).await;
    let merge = async {
        server
            .admin_set_status(&task_id, "merged")
            .await
            .expect(200);
    };
    let claims = workers
        .iter()
        .flat_map(|(_, token)| std::iter::repeat_n(token, 6))
        .map(|token| server.claim(token));
    let (_, answers) = tokio::join!(merge, join_all(claims));
    for r in &answers {
        assert!(r.status == 200 || r.status == 204, "{}", r.describe());
    }
    // And once more after the merge, so the promoted worker fills up.
    let more = (0..6).map(|_| server.claim(&first_token));
    join_all(more).await;

    let state = server.state().await;
    let mut taken_by_first = 0;
    for t in state["tasks"].as_array().unwrap() {
        let key = t["key"].as_str().unwrap_or_default();
        let holder = t["assigned_worker_id"].as_str();
        if key.starts_with("riskier-") {
            assert_eq!(holder, None, "a tier-2 task was taken: {t}");
        }
        if key.starts_with("risky-") && t["status"] != "ready" {
            assert_eq!(
                holder,
                Some(first_id.as_str()),
                "only the promoted worker: {t}"
            );
            taken_by_first += 1;
        }
    }
    // The promoted worker holds at most its limit, and did get tier-1 work.
    assert!(
        (1..=6).contains(&taken_by_first),
        "promoted worker holds {taken_by_first}"
    );
}

async fn leaderboard(server: &Server, query: &str, admin: bool) -> support::Resp {
    let req = server.req(Method::GET, &format!("/v1/leaderboard{query}"));
    let req = if admin { req.admin(server) } else { req };
    req.send().await
}

#[tokio::test]
async fn the_leaderboard_lists_only_opted_in_workers_and_never_a_private_repository_anonymously() {
    let server = Server::start_with_env(&[("OWP_PUBLIC_BOARDS", "true")]).await;
    repo(&server, "acme/open", "public", json!({})).await;
    repo(&server, "acme/secret-plans", "private", json!({})).await;
    let (_, ada) = register(&server, "ada", json!({"leaderboard_opt_in": true})).await;
    let (_, bob) = register(&server, "bob-hidden", json!({})).await;
    for (token, repo_name, n) in [
        (&ada, "acme/open", 1),
        (&ada, "acme/secret-plans", 2),
        (&bob, "acme/open", 2),
    ] {
        for i in 0..n {
            server
                .import(
                    repo_name,
                    json!([{"key": format!("{token}-{i}"), "title": "t", "estimate_points": 2}]),
                )
                .await;
            do_one(&server, token).await;
        }
    }

    // Anonymous: public repositories only, opted-in workers only.
    let r = leaderboard(&server, "", false).await;
    let body = r.expect(200);
    assert_eq!(
        body,
        json!({"workers": [{"name": "ada", "github_login": null, "merged": 1, "points": 2, "tools": []}]})
    );
    assert!(!r.text.contains("bob-hidden"));
    let r = leaderboard(&server, "?repo=acme/secret-plans", false).await;
    assert_eq!(r.expect(200), json!({"workers": []}), "{}", r.text);
    let r = leaderboard(&server, "?repo=acme/open&days=7", false).await;
    assert_eq!(r.expect(200)["workers"][0]["merged"], 1);

    // The admin sees every repository (still only opted-in workers).
    let body = leaderboard(&server, "", true).await.expect(200);
    assert_eq!(
        body,
        json!({"workers": [{"name": "ada", "github_login": null, "merged": 3, "points": 6, "tools": []}]})
    );
    let body = leaderboard(&server, "?repo=acme/secret-plans", true)
        .await
        .expect(200);
    assert_eq!(body["workers"][0]["merged"], 2);

    // `owp leaderboard`, with and without the admin token.
    let owp = |admin: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_owp"));
        cmd.args(["leaderboard", "--server", &server.base])
            .env_remove("OWP_ADMIN_TOKEN")
            .env_remove("OWP_SERVER");
        if admin {
            cmd.args(["--admin-token", &server.admin_token]);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let text = owp(true);
    assert!(text.contains("ada") && text.contains('3'), "{text}");
    assert!(!text.contains("bob-hidden"), "{text}");
    let text = owp(false);
    assert!(text.contains("ada") && !text.contains('3'), "{text}");

    // Bad parameters are problems, never a 500.
    for q in ["?days=0", "?days=100000", "?days=-1"] {
        leaderboard(&server, q, false).await.expect_problem(422);
    }
    leaderboard(&server, "?days=abc", false)
        .await
        .expect_problem_in(&[400, 422]);
    let long = "x".repeat(300);
    leaderboard(&server, &format!("?repo={long}"), false)
        .await
        .expect_problem(422);
}

#[tokio::test]
async fn without_public_boards_the_leaderboard_is_for_admins_only() {
    let server = Server::start().await;
    leaderboard(&server, "", false).await.expect_problem(401);
    let (_, token) = register(&server, "ada", json!({"leaderboard_opt_in": true})).await;
    server
        .req(Method::GET, "/v1/leaderboard")
        .bearer(&token)
        .send()
        .await
        .expect_problem(401);
    assert_eq!(
        leaderboard(&server, "", true).await.expect(200),
        json!({"workers": []})
    );
}

/// A worker that gives back a task whose repository has no clone URL (the agent hand-off has
/// nothing to clone: the maintainers' gap) is not counted as having nacked it. The pool decides
/// from the repository at the moment of the nack, never from the worker's reason: the same reason
/// in a repository that has a clone URL counts, and so does a nack after a maintainer set one.
#[tokio::test]
async fn a_nack_of_a_task_whose_repository_has_no_clone_url_does_not_count() {
    let server = Server::start().await;
    repo(&server, "gap/none", "private", json!({})).await;
    repo(
        &server,
        "gap/some",
        "private",
        json!({"clone_url": "https://git.example/gap/some.git"}),
    )
    .await;
    let (_, token) = register(&server, "ada", json!({"reputation_opt_in": true})).await;
    let reason = json!({"reason": "not attempted: the repository has no clone URL; a maintainer sets one with `owp admin init-repo`"});
    let give_back = async |repo: &str, key: &str| {
        server
            .import(
                repo,
                json!([{"key": key, "title": key, "estimate_points": 1}]),
            )
            .await;
        let (lease_id, task_id, _) = server.claim_ok(&token).await;
        assert_eq!(server.task(&task_id).await["repo"], repo);
        server
            .worker_post(
                &token,
                &format!("/v1/leases/{lease_id}/nack"),
                reason.clone(),
            )
            .await
            .expect(200);
        me(&server, &token).await["reputation"]["nacked"].clone()
    };

    assert_eq!(give_back("gap/none", "a").await, 0, "the maintainers' gap");
    // The hour without the task (rule 1) still holds.
    server.claim_none(&token).await;
    assert_eq!(
        give_back("gap/some", "b").await,
        1,
        "the same words elsewhere count"
    );
    repo(
        &server,
        "gap/none",
        "private",
        json!({"clone_url": "https://git.example/gap/none.git"}),
    )
    .await;
    assert_eq!(give_back("gap/none", "c").await, 2, "the gap is closed now");
}
