//! Every move's fields (section 6, "A task's fields after each move"): `assigned_worker_id`,
//! `lease_id`, `lease_expires_at`, `status_reason`, `awaits_maintainer` and the event each move
//! emits; when a lease that was never acknowledged ends (section 8.1), approved plans included;
//! and the events of registering and archiving (section 11).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::common::{Leased, PRECISION, SLACK, ack, id, nack, one_leased, pr_opened, secs, state};
use crate::client::{Worker, utc_field};
use crate::{Case, CaseResult, Ctx, Outcome};
use crate::{case, ensure_that, fail_case};

pub fn cases() -> Vec<Case> {
    vec![
        case!("moves.fields_after_each_move", fields_after_each_move),
        case!("moves.holder_blocked_releases", holder_blocked_releases),
        case!("moves.reason_only_while_ended", reason_only_while_ended),
        case!("moves.unacked_ends_at_accept_by", unacked_ends_at_accept_by),
        case!(
            "moves.approved_lease_keeps_its_window",
            feature = "proposals",
            approved_lease_keeps_its_window
        ),
        case!(
            "moves.register_and_archive_events",
            register_and_archive_events
        ),
    ]
}

/// What section 6's table says of a task after a move.
struct After<'a> {
    status: &'a str,
    holder: Option<&'a str>,
    lease: Option<&'a str>,
    expires: bool,
    reason: Option<&'a str>,
    awaits: bool,
    event: &'a str,
}

/// The newest event of `task` in the admin state of `repo`.
async fn last_event(ctx: &Ctx, repo: &str, task: &str) -> Result<Value, Outcome> {
    let state = state(ctx, repo).await?;
    let events = state["events"].as_array().cloned().unwrap_or_default();
    match events.iter().rev().find(|e| e["task_id"] == task) {
        Some(e) => Ok(e.clone()),
        None => fail_case!("GET /v1/admin/state lists no event of task {task}"),
    }
}

/// Checks `task` (as the admin reads it, and as `answer` showed it when given) against `want`.
async fn check(ctx: &Ctx, repo: &str, task: &str, want: &After<'_>, what: &str) -> CaseResult {
    let t = ctx.task(task).await?;
    let opt = |v: Option<&str>| v.map_or(Value::Null, |s| json!(s));
    let checks = [
        ("status", t["status"].clone(), json!(want.status)),
        (
            "assigned_worker_id",
            t["assigned_worker_id"].clone(),
            opt(want.holder),
        ),
        ("lease_id", t["lease_id"].clone(), opt(want.lease)),
        (
            "status_reason",
            t["status_reason"].clone(),
            opt(want.reason),
        ),
        (
            "awaits_maintainer",
            t["awaits_maintainer"].clone(),
            json!(want.awaits),
        ),
    ];
    for (field, got, expected) in checks {
        ensure_that!(
            got == expected,
            "§6 (a task's fields after each move): after {what}, `{field}` should be {expected}, \
             got {got}"
        );
    }
    ensure_that!(
        t["lease_expires_at"].is_string() == want.expires,
        "§6 (a task's fields after each move): after {what}, `lease_expires_at` should be {}, \
         got {}",
        if want.expires { "a timestamp" } else { "null" },
        t["lease_expires_at"]
    );
    let event = last_event(ctx, repo, task).await?;
    ensure_that!(
        event["kind"] == want.event,
        "§6, §11: {what} emits `{}`; the task's newest event is {event}",
        want.event
    );
    Ok(())
}

