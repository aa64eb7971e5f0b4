//! Section 4's life cycle of a task as its holder drives it: claim, ack, renew, heartbeat, nack,
//! status reports.

use std::time::Duration;

use serde_json::{Value, json};

use crate::client::{Worker, str_field, utc_field};
use crate::{Case, CaseResult, Ctx, Outcome};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![
        case!("lifecycle.claim_ack_pr_opened", claim_ack_pr_opened),
        case!("lifecycle.pr_opened_needs_pr_url", pr_opened_needs_pr_url),
        case!("lifecycle.illegal_transition", illegal_transition),
        case!("lifecycle.nack_requeues", nack_requeues),
        case!("lifecycle.renew_extends", renew_extends),
        case!("lifecycle.heartbeat_renews_leases", heartbeat_renews_leases),
        case!("lifecycle.in_progress_acts_as_ack", in_progress_acts_as_ack),
        case!("lifecycle.blocked_by_holder", blocked_by_holder),
        case!("lifecycle.nack_from_in_progress", nack_from_in_progress),
    ]
}

/// A repo with one task of this case and one worker that has claimed it: (worker, lease,
/// task_id, lease_id).
async fn one_lease(ctx: &Ctx) -> Result<(Worker, Value, String, String), Outcome> {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    ctx.import(&repo, &skill, json!([{"title": "life cycle"}]))
        .await?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let lease = ctx.claim_lease(&worker).await?;
    let task_id = str_field(&lease["task"], "task_id", "the lease's task")?.to_string();
    let lease_id = str_field(&lease, "lease_id", "the lease")?.to_string();
    Ok((worker, lease, task_id, lease_id))
}

/// The lease TTL from `/v1/meta` (or the registration), in seconds.
fn lease_ttl(ctx: &Ctx, worker: &Worker) -> Result<i64, Outcome> {
    ctx.meta()["lease_ttl_seconds"]
        .as_i64()
        .or_else(|| worker.registered["lease_ttl_seconds"].as_i64())
        .ok_or_else(|| {
            Outcome::Failed("neither /v1/meta nor the registration gives lease_ttl_seconds".into())
        })
}

/// Fails unless a task's `lease_expires_at` is about the lease TTL after its `updated_at` (the
/// server's own clock, so the runner's does not matter).
fn expires_a_ttl_ahead(task: &Value, ttl: i64, what: &str) -> CaseResult {
    let updated = utc_field(task, "updated_at", what)?;
    let expires = utc_field(task, "lease_expires_at", what)?;
    let ahead = (expires - updated).num_milliseconds();
    ensure_that!(
        (ttl * 1000 - 2000..=ttl * 1000 + 2000).contains(&ahead),
        "{what}: expected lease_expires_at about the lease TTL ({ttl} s) after updated_at, got \
         {expires} − {updated} = {:.1} s",
        ahead as f64 / 1000.0
    );
    Ok(())
}

/// Claim → `leased`; `ack` → `in_progress` with the lease a full TTL ahead; `pr_opened` with
/// `artifact.pr_url` → `pr_opened`, the artifact stored and returned.
async fn claim_ack_pr_opened(ctx: Ctx) -> CaseResult {
    let (worker, lease, task_id, lease_id) = one_lease(&ctx).await?;
    ensure_that!(
        lease["task"]["status"] == "leased",
        "a claimed task should be leased, got {}",
        lease["task"]["status"]
    );
    let reply = ctx
        .worker_post(&worker, &format!("/v1/leases/{lease_id}/ack"), json!({}))
        .await?;
    reply.expect(&[200], "ack")?;
    ensure_that!(
        reply.body["task_id"] == task_id.as_str() && reply.body["status"] == "in_progress",
        "ack: expected the task, now in_progress, got {}",
        reply.text
    );
    expires_a_ttl_ahead(
        &reply.body,
        lease_ttl(&ctx, &worker)?,
        "the acknowledged task",
    )?;
    let artifact =
        json!({"pr_url": "https://example.com/acme/widgets/pull/88", "commit_sha": "4f2c9e1"});
    let reply = ctx
        .worker_post(
            &worker,
            &format!("/v1/tasks/{task_id}/status"),
            json!({"status": "pr_opened", "artifact": artifact, "note": "done"}),
        )
        .await?;
    reply.expect(&[200], "status pr_opened")?;
    ensure_that!(
        reply.body["status"] == "pr_opened"
            && reply.body["artifact"]["pr_url"] == artifact["pr_url"]
            && reply.body["artifact"]["commit_sha"] == artifact["commit_sha"],
        "status pr_opened: expected the task in pr_opened with artifact {artifact}, got {}",
        reply.text
    );
    let stored = ctx.task(&task_id).await?;
    ensure_that!(
        stored["status"] == "pr_opened" && stored["artifact"]["pr_url"] == artifact["pr_url"],
        "GET /v1/tasks/{{id}} after pr_opened: expected status pr_opened and artifact.pr_url {}, got {} and {}",
        artifact["pr_url"],
        stored["status"],
        stored["artifact"]
    );
    Ok(())
}

