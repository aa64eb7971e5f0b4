//! Section 4's `Idempotency-Key`: replays, a reused key with another body, registration replays
//! and keys per caller.

use reqwest::Method;
use serde_json::{Value, json};

use super::common::tasks_of;
use crate::client::{Auth, Reply, str_field};
use crate::{Case, CaseResult, Ctx};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![
        case!("idempotency.replay", replay),
        case!("idempotency.different_body", different_body),
        case!(
            "idempotency.register_replay_new_token",
            register_replay_new_token
        ),
        case!("idempotency.per_caller", per_caller),
        case!("idempotency.replay_empty_claim", replay_empty_claim),
    ]
}

/// Fails unless a replay answered the first reply's status and body.
fn same_answer(first: &Reply, again: &Reply, what: &str) -> CaseResult {
    ensure_that!(
        first.status == again.status && first.body == again.body,
        "{what} sent again with the same Idempotency-Key: expected the first answer replayed \
         ({} {}), got {} {}",
        first.status,
        first.text,
        again.status,
        again.text
    );
    Ok(())
}

/// The same key and body replays the first answer without doing the work twice: an import of a
/// task without a key creates one task, a claim returns the same lease and takes no second task.
async fn replay(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let key = ctx.unique("import-key");
    let body = json!({"repo": repo, "tasks": [{"title": "once", "required_skills": [skill]}]});
    let headers = [("Idempotency-Key", key.as_str())];
    let first = ctx
        .send(
            Method::POST,
            "/v1/admin/tasks",
            Auth::Admin,
            Some(&body),
            &headers,
        )
        .await?;
    first.expect(&[201], "an import with an Idempotency-Key")?;
    ctx.remember_tasks(first.body["tasks"].as_array().map_or(&[], Vec::as_slice));
    let again = ctx
        .send(
            Method::POST,
            "/v1/admin/tasks",
            Auth::Admin,
            Some(&body),
            &headers,
        )
        .await?;
    ctx.remember_tasks(again.body["tasks"].as_array().map_or(&[], Vec::as_slice));
    same_answer(&first, &again, "the import")?;
    let tasks = tasks_of(&ctx, &repo).await?;
    ensure_that!(
        tasks.len() == 1,
        "an import replayed by its Idempotency-Key should create one task, {repo} holds {}",
        tasks.len()
    );

    ctx.import(&repo, &skill, json!([{"title": "second"}]))
        .await?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let key = ctx.unique("claim-key");
    let headers = [("Idempotency-Key", key.as_str())];
    let first = ctx
        .send(
            Method::POST,
            "/v1/work",
            Auth::Worker(&worker),
            None,
            &headers,
        )
        .await?;
    first.expect(&[200], "a claim with an Idempotency-Key")?;
    let again = ctx
        .send(
            Method::POST,
            "/v1/work",
            Auth::Worker(&worker),
            None,
            &headers,
        )
        .await?;
    same_answer(&first, &again, "the claim")?;
    let held = tasks_of(&ctx, &repo)
        .await?
        .iter()
        .filter(|t| t["assigned_worker_id"] == worker.id.as_str() && t["status"] == "leased")
        .count();
    ensure_that!(
        held == 1,
        "a claim replayed by its Idempotency-Key should lease one task, the worker holds {held}"
    );
    Ok(())
}

/// The same key with a different body is `422`, and the second request is not carried out.
async fn different_body(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let key = ctx.unique("key");
    let headers = [("Idempotency-Key", key.as_str())];
    let body = |title: &str| json!({"repo": repo, "tasks": [{"title": title, "required_skills": [skill]}]});
    let first = ctx
        .send(
            Method::POST,
            "/v1/admin/tasks",
            Auth::Admin,
            Some(&body("first")),
            &headers,
        )
        .await?;
    first.expect(&[201], "an import with an Idempotency-Key")?;
    ctx.remember_tasks(first.body["tasks"].as_array().map_or(&[], Vec::as_slice));
    let second = ctx
        .send(
            Method::POST,
            "/v1/admin/tasks",
            Auth::Admin,
            Some(&body("second")),
            &headers,
        )
        .await?;
    ctx.remember_tasks(second.body["tasks"].as_array().map_or(&[], Vec::as_slice));
    second.expect_problem(
        &[422],
        None,
        "another import body with the same Idempotency-Key",
    )?;
    let titles: Vec<Value> = tasks_of(&ctx, &repo)
        .await?
        .iter()
        .map(|t| t["title"].clone())
        .collect();
    ensure_that!(
        titles == vec![json!("first")],
        "after the refused second import {repo} should hold only `first`, holds {titles:?}"
    );
    Ok(())
}

