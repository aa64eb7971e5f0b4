//! Section 12's plan first over HTTP (feature `proposals`): a worker's proposal for a task of a
//! repository whose policy says `approval: "plan"` (its shape, the 4,000-character plan, the
//! limits of 5 a task and 3 a worker, withdrawing, who sees which), a maintainer's approval (the
//! proposer's lease, returned first by its next claim; every other open proposal `not_chosen`)
//! and decline, and rule 11 itself (`approval_required`: no direct claim below the skip level).

use reqwest::Method;
use serde_json::{Value, json};

use super::common::{admin_worker, claim_task, id, ids};
use super::preview::{preview, reasons};
use crate::client::{Auth, Worker, utc_field};
use crate::{Case, CaseResult, Ctx, Outcome};
use crate::{case, ensure_that, fail_case};

pub fn cases() -> Vec<Case> {
    vec![
        case!(
            "proposals.shape_limits_and_withdraw",
            feature = "proposals",
            shape_limits_and_withdraw
        ),
        case!(
            "proposals.approve_decline_not_chosen",
            feature = "proposals",
            approve_decline_not_chosen
        ),
        case!("rules.plan_first", feature = "proposals", plan_first),
    ]
}

/// A repository of this case that takes plans first; `skip` is its `approval_skip_trust`.
async fn plan_repo(ctx: &Ctx, skip: Option<i64>) -> Result<String, Outcome> {
    ctx.repo_with(
        100,
        false,
        json!({"visibility": "public", "approval": "plan", "approval_skip_trust": skip}),
    )
    .await
}

/// `POST /v1/tasks/{id}/proposals {plan}` as `worker`.
async fn propose(
    ctx: &Ctx,
    worker: &Worker,
    task: &str,
    plan: &str,
) -> Result<crate::client::Reply, Outcome> {
    ctx.worker_post(
        worker,
        &format!("/v1/tasks/{task}/proposals"),
        json!({"plan": plan}),
    )
    .await
}

/// A proposal that must be made (201); returns its id, after checking the object's shape.
async fn proposed(ctx: &Ctx, worker: &Worker, task: &str, plan: &str) -> Result<String, Outcome> {
    let what = "POST /v1/tasks/{id}/proposals";
    let reply = propose(ctx, worker, task, plan).await?;
    reply.expect(&[201], what)?;
    let p = &reply.body;
    ensure_that!(
        p["task_id"] == task && p["worker_id"] == worker.id.as_str() && p["plan"] == plan,
        "{what}: the proposal should name task {task}, worker {} and the plan as sent; got {p}",
        worker.id
    );
    ensure_that!(
        p["state"] == "open",
        "{what}: a new proposal is `open`, got {}",
        p["state"]
    );
    let created = utc_field(p, "created_at", what)?;
    let expires = utc_field(p, "expires_at", what)?;
    ensure_that!(
        expires > created,
        "{what}: `expires_at` ({expires}) should come after `created_at` ({created})"
    );
    ensure_that!(
        p.get("scorecard").is_none_or(Value::is_null),
        "{what}: the proposer's answer carries no scorecard (maintainers only), got {p}"
    );
    id(p, "proposal_id", what)
}

/// The proposals of `task` as `auth` sees them (`GET /v1/tasks/{id}/proposals`).
async fn listed(ctx: &Ctx, task: &str, auth: Auth<'_>) -> Result<Vec<Value>, Outcome> {
    let path = format!("/v1/tasks/{task}/proposals");
    let reply = ctx.send(Method::GET, &path, auth, None, &[]).await?;
    reply.expect(&[200], "GET /v1/tasks/{id}/proposals")?;
    match reply.body["proposals"].as_array() {
        Some(list) => Ok(list.clone()),
        None => fail_case!(
            "GET /v1/tasks/{{id}}/proposals: expected {{proposals: [...]}}, got {}",
            reply.describe()
        ),
    }
}

/// The state of proposal `id` in the admin's list of `task`'s proposals.
async fn state_of(ctx: &Ctx, task: &str, id: &str) -> Result<String, Outcome> {
    let all = listed(ctx, task, Auth::Admin).await?;
    match all.iter().find(|p| p["proposal_id"] == id) {
        Some(p) => Ok(p["state"].as_str().unwrap_or("").to_string()),
        None => fail_case!("the admin's GET /v1/tasks/{task}/proposals does not list {id}"),
    }
}

