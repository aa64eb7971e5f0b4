//! Section 5's expiry and section 0's time rules: leases end by `accept_by` or `expires_at`, and
//! workers go offline after the heartbeat TTL, to within a second, whether or not requests arrive.
//!
//! The deadlines are taken from the TTLs in `/v1/meta` and this runner's own clock (the instants
//! a request was sent and answered), never from the server's timestamps, so a server whose clock
//! differs from the runner's is judged fairly. Each case is skipped when its TTL is longer than
//! `--max-wait`.

use std::time::{Duration, Instant};

use serde_json::json;

use super::common::{PRECISION, SLACK, Stream, ack, claim_task, ids, secs, state_worker};
use crate::client::Worker;
use crate::{Case, CaseResult, Ctx};
use crate::{case, ensure_that, fail_case};

pub fn cases() -> Vec<Case> {
    vec![
        case!("expiry.accept_ttl", accept_ttl),
        case!("expiry.lease_ttl", lease_ttl),
        case!("expiry.heartbeat_extends", heartbeat_extends),
        case!("expiry.renew_extends", renew_extends),
        case!("expiry.only_renewals_extend", only_renewals_extend),
        case!(
            "expiry.offline_after_heartbeat_ttl",
            offline_after_heartbeat_ttl
        ),
        case!("expiry.claim_never_sees_expired", claim_never_sees_expired),
        case!(
            "expiry.without_requests",
            feature = "sse",
            expiry_without_requests
        ),
    ]
}

/// How often a case looks.
const POLL: Duration = Duration::from_millis(100);

/// Polls the task (as admin) until it leaves `status`; fails when it leaves before `not_before`
/// (the earliest deadline, less the precision) or is still there after `by`. Returns the task.
async fn wait_until_it_ends(
    ctx: &Ctx,
    task_id: &str,
    status: &str,
    not_before: Instant,
    by: Instant,
    what: &str,
) -> Result<serde_json::Value, crate::Outcome> {
    loop {
        let now = Instant::now();
        let task = ctx.task(task_id).await?;
        if task["status"] != status {
            if now < not_before {
                fail_case!(
                    "{what}: the task left {status} {} before its deadline (now {})",
                    secs(not_before.saturating_duration_since(now) + PRECISION),
                    task["status"]
                );
            }
            return Ok(task);
        }
        if now > by {
            fail_case!(
                "{what}: the task is still {status} {} after its deadline (the contract allows 1 s)",
                secs(now.saturating_duration_since(by) + PRECISION + SLACK)
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A lease not acknowledged by `accept_by` ends by itself: its task is `ready` again with
/// `attempts` one higher within a second of the deadline, and the lease can no longer be acked.
async fn accept_ttl(ctx: Ctx) -> CaseResult {
    let ttl = ctx.ttl_within_max_wait("accept")?;
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "never acknowledged"}]))
        .await?;
    let t = &ids(&tasks)?[0];
    let w = ctx.worker(&[&skill], json!({})).await?;
    let sent = Instant::now();
    let lease = claim_task(&ctx, &w, t, "it is ready").await?;
    let answered = Instant::now();
    ensure_that!(
        lease["accept_by"].is_string() && lease["expires_at"].is_string(),
        "a lease has `accept_by` and `expires_at`; got {lease}"
    );
    let attempts = lease["task"]["attempts"].as_i64().unwrap_or(0);
    let task = wait_until_it_ends(
        &ctx,
        t,
        "leased",
        (sent + ttl).checked_sub(PRECISION).unwrap_or(sent),
        answered + ttl + PRECISION + SLACK,
        &format!(
            "a lease not acked within accept_ttl_seconds ({})",
            secs(ttl)
        ),
    )
    .await?;
    ensure_that!(
        task["status"] == "ready" && task["attempts"].as_i64() == Some(attempts + 1),
        "an unacknowledged lease ended: expected the task ready with attempts {}, got status {} \
         attempts {}",
        attempts + 1,
        task["status"],
        task["attempts"]
    );
    let lease_id = lease["lease_id"].as_str().unwrap_or("");
    let reply = ctx
        .worker_post(&w, &format!("/v1/leases/{lease_id}/ack"), json!({}))
        .await?;
    reply.expect_problem(&[409], None, "ack of a lease that expired")?;
    Ok(())
}

