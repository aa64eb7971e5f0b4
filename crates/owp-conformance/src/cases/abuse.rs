//! Section 9 as far as plain HTTP shows it: who decides `merged`, bounded input, and a holder's
//! `blocked` taking a review slot.

use reqwest::Method;
use serde_json::json;

use crate::client::{Auth, Reply, str_field};
use crate::{Case, CaseResult, Ctx, Outcome};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![
        case!(
            "abuse.worker_cannot_report_merged",
            worker_cannot_report_merged
        ),
        case!("abuse.bounded_input", bounded_input),
        case!(
            "abuse.blocked_counts_toward_budget",
            blocked_counts_toward_budget
        ),
        case!("abuse.pr_url_http_only", pr_url_http_only),
    ]
}

/// A worker's status `merged` is `403 not_allowed` and changes nothing; the admin may.
async fn worker_cannot_report_merged(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    ctx.import(&repo, &skill, json!([{"title": "not yours to merge"}]))
        .await?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let lease = ctx.claim_lease(&worker).await?;
    let task_id = str_field(&lease["task"], "task_id", "the lease's task")?.to_string();
    let path = format!("/v1/tasks/{task_id}/status");
    ctx.worker_post(&worker, &path, json!({"status": "merged"}))
        .await?
        .expect_problem(
            &[403],
            Some("not_allowed"),
            "holder's status merged from leased",
        )?;
    ensure_that!(
        ctx.task(&task_id).await?["status"] == "leased",
        "the refused merged report changed the task (expected it still leased)"
    );
    ctx.worker_post(
        &worker,
        &path,
        json!({"status": "pr_opened", "artifact": {"pr_url": "https://example.com/acme/pull/3"}}),
    )
    .await?
    .expect(&[200], "status pr_opened")?;
    ctx.worker_post(
        &worker,
        &path,
        json!({"status": "merged", "artifact": {"pr_url": "https://example.com/acme/pull/3"}}),
    )
    .await?
    .expect_problem(
        &[403],
        Some("not_allowed"),
        "holder's status merged from pr_opened",
    )?;
    ensure_that!(
        ctx.task(&task_id).await?["status"] == "pr_opened",
        "the refused merged report changed the task (expected it still pr_opened)"
    );
    let reply = ctx
        .admin_post(
            &format!("/v1/admin/tasks/{task_id}/status"),
            json!({"status": "merged"}),
        )
        .await?;
    reply.expect(&[200], "admin status merged")?;
    ensure_that!(
        reply.body["status"] == "merged",
        "admin status merged: expected the task merged, got {}",
        reply.text
    );
    Ok(())
}

/// Fails unless the reply is a `422` problem that names `field`.
fn names_field(reply: &Reply, field: &str, what: &str) -> CaseResult {
    reply.expect_problem(&[422], None, what)?;
    let detail = reply.body["detail"].as_str().unwrap_or_default();
    ensure_that!(
        detail.contains(field) || reply.body.to_string().contains(&format!("\"{field}\"")),
        "{what}: the 422 should name the field `{field}`, got {}",
        reply.text
    );
    Ok(())
}

