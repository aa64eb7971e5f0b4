//! Section 2 (auth): the admin token, worker tokens, and what a worker may do with another's work.

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Auth, Worker, str_field};
use crate::{Case, CaseResult, Ctx, Outcome};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![
        // Wrong credentials are counted per address: while these run, no other case's
        // requests share the address's count.
        case!("auth.admin_token_required", alone, admin_token_required),
        case!("auth.worker_token_required", alone, worker_token_required),
        case!("auth.other_workers_lease", other_workers_lease),
        case!("auth.task_read_by_holder_only", task_read_by_holder_only),
    ]
}

/// Admin endpoints without `X-Admin-Token`, or with a wrong one, are `401` problems and change
/// nothing; a worker's bearer token is no admin credential either.
async fn admin_token_required(ctx: Ctx) -> CaseResult {
    let repo = ctx.unique("repo");
    let body = json!({"repo": repo, "max_open_prs": 3});
    let wrong = format!("{}x", ctx.admin_token());
    let skill = ctx.skill();
    let worker = ctx.worker(&[&skill], json!({})).await?;
    // Requests without credentials may be many; wrong credentials are kept to a few, since a
    // server may (rightly) make an address that keeps guessing wait.
    for (method, path, body) in [
        (Method::POST, "/v1/admin/repos".to_string(), Some(&body)),
        (Method::GET, "/v1/admin/state".to_string(), None),
        (
            Method::POST,
            "/v1/admin/tasks".to_string(),
            Some(&json!({"repo": repo, "tasks": [{"title": "no"}]})),
        ),
        (
            Method::POST,
            format!("/v1/admin/workers/{}", worker.id),
            Some(&json!({"trust_level": 5})),
        ),
    ] {
        ctx.send(method.clone(), &path, Auth::None, body, &[])
            .await?
            .expect_problem(
                &[401],
                None,
                &format!("{method} {path} without X-Admin-Token"),
            )?;
    }
    ctx.send(
        Method::POST,
        "/v1/admin/repos",
        Auth::None,
        Some(&body),
        &[("X-Admin-Token", wrong.as_str())],
    )
    .await?
    .expect_problem(
        &[401],
        None,
        "POST /v1/admin/repos with a wrong X-Admin-Token",
    )?;
    ctx.send(
        Method::POST,
        &format!("/v1/admin/workers/{}", worker.id),
        Auth::Worker(&worker),
        Some(&json!({"trust_level": 5})),
        &[],
    )
    .await?
    .expect_problem(
        &[401, 403],
        None,
        "POST /v1/admin/workers/{id} with a worker's bearer token and no X-Admin-Token",
    )?;
    let state = ctx.admin_state().await?;
    let created = state["repos"]
        .as_array()
        .is_some_and(|r| r.iter().any(|p| p["repo"] == repo.as_str()));
    ensure_that!(
        !created,
        "the refused POST /v1/admin/repos calls should have created nothing, yet repo {repo} exists"
    );
    let stored = state["workers"]
        .as_array()
        .and_then(|w| w.iter().find(|w| w["worker_id"] == worker.id.as_str()))
        .cloned()
        .unwrap_or(Value::Null);
    ensure_that!(
        stored["trust_level"] == 0,
        "the refused admin worker updates should have changed nothing, yet the worker's trust_level is {}",
        stored["trust_level"]
    );
    Ok(())
}

/// Worker endpoints without a bearer token, or with a wrong one, are `401` problems.
async fn worker_token_required(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "auth"}]))
        .await?;
    let task_id = str_field(&tasks[0], "task_id", "the imported task")?.to_string();
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let lease = ctx.claim_lease(&worker).await?;
    let lease_id = str_field(&lease, "lease_id", "the lease")?.to_string();
    let wrong = format!("{}x", worker.token);
    let paths = [
        (Method::POST, "/v1/work".to_string(), None),
        (Method::POST, "/v1/workers/heartbeat".to_string(), None),
        (Method::POST, format!("/v1/leases/{lease_id}/ack"), None),
        (Method::POST, format!("/v1/leases/{lease_id}/renew"), None),
        (
            Method::POST,
            format!("/v1/leases/{lease_id}/nack"),
            Some(json!({"reason": "no"})),
        ),
        (
            Method::POST,
            format!("/v1/tasks/{task_id}/status"),
            Some(json!({"status": "in_progress"})),
        ),
        (Method::GET, format!("/v1/tasks/{task_id}"), None),
    ];
    for (method, path, body) in &paths {
        ctx.send(method.clone(), path, Auth::None, body.as_ref(), &[])
            .await?
            .expect_problem(
                &[401],
                None,
                &format!("{method} {path} without Authorization"),
            )?;
    }
    // A few wrong tokens only: a server may make an address that keeps guessing wait.
    for (method, path, body) in [&paths[0], &paths[5]] {
        ctx.send(
            method.clone(),
            path,
            Auth::Token(&wrong),
            body.as_ref(),
            &[],
        )
        .await?
        .expect_problem(
            &[401],
            None,
            &format!("{method} {path} with a wrong bearer token"),
        )?;
    }
    let task = ctx.task(&task_id).await?;
    ensure_that!(
        task["status"] == "leased" && task["lease_id"] == lease_id.as_str(),
        "after the refused calls the task should still be leased under {lease_id}, got status {} lease {}",
        task["status"],
        task["lease_id"]
    );
    Ok(())
}