/// An acknowledged lease that is not renewed ends by its `expires_at` (a lease TTL after the
/// ack): its task is `ready` again with `attempts` one higher.
async fn lease_ttl(ctx: Ctx) -> CaseResult {
    let ttl = ctx.ttl_within_max_wait("lease")?;
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "acknowledged, never renewed"}]),
        )
        .await?;
    let t = &ids(&tasks)?[0];
    let w = ctx.worker(&[&skill], json!({})).await?;
    let lease = claim_task(&ctx, &w, t, "it is ready").await?;
    let sent = Instant::now();
    let acked = ack(&ctx, &w, &lease).await?;
    let answered = Instant::now();
    ensure_that!(
        acked["status"] == "in_progress",
        "ack: expected the task in_progress, got status {}",
        acked["status"]
    );
    let task = wait_until_it_ends(
        &ctx,
        t,
        "in_progress",
        (sent + ttl).checked_sub(PRECISION).unwrap_or(sent),
        answered + ttl + PRECISION + SLACK,
        &format!(
            "an acknowledged lease not renewed within lease_ttl_seconds ({})",
            secs(ttl)
        ),
    )
    .await?;
    ensure_that!(
        task["status"] == "ready" && task["attempts"].as_i64() == Some(1),
        "an acknowledged lease expired: expected the task ready with attempts 1, got status {} \
         attempts {}",
        task["status"],
        task["attempts"]
    );
    Ok(())
}

/// Heartbeats renew every lease the worker holds: an acknowledged lease heartbeaten every third
/// of its TTL lives well past its first `expires_at`, and ends a TTL after the last heartbeat.
async fn heartbeat_extends(ctx: Ctx) -> CaseResult {
    kept_alive(ctx, false).await
}

/// `renew` extends the lease by its TTL: an acknowledged lease renewed every third of its TTL
/// lives well past its first `expires_at`.
async fn renew_extends(ctx: Ctx) -> CaseResult {
    kept_alive(ctx, true).await
}

/// An acknowledged lease kept alive by heartbeats (or `renew`, when `renew` is true) past its
/// first deadline, then (heartbeats) left to run out.
async fn kept_alive(ctx: Ctx, renew: bool) -> CaseResult {
    let how = if renew { "renewed" } else { "heartbeaten" };
    let ttl = ctx.ttl_within_max_wait("lease")?;
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "kept alive by heartbeats"}]),
        )
        .await?;
    let t = &ids(&tasks)?[0];
    let w = ctx.worker(&[&skill], json!({})).await?;
    let lease = claim_task(&ctx, &w, t, "it is ready").await?;
    ack(&ctx, &w, &lease).await?;
    let acked = Instant::now();
    // Past the first expires_at by more than the contract's precision: a lease that was not
    // extended has ended by then.
    let keep_until = acked + ttl + PRECISION + Duration::from_millis(500);
    let (mut last_sent, mut last_answered) = (acked, acked);
    while Instant::now() < keep_until {
        tokio::time::sleep(ttl / 3).await;
        last_sent = Instant::now();
        if renew {
            let lease_id = lease["lease_id"].as_str().unwrap_or("");
            let reply = ctx
                .worker_post(&w, &format!("/v1/leases/{lease_id}/renew"), json!({}))
                .await?;
            reply.expect(&[200], "POST /v1/leases/{id}/renew by its holder")?;
        } else {
            let reply = ctx.heartbeat(&w).await?;
            reply.expect(&[200], "POST /v1/workers/heartbeat")?;
        }
        last_answered = Instant::now();
    }
    let task = ctx.task(t).await?;
    ensure_that!(
        task["status"] == "in_progress",
        "a lease {how} every {} should outlive its first expires_at (lease TTL {}, {} ago); \
         got status {} attempts {}",
        secs(ttl / 3),
        secs(ttl),
        secs(acked.elapsed()),
        task["status"],
        task["attempts"]
    );
    if renew {
        // How a lease ends once nothing extends it is the heartbeat case's part.
        return Ok(());
    }
    let task = wait_until_it_ends(
        &ctx,
        t,
        "in_progress",
        (last_sent + ttl)
            .checked_sub(PRECISION)
            .unwrap_or(last_sent),
        last_answered + ttl + PRECISION + SLACK,
        &format!("the lease is no longer {how}: it should end a lease TTL after the last time"),
    )
    .await?;
    ensure_that!(
        task["status"] == "ready",
        "expected the task ready after its lease ran out, got {}",
        task["status"]
    );
    Ok(())
}

