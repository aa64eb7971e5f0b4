//! Plan first (contract section 12, rule 11 `approval_required`): in a repository that takes
//! plans first, a worker below the skip level proposes a plan; a maintainer approves one, which
//! is the proposer's claim, checked by every other rule in the same transaction.

use crate::support;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::AnyPool;
use support::{Resp, Server, TestDatabase, str_field};

/// A public repository that takes plans first; workers of trust `skip` and above claim directly.
async fn plan_repo(s: &Server, repo: &str, max_open_prs: i64, skip: Option<i64>) -> Value {
    let r = s
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": repo, "max_open_prs": max_open_prs, "visibility": "public",
                   "approval": "plan", "approval_skip_trust": skip}),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.describe());
    r.json
}

async fn propose(s: &Server, token: &str, task: &str, plan: &str) -> Resp {
    // A busy database (503, retry shortly) is asked again, as a client does.
    for _ in 0..10 {
        let r = s
            .worker_post(
                token,
                &format!("/v1/tasks/{task}/proposals"),
                json!({"plan": plan}),
            )
            .await;
        if r.status != 503 {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("the database stayed busy");
}

async fn proposal_id(s: &Server, token: &str, task: &str) -> String {
    let p = propose(s, token, task, "Fix it with a small, tested change.")
        .await
        .expect(201);
    str_field(&p, "proposal_id")
}

async fn approve(s: &Server, id: &str) -> Resp {
    for _ in 0..10 {
        let r = s
            .admin_post(&format!("/v1/admin/proposals/{id}/approve"), json!({}))
            .await;
        if r.status != 503 {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("the database stayed busy");
}

/// The states of the task's proposals as the admin sees them, by proposal id.
async fn states(s: &Server, task: &str) -> Vec<(String, String)> {
    let list = s
        .admin_get(&format!("/v1/tasks/{task}/proposals"))
        .await
        .expect(200);
    list["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (str_field(p, "proposal_id"), str_field(p, "state")))
        .collect()
}

fn state_of(states: &[(String, String)], id: &str) -> String {
    states
        .iter()
        .find(|(p, _)| p == id)
        .map(|(_, s)| s.clone())
        .unwrap_or_else(|| panic!("{id} not listed: {states:?}"))
}

fn ts(v: &Value, field: &str) -> DateTime<Utc> {
    str_field(v, field).parse().unwrap()
}

fn db_url(s: &Server) -> String {
    match &s.database {
        TestDatabase::Sqlite(path) => format!("sqlite://{}", path.display()),
        TestDatabase::Postgres { url, .. } => url.clone(),
    }
}

/// The preview's codes for `task`, or `None` when it is eligible.
async fn preview_codes(s: &Server, token: &str, task: &str) -> Option<Vec<(i64, String)>> {
    let p = s.worker_get(token, "/v1/work/preview").await.expect(200);
    if p["eligible"].as_array().unwrap().iter().any(|t| t == task) {
        return None;
    }
    let refused = p["refused"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["task_id"] == task)
        .unwrap_or_else(|| panic!("{task} is neither eligible nor refused: {p}"));
    Some(
        refused["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["rule"].as_i64().unwrap(), str_field(r, "code")))
            .collect(),
    )
}

#[tokio::test]
async fn a_plan_first_repository_takes_proposals_and_an_approval_is_the_claim() {
    let s = Server::start().await;
    let policy = plan_repo(&s, "plan/story", 10, None).await;
    assert_eq!(policy["approval"], "plan", "{policy}");
    assert_eq!(policy["approval_skip_trust"], Value::Null, "{policy}");
    assert_eq!(policy["proposal_days"], 7, "{policy}");
    let tasks = s
        .import_ids(
            "plan/story",
            json!([{"title": "zero"}, {"title": "one"}, {"title": "two"}, {"title": "three"}]),
        )
        .await;
    let mut workers = Vec::new();
    for i in 0..6 {
        workers.push(s.register_worker(&format!("w{i}"), &[], 10, 5).await);
    }
    let token = |i: usize| workers[i].1.as_str();

    // Nobody claims directly: the claim grants nothing, and the preview says why.
    s.claim_none(token(0)).await;
    assert_eq!(
        preview_codes(&s, token(0), &tasks[0]).await,
        Some(vec![(11, "approval_required".to_string())])
    );

    // A plan is at most 4,000 characters.
    let long = propose(&s, token(0), &tasks[0], &"x".repeat(4_001)).await;
    assert_eq!(long.expect_problem(422), "field_too_long");
    assert!(
        long.json["detail"].as_str().unwrap().contains("plan"),
        "{}",
        long.describe()
    );
    assert_eq!(
        propose(&s, token(0), &tasks[0], " ")
            .await
            .expect_problem(422),
        "invalid_plan"
    );

    let before = Utc::now();
    let first = propose(&s, token(0), &tasks[0], "Add a test, then fix the parser.")
        .await
        .expect(201);
    assert_eq!(first["state"], "open");
    assert_eq!(first["task_id"], tasks[0].as_str());
    assert_eq!(first["worker_id"], workers[0].0.as_str());
    assert_eq!(first["plan"], "Add a test, then fix the parser.");
    assert!(
        first.get("login").is_none() && first.get("scorecard").is_none(),
        "{first}"
    );
    let days = (ts(&first, "expires_at") - ts(&first, "created_at")).num_days();
    assert_eq!(days, 7);
    assert!(ts(&first, "created_at") >= before - chrono::Duration::seconds(1));
    let first_id = str_field(&first, "proposal_id");
    assert_eq!(
        propose(&s, token(0), &tasks[0], "again")
            .await
            .expect_problem(409),
        "already_proposed"
    );

    // Three open proposals of one worker across the pool.
    let on_one = proposal_id(&s, token(0), &tasks[1]).await;
    let on_two = proposal_id(&s, token(0), &tasks[2]).await;
    assert_eq!(
        propose(&s, token(0), &tasks[3], "a fourth")
            .await
            .expect_problem(409),
        "too_many_proposals"
    );
    // Five open proposals of one task.
    let mut others = Vec::new();
    for i in 1..5 {
        others.push(proposal_id(&s, token(i), &tasks[0]).await);
    }
    assert_eq!(
        propose(&s, token(5), &tasks[0], "a sixth")
            .await
            .expect_problem(409),
        "too_many_proposals"
    );

    // A worker sees its own; the admin sees all, each with its scorecard.
    let mine = s
        .worker_get(token(1), &format!("/v1/tasks/{}/proposals", tasks[0]))
        .await
        .expect(200);
    let mine = mine["proposals"].as_array().unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["proposal_id"], others[0].as_str());
    assert!(mine[0].get("scorecard").is_none());
    let all = s
        .admin_get(&format!("/v1/tasks/{}/proposals", tasks[0]))
        .await
        .expect(200);
    let all = all["proposals"].as_array().unwrap();
    assert_eq!(all.len(), 5);
    let card = &all[0]["scorecard"];
    let mut keys: Vec<&str> = card
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "acceptance_rate_here",
            "account_age_days",
            "merged_here",
            "merged_pool",
            "open_holds",
            "tools",
            "vouched"
        ]
    );
    assert_eq!(card["merged_here"], 0);
    assert_eq!(card["acceptance_rate_here"], Value::Null);
    assert_eq!(card["vouched"], false);
    assert_eq!(card["tools"], json!([]));

    // Withdrawn by its worker only; declined by a maintainer.
    let path = format!("/v1/proposals/{}", others[1]);
    let theirs = s.req(Method::DELETE, &path).bearer(token(1)).send().await;
    assert_eq!(theirs.expect_problem(404), "proposal_not_found");
    let withdrawn = s
        .req(Method::DELETE, &path)
        .bearer(token(2))
        .send()
        .await
        .expect(200);
    assert_eq!(withdrawn["state"], "withdrawn");
    let again = s.req(Method::DELETE, &path).bearer(token(2)).send().await;
    assert_eq!(again.expect_problem(409), "proposal_not_open");
    let declined = s
        .admin_post(
            &format!("/v1/admin/proposals/{}/decline", others[2]),
            json!({"reason": "too broad"}),
        )
        .await
        .expect(200);
    assert_eq!(declined["state"], "declined");

    // The approval: the proposer holds the task, with a day to acknowledge it.
    let approved = approve(&s, &first_id).await.expect(200);
    assert_eq!(approved["proposal"]["state"], "approved");
    let lease = &approved["lease"];
    assert_eq!(lease["task"]["task_id"], tasks[0].as_str());
    let window = ts(lease, "accept_by") - Utc::now();
    assert!(
        window > chrono::Duration::hours(23) && window <= chrono::Duration::hours(24),
        "{lease}"
    );
    assert_eq!(s.task(&tasks[0]).await["status"], "leased");
    let after = states(&s, &tasks[0]).await;
    assert_eq!(state_of(&after, &first_id), "approved");
    assert_eq!(state_of(&after, &others[0]), "not_chosen");
    assert_eq!(state_of(&after, &others[1]), "withdrawn");
    assert_eq!(state_of(&after, &others[2]), "declined");
    assert_eq!(state_of(&after, &others[3]), "not_chosen");
    assert_eq!(
        approve(&s, &others[0]).await.expect_problem(409),
        "proposal_not_open"
    );
    // The lease is a lease like any other: the holder acknowledges it.
    s.ack(token(0), lease["lease_id"].as_str().unwrap())
        .await
        .expect(200);

    // A task that leaves `ready` ends its open proposals.
    s.admin_set_status(&tasks[1], "cancelled").await.expect(200);
    assert_eq!(state_of(&states(&s, &tasks[1]).await, &on_one), "expired");
    // ... which frees the worker's room for another.
    let on_three = proposal_id(&s, token(0), &tasks[3]).await;

    // A proposal past its days is expired, and counts no more.
    sqlx::any::install_default_drivers();
    let db = AnyPool::connect(&db_url(&s)).await.unwrap();
    sqlx::query("UPDATE proposals SET expires_at = 1 WHERE worker_id = $1 AND state = 'open'")
        .bind(&workers[0].0)
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    assert_eq!(state_of(&states(&s, &tasks[3]).await, &on_three), "expired");
    assert_eq!(state_of(&states(&s, &tasks[2]).await, &on_two), "expired");
    assert_eq!(
        approve(&s, &on_two).await.expect_problem(409),
        "proposal_not_open"
    );
    proposal_id(&s, token(0), &tasks[2]).await;

    // Every end is in the audit log (an expiry by the sweep, within moments).
    let wanted = [
        "proposal.opened",
        "proposal.approved",
        "proposal.not_chosen",
        "proposal.withdrawn",
        "proposal.declined",
        "proposal.expired",
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let state = s.admin_get("/v1/admin/state?events=500").await.expect(200);
        let kinds: Vec<String> = state["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| str_field(e, "kind"))
            .collect();
        let expired = kinds.iter().filter(|k| *k == "proposal.expired").count();
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|w| !kinds.iter().any(|k| k == w))
            .collect();
        // The cancelled task's, and the two past their days.
        if missing.is_empty() && expired == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "missing {missing:?}, {expired} expiries, in {kinds:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn trust_at_the_skip_level_claims_directly_and_an_approval_meets_every_other_rule() {
    let s = Server::start().await;
    plan_repo(&s, "plan/rules", 1, Some(2)).await;
    let tasks = s
        .import_ids("plan/rules", json!([{"title": "a"}, {"title": "b"}]))
        .await;
    let (trusted_id, trusted) = s.register_worker("trusted", &[], 10, 5).await;
    let (_, newcomer) = s.register_worker("newcomer", &[], 10, 5).await;
    s.admin_update_worker(&trusted_id, json!({"trust_level": 2}))
        .await
        .expect(200);

    // The newcomer proposes; the trusted worker claims directly and fills the budget.
    let id = proposal_id(&s, &newcomer, &tasks[1]).await;
    assert_eq!(
        propose(&s, &newcomer, "no-such-task", "x")
            .await
            .expect_problem(404),
        "task_not_found"
    );
    let (_, taken, _) = s.claim_ok(&trusted).await;
    assert_eq!(taken, tasks[0]);
    s.claim_none(&newcomer).await;
    assert_eq!(
        preview_codes(&s, &newcomer, &tasks[1]).await,
        Some(vec![
            (6, "review_budget_full".to_string()),
            (11, "approval_required".to_string())
        ])
    );

    // The approval is refused by the review budget, naming it; the proposal stays open.
    let refused = approve(&s, &id).await;
    assert_eq!(refused.expect_problem(409), "review_budget_full");
    assert!(
        refused.json["detail"].as_str().unwrap().contains("rule 6"),
        "{}",
        refused.describe()
    );
    assert_eq!(state_of(&states(&s, &tasks[1]).await, &id), "open");
    assert_eq!(s.task(&tasks[1]).await["status"], "ready");

    // A repository without plans first takes no proposals.
    s.upsert_repo("plan/none", 3, true).await;
    let plain = s.import_ids("plan/none", json!([{"title": "c"}])).await;
    assert_eq!(
        propose(&s, &newcomer, &plain[0], "x")
            .await
            .expect_problem(409),
        "approval_not_required"
    );
    // Out of range: refused, the policy unchanged.
    let bad = s
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "plan/rules", "max_open_prs": 1, "approval_skip_trust": 4}),
        )
        .await;
    assert_eq!(bad.expect_problem(422), "invalid_approval_skip_trust");
    let bad = s
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "plan/rules", "max_open_prs": 1, "proposal_days": 31}),
        )
        .await;
    assert_eq!(bad.expect_problem(422), "invalid_proposal_days");
    assert_eq!(s.repo("plan/rules").await["approval_skip_trust"], 2);
}

