//! Section 5: the scheduling rules `POST /v1/work` guarantees, one case a rule, each checked with
//! claims that one after another cross the rule's line.

use serde_json::json;

use super::common::{
    ack, admin_status, admin_worker, claim_task, id, ids, nack, pr_opened, state_repo, state_worker,
};
use crate::{Case, CaseResult, Ctx, Outcome};
use crate::{case, ensure_that, fail_case};

pub fn cases() -> Vec<Case> {
    vec![
        case!("rules.ready_only", ready_only),
        case!("rules.paused_worker", paused_worker),
        case!("rules.skills", skills),
        case!("rules.capacity_points", capacity_points),
        case!("rules.max_concurrent_tasks", max_concurrent_tasks),
        case!("rules.area_lock", area_lock),
        case!("rules.area_lock_off", area_lock_off),
        case!("rules.review_budget", review_budget),
        case!("rules.tier_trust", tier_trust),
        case!("rules.priority_order", priority_order),
        case!("rules.nacked_not_reoffered", nacked_not_reoffered),
    ]
}

/// Only `ready` tasks are offered: not `leased`, `in_progress`, `pr_opened`, `blocked`, `merged`
/// or `cancelled`; set back to `ready` it is offered again.
async fn ready_only(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "the only task"}]))
        .await?;
    let t = &ids(&tasks)?[0];
    let a = ctx.worker(&[&skill], json!({})).await?;
    let b = ctx.worker(&[&skill], json!({})).await?;
    let lease = claim_task(&ctx, &a, t, "it is ready").await?;
    ctx.claim_none(&b, "the only task is leased").await?;
    ack(&ctx, &a, &lease).await?;
    ctx.claim_none(&b, "the only task is in_progress").await?;
    pr_opened(&ctx, &a, &lease).await?;
    ctx.claim_none(&b, "the only task is pr_opened").await?;
    for status in ["blocked", "merged", "cancelled"] {
        admin_status(&ctx, t, status).await?;
        ctx.claim_none(&b, &format!("the only task is {status}"))
            .await?;
    }
    admin_status(&ctx, t, "ready").await?;
    claim_task(&ctx, &b, t, "an admin set it back to ready").await?;
    Ok(())
}

/// A paused worker gets nothing, whether it paused itself (heartbeat `{status: paused}`) or an
/// admin paused it; resumed, it is offered work again.
async fn paused_worker(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "first", "priority": "high"}, {"title": "second"}]),
        )
        .await?;
    let t = ids(&tasks)?;
    let w = ctx.worker(&[&skill], json!({})).await?;
    let reply = ctx
        .worker_post(&w, "/v1/workers/heartbeat", json!({"status": "paused"}))
        .await?;
    reply.expect(&[200], "POST /v1/workers/heartbeat {status: paused}")?;
    let shown = state_worker(&ctx, &w).await?;
    ensure_that!(
        shown["status"] == "paused",
        "after heartbeat {{status: paused}} the worker's status should be paused, got {}",
        shown["status"]
    );
    ctx.claim_none(&w, "the worker paused itself by heartbeat")
        .await?;
    let reply = ctx
        .worker_post(&w, "/v1/workers/heartbeat", json!({"status": "idle"}))
        .await?;
    reply.expect(&[200], "POST /v1/workers/heartbeat {status: idle}")?;
    let lease = claim_task(&ctx, &w, &t[0], "the worker resumed by heartbeat").await?;
    // In review it holds no expiring lease, so it cannot come back to the queue meanwhile.
    pr_opened(&ctx, &w, &lease).await?;
    let updated = admin_worker(&ctx, &w, json!({"status": "paused"})).await?;
    ensure_that!(
        updated["status"] == "paused",
        "POST /v1/admin/workers/{{id}} {{status: paused}}: expected the worker with status \
         paused, got status {}",
        updated["status"]
    );
    ctx.claim_none(&w, "an admin paused the worker").await?;
    admin_worker(&ctx, &w, json!({"status": "idle"})).await?;
    claim_task(&ctx, &w, &t[1], "an admin resumed the worker").await?;
    Ok(())
}