/// A worker that sends nothing is `online: false` in the admin state once the heartbeat TTL has
/// passed (within a second); a heartbeat, or any other authenticated request of it, makes it
/// online again.
async fn offline_after_heartbeat_ttl(ctx: Ctx) -> CaseResult {
    let ttl = ctx.ttl_within_max_wait("heartbeat")?;
    let skill = ctx.skill();
    let sent = Instant::now();
    let w = ctx.worker(&[&skill], json!({})).await?;
    let answered = Instant::now();
    goes_offline(&ctx, &w, sent, answered, ttl).await?;
    let sent = Instant::now();
    let reply = ctx.heartbeat(&w).await?;
    reply.expect(&[200], "POST /v1/workers/heartbeat")?;
    let answered = Instant::now();
    let worker = state_worker(&ctx, &w).await?;
    ensure_that!(
        worker["online"] == true,
        "an offline worker's heartbeat should make it online again; GET /v1/admin/state shows \
         online {}",
        worker["online"]
    );
    goes_offline(&ctx, &w, sent, answered, ttl).await?;
    ctx.claim_none(&w, "nothing is imported for this worker")
        .await?;
    let worker = state_worker(&ctx, &w).await?;
    ensure_that!(
        worker["online"] == true,
        "an offline worker's claim (an authenticated request) should make it online again; \
         GET /v1/admin/state shows online {}",
        worker["online"]
    );
    Ok(())
}

/// Polls the worker in the admin state until it shows `online: false`: not before a heartbeat TTL
/// (less the precision) after `sent`, the last request of it, and by a TTL after `answered`.
async fn goes_offline(
    ctx: &Ctx,
    w: &Worker,
    sent: Instant,
    answered: Instant,
    ttl: Duration,
) -> CaseResult {
    let not_before = (sent + ttl).checked_sub(PRECISION).unwrap_or(sent);
    let by = answered + ttl + PRECISION + SLACK;
    loop {
        let now = Instant::now();
        let worker = state_worker(ctx, w).await?;
        match worker["online"].as_bool() {
            Some(true) if now > by => fail_case!(
                "a worker silent for {} (heartbeat TTL {}) is still online in GET /v1/admin/state",
                secs(now - sent),
                secs(ttl)
            ),
            Some(true) => {}
            Some(false) if now < not_before => fail_case!(
                "a worker last heard from {} ago (heartbeat TTL {}) is already offline",
                secs(now - sent),
                secs(ttl)
            ),
            Some(false) => return Ok(()),
            None => fail_case!("GET /v1/admin/state: the worker has no boolean `online`: {worker}"),
        }
        tokio::time::sleep(POLL * 2).await;
    }
}

/// Right after a lease's deadline has passed (by the contract's second), with no request in
/// between, a claim by another worker receives the task: no claim sees an expired lease as active.
async fn claim_never_sees_expired(ctx: Ctx) -> CaseResult {
    let ttl = ctx.ttl_within_max_wait("accept")?;
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "left unacknowledged"}]))
        .await?;
    let t = &ids(&tasks)?[0];
    let a = ctx.worker(&[&skill], json!({})).await?;
    claim_task(&ctx, &a, t, "it is ready").await?;
    let answered = Instant::now();
    tokio::time::sleep_until((answered + ttl + PRECISION + Duration::from_millis(100)).into())
        .await;
    let b = ctx.worker(&[&skill], json!({})).await?;
    let lease = claim_task(
        &ctx,
        &b,
        t,
        "the other worker's lease passed its accept_by more than a second ago",
    )
    .await?;
    ensure_that!(
        lease["task"]["attempts"] == 1,
        "the task's lease expired once: expected attempts 1 in the new lease, got {}",
        lease["task"]["attempts"]
    );
    Ok(())
}