/// Fails unless the task still has this status, holder and lease.
async fn unchanged(
    ctx: &Ctx,
    task_id: &str,
    status: &str,
    holder: &Worker,
    lease_id: &str,
) -> CaseResult {
    let task = ctx.task(task_id).await?;
    ensure_that!(
        task["status"] == status
            && task["assigned_worker_id"] == holder.id.as_str()
            && task["lease_id"] == lease_id,
        "another worker's calls should change nothing: expected status {status}, holder {} and \
         lease {lease_id}, got {}, {} and {}",
        holder.id,
        task["status"],
        task["assigned_worker_id"],
        task["lease_id"]
    );
    Ok(())
}

/// Another worker's `ack`, `renew`, `nack` and status report on a lease or task it does not hold
/// are `403` (or `404`), and the task stays as it was.
async fn other_workers_lease(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "mine"}]))
        .await?;
    let task_id = str_field(&tasks[0], "task_id", "the imported task")?.to_string();
    let holder = ctx.worker(&[&skill], json!({})).await?;
    let other = ctx.worker(&[&skill], json!({})).await?;
    let lease = ctx.claim_lease(&holder).await?;
    let lease_id = str_field(&lease, "lease_id", "the lease")?.to_string();
    let intrude = |status: &'static str| {
        let ctx = ctx.clone();
        let other = other.clone();
        let task_id = task_id.clone();
        let lease_id = lease_id.clone();
        async move {
            for (path, body) in [
                (format!("/v1/leases/{lease_id}/ack"), json!({})),
                (format!("/v1/leases/{lease_id}/renew"), json!({})),
                (
                    format!("/v1/leases/{lease_id}/nack"),
                    json!({"reason": "mine now"}),
                ),
                (
                    format!("/v1/tasks/{task_id}/status"),
                    json!({"status": "in_progress"}),
                ),
                (
                    format!("/v1/tasks/{task_id}/status"),
                    json!({"status": "pr_opened", "artifact": {"pr_url": "https://example.com/pull/1"}}),
                ),
                (
                    format!("/v1/tasks/{task_id}/status"),
                    json!({"status": "blocked", "note": "mine now"}),
                ),
            ] {
                ctx.worker_post(&other, &path, body).await?.expect_problem(
                    &[403, 404],
                    None,
                    &format!("POST {path} by a worker that does not hold it (task {status})"),
                )?;
            }
            Ok::<(), Outcome>(())
        }
    };
    intrude("leased").await?;
    unchanged(&ctx, &task_id, "leased", &holder, &lease_id).await?;
    ctx.worker_post(&holder, &format!("/v1/leases/{lease_id}/ack"), json!({}))
        .await?
        .expect(&[200], "ack by the holder")?;
    intrude("in_progress").await?;
    unchanged(&ctx, &task_id, "in_progress", &holder, &lease_id).await?;
    Ok(())
}

/// `GET /v1/tasks/{id}`: the admin and the holder read it; another worker gets `403` or `404`.
async fn task_read_by_holder_only(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "read me"}]))
        .await?;
    let task_id = str_field(&tasks[0], "task_id", "the imported task")?.to_string();
    let holder = ctx.worker(&[&skill], json!({})).await?;
    let other = ctx.worker(&[&skill], json!({})).await?;
    let path = format!("/v1/tasks/{task_id}");
    ctx.worker_get(&holder, &path).await?.expect_problem(
        &[403, 404],
        None,
        "GET /v1/tasks/{id} by a worker, before any claim",
    )?;
    ctx.claim_lease(&holder).await?;
    let admin = ctx.admin_get(&path).await?;
    admin.expect(&[200], "GET /v1/tasks/{id} as admin")?;
    ensure_that!(
        admin.body["task_id"] == task_id.as_str(),
        "GET /v1/tasks/{{id}} as admin: expected task {task_id}, got {}",
        admin.text
    );
    let own = ctx.worker_get(&holder, &path).await?;
    own.expect(&[200], "GET /v1/tasks/{id} by its holder")?;
    ensure_that!(
        own.body["task_id"] == task_id.as_str() && own.body["status"] == "leased",
        "GET /v1/tasks/{{id}} by its holder: expected task {task_id}, leased, got {}",
        own.text
    );
    let reply = ctx.worker_get(&other, &path).await?;
    reply.expect_problem(&[403, 404], None, "GET /v1/tasks/{id} by another worker")?;
    ensure_that!(
        !reply.text.contains(&holder.id) || reply.body.get("task_id").is_none(),
        "GET /v1/tasks/{{id}} by another worker should not show the task: {}",
        reply.text
    );
    Ok(())
}