/// `pr_opened` without `artifact.pr_url` is `422`, and the task stays as it was.
async fn pr_opened_needs_pr_url(ctx: Ctx) -> CaseResult {
    let (worker, _, task_id, lease_id) = one_lease(&ctx).await?;
    ctx.worker_post(&worker, &format!("/v1/leases/{lease_id}/ack"), json!({}))
        .await?
        .expect(&[200], "ack")?;
    let path = format!("/v1/tasks/{task_id}/status");
    for (what, body) in [
        ("no artifact", json!({"status": "pr_opened"})),
        (
            "an artifact without pr_url",
            json!({"status": "pr_opened", "artifact": {"commit_sha": "4f2c9e1"}}),
        ),
    ] {
        ctx.worker_post(&worker, &path, body)
            .await?
            .expect_problem(&[422], None, &format!("status pr_opened with {what}"))?;
    }
    let task = ctx.task(&task_id).await?;
    ensure_that!(
        task["status"] == "in_progress" && task["lease_id"] == lease_id.as_str(),
        "after the refused pr_opened reports the task should still be in_progress under \
         {lease_id}, got {} under {}",
        task["status"],
        task["lease_id"]
    );
    Ok(())
}

/// Moves the contract calls illegal are `409` and change nothing: a holder setting `ready` or
/// `cancelled`, and `in_progress` after `pr_opened`.
async fn illegal_transition(ctx: Ctx) -> CaseResult {
    let (worker, _, task_id, lease_id) = one_lease(&ctx).await?;
    ctx.worker_post(&worker, &format!("/v1/leases/{lease_id}/ack"), json!({}))
        .await?
        .expect(&[200], "ack")?;
    let path = format!("/v1/tasks/{task_id}/status");
    for status in ["ready", "cancelled"] {
        ctx.worker_post(&worker, &path, json!({"status": status}))
            .await?
            .expect_problem(
                &[409],
                None,
                &format!("holder's status {status} from in_progress"),
            )?;
        let task = ctx.task(&task_id).await?;
        ensure_that!(
            task["status"] == "in_progress",
            "after the refused move to {status} the task should still be in_progress, got {}",
            task["status"]
        );
    }
    ctx.worker_post(
        &worker,
        &path,
        json!({"status": "pr_opened", "artifact": {"pr_url": "https://example.com/acme/pull/2"}}),
    )
    .await?
    .expect(&[200], "status pr_opened")?;
    ctx.worker_post(&worker, &path, json!({"status": "in_progress"}))
        .await?
        .expect_problem(&[409], None, "holder's status in_progress from pr_opened")?;
    let task = ctx.task(&task_id).await?;
    ensure_that!(
        task["status"] == "pr_opened",
        "after the refused move to in_progress the task should still be pr_opened, got {}",
        task["status"]
    );
    Ok(())
}

