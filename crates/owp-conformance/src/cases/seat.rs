//! Section 7 over HTTP: the repository's contract and clone URL in a lease's task, reputation
//! (feature `reputation`) with the trust promotion it drives, and the leaderboard (feature
//! `leaderboard`), both opt-in.

use serde_json::{Value, json};

use super::common::{admin_status, claim_task, id, ids, nack, pr_opened, reputation, state_worker};
use crate::client::str_field;
use crate::{Case, CaseResult, Ctx, Outcome};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![
        case!("seat.contract_in_lease", contract_in_lease),
        case!(
            "reputation.opt_in",
            feature = "reputation",
            reputation_opt_in
        ),
        case!(
            "reputation.trust_promotion",
            feature = "reputation",
            trust_promotion
        ),
        case!(
            "leaderboard.opt_in_only",
            feature = "leaderboard",
            leaderboard_opt_in_only
        ),
    ]
}

/// A lease's task, and `GET /v1/tasks/{id}` for its holder, carry the repository's `contract`
/// (every field as set with `POST /v1/admin/repos`), or `contract: null` when the repository has
/// none; the lease's task also shows the repository's `clone_url`.
async fn contract_in_lease(ctx: Ctx) -> CaseResult {
    let contract = json!({
        "setup": "make setup",
        "test": "make test",
        "lint": "make lint",
        "branch": "owp/{key}",
        "pr_template": "What changed and why.",
        "instructions": "Keep changes small.",
    });
    let url = "https://example.org/conformance/widgets.git";
    let with = ctx
        .repo_with(100, false, json!({"contract": contract, "clone_url": url}))
        .await?;
    let without = ctx.repo().await?;
    let skill = ctx.skill();
    let t = ids(&ctx
        .import(
            &with,
            &skill,
            json!([{"title": "with a contract", "priority": "high"}]),
        )
        .await?)?
    .remove(0);
    let u = ids(&ctx
        .import(&without, &skill, json!([{"title": "without a contract"}]))
        .await?)?
    .remove(0);
    let w = ctx.worker(&[&skill], json!({})).await?;
    let lease = claim_task(&ctx, &w, &t, "highest priority").await?;
    same_fields(&contract, &lease["task"]["contract"], "the lease's task")?;
    ensure_that!(
        lease["task"]["clone_url"] == url,
        "the lease's task should show the repository's clone_url {url}, got {}",
        lease["task"]["clone_url"]
    );
    let reply = ctx.worker_get(&w, &format!("/v1/tasks/{t}")).await?;
    reply.expect(&[200], "GET /v1/tasks/{id} by the holder")?;
    same_fields(
        &contract,
        &reply.body["contract"],
        "GET /v1/tasks/{id} by the holder",
    )?;
    let lease = claim_task(&ctx, &w, &u, "it is ready").await?;
    ensure_that!(
        lease["task"].get("contract").is_some_and(Value::is_null),
        "a lease's task in a repository without a contract should show contract null, got {}",
        lease["task"]
            .get("contract")
            .map_or("nothing".to_string(), Value::to_string)
    );
    Ok(())
}

/// Every field of `want` is in `got` with the same value.
fn same_fields(want: &Value, got: &Value, what: &str) -> CaseResult {
    for (k, v) in want.as_object().into_iter().flatten() {
        ensure_that!(
            &got[k] == v,
            "{what}: expected contract.{k} {v} (as the repository policy sets it), got contract {got}"
        );
    }
    Ok(())
}

/// Reputation is opt-in: a worker registered with `reputation_opt_in: true` shows it and a
/// `reputation` with `merged`, `closed_unmerged`, `expired`, `nacked` and `score`; an admin merge
/// of its task raises `merged` and the score, a nack counts in `nacked`; `POST /v1/workers/me`
/// turns it off and on; a worker registered without it shows `reputation_opt_in: false`. The
/// repository has a `clone_url`, so the nack is the worker's own (a pool may leave out a nack that
/// only a missing clone URL caused).
async fn reputation_opt_in(ctx: Ctx) -> CaseResult {
    let repo = ctx
        .repo_with(
            100,
            false,
            json!({"clone_url": "https://git.example/owp-conformance.git"}),
        )
        .await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "merged", "priority": "high"}, {"title": "given back"}]),
        )
        .await?;
    let t = ids(&tasks)?;
    let plain = ctx.worker(&[&skill], json!({})).await?;
    let shown = state_worker(&ctx, &plain).await?;
    ensure_that!(
        shown["reputation_opt_in"] == false,
        "a worker registered without reputation_opt_in should show it false, got {}",
        shown["reputation_opt_in"]
    );
    let w = ctx
        .worker(&[&skill], json!({"reputation_opt_in": true}))
        .await?;
    let shown = state_worker(&ctx, &w).await?;
    ensure_that!(
        shown["reputation_opt_in"] == true,
        "a worker registered with reputation_opt_in true should show it, got {}",
        shown["reputation_opt_in"]
    );
    let before = reputation(&ctx, &w).await?;
    ensure_that!(
        before["merged"] == 0 && before["nacked"] == 0 && before["expired"] == 0,
        "a new worker's reputation should count nothing yet, got {before}"
    );
    let lease = claim_task(&ctx, &w, &t[0], "highest priority").await?;
    pr_opened(&ctx, &w, &lease).await?;
    admin_status(&ctx, &t[0], "merged").await?;
    let after = reputation(&ctx, &w).await?;
    ensure_that!(
        after["merged"] == 1,
        "an admin merged the worker's task: expected reputation.merged 1, got {after}"
    );
    let raised = matches!(
        (before["score"].as_f64(), after["score"].as_f64()),
        (Some(b), Some(a)) if a > b
    );
    ensure_that!(
        raised,
        "a merge should raise the score: before {before}, after {after}"
    );
    let lease = claim_task(&ctx, &w, &t[1], "it is ready").await?;
    nack(&ctx, &w, &lease).await?;
    let nacked = reputation(&ctx, &w).await?;
    ensure_that!(
        nacked["nacked"] == 1,
        "the worker gave a task back: expected reputation.nacked 1, got {nacked}"
    );
    for on in [false, true] {
        let reply = ctx
            .worker_post(&w, "/v1/workers/me", json!({"reputation_opt_in": on}))
            .await?;
        reply.expect(
            &[200],
            &format!("POST /v1/workers/me {{reputation_opt_in: {on}}}"),
        )?;
        let shown = state_worker(&ctx, &w).await?;
        ensure_that!(
            shown["reputation_opt_in"] == on,
            "after POST /v1/workers/me {{reputation_opt_in: {on}}} the worker shows {}",
            shown["reputation_opt_in"]
        );
    }
    Ok(())
}