/// One task through claim, ack, a holder's `pr_opened` and an admin's `merged`; another through
/// claim and `nack`; a third through an admin's `blocked`, `ready` and `cancelled`.
async fn fields_after_each_move(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "first", "priority": "high"}, {"title": "second"},
                   {"title": "third", "priority": "low"}]),
        )
        .await?;
    let ids: Vec<String> = super::common::ids(&tasks)?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let w = worker.id.as_str();
    let (a, b, c) = (ids[0].as_str(), ids[1].as_str(), ids[2].as_str());
    let fresh = After {
        status: "ready",
        holder: None,
        lease: None,
        expires: false,
        reason: None,
        awaits: false,
        event: "task.created",
    };
    check(&ctx, &repo, a, &fresh, "an import").await?;

    let lease = super::common::claim_task(&ctx, &worker, a, "the most urgent").await?;
    let l = id(&lease, "lease_id", "lease")?;
    let mut want = After {
        status: "leased",
        holder: Some(w),
        lease: Some(&l),
        expires: true,
        event: "task.leased",
        ..fresh
    };
    check(&ctx, &repo, a, &want, "a claim").await?;
    ack(&ctx, &worker, &lease).await?;
    want.status = "in_progress";
    want.event = "task.status";
    check(&ctx, &repo, a, &want, "an ack").await?;
    let renewed = ctx
        .worker_post(&worker, &format!("/v1/leases/{l}/renew"), json!({}))
        .await?;
    renewed.expect(&[200], "POST /v1/leases/{id}/renew")?;
    want.event = "lease.renewed";
    check(&ctx, &repo, a, &want, "a renew").await?;
    pr_opened(&ctx, &worker, &lease).await?;
    want.status = "pr_opened";
    want.expires = false;
    want.event = "task.status";
    check(&ctx, &repo, a, &want, "the holder's pr_opened").await?;
    super::common::admin_status(&ctx, a, "merged").await?;
    want.status = "merged";
    check(&ctx, &repo, a, &want, "an admin's merged").await?;

    let lease = super::common::claim_task(&ctx, &worker, b, "the next in order").await?;
    nack(&ctx, &worker, &lease).await?;
    check(
        &ctx,
        &repo,
        b,
        &After {
            event: "lease.nacked",
            ..fresh
        },
        "a nack",
    )
    .await?;

    for (to, reason, what) in [
        (
            "blocked",
            Some("conformance"),
            "an admin's blocked (with a reason)",
        ),
        ("ready", None, "an admin's ready (with a reason)"),
        (
            "cancelled",
            Some("conformance"),
            "an admin's cancelled (with a reason)",
        ),
    ] {
        super::common::admin_status(&ctx, c, to).await?;
        let want = After {
            status: to,
            reason,
            event: "task.status",
            ..fresh
        };
        check(&ctx, &repo, c, &want, what).await?;
    }
    Ok(())
}

/// A holder's `blocked` releases the task: no holder, no lease (the ended lease is named by the
/// move's event), its `note` the `status_reason`, and `awaits_maintainer` until an admin moves
/// it on.
async fn holder_blocked_releases(ctx: Ctx) -> CaseResult {
    let Leased {
        repo,
        worker,
        lease,
        task,
        ..
    } = one_leased(&ctx, "stuck").await?;
    let l = id(&lease, "lease_id", "lease")?;
    ack(&ctx, &worker, &lease).await?;
    ctx.worker_post(
        &worker,
        &format!("/v1/tasks/{task}/status"),
        json!({"status": "blocked", "note": "needs a decision"}),
    )
    .await?
    .expect(&[200], "§9.15: status blocked by the holder")?;
    let want = After {
        status: "blocked",
        holder: None,
        lease: None,
        expires: false,
        reason: Some("needs a decision"),
        awaits: true,
        event: "task.status",
    };
    check(&ctx, &repo, &task, &want, "the holder's blocked").await?;
    let event = last_event(&ctx, &repo, &task).await?;
    ensure_that!(
        event["data"]["lease_id"] == l.as_str(),
        "§6, §11: the holder's blocked names the lease it ended ({l}) in its event's data, got \
         {event}"
    );
    super::common::admin_status(&ctx, &task, "ready").await?;
    check(
        &ctx,
        &repo,
        &task,
        &After {
            status: "ready",
            reason: None,
            awaits: false,
            ..want
        },
        "an admin's ready of a task its holder blocked",
    )
    .await
}

/// `status_reason` is set exactly while a task is `blocked` or `cancelled`: a reason given with
/// another admin move is only in the move's event (`data.reason`).
async fn reason_only_while_ended(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "moved with reasons"}]))
        .await?;
    let task = id(&tasks[0], "task_id", "POST /v1/admin/tasks")?;
    let path = format!("/v1/admin/tasks/{task}/status");
    for (to, kept) in [("blocked", true), ("ready", false), ("pr_opened", false)] {
        let reason = format!("reason for {to}");
        let reply = ctx
            .admin_post(&path, json!({"status": to, "reason": reason}))
            .await?;
        reply.expect(&[200], &format!("POST /v1/admin/tasks/{{id}}/status {to}"))?;
        let want = if kept { json!(reason) } else { Value::Null };
        ensure_that!(
            reply.body["status_reason"] == want,
            "§5.1, §9.5: after an admin's {to} with a reason, `status_reason` should be {want}, \
             got {}",
            reply.body["status_reason"]
        );
        let event = last_event(&ctx, &repo, &task).await?;
        ensure_that!(
            event["data"]["reason"] == reason.as_str(),
            "§11: the admin's {to} keeps its reason in the event's `data.reason`; got {event}"
        );
    }
    Ok(())
}