/// `nack` puts the task back to `ready`; it is not offered to the same worker again, another
/// worker gets it; the nacked lease is no longer held (`409`).
async fn nack_requeues(ctx: Ctx) -> CaseResult {
    let (worker, _, task_id, lease_id) = one_lease(&ctx).await?;
    let reply = ctx
        .worker_post(
            &worker,
            &format!("/v1/leases/{lease_id}/nack"),
            json!({"reason": "needs access to the docs site"}),
        )
        .await?;
    reply.expect(&[200], "nack")?;
    ensure_that!(
        reply.body["task_id"] == task_id.as_str() && reply.body["status"] == "ready",
        "nack: expected the task, back in ready, got {}",
        reply.text
    );
    let task = ctx.task(&task_id).await?;
    ensure_that!(
        task["status"] == "ready" && task["assigned_worker_id"].is_null(),
        "after nack: expected the task ready with no holder, got {} held by {}",
        task["status"],
        task["assigned_worker_id"]
    );
    ctx.claim_none(&worker, "the only task was nacked by this worker")
        .await?;
    ctx.worker_post(&worker, &format!("/v1/leases/{lease_id}/renew"), json!({}))
        .await?
        .expect_problem(&[409], None, "renew of a nacked lease")?;
    let skill = task["required_skills"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let other = ctx.worker(&[&skill], json!({})).await?;
    let lease = ctx.claim_lease(&other).await?;
    ensure_that!(
        lease["task"]["task_id"] == task_id.as_str(),
        "another worker should be offered the nacked task {task_id}, got {}",
        lease["task"]["task_id"]
    );
    Ok(())
}

/// `renew` moves the lease's end to about a TTL from now.
async fn renew_extends(ctx: Ctx) -> CaseResult {
    let (worker, _, task_id, lease_id) = one_lease(&ctx).await?;
    let acked = ctx
        .worker_post(&worker, &format!("/v1/leases/{lease_id}/ack"), json!({}))
        .await?;
    acked.expect(&[200], "ack")?;
    let before = utc_field(&acked.body, "lease_expires_at", "the acknowledged task")?;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let reply = ctx
        .worker_post(&worker, &format!("/v1/leases/{lease_id}/renew"), json!({}))
        .await?;
    reply.expect(&[200], "renew")?;
    let after = utc_field(&reply.body, "lease_expires_at", "the renewed task")?;
    ensure_that!(
        after >= before + chrono::Duration::milliseconds(900),
        "renew 1.2 s after ack: expected lease_expires_at to move about 1.2 s later than {before}, got {after}"
    );
    expires_a_ttl_ahead(&reply.body, lease_ttl(&ctx, &worker)?, "the renewed task")?;
    let stored = ctx.task(&task_id).await?;
    ensure_that!(
        stored["lease_expires_at"] == reply.body["lease_expires_at"],
        "GET /v1/tasks/{{id}} shows lease_expires_at {}, renew answered {}",
        stored["lease_expires_at"],
        reply.body["lease_expires_at"]
    );
    Ok(())
}

/// A heartbeat renews every lease the worker holds; with a short lease TTL, heartbeats alone
/// keep a lease alive past it.
async fn heartbeat_renews_leases(ctx: Ctx) -> CaseResult {
    let (worker, _, task_id, lease_id) = one_lease(&ctx).await?;
    let acked = ctx
        .worker_post(&worker, &format!("/v1/leases/{lease_id}/ack"), json!({}))
        .await?;
    acked.expect(&[200], "ack")?;
    let before = utc_field(&acked.body, "lease_expires_at", "the acknowledged task")?;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    ctx.heartbeat(&worker).await?.expect(&[200], "heartbeat")?;
    let task = ctx.task(&task_id).await?;
    let after = utc_field(&task, "lease_expires_at", "the task after a heartbeat")?;
    ensure_that!(
        after >= before + chrono::Duration::milliseconds(900),
        "a heartbeat 1.2 s after ack: expected lease_expires_at to move about 1.2 s later than {before}, got {after}"
    );
    let Ok(ttl) = ctx.ttl_within_max_wait("lease") else {
        return Ok(());
    };
    // Heartbeats only, for the TTL and 1.5 s more: the lease must still be held.
    let until = tokio::time::Instant::now() + ttl + Duration::from_millis(1500);
    let step = (ttl / 3).max(Duration::from_millis(300));
    while tokio::time::Instant::now() < until {
        tokio::time::sleep(step).await;
        ctx.heartbeat(&worker).await?.expect(&[200], "heartbeat")?;
    }
    let task = ctx.task(&task_id).await?;
    ensure_that!(
        task["status"] == "in_progress" && task["lease_id"] == lease_id.as_str(),
        "after heartbeats every {:.1} s for longer than the lease TTL ({} s), the lease should \
         still be held: got status {} lease {}",
        step.as_secs_f64(),
        ttl.as_secs(),
        task["status"],
        task["lease_id"]
    );
    Ok(())
}

/// Status `in_progress` from `leased` acknowledges the lease: the lease is a full TTL ahead and
/// survives the accept window.
async fn in_progress_acts_as_ack(ctx: Ctx) -> CaseResult {
    let (worker, lease, task_id, lease_id) = one_lease(&ctx).await?;
    let reply = ctx
        .worker_post(
            &worker,
            &format!("/v1/tasks/{task_id}/status"),
            json!({"status": "in_progress"}),
        )
        .await?;
    reply.expect(&[200], "status in_progress")?;
    ensure_that!(
        reply.body["status"] == "in_progress",
        "status in_progress: expected the task in_progress, got {}",
        reply.text
    );
    expires_a_ttl_ahead(
        &reply.body,
        lease_ttl(&ctx, &worker)?,
        "the task reported in_progress",
    )?;
    let Ok(_) = ctx.ttl_within_max_wait("accept") else {
        return Ok(());
    };
    // Past the accept window (by the server's own `accept_by`, plus slack), still held; the
    // worker heartbeats meanwhile so that a short lease TTL does not end it first.
    let accept_by = utc_field(&lease, "accept_by", "the lease")?;
    let leased_at = utc_field(&lease["task"], "updated_at", "the leased task")?;
    let window = (accept_by - leased_at).to_std().unwrap_or_default();
    let until = tokio::time::Instant::now() + window + Duration::from_millis(1500);
    while tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(700)).await;
        ctx.heartbeat(&worker).await?.expect(&[200], "heartbeat")?;
    }
    let task = ctx.task(&task_id).await?;
    ensure_that!(
        task["status"] == "in_progress" && task["lease_id"] == lease_id.as_str(),
        "a lease acknowledged by status in_progress (and kept alive by heartbeats) should \
         outlive the accept window; 1.5 s past accept_by the task is {} under lease {}",
        task["status"],
        task["lease_id"]
    );
    Ok(())
}