/// Section 7's trust progression: with `promote: [{level: 1, merged: 1}]`, an opted-in trust-0
/// worker is offered a tier-1 task of that repo once one of its tasks there merged.
async fn trust_promotion(ctx: Ctx) -> CaseResult {
    let repo = ctx
        .repo_with(100, false, json!({"promote": [{"level": 1, "merged": 1}]}))
        .await?;
    let skill = ctx.skill();
    ctx.import(
        &repo,
        &skill,
        json!([{"title": "tier one", "tier": 1, "priority": "critical"}, {"title": "tier zero"}]),
    )
    .await?;
    let worker = ctx
        .worker(&[&skill], json!({"reputation_opt_in": true}))
        .await?;
    let lease = ctx.claim_lease(&worker).await?;
    ensure_that!(
        lease["task"]["tier"] == 0,
        "a trust-0 worker with nothing merged should be offered the tier-0 task, got {}",
        lease["task"]
    );
    ctx.claim_none(&worker, "the tier-1 task needs trust 1, nothing merged yet")
        .await?;
    let id = str_field(&lease["task"], "task_id", "the lease's task")?;
    ctx.worker_post(
        &worker,
        &format!("/v1/tasks/{id}/status"),
        json!({"status": "pr_opened", "artifact": {"pr_url": "https://example.com/acme/pull/6"}}),
    )
    .await?
    .expect(&[200], "status pr_opened")?;
    ctx.admin_post(
        &format!("/v1/admin/tasks/{id}/status"),
        json!({"status": "merged"}),
    )
    .await?
    .expect(&[200], "admin status merged")?;
    let lease = ctx.claim_lease(&worker).await?;
    ensure_that!(
        lease["task"]["tier"] == 1,
        "after one merged task (promote level 1 at 1 merged) the tier-1 task should be offered, got {}",
        lease["task"]
    );
    Ok(())
}

/// `GET /v1/leaderboard?repo=R` as admin lists only workers with `leaderboard_opt_in: true`, with
/// their merged count and points there.
async fn leaderboard_opt_in_only(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "three points", "estimate_points": 3, "priority": "high"},
                   {"title": "two points", "estimate_points": 2}]),
        )
        .await?;
    let t = ids(&tasks)?;
    let listed_name = ctx.unique("listed");
    let hidden_name = ctx.unique("hidden");
    let listed = ctx
        .worker(
            &[&skill],
            json!({"name": listed_name, "reputation_opt_in": true}),
        )
        .await?;
    let hidden = ctx
        .worker(
            &[&skill],
            json!({"name": hidden_name, "reputation_opt_in": true}),
        )
        .await?;
    let reply = ctx
        .worker_post(
            &listed,
            "/v1/workers/me",
            json!({"leaderboard_opt_in": true}),
        )
        .await?;
    reply.expect(&[200], "POST /v1/workers/me {leaderboard_opt_in: true}")?;
    for (w, task) in [(&listed, &t[0]), (&hidden, &t[1])] {
        let lease = claim_task(&ctx, w, task, "it is the next ready task").await?;
        pr_opened(&ctx, w, &lease).await?;
        admin_status(&ctx, task, "merged").await?;
    }
    let reply = ctx
        .admin_get(&format!("/v1/leaderboard?repo={}", urlencode(&repo)))
        .await?;
    reply.expect(&[200], "GET /v1/leaderboard?repo=R as admin")?;
    let Some(list) = reply.body["workers"].as_array() else {
        return Err(Outcome::Failed(format!(
            "GET /v1/leaderboard: expected {{workers: [...]}}, got {}",
            reply.describe()
        )));
    };
    let name = |e: &Value| id(e, "name", "a leaderboard entry");
    let mut found = false;
    for entry in list {
        let n = name(entry)?;
        ensure_that!(
            n != hidden_name,
            "GET /v1/leaderboard lists a worker that did not opt in to it: {entry}"
        );
        if n == listed_name {
            found = true;
            ensure_that!(
                entry["merged"] == 1 && entry["points"] == 3,
                "the opted-in worker merged one 3-point task here: expected merged 1, points 3, \
                 got {entry}"
            );
        }
    }
    ensure_that!(
        list.len() <= 1,
        "GET /v1/leaderboard?repo=R should list only the opted-in worker `{listed_name}`; got {}",
        reply.text
    );
    ensure_that!(
        found,
        "GET /v1/leaderboard?repo=R should list the opted-in worker `{listed_name}` (one task \
         merged here); got {}",
        reply.text
    );
    Ok(())
}

/// Percent-encodes a query value (the run's repository names are plain, but a server may be
/// strict).
fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