/// Every required skill must be among the worker's skills, compared case-insensitively; a
/// worker lacking any one of them gets nothing.
async fn skills(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let first = ctx.skill();
    let second = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &first,
            json!([{"title": "needs two skills",
                    "required_skills": [first.to_uppercase(), second.clone()]}]),
        )
        .await?;
    let t = &ids(&tasks)?[0];
    let only_first = ctx.worker(&[&first], json!({})).await?;
    ctx.claim_none(&only_first, "the worker lacks the second required skill")
        .await?;
    let only_second = ctx.worker(&[&second], json!({})).await?;
    ctx.claim_none(&only_second, "the worker lacks the first required skill")
        .await?;
    let both = ctx
        .worker(&[&first, &second.to_uppercase()], json!({}))
        .await?;
    claim_task(
        &ctx,
        &both,
        t,
        "the worker has both skills, in other letter case",
    )
    .await?;
    Ok(())
}

/// `active_points + estimate_points ≤ capacity_points`, counting leased and in-progress tasks:
/// a task that does not fit is passed over for one that does, and freed points count again.
async fn capacity_points(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([
                {"title": "two points, critical", "estimate_points": 2, "priority": "critical"},
                {"title": "two points, high", "estimate_points": 2, "priority": "high"},
                {"title": "one point, low", "estimate_points": 1, "priority": "low"},
            ]),
        )
        .await?;
    let t = ids(&tasks)?;
    let w = ctx
        .worker(
            &[&skill],
            json!({"capacity_points": 3, "max_concurrent_tasks": 10}),
        )
        .await?;
    let first = claim_task(&ctx, &w, &t[0], "2 of 3 points, highest priority").await?;
    let small = claim_task(
        &ctx,
        &w,
        &t[2],
        "2 + 2 points would pass capacity 3, 2 + 1 fits",
    )
    .await?;
    ctx.claim_none(&w, "3 of 3 points are held").await?;
    ack(&ctx, &w, &first).await?;
    ctx.claim_none(&w, "3 of 3 points are held (one task in_progress)")
        .await?;
    nack(&ctx, &w, &small).await?;
    ctx.claim_none(
        &w,
        "2 points held: the 2-point task would pass capacity 3, and the 1-point one was given back",
    )
    .await?;
    pr_opened(&ctx, &w, &first).await?;
    claim_task(
        &ctx,
        &w,
        &t[1],
        "a pr_opened task holds no points: 0 + 2 ≤ 3",
    )
    .await?;
    Ok(())
}

/// `active_tasks < max_concurrent_tasks`, counting leased and in-progress tasks.
async fn max_concurrent_tasks(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "first"}, {"title": "second"}, {"title": "third"}]),
        )
        .await?;
    let t = ids(&tasks)?;
    let w = ctx
        .worker(
            &[&skill],
            json!({"capacity_points": 100, "max_concurrent_tasks": 2}),
        )
        .await?;
    let first = claim_task(&ctx, &w, &t[0], "0 of 2 tasks held").await?;
    claim_task(&ctx, &w, &t[1], "1 of 2 tasks held").await?;
    ctx.claim_none(&w, "2 of max_concurrent_tasks 2 are held")
        .await?;
    ack(&ctx, &w, &first).await?;
    ctx.claim_none(&w, "2 of 2 tasks held (one in_progress)")
        .await?;
    pr_opened(&ctx, &w, &first).await?;
    claim_task(
        &ctx,
        &w,
        &t[2],
        "a pr_opened task is not active: 1 of 2 held",
    )
    .await?;
    Ok(())
}

/// Area locks on: while a task of an area is leased, in progress or `pr_opened`, no other task of
/// that repository and area is offered; tasks of other areas and without an area are.
async fn area_lock(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo_with(100, true, json!({})).await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([
                {"title": "ui one", "area": "ui", "priority": "critical"},
                {"title": "ui two", "area": "ui", "priority": "high"},
                {"title": "api one", "area": "api", "priority": "normal"},
                {"title": "no area", "priority": "low"},
            ]),
        )
        .await?;
    let t = ids(&tasks)?;
    let mut workers = Vec::new();
    for _ in 0..4 {
        workers.push(ctx.worker(&[&skill], json!({})).await?);
    }
    let ui = claim_task(&ctx, &workers[0], &t[0], "highest priority").await?;
    claim_task(
        &ctx,
        &workers[1],
        &t[2],
        "area `ui` is locked by a leased task",
    )
    .await?;
    claim_task(
        &ctx,
        &workers[2],
        &t[3],
        "areas `ui` and `api` are locked; a task without an area never is",
    )
    .await?;
    ctx.claim_none(&workers[3], "area `ui` is locked by a leased task")
        .await?;
    ack(&ctx, &workers[0], &ui).await?;
    ctx.claim_none(&workers[3], "area `ui` is locked by an in_progress task")
        .await?;
    pr_opened(&ctx, &workers[0], &ui).await?;
    ctx.claim_none(&workers[3], "area `ui` is locked by a pr_opened task")
        .await?;
    admin_status(&ctx, &t[0], "merged").await?;
    claim_task(
        &ctx,
        &workers[3],
        &t[1],
        "the task that held area `ui` is merged",
    )
    .await?;
    Ok(())
}