/// A lease never acknowledged ends at its `accept_by`: a `renew` does not move `accept_by`, and
/// (when the server's accept window is at least 3 s longer than its lease TTL) the lease is
/// still alive after the lease TTL, then ends within a second of `accept_by`.
async fn unacked_ends_at_accept_by(ctx: Ctx) -> CaseResult {
    let Leased {
        worker,
        lease,
        task,
        ..
    } = one_leased(&ctx, "never acknowledged").await?;
    let claimed_at = Instant::now();
    let l = id(&lease, "lease_id", "lease")?;
    let accept_by = utc_field(&lease, "accept_by", "the claim's lease")?;
    let expires = utc_field(&lease, "expires_at", "the claim's lease")?;
    ensure_that!(
        accept_by <= expires,
        "§5.4, §8.1: a new lease's `accept_by` ({accept_by}) comes no later than its \
         `expires_at` ({expires})"
    );
    ctx.worker_post(&worker, &format!("/v1/leases/{l}/renew"), json!({}))
        .await?
        .expect(&[200], "§8.2: renew of a lease not yet acknowledged")?;
    let me = ctx.worker_get(&worker, "/v1/workers/me").await?;
    me.expect(&[200], "GET /v1/workers/me")?;
    let held = me.body["leases"]
        .as_array()
        .and_then(|ls| ls.iter().find(|x| x["lease_id"] == l.as_str()))
        .cloned()
        .unwrap_or(Value::Null);
    let after = utc_field(&held, "accept_by", "the lease in GET /v1/workers/me")?;
    ensure_that!(
        after == accept_by,
        "§8.2: renew does not move `accept_by` ({accept_by}), it is now {after}"
    );
    let accept = ctx.ttl_within_max_wait("accept")?;
    let lease_ttl = Duration::from_secs(ctx.meta()["lease_ttl_seconds"].as_u64().unwrap_or(0));
    if accept < lease_ttl + Duration::from_secs(3) {
        return Err(Outcome::Skipped(format!(
            "§8.1: `accept_by` unmoved by renew was checked; that the lease outlives its lease \
             TTL until `accept_by` needs an accept window at least 3 s longer than the lease \
             TTL (the server runs {} and {})",
            secs(accept),
            secs(lease_ttl)
        )));
    }
    tokio::time::sleep(
        (claimed_at + lease_ttl + PRECISION).saturating_duration_since(Instant::now()),
    )
    .await;
    let t = ctx.task(&task).await?;
    ensure_that!(
        t["status"] == "leased",
        "§8.1: a lease not acknowledged ends at `accept_by`, not at its lease TTL: {} after the \
         claim the task should still be leased, it is {}",
        secs(lease_ttl + PRECISION),
        t["status"]
    );
    tokio::time::sleep(
        (claimed_at + accept + PRECISION + SLACK).saturating_duration_since(Instant::now()),
    )
    .await;
    let t = ctx.task(&task).await?;
    ensure_that!(
        t["status"] == "ready" && t["attempts"] == 1,
        "§8.1, §8.3: past `accept_by` the lease ends (task ready, attempts 1); got status {} \
         attempts {}",
        t["status"],
        t["attempts"]
    );
    Ok(())
}