/// The lease an approval gives is what the proposer's next `POST /v1/work` returns, before any
/// other eligible task; once that lease ends without a pull request (given back, expired), the
/// approval is spent: the task needs a new plan from the same worker.
#[tokio::test]
async fn an_approved_lease_comes_first_and_is_spent_when_it_ends_without_a_pull_request() {
    // A short accept window for ordinary leases, so that every request looks for leases due.
    let s = Server::start_with_env(&[("OWP_ACCEPT_TTL_SECONDS", "5")]).await;
    plan_repo(&s, "plan/spent", 10, None).await;
    let tasks = s
        .import_ids("plan/spent", json!([{"title": "a"}, {"title": "b"}]))
        .await;
    s.upsert_repo("plain/first", 10, false).await;
    let plain = s
        .import_ids("plain/first", json!([{"title": "c", "priority": "high"}]))
        .await;
    let (worker_id, token) = s.register_worker("planner", &[], 10, 5).await;

    // Approved: the next claims return that lease, not the higher-priority task of the plain
    // repository, which would otherwise come first.
    let id = proposal_id(&s, &token, &tasks[0]).await;
    let approved = approve(&s, &id).await.expect(200);
    let lease_id = str_field(&approved["lease"], "lease_id");
    for _ in 0..2 {
        let (got, task, lease) = s.claim_ok(&token).await;
        assert_eq!(
            (got.as_str(), task.as_str()),
            (lease_id.as_str(), tasks[0].as_str())
        );
        assert_eq!(lease["task"]["status"], "leased", "{lease}");
        assert_eq!(
            lease["accept_by"], approved["lease"]["accept_by"],
            "{lease}"
        );
    }

    // Given back: the approval is spent. The hour after a nack refuses too (rule 1); without it
    // (the row removed), the plan rule alone still refuses.
    s.nack(&token, &lease_id).await.expect(200);
    let codes = preview_codes(&s, &token, &tasks[0]).await.unwrap();
    assert!(
        codes.contains(&(11, "approval_required".to_string())),
        "{codes:?}"
    );
    sqlx::any::install_default_drivers();
    let db = AnyPool::connect(&db_url(&s)).await.unwrap();
    sqlx::query("DELETE FROM nacks WHERE worker_id = $1")
        .bind(&worker_id)
        .execute(&db)
        .await
        .unwrap();
    let (plain_lease, first, _) = s.claim_ok(&token).await;
    assert_eq!(first, plain[0]);
    s.ack(&token, &plain_lease).await.expect(200);
    s.claim_none(&token).await;
    assert_eq!(
        preview_codes(&s, &token, &tasks[0]).await,
        Some(vec![(11, "approval_required".to_string())])
    );

    // Expired: spent as well.
    let id = proposal_id(&s, &token, &tasks[1]).await;
    let approved = approve(&s, &id).await.expect(200);
    let lease_id = str_field(&approved["lease"], "lease_id");
    sqlx::query("UPDATE leases SET accept_by = 1, deadline = 1 WHERE id = $1")
        .bind(&lease_id)
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    s.claim_none(&token).await;
    assert_eq!(s.task(&tasks[1]).await["status"], "ready");
    assert_eq!(
        preview_codes(&s, &token, &tasks[1]).await,
        Some(vec![(11, "approval_required".to_string())])
    );
    // A new proposal, approved, gives it again.
    let id = proposal_id(&s, &token, &tasks[1]).await;
    let again = approve(&s, &id).await.expect(200);
    let (got, _, _) = s.claim_ok(&token).await;
    assert_eq!(got, str_field(&again["lease"], "lease_id"));
}