/// A replayed registration returns the same `worker_id` with a new token; the old token stops
/// working.
async fn register_replay_new_token(ctx: Ctx) -> CaseResult {
    let skill = ctx.skill();
    let key = ctx.unique("register-key");
    let headers = [("Idempotency-Key", key.as_str())];
    let body = json!({"name": ctx.unique("worker"), "skills": [skill], "capacity_points": 3,
                      "max_concurrent_tasks": 1});
    let first = ctx
        .send(
            Method::POST,
            "/v1/workers/register",
            Auth::None,
            Some(&body),
            &headers,
        )
        .await?;
    first.expect(&[201], "a registration with an Idempotency-Key")?;
    let id = str_field(&first.body, "worker_id", "the registration")?.to_string();
    ctx.remember_worker(&id);
    let old = str_field(&first.body, "token", "the registration")?.to_string();
    let again = ctx
        .send(
            Method::POST,
            "/v1/workers/register",
            Auth::None,
            Some(&body),
            &headers,
        )
        .await?;
    again.expect(&[201], "the same registration replayed")?;
    if let Some(other) = again.body["worker_id"].as_str() {
        ctx.remember_worker(other);
    }
    ensure_that!(
        again.body["worker_id"] == id.as_str(),
        "a replayed registration should return the same worker_id {id}, got {}",
        again.body["worker_id"]
    );
    let new = str_field(&again.body, "token", "the replayed registration")?.to_string();
    ensure_that!(
        new != old,
        "a replayed registration should issue a new token, it returned the first one again"
    );
    ctx.send(
        Method::POST,
        "/v1/workers/heartbeat",
        Auth::Token(&new),
        None,
        &[],
    )
    .await?
    .expect(&[200], "heartbeat with the newly issued token")?;
    ctx.send(
        Method::POST,
        "/v1/workers/heartbeat",
        Auth::Token(&old),
        None,
        &[],
    )
    .await?
    .expect_problem(&[401], None, "heartbeat with the token the replay replaced")?;
    Ok(())
}

/// A key is the caller's own: the same key and body from another worker is that worker's own
/// request, not a replay of the first worker's answer.
async fn per_caller(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    ctx.import(&repo, &skill, json!([{"title": "a"}, {"title": "b"}]))
        .await?;
    let one = ctx.worker(&[&skill], json!({})).await?;
    let two = ctx.worker(&[&skill], json!({})).await?;
    let key = ctx.unique("shared-key");
    let headers = [("Idempotency-Key", key.as_str())];
    let first = ctx
        .send(Method::POST, "/v1/work", Auth::Worker(&one), None, &headers)
        .await?;
    first.expect(&[200], "the first worker's claim")?;
    let second = ctx
        .send(Method::POST, "/v1/work", Auth::Worker(&two), None, &headers)
        .await?;
    second.expect(
        &[200],
        "the second worker's claim with the same Idempotency-Key",
    )?;
    ensure_that!(
        second.body["lease"]["lease_id"] != first.body["lease"]["lease_id"]
            && second.body["lease"]["task"]["task_id"] != first.body["lease"]["task"]["task_id"]
            && second.body["lease"]["task"]["assigned_worker_id"] == two.id.as_str(),
        "the second worker's claim with the first's Idempotency-Key should be its own (another \
         task, held by {}), got {}",
        two.id,
        second.text
    );
    // The key still replays the first worker's own answer to it.
    let again = ctx
        .send(Method::POST, "/v1/work", Auth::Worker(&one), None, &headers)
        .await?;
    same_answer(&first, &again, "the first worker's claim")?;
    Ok(())
}

/// Every answer is replayed, not only successes: a claim that found nothing (`204`) sent again
/// with its key answers `204` again even once work is there, and takes nothing.
async fn replay_empty_claim(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let key = ctx.unique("empty-claim-key");
    let headers = [("Idempotency-Key", key.as_str())];
    let first = ctx
        .send(
            Method::POST,
            "/v1/work",
            Auth::Worker(&worker),
            None,
            &headers,
        )
        .await?;
    first.expect(&[204], "a claim with nothing eligible")?;
    ctx.import(&repo, &skill, json!([{"title": "arrives later"}]))
        .await?;
    let again = ctx
        .send(
            Method::POST,
            "/v1/work",
            Auth::Worker(&worker),
            None,
            &headers,
        )
        .await?;
    ensure_that!(
        again.status == 204,
        "the empty claim sent again with its Idempotency-Key should replay 204, got {}",
        again.describe()
    );
    let tasks = tasks_of(&ctx, &repo).await?;
    ensure_that!(
        tasks.len() == 1 && tasks[0]["status"] == "ready",
        "the replayed claim should take nothing, yet the task is {}",
        tasks.first().map_or(Value::Null, |t| t["status"].clone())
    );
    ctx.claim_lease(&worker).await?;
    Ok(())
}