/// Area locks off: two tasks of one area are offered together, a `pr_opened` one holds nothing.
async fn area_lock_off(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo_with(100, false, json!({})).await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([
                {"title": "ui one", "area": "ui", "priority": "high"},
                {"title": "ui two", "area": "ui"},
                {"title": "ui three", "area": "ui", "priority": "low"},
            ]),
        )
        .await?;
    let t = ids(&tasks)?;
    let a = ctx.worker(&[&skill], json!({})).await?;
    let b = ctx.worker(&[&skill], json!({})).await?;
    let c = ctx.worker(&[&skill], json!({})).await?;
    let first = claim_task(&ctx, &a, &t[0], "highest priority").await?;
    claim_task(&ctx, &b, &t[1], "area locks are off in this repository").await?;
    pr_opened(&ctx, &a, &first).await?;
    claim_task(
        &ctx,
        &c,
        &t[2],
        "area locks are off: neither a leased nor a pr_opened task holds the area",
    )
    .await?;
    Ok(())
}

/// Review budget: `open_prs + active_leases < max_open_prs` in the task's repository; a
/// `pr_opened` task counts, and so does one its holder reported `blocked` (section 9), until an
/// admin moves it on. The repository's live figures say the same. `max_open_prs: 0` offers
/// nothing.
async fn review_budget(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo_with(2, false, json!({})).await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "t1"}, {"title": "t2"}, {"title": "t3"}, {"title": "t4"}]),
        )
        .await?;
    let t = ids(&tasks)?;
    let mut w = Vec::new();
    for _ in 0..4 {
        w.push(ctx.worker(&[&skill], json!({})).await?);
    }
    let l1 = claim_task(&ctx, &w[0], &t[0], "budget 2, nothing active").await?;
    claim_task(&ctx, &w[1], &t[1], "budget 2, one lease active").await?;
    ctx.claim_none(&w[2], "budget 2: two leases are active")
        .await?;
    pr_opened(&ctx, &w[0], &l1).await?;
    ctx.claim_none(&w[2], "budget 2: one pr_opened and one lease")
        .await?;
    let policy = state_repo(&ctx, &repo).await?;
    ensure_that!(
        policy["open_prs"] == 1 && policy["active_leases"] == 1 && policy["throttled"] == true,
        "the repository with budget 2, one task pr_opened and one leased: expected open_prs 1, \
         active_leases 1, throttled true; got {policy}"
    );
    admin_status(&ctx, &t[0], "merged").await?;
    claim_task(
        &ctx,
        &w[2],
        &t[2],
        "the pr_opened task merged: one slot free",
    )
    .await?;
    let task_id = &t[1];
    let reply = ctx
        .worker_post(
            &w[1],
            &format!("/v1/tasks/{task_id}/status"),
            json!({"status": "blocked", "note": "conformance: needs a maintainer"}),
        )
        .await?;
    reply.expect(&[200], "POST /v1/tasks/{id}/status blocked by the holder")?;
    ctx.claim_none(
        &w[3],
        "budget 2: one lease, and one task its holder reported blocked",
    )
    .await?;
    admin_status(&ctx, task_id, "cancelled").await?;
    claim_task(
        &ctx,
        &w[3],
        &t[3],
        "the blocked task was cancelled by an admin: one slot free",
    )
    .await?;
    let closed = ctx.repo_with(0, false, json!({})).await?;
    let other = ctx.skill();
    ctx.import(&closed, &other, json!([{"title": "never offered"}]))
        .await?;
    let fresh = ctx.worker(&[&other], json!({})).await?;
    ctx.claim_none(
        &fresh,
        "the only ready task's repository has max_open_prs 0",
    )
    .await?;
    let policy = state_repo(&ctx, &closed).await?;
    ensure_that!(
        policy["throttled"] == true,
        "a repository with max_open_prs 0 is throttled (0 + 0 ≥ 0); got {policy}"
    );
    Ok(())
}