/// Two approvals of two proposals of one task, through two server processes at once, while a
/// trusted worker claims: exactly one approval grants the task (the other proposal ended
/// `not_chosen`), and the review budget holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_approvals_grant_one_lease_and_keep_the_budget() {
    let a = Arc::new(Server::start_preferring_postgres(&[]).await);
    let b = Arc::new(a.start_sharing(&[]).await);
    plan_repo(&a, "plan/race", 3, Some(1)).await;
    const ROUNDS: usize = 6;
    let low: Vec<Value> = (0..ROUNDS)
        .map(|i| json!({"title": format!("planned {i}"), "priority": "low"}))
        .collect();
    let high: Vec<Value> = (0..ROUNDS)
        .map(|i| json!({"title": format!("direct {i}"), "priority": "high"}))
        .collect();
    let tasks = a.import_ids("plan/race", Value::Array(low)).await;
    let direct = a.import_ids("plan/race", Value::Array(high)).await;
    let mut proposers = Vec::new();
    for i in 0..ROUNDS * 2 {
        proposers.push(a.register_worker(&format!("p{i}"), &[], 10, 5).await.1);
    }
    let (trusted_id, trusted) = a.register_worker("trusted", &[], 100, 50).await;
    a.admin_update_worker(&trusted_id, json!({"trust_level": 1}))
        .await
        .expect(200);
    for round in 0..ROUNDS {
        let one = proposal_id(&a, &proposers[2 * round], &tasks[round]).await;
        let two = proposal_id(&a, &proposers[2 * round + 1], &tasks[round]).await;
        let (sa, sb, claimer) = (Arc::clone(&a), Arc::clone(&b), Arc::clone(&b));
        let (ids, token) = ((one.clone(), two.clone()), trusted.clone());
        let (ra, rb, rc) = tokio::join!(
            async move { approve(&sa, &ids.0).await },
            async move { approve(&sb, &ids.1).await },
            async move { claimer.claim(&token).await },
        );
        for r in [&ra, &rb] {
            assert!(r.status == 200 || r.status == 409, "{}", r.describe());
        }
        assert!(rc.status == 200 || rc.status == 204, "{}", rc.describe());
        let ok = [&ra, &rb].iter().filter(|r| r.status == 200).count();
        assert_eq!(
            ok,
            1,
            "round {round}: {} / {}",
            ra.describe(),
            rb.describe()
        );
        let ended = states(&a, &tasks[round]).await;
        let mut seen: Vec<String> = ended.iter().map(|(_, s)| s.clone()).collect();
        seen.sort();
        assert_eq!(seen, ["approved", "not_chosen"], "round {round}");
        assert_eq!(a.task(&tasks[round]).await["status"], "leased");
        let policy = a.repo("plan/race").await;
        let used = policy["open_prs"].as_i64().unwrap() + policy["active_leases"].as_i64().unwrap();
        assert!(used <= 3, "the budget broke: {policy}");
        // Room for the next round.
        for t in tasks.iter().chain(&direct) {
            if a.task(t).await["status"] == "leased" {
                a.admin_set_status(t, "cancelled").await.expect(200);
            }
        }
    }
}