/// The lease an approved plan grants waits 24 hours for its ack: its `accept_by` is a day
/// ahead, and heartbeats and the lease TTL passing do not end it sooner.
async fn approved_lease_keeps_its_window(ctx: Ctx) -> CaseResult {
    let repo = ctx
        .repo_with(
            100,
            false,
            json!({"visibility": "public", "approval": "plan", "approval_skip_trust": null}),
        )
        .await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "planned first"}]))
        .await?;
    let task = id(&tasks[0], "task_id", "POST /v1/admin/tasks")?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let proposal = ctx
        .worker_post(
            &worker,
            &format!("/v1/tasks/{task}/proposals"),
            json!({"plan": "conformance: the plan"}),
        )
        .await?;
    proposal.expect(&[201], "POST /v1/tasks/{id}/proposals")?;
    let pid = id(&proposal.body, "proposal_id", "the proposal")?;
    let approved = ctx
        .admin_post(&format!("/v1/admin/proposals/{pid}/approve"), json!({}))
        .await?;
    approved.expect(&[200], "POST /v1/admin/proposals/{id}/approve")?;
    let lease = approved.body["lease"].clone();
    let l = id(&lease, "lease_id", "the approval's lease")?;
    let accept_by = utc_field(&lease, "accept_by", "the approval's lease")?;
    let ahead = accept_by - chrono::Utc::now();
    ensure_that!(
        ahead > chrono::Duration::hours(23) && ahead <= chrono::Duration::hours(24),
        "§9.17, §8.1: an approved plan's lease waits 24 hours for its ack; its `accept_by` is \
         {accept_by}"
    );
    let lease_ttl = ctx.ttl_within_max_wait("lease")?;
    // A heartbeat renews every live lease of the worker; it must not bring the approved one's
    // end forward to a lease TTL from now.
    ctx.heartbeat(&worker)
        .await?
        .expect(&[200], "POST /v1/workers/heartbeat")?;
    tokio::time::sleep(lease_ttl + PRECISION + SLACK).await;
    let t = ctx.task(&task).await?;
    ensure_that!(
        t["status"] == "leased" && t["lease_id"] == l.as_str(),
        "§8.1: heartbeats and the lease TTL passing do not end an approved plan's lease before \
         its `accept_by`; the task is {} with lease {}",
        t["status"],
        t["lease_id"]
    );
    let again =
        super::common::claim_task(&ctx, &worker, &task, "its approved plan's lease").await?;
    ensure_that!(
        again["lease_id"] == l.as_str(),
        "§7.1 rule 11: the next claim returns the approved lease {l}, got {}",
        again["lease_id"]
    );
    nack(&ctx, &worker, &again).await?;
    Ok(())
}

/// The events of `worker` among the newest of the admin state.
async fn worker_events(ctx: &Ctx, worker: &Worker) -> Result<Vec<String>, Outcome> {
    let reply = ctx
        .admin_get("/v1/admin/state?events=500&archived=true")
        .await?;
    reply.expect(&[200], "GET /v1/admin/state")?;
    Ok(reply.body["events"]
        .as_array()
        .map(|es| {
            es.iter()
                .filter(|e| e["worker_id"] == worker.id.as_str())
                .filter_map(|e| e["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// Registering emits `worker.registered` (the worker is online from it: no `worker.online`);
/// archiving a worker emits `worker.archived`, archiving a repository `repo.archived`.
async fn register_and_archive_events(ctx: Ctx) -> CaseResult {
    let worker = ctx.worker(&[&ctx.skill()], json!({})).await?;
    let kinds = worker_events(&ctx, &worker).await?;
    ensure_that!(
        kinds == ["worker.registered"],
        "§11: registering emits `worker.registered` and nothing else (no `worker.online`); the \
         worker's events are {kinds:?}"
    );
    ctx.admin_post(
        &format!("/v1/admin/workers/{}/archive", worker.id),
        json!({}),
    )
    .await?
    .expect(&[200], "POST /v1/admin/workers/{id}/archive")?;
    let kinds = worker_events(&ctx, &worker).await?;
    ensure_that!(
        kinds.last().map(String::as_str) == Some("worker.archived"),
        "§9.6, §11: archiving a worker emits `worker.archived`; the worker's events are {kinds:?}"
    );
    let repo = ctx.repo().await?;
    ctx.admin_post("/v1/admin/repos/archive", json!({"repo": repo}))
        .await?
        .expect(&[200], "POST /v1/admin/repos/archive")?;
    let reply = ctx
        .admin_get("/v1/admin/state?events=500&archived=true")
        .await?;
    reply.expect(&[200], "GET /v1/admin/state")?;
    let last = reply.body["events"]
        .as_array()
        .and_then(|es| es.iter().rev().find(|e| e["repo"] == repo.as_str()))
        .cloned()
        .unwrap_or(Value::Null);
    ensure_that!(
        last["kind"] == "repo.archived",
        "§9.6, §11: archiving a repository emits `repo.archived`; its newest event is {last}"
    );
    Ok(())
}