/// Expiry happens whether or not any request arrives: with no request at all after the claim,
/// the event stream (feature `sse`) tells of the task's change within a second of `accept_by`
/// (plus the second an event may take); afterwards the task is `ready`. (The other expiry cases
/// read the task, and a server may apply due expiries when it is read.)
async fn expiry_without_requests(ctx: Ctx) -> CaseResult {
    let ttl = ctx.ttl_within_max_wait("accept")?;
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "expires in silence"}]))
        .await?;
    let t = &ids(&tasks)?[0];
    let w = ctx.worker(&[&skill], json!({})).await?;
    let mut stream = Stream::open(&ctx).await?;
    let sent = Instant::now();
    claim_task(&ctx, &w, t, "it is ready").await?;
    let answered = Instant::now();
    // The claim's own events come first; the next one naming the task after the earliest
    // moment the lease may end is the expiry's.
    let not_before = (sent + ttl).checked_sub(PRECISION).unwrap_or(sent);
    let deadline = answered + ttl + PRECISION + PRECISION + SLACK;
    loop {
        let (_, at) = stream
            .until(
                "task_id",
                t,
                deadline,
                "the lease's accept_by, with no request made since the claim",
            )
            .await?;
        if at >= not_before {
            break;
        }
    }
    let task = ctx.task(t).await?;
    ensure_that!(
        task["status"] == "ready" && task["attempts"] == 1,
        "after the expiry's event: expected the task ready with attempts 1, got status {} \
         attempts {}",
        task["status"],
        task["attempts"]
    );
    Ok(())
}

/// Only `heartbeat` and `renew` extend leases: a holder that keeps making other authenticated
/// requests (reading its task) stays online, but its acknowledged lease still ends by its
/// `expires_at`.
async fn only_renewals_extend(ctx: Ctx) -> CaseResult {
    let ttl = ctx.ttl_within_max_wait("lease")?;
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "busy, never renewed"}]))
        .await?;
    let t = &ids(&tasks)?[0];
    let w = ctx.worker(&[&skill], json!({})).await?;
    let lease = claim_task(&ctx, &w, t, "it is ready").await?;
    let sent = Instant::now();
    ack(&ctx, &w, &lease).await?;
    let answered = Instant::now();
    let by = answered + ttl + PRECISION + SLACK;
    let not_before = (sent + ttl).checked_sub(PRECISION).unwrap_or(sent);
    loop {
        // Reading its own task is an authenticated request of the holder (any answer will do
        // once the lease has ended).
        ctx.worker_get(&w, &format!("/v1/tasks/{t}")).await?;
        let now = Instant::now();
        let task = ctx.task(t).await?;
        if task["status"] != "in_progress" {
            ensure_that!(
                now >= not_before,
                "the lease ended {} before its expires_at",
                secs(not_before.saturating_duration_since(now) + PRECISION)
            );
            ensure_that!(
                task["status"] == "ready" && task["attempts"] == 1,
                "the lease expired: expected the task ready with attempts 1, got status {} \
                 attempts {}",
                task["status"],
                task["attempts"]
            );
            return Ok(());
        }
        if now > by {
            fail_case!(
                "a holder that only read its task (no heartbeat, no renew) kept its lease {} \
                 past expires_at (lease TTL {}): only heartbeat and renew extend leases",
                secs(now.saturating_duration_since(by) + PRECISION + SLACK),
                secs(ttl)
            );
        }
        tokio::time::sleep(POLL * 3).await;
    }
}