/// The limits hold when proposals arrive together, through two server processes: at most 5
/// open on a task, at most 3 open of one worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_proposals_keep_the_limits() {
    let a = Arc::new(Server::start_preferring_postgres(&[]).await);
    let b = Arc::new(a.start_sharing(&[]).await);
    plan_repo(&a, "plan/crowd", 3, None).await;
    let titles: Vec<Value> = (0..7).map(|i| json!({"title": format!("t{i}")})).collect();
    let tasks = a.import_ids("plan/crowd", Value::Array(titles)).await;
    let mut tokens = Vec::new();
    for i in 0..9 {
        tokens.push(a.register_worker(&format!("w{i}"), &[], 10, 5).await.1);
    }
    // Nine workers on one task.
    let mut runs = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let s = Arc::clone(if i % 2 == 0 { &a } else { &b });
        let (token, task) = (token.clone(), tasks[0].clone());
        runs.push(tokio::spawn(async move {
            propose(&s, &token, &task, "a plan").await
        }));
    }
    let mut opened = 0;
    for run in runs {
        let r = run.await.unwrap();
        match r.status {
            201 => opened += 1,
            _ => assert_eq!(r.expect_problem(409), "too_many_proposals"),
        }
    }
    assert_eq!(opened, 5);
    // Another worker on six other tasks.
    let lone = a.register_worker("lone", &[], 10, 5).await.1;
    let mut runs = Vec::new();
    for (i, task) in tasks[1..].iter().enumerate() {
        let s = Arc::clone(if i % 2 == 0 { &a } else { &b });
        let (token, task) = (lone.clone(), task.clone());
        runs.push(tokio::spawn(async move {
            propose(&s, &token, &task, "a plan").await
        }));
    }
    let mut opened = 0;
    for run in runs {
        let r = run.await.unwrap();
        match r.status {
            201 => opened += 1,
            _ => assert_eq!(r.expect_problem(409), "too_many_proposals"),
        }
    }
    assert_eq!(opened, 3);
}