/// Over-long texts are `422` naming the field, and nothing is stored. The contract fixes that
/// limits exist and are documented, not their values: these texts (100,000 characters, well
/// under the 1 MiB body limit) are beyond any reasonable one.
async fn bounded_input(ctx: Ctx) -> CaseResult {
    let long = "x".repeat(100_000);
    let skill = ctx.skill();
    let reply = ctx
        .send(
            Method::POST,
            "/v1/workers/register",
            Auth::None,
            Some(&json!({"name": long, "skills": [skill], "capacity_points": 1})),
            &[],
        )
        .await?;
    if let Some(id) = reply.body["worker_id"].as_str() {
        ctx.remember_worker(id);
    }
    names_field(&reply, "name", "register with a 100,000-character name")?;

    let repo = ctx.repo().await?;
    let reply = ctx
        .admin_post(
            "/v1/admin/tasks",
            json!({"repo": repo, "tasks": [{"title": long, "required_skills": [skill]}]}),
        )
        .await?;
    if let Some(tasks) = reply.body["tasks"].as_array() {
        ctx.remember_tasks(tasks);
    }
    names_field(
        &reply,
        "title",
        "import of a task with a 100,000-character title",
    )?;

    let reply = ctx
        .admin_post(
            "/v1/admin/tasks",
            json!({"repo": repo, "tasks": [{"title": "long x_ field", "x_blob": long,
                    "required_skills": [skill]}]}),
        )
        .await?;
    if let Some(tasks) = reply.body["tasks"].as_array() {
        ctx.remember_tasks(tasks);
    }
    names_field(
        &reply,
        "x_blob",
        "import of a task with a 100,000-character x_blob",
    )?;

    let worker = ctx.worker(&[&skill], json!({})).await?;
    ctx.claim_none(&worker, "the refused imports stored nothing")
        .await?;
    ctx.import(&repo, &skill, json!([{"title": "short"}]))
        .await?;
    let lease = ctx.claim_lease(&worker).await?;
    let lease_id = str_field(&lease, "lease_id", "the lease")?.to_string();
    let task_id = str_field(&lease["task"], "task_id", "the lease's task")?.to_string();
    let reply = ctx
        .worker_post(
            &worker,
            &format!("/v1/tasks/{task_id}/status"),
            json!({"status": "blocked", "note": long}),
        )
        .await?;
    names_field(
        &reply,
        "note",
        "status blocked with a 100,000-character note",
    )?;
    let reply = ctx
        .worker_post(
            &worker,
            &format!("/v1/leases/{lease_id}/nack"),
            json!({"reason": long}),
        )
        .await?;
    names_field(&reply, "reason", "nack with a 100,000-character reason")?;
    ensure_that!(
        ctx.task(&task_id).await?["status"] == "leased",
        "the refused note and reason changed the task (expected it still leased)"
    );
    Ok(())
}

/// With `max_open_prs` 1, a task its holder reports `blocked` takes the slot: the next claim in
/// that repo finds nothing, until the admin moves the task on.
async fn blocked_counts_toward_budget(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo_with(1, false, json!({})).await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "first"}, {"title": "second"}]),
        )
        .await?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let lease = ctx.claim_lease(&worker).await?;
    let task_id = str_field(&lease["task"], "task_id", "the lease's task")?.to_string();
    ctx.worker_post(
        &worker,
        &format!("/v1/tasks/{task_id}/status"),
        json!({"status": "blocked", "note": "needs a maintainer"}),
    )
    .await?
    .expect(&[200], "status blocked by the holder")?;
    let other = ctx.worker(&[&skill], json!({})).await?;
    ctx.claim_none(
        &other,
        "max_open_prs 1 and a task its holder reported blocked",
    )
    .await?;
    let policy = ctx.state_object("repos", "repo", &repo).await?;
    ensure_that!(
        policy["throttled"] == true,
        "the policy (max_open_prs 1, one task blocked by its holder) should be throttled: {policy}"
    );
    let other_id = tasks
        .iter()
        .filter_map(|t| t["task_id"].as_str())
        .find(|id| *id != task_id)
        .ok_or_else(|| Outcome::Failed("the import did not answer two tasks".into()))?
        .to_string();
    ctx.admin_post(
        &format!("/v1/admin/tasks/{task_id}/status"),
        json!({"status": "cancelled", "reason": "moved on"}),
    )
    .await?
    .expect(&[200], "admin status cancelled")?;
    let lease = ctx.claim_lease(&other).await?;
    ensure_that!(
        lease["task"]["task_id"] == other_id.as_str(),
        "once the admin moved the blocked task on, the other task {other_id} should be offered, got {}",
        lease["task"]["task_id"]
    );
    Ok(())
}

/// `artifact.pr_url` must be an `http` or `https` URL: anything else is `422`, and the task stays
/// as it was.
async fn pr_url_http_only(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    ctx.import(&repo, &skill, json!([{"title": "links"}]))
        .await?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let lease = ctx.claim_lease(&worker).await?;
    let task_id = str_field(&lease["task"], "task_id", "the lease's task")?.to_string();
    let path = format!("/v1/tasks/{task_id}/status");
    for url in [
        "javascript:alert(1)",
        "ftp://example.com/pull/1",
        "not a url",
        "file:///etc/passwd",
    ] {
        ctx.worker_post(
            &worker,
            &path,
            json!({"status": "pr_opened", "artifact": {"pr_url": url}}),
        )
        .await?
        .expect_problem(
            &[422],
            None,
            &format!("status pr_opened with pr_url `{url}`"),
        )?;
    }
    let task = ctx.task(&task_id).await?;
    ensure_that!(
        task["status"] == "leased" && task["artifact"].get("pr_url").is_none(),
        "after the refused pr_url reports the task should still be leased without a pr_url, got \
         status {} artifact {}",
        task["status"],
        task["artifact"]
    );
    Ok(())
}