/// A proposal's shape; a plan of 4,001 characters is `422 field_too_long` naming `plan`; 5
/// open proposals a task and 3 a worker (`409 too_many_proposals`); a worker sees only its own
/// proposals, the admin all; a worker withdraws its own (`DELETE`, then `withdrawn`), not
/// another's.
async fn shape_limits_and_withdraw(ctx: Ctx) -> CaseResult {
    let repo = plan_repo(&ctx, None).await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "crowded"}, {"title": "b"}, {"title": "c"}, {"title": "d"}]),
        )
        .await?;
    let t = ids(&tasks)?;
    let mut workers = Vec::new();
    for _ in 0..6 {
        workers.push(ctx.worker(&[&skill], json!({})).await?);
    }

    let long = propose(&ctx, &workers[0], &t[0], &"x".repeat(4_001)).await?;
    long.expect_problem(&[422], Some("field_too_long"), "a plan of 4,001 characters")?;
    ensure_that!(
        long.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("plan")),
        "a plan of 4,001 characters: the problem should name `plan`, got {}",
        long.describe()
    );
    let exact = "y".repeat(4_000);
    let mut on_crowded = vec![proposed(&ctx, &workers[0], &t[0], &exact).await?];

    // Three open proposals of one worker across the pool; the fourth is refused.
    proposed(&ctx, &workers[0], &t[1], "Fix b with a test first.").await?;
    proposed(&ctx, &workers[0], &t[2], "Fix c with a test first.").await?;
    propose(&ctx, &workers[0], &t[3], "A fourth plan.")
        .await?
        .expect_problem(
            &[409],
            Some("too_many_proposals"),
            "a worker's fourth open proposal",
        )?;
    // Five open proposals of one task; the sixth is refused.
    for (n, w) in workers.iter().enumerate().take(5).skip(1) {
        on_crowded.push(proposed(&ctx, w, &t[0], &format!("Plan number {n}.")).await?);
    }
    propose(&ctx, &workers[5], &t[0], "A sixth plan.")
        .await?
        .expect_problem(
            &[409],
            Some("too_many_proposals"),
            "a task's sixth open proposal",
        )?;

    // A worker sees its own; the admin sees all five.
    let mine = listed(&ctx, &t[0], Auth::Worker(&workers[1])).await?;
    ensure_that!(
        mine.len() == 1 && mine[0]["proposal_id"] == on_crowded[1].as_str(),
        "GET /v1/tasks/{{id}}/proposals by a worker should list only its own proposal {}, got \
         {mine:?}",
        on_crowded[1]
    );
    let all = listed(&ctx, &t[0], Auth::Admin).await?;
    for p in &on_crowded {
        ensure_that!(
            all.iter().any(|x| x["proposal_id"] == p.as_str()),
            "GET /v1/tasks/{{id}}/proposals by the admin should list every proposal; {p} is \
             missing from {all:?}"
        );
    }

    // Withdrawn by its own worker only; an ended proposal no longer counts.
    let path = format!("/v1/proposals/{}", on_crowded[2]);
    let theirs = ctx
        .send(Method::DELETE, &path, Auth::Worker(&workers[1]), None, &[])
        .await?;
    theirs.expect(&[403, 404], "DELETE /v1/proposals/{id} by another worker")?;
    let withdrawn = ctx
        .send(Method::DELETE, &path, Auth::Worker(&workers[2]), None, &[])
        .await?;
    withdrawn.expect(&[200], "DELETE /v1/proposals/{id} by its worker")?;
    ensure_that!(
        withdrawn.body["state"] == "withdrawn",
        "DELETE /v1/proposals/{{id}}: the answer's state should be `withdrawn`, got {}",
        withdrawn.body["state"]
    );
    ensure_that!(
        state_of(&ctx, &t[0], &on_crowded[2]).await? == "withdrawn",
        "a withdrawn proposal should be listed `withdrawn`"
    );
    proposed(
        &ctx,
        &workers[5],
        &t[0],
        "The sixth, now that there is room.",
    )
    .await?;
    Ok(())
}