/// The lease an approval gives is returned first by the worker's next `POST /v1/work`, before
/// any other task it could take (here a more urgent one of another repository), and again until
/// it is acknowledged; a claim remembered as empty before the approval does not hide it.
#[tokio::test]
async fn an_approved_lease_is_returned_first_by_the_next_claim() {
    let s = Server::start().await;
    plan_repo(&s, "plan/first", 5, None).await;
    let planned = s
        .import_ids(
            "plan/first",
            json!([{"title": "planned", "priority": "low"}]),
        )
        .await;
    let (_, token) = s.register_worker("proposer", &[], 10, 5).await;
    let id = proposal_id(&s, &token, &planned[0]).await;
    // Nothing to claim yet: the empty answer is remembered.
    s.claim_none(&token).await;
    s.claim_none(&token).await;

    let approved = approve(&s, &id).await.expect(200);
    let lease_id = str_field(&approved["lease"], "lease_id");
    // A more urgent task the worker could claim directly, once the approved lease is taken up.
    s.upsert_repo("plan/open", 5, true).await;
    let urgent = s
        .import_ids(
            "plan/open",
            json!([{"title": "urgent", "priority": "critical"}]),
        )
        .await;

    for round in 0..2 {
        let (got_lease, got_task, lease) = s.claim_ok(&token).await;
        assert_eq!(got_task, planned[0], "round {round}: {lease}");
        assert_eq!(
            got_lease, lease_id,
            "round {round}: the approval's own lease"
        );
        assert_eq!(lease["accept_by"], approved["lease"]["accept_by"]);
        assert_eq!(lease["task"]["status"], "leased");
        // The lease's task says what the repository asks of the work (section 12, "Policy an
        // agent can read"), as the approval's answer did.
        let plans_first = json!({
            "approval": "plan", "approval_skip_trust": null, "proposal_days": 7,
            "verified_commits": "optional", "verified_commits_below_trust": null,
            "disclosure": "optional", "pull_requests": "ready"
        });
        assert_eq!(lease["task"]["policy"], plans_first, "round {round}");
        assert_eq!(approved["lease"]["task"]["policy"], plans_first);
    }
    assert_eq!(s.task(&urgent[0]).await["status"], "ready");
    // Acknowledged, it is held work like any other: the next claim takes a new task.
    s.ack(&token, &lease_id).await.expect(200);
    let held = s
        .worker_get(&token, &format!("/v1/tasks/{}", planned[0]))
        .await
        .expect(200);
    assert_eq!(held["policy"]["approval"], "plan", "{held}");
    let (_, next, lease) = s.claim_ok(&token).await;
    assert_eq!(next, urgent[0]);
    assert_eq!(lease["task"]["policy"]["approval"], "none", "{lease}");
    assert!(
        lease["task"]["policy"].get("proposal_days").is_none(),
        "{lease}"
    );
}