/// `tier ≤ trust_level`: a task above the worker's trust is never offered; once an admin raises
/// the trust, it is.
async fn tier_trust(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([
                {"title": "tier 2", "tier": 2, "priority": "critical"},
                {"title": "tier 1", "tier": 1, "priority": "high"},
            ]),
        )
        .await?;
    let t = ids(&tasks)?;
    let w = ctx.worker(&[&skill], json!({})).await?;
    ctx.claim_none(&w, "trust 0, tasks of tier 1 and 2").await?;
    let updated = admin_worker(&ctx, &w, json!({"trust_level": 1})).await?;
    ensure_that!(
        updated["trust_level"] == 1,
        "POST /v1/admin/workers/{{id}} {{trust_level: 1}}: expected the worker with trust_level \
         1, got {}",
        updated["trust_level"]
    );
    claim_task(&ctx, &w, &t[1], "trust 1: tier 1 fits, tier 2 does not").await?;
    ctx.claim_none(&w, "trust 1, the tier-2 task is left")
        .await?;
    admin_worker(&ctx, &w, json!({"trust_level": 2})).await?;
    claim_task(&ctx, &w, &t[0], "an admin raised trust to 2").await?;
    Ok(())
}

/// Higher priority first, then the oldest; the tasks of one import count as created in the order
/// they are listed.
async fn priority_order(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let first = ctx
        .import(
            &repo,
            &skill,
            json!([
                {"title": "N0"}, {"title": "L0", "priority": "low"}, {"title": "N1"},
                {"title": "H0", "priority": "high"}, {"title": "C0", "priority": "critical"},
                {"title": "N2", "priority": "normal"}, {"title": "H1", "priority": "high"},
                {"title": "N3"}, {"title": "N4"},
            ]),
        )
        .await?;
    let second = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "C1", "priority": "critical"}, {"title": "N5"}]),
        )
        .await?;
    let mut by_title = std::collections::HashMap::new();
    for t in first.iter().chain(second.iter()) {
        by_title.insert(
            t["title"].as_str().unwrap_or("").to_string(),
            id(t, "task_id", "POST /v1/admin/tasks")?,
        );
    }
    let w = ctx
        .worker(
            &[&skill],
            json!({"capacity_points": 100, "max_concurrent_tasks": 20}),
        )
        .await?;
    let order = [
        "C0", "C1", "H0", "H1", "N0", "N1", "N2", "N3", "N4", "N5", "L0",
    ];
    let mut got = Vec::new();
    for (n, title) in order.iter().enumerate() {
        let want = by_title
            .get(*title)
            .ok_or_else(|| Outcome::Failed(format!("the import did not return task `{title}`")))?;
        let reply = ctx.claim(&w, None).await?;
        let task = &reply.body["lease"]["task"];
        let title_got = task["title"].as_str().unwrap_or("").to_string();
        if reply.status != 200 || task["task_id"] != want.as_str() {
            fail_case!(
                "claim {} should offer `{title}` (order {}); after {} it offered {}",
                n + 1,
                order.join(", "),
                if got.is_empty() {
                    "nothing".to_string()
                } else {
                    got.join(", ")
                },
                if reply.status == 200 {
                    format!("`{title_got}`")
                } else {
                    reply.describe()
                }
            );
        }
        got.push(title_got);
        // In review it holds no expiring lease, so it cannot come back while the rest is taken.
        pr_opened(&ctx, &w, &reply.body["lease"]).await?;
    }
    Ok(())
}

/// A worker that gave a task back (`nack`, from `leased` or from `in_progress`) is not offered it
/// again (within the hour); other workers are, at once.
async fn nacked_not_reoffered(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "given back twice"}]))
        .await?;
    let t = &ids(&tasks)?[0];
    let a = ctx.worker(&[&skill], json!({})).await?;
    let b = ctx.worker(&[&skill], json!({})).await?;
    let c = ctx.worker(&[&skill], json!({})).await?;
    let lease = claim_task(&ctx, &a, t, "it is ready").await?;
    let task = nack(&ctx, &a, &lease).await?;
    ensure_that!(
        task["status"] == "ready",
        "nack from leased: expected the task back in ready, got status {}",
        task["status"]
    );
    ctx.claim_none(&a, "this worker nacked the only task moments ago")
        .await?;
    let lease = claim_task(&ctx, &b, t, "another worker may take a nacked task at once").await?;
    ack(&ctx, &b, &lease).await?;
    nack(&ctx, &b, &lease).await?;
    ctx.claim_none(&b, "this worker nacked the task from in_progress")
        .await?;
    ctx.claim_none(&a, "this worker nacked the task earlier")
        .await?;
    claim_task(&ctx, &c, t, "a third worker never gave it back").await?;
    Ok(())
}