/// The holder reports `blocked`: the task is `blocked`, out of the queue, and an admin can send
/// it back to `ready`.
async fn blocked_by_holder(ctx: Ctx) -> CaseResult {
    let (worker, _, task_id, _) = one_lease(&ctx).await?;
    let reply = ctx
        .worker_post(
            &worker,
            &format!("/v1/tasks/{task_id}/status"),
            json!({"status": "blocked", "note": "the spec is unclear"}),
        )
        .await?;
    reply.expect(&[200], "status blocked")?;
    ensure_that!(
        reply.body["status"] == "blocked",
        "status blocked: expected the task blocked, got {}",
        reply.text
    );
    ensure_that!(
        ctx.task(&task_id).await?["status"] == "blocked",
        "GET /v1/tasks/{{id}} after blocked does not show it blocked"
    );
    ctx.claim_none(&worker, "the only task is blocked").await?;
    ctx.admin_post(
        &format!("/v1/admin/tasks/{task_id}/status"),
        json!({"status": "ready"}),
    )
    .await?
    .expect(&[200], "admin status ready")?;
    let lease = ctx.claim_lease(&worker).await?;
    ensure_that!(
        lease["task"]["task_id"] == task_id.as_str(),
        "a blocked task the admin sent back to ready should be offered again, got {}",
        lease["task"]["task_id"]
    );
    Ok(())
}

/// `nack` also gives back an acknowledged lease: `in_progress` → `ready`, the holder's load
/// released; a second `nack` of the same lease is `409`.
async fn nack_from_in_progress(ctx: Ctx) -> CaseResult {
    let (worker, _, task_id, lease_id) = one_lease(&ctx).await?;
    ctx.worker_post(&worker, &format!("/v1/leases/{lease_id}/ack"), json!({}))
        .await?
        .expect(&[200], "ack")?;
    let path = format!("/v1/leases/{lease_id}/nack");
    let reply = ctx
        .worker_post(&worker, &path, json!({"reason": "out of time"}))
        .await?;
    reply.expect(&[200], "nack of an acknowledged lease")?;
    ensure_that!(
        reply.body["task_id"] == task_id.as_str() && reply.body["status"] == "ready",
        "nack from in_progress: expected the task, back in ready, got {}",
        reply.text
    );
    let w = ctx.state_object("workers", "worker_id", &worker.id).await?;
    ensure_that!(
        w["active_tasks"] == 0 && w["active_points"] == 0,
        "after its only lease was nacked the worker should hold nothing, got active_tasks {} \
         active_points {}",
        w["active_tasks"],
        w["active_points"]
    );
    ctx.worker_post(&worker, &path, json!({"reason": "again"}))
        .await?
        .expect_problem(&[409], None, "a second nack of the same lease")?;
    ensure_that!(
        ctx.task(&task_id).await?["status"] == "ready",
        "the refused second nack changed the task (expected it still ready)"
    );
    Ok(())
}