/// A worker may read a `ready` task it could propose for, to write its plan (its title,
/// description and policy), and nothing else it does not hold (contract section 13): not a
/// private repository's task, not one above its trust, not one of a repository that takes claims
/// directly, not one already taken.
#[tokio::test]
async fn a_worker_reads_the_task_it_would_plan_and_no_other() {
    let s = Server::start().await;
    plan_repo(&s, "acme/plans", 5, None).await;
    let private = s
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": "acme/secret", "max_open_prs": 5, "approval": "plan"}),
        )
        .await;
    assert!(
        private.status == 200 || private.status == 201,
        "{}",
        private.describe()
    );
    s.upsert_repo("acme/direct", 5, false).await;
    let ids = s
        .import_ids(
            "acme/plans",
            json!([
                {"key": "P-1", "title": "Plan the parser", "description": "It breaks on empty input."},
                {"key": "P-2", "title": "Risky", "description": "Above trust.", "tier": 2}
            ]),
        )
        .await;
    let secret = s
        .import_ids(
            "acme/secret",
            json!([{"title": "Secret", "description": "hush"}]),
        )
        .await
        .remove(0);
    let direct = s
        .import_ids("acme/direct", json!([{"title": "Direct"}]))
        .await
        .remove(0);
    let (_, token) = s.register_worker("planner", &[], 10, 2).await;

    let shown = s
        .worker_get(&token, &format!("/v1/tasks/{}", ids[0]))
        .await
        .expect(200);
    assert_eq!(shown["title"], "Plan the parser");
    assert_eq!(shown["description"], "It breaks on empty input.");
    assert_eq!(shown["status"], "ready");
    assert_eq!(shown["policy"]["approval"], "plan", "{shown}");
    assert!(shown["artifact"].is_null(), "{shown}");

    for task in [&ids[1], &secret, &direct] {
        let r = s.worker_get(&token, &format!("/v1/tasks/{task}")).await;
        assert_eq!(r.expect_problem(403), "not_lease_holder", "{task}");
        assert!(!r.text.contains("Above trust") && !r.text.contains("hush"));
    }
    // Given to another worker (its plan approved): no longer readable.
    let (_, other) = s.register_worker("other", &[], 10, 2).await;
    let id = proposal_id(&s, &other, &ids[0]).await;
    approve(&s, &id).await.expect(200);
    let r = s.worker_get(&token, &format!("/v1/tasks/{}", ids[0])).await;
    assert_eq!(r.expect_problem(403), "not_lease_holder");
    s.worker_get(&other, &format!("/v1/tasks/{}", ids[0]))
        .await
        .expect(200);
}