/// The admin declines one proposal and approves another: `200 {proposal, lease}`, the task
/// `leased` to the proposer, the third proposal `not_chosen`, the declined one still `declined`;
/// the proposer's next `POST /v1/work` returns that lease, though a more urgent task of another
/// repository fits it.
async fn approve_decline_not_chosen(ctx: Ctx) -> CaseResult {
    let repo = plan_repo(&ctx, None).await?;
    let open = ctx.repo().await?;
    let skill = ctx.skill();
    let planned = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "planned", "priority": "low"}]),
        )
        .await?;
    let task = id(&planned[0], "task_id", "POST /v1/admin/tasks")?;
    let mut workers = Vec::new();
    let mut props = Vec::new();
    for n in 0..3 {
        let w = ctx.worker(&[&skill], json!({})).await?;
        props.push(proposed(&ctx, &w, &task, &format!("Plan {n}: test, then fix.")).await?);
        workers.push(w);
    }
    let urgent = ctx
        .import(
            &open,
            &skill,
            json!([{"title": "urgent", "priority": "critical"}]),
        )
        .await?;
    let urgent = id(&urgent[0], "task_id", "POST /v1/admin/tasks")?;

    let declined = ctx
        .admin_post(
            &format!("/v1/admin/proposals/{}/decline", props[1]),
            json!({"reason": "conformance: another plan fits better"}),
        )
        .await?;
    declined.expect(&[200], "POST /v1/admin/proposals/{id}/decline")?;
    ensure_that!(
        declined.body["state"] == "declined",
        "decline: the answer's state should be `declined`, got {}",
        declined.body["state"]
    );

    let what = "POST /v1/admin/proposals/{id}/approve";
    let approved = ctx
        .admin_post(
            &format!("/v1/admin/proposals/{}/approve", props[0]),
            json!({}),
        )
        .await?;
    approved.expect(&[200], what)?;
    let body = &approved.body;
    ensure_that!(
        body["proposal"]["proposal_id"] == props[0].as_str()
            && body["proposal"]["state"] == "approved",
        "{what}: expected `proposal` with state `approved`, got {body}"
    );
    let lease = &body["lease"];
    let lease_id = id(lease, "lease_id", what)?;
    ensure_that!(
        lease["task"]["task_id"] == task.as_str(),
        "{what}: the lease should be on task {task}, got {lease}"
    );
    let status = ctx.task(&task).await?["status"].clone();
    ensure_that!(
        status == "leased",
        "an approved proposal's task should be `leased`, it is {status}"
    );
    for (n, want) in [(1, "declined"), (2, "not_chosen")] {
        let got = state_of(&ctx, &task, &props[n]).await?;
        ensure_that!(
            got == want,
            "after the approval, proposal {} should be `{want}`, it is `{got}`",
            props[n]
        );
    }

    // The proposer's next claim returns the approval's lease first.
    let next = claim_task(
        &ctx,
        &workers[0],
        &task,
        "an approved proposal's lease is returned first by the next POST /v1/work",
    )
    .await?;
    ensure_that!(
        next["lease_id"] == lease_id.as_str(),
        "POST /v1/work should return the approval's lease {lease_id}, got {}",
        next["lease_id"]
    );
    let status = ctx.task(&urgent).await?["status"].clone();
    ensure_that!(
        status == "ready",
        "the urgent task should still be `ready`, it is {status}"
    );
    Ok(())
}

/// Rule 11: in a repository with `approval: "plan"` and `approval_skip_trust: 1`, a worker of
/// trust 0 is not offered the task (and the preview, where the server has one, names rule 11
/// `approval_required`); a worker of trust 1 claims it directly.
async fn plan_first(ctx: Ctx) -> CaseResult {
    let repo = plan_repo(&ctx, Some(1)).await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "plan first"}]))
        .await?;
    let task = id(&tasks[0], "task_id", "POST /v1/admin/tasks")?;
    let newcomer = ctx.worker(&[&skill], json!({})).await?;
    ctx.claim_none(
        &newcomer,
        "a worker of trust 0 proposes a plan first in this repository (rule 11)",
    )
    .await?;
    if ctx.has_feature("preview") {
        let p = preview(&ctx, &newcomer).await?;
        let why = reasons(&p, &task);
        ensure_that!(
            why.as_ref()
                .is_some_and(|r| r.iter().any(|(n, c)| *n == 11 && c == "approval_required")),
            "GET /v1/work/preview should refuse task {task} by rule 11 (approval_required), got \
             {why:?}"
        );
    }
    let trusted = ctx.worker(&[&skill], json!({})).await?;
    admin_worker(&ctx, &trusted, json!({"trust_level": 1})).await?;
    claim_task(
        &ctx,
        &trusted,
        &task,
        "its trust is at the repository's approval_skip_trust",
    )
    .await?;
    Ok(())
}