/// `owp worker why` on a task that wants a plan says how to propose one from the terminal or an
/// AI tool, not which HTTP route to call.
#[tokio::test]
async fn owp_worker_why_names_the_ways_to_propose_a_plan() {
    let s = Server::start().await;
    plan_repo(&s, "acme/why-plan", 5, None).await;
    let task = s
        .import_ids(
            "acme/why-plan",
            json!([{"key": "PL-1", "title": "Plan it"}]),
        )
        .await
        .remove(0);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let config = config.to_str().unwrap();
    let server = s.url("");
    let server = server.trim_end_matches('/');
    let env = [("OWP_SERVER", server), ("OWP_CONFIG_DIR", config)];
    let (ok, text) = support::run_owp(
        dir.path(),
        &["worker", "register", "--name", "planner", "--no-link"],
        &env,
    )
    .await;
    assert!(ok, "{text}");
    let (ok, text) = support::run_owp(dir.path(), &["worker", "why"], &env).await;
    assert!(ok, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], format!("PL-1 ({task}):"), "{text}");
    assert!(lines[2].starts_with("  rule 11: "), "{text}");
    assert_eq!(
        lines[3],
        format!(
            "  to plan it: `owp worker run --agent \"COMMAND\"` asks your agent for a plan and \
             proposes it; an AI tool over `owp mcp` reads it with owp_task {{task_id: \"{task}\"}} \
             and proposes with owp_propose"
        ),
        "{text}"
    );
}

/// `owp admin proposals` lists a task's plans by their proposer's name (a worker with no linked
/// login), approves one and declines another; `owp admin task` lists them too.
#[tokio::test]
async fn owp_admin_proposals_lists_approves_and_declines() {
    let s = Server::start().await;
    plan_repo(&s, "acme/cli-plans", 5, None).await;
    let ids = s
        .import_ids(
            "acme/cli-plans",
            json!([{"key": "CP-1", "title": "One"}, {"key": "CP-2", "title": "Two"}]),
        )
        .await;
    let (ada_id, ada) = s.register_worker("Ada's seat", &[], 10, 2).await;
    let (_, bob) = s.register_worker("Bob", &[], 10, 2).await;
    let first = proposal_id(&s, &ada, &ids[0]).await;
    let second = propose(&s, &bob, &ids[0], "Rewrite it.\nThen test it.")
        .await
        .expect(201);
    let second = str_field(&second, "proposal_id");
    let owp = |args: Vec<String>| {
        let server = s.base.clone();
        let token = s.admin_token.clone();
        async move {
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_owp"))
                .arg("admin")
                .args(&args)
                .args(["--server", &server])
                .env("OWP_ADMIN_TOKEN", token)
                .output()
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{args:?}: {text}");
            text
        }
    };
    let args = |list: &[&str]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let listed = owp(args(&[
        "proposals",
        "list",
        "CP-1",
        "--repo",
        "acme/cli-plans",
    ]))
    .await;
    assert!(listed.starts_with("plans proposed (2):"), "{listed}");
    assert!(
        listed.contains(&format!(
            "{first} open · by Ada's seat (worker {ada_id}) · proposed "
        )),
        "{listed}"
    );
    assert!(
        listed.contains("    Rewrite it.\n    Then test it."),
        "{listed}"
    );
    let shown = owp(args(&["task", &ids[0]])).await;
    assert!(shown.contains("plans proposed (2):"), "{shown}");

    let declined = owp(args(&[
        "proposals",
        "decline",
        &second,
        "--reason",
        "too broad",
    ]))
    .await;
    assert_eq!(declined.trim(), format!("proposal {second} declined"));
    let approved = owp(args(&["proposals", "approve", &first])).await;
    assert!(
        approved.starts_with(&format!(
            "proposal {first} approved: task {} is offered to its proposer (lease l_",
            ids[0]
        )),
        "{approved}"
    );
    assert_eq!(
        states(&s, &ids[0]).await,
        vec![
            (first.clone(), "approved".to_string()),
            (second.clone(), "declined".to_string())
        ]
    );
    let empty = owp(args(&["proposals", "list", &ids[1]])).await;
    assert_eq!(empty.trim(), "no plan proposed");
}
