//! Section 8's order and negotiation: dependencies between tasks (`blocked_by`, `waiting_on`,
//! feature `dependencies`) and requirements on worker capabilities (`requires`, feature
//! `requires`).

use serde_json::{Value, json};

use super::common::{admin_status, claim_task, ids, pr_opened, tasks_of};
use crate::{Case, CaseResult, Ctx, Outcome};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![
        case!(
            "deps.blocked_by_holds",
            feature = "dependencies",
            blocked_by_holds
        ),
        case!(
            "deps.unknown_dependency",
            feature = "dependencies",
            unknown_dependency
        ),
        case!("deps.cycle", feature = "dependencies", cycle),
        case!("requires.matching", feature = "requires", requires_matching),
    ]
}

/// The keys of a string array field (`blocked_by`, `waiting_on`), or `None` when it is not one.
fn keys(task: &Value, field: &str) -> Option<Vec<String>> {
    task[field].as_array().map(|l| {
        l.iter()
            .map(|k| k.as_str().unwrap_or("?").to_string())
            .collect()
    })
}

fn expect_keys(task: &Value, field: &str, want: &[&str], when: &str) -> CaseResult {
    let got = keys(task, field);
    ensure_that!(
        got.as_deref()
            .is_some_and(|g| g.len() == want.len() && want.iter().all(|w| g.iter().any(|k| k == w))),
        "{when}: expected task `{}` to show {field} {want:?}, got {}",
        task["title"].as_str().unwrap_or("?"),
        task[field]
    );
    Ok(())
}

/// An import that must be refused with `422 code`, leaving the repository with `before` tasks.
async fn refused(
    ctx: &Ctx,
    repo: &str,
    skill: &str,
    tasks: Value,
    code: &str,
    before: usize,
) -> CaseResult {
    let mut tasks = tasks;
    for t in tasks.as_array_mut().into_iter().flatten() {
        t["required_skills"] = json!([skill]);
    }
    let what = format!("POST /v1/admin/tasks {tasks}");
    let reply = ctx
        .admin_post("/v1/admin/tasks", json!({"repo": repo, "tasks": tasks}))
        .await?;
    if let Some(list) = reply.body["tasks"].as_array() {
        ctx.remember_tasks(list);
    }
    reply.expect_problem(&[422], Some(code), &what)?;
    let now = tasks_of(ctx, repo).await?;
    ctx.remember_tasks(&now);
    ensure_that!(
        now.len() == before,
        "{what} was refused, so nothing should be imported; the repository now has {} tasks \
         instead of {before}",
        now.len()
    );
    Ok(())
}

/// A dependant stays `ready` and is never offered while a blocker is not `merged` or `cancelled`
/// (a `pr_opened` blocker still holds), whatever its priority; every task shows `blocked_by` and
/// `waiting_on`; once the last blocker is done it is offered. A key of an earlier import counts.
async fn blocked_by_holds(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([
                {"key": "a", "title": "blocker a", "priority": "low"},
                {"key": "b", "title": "dependant b", "priority": "critical", "blocked_by": ["a"]},
                {"key": "c", "title": "blocker c", "priority": "low"},
                {"key": "d", "title": "dependant d", "priority": "critical", "blocked_by": ["c"]},
            ]),
        )
        .await?;
    let t = ids(&tasks)?;
    expect_keys(&tasks[0], "blocked_by", &[], "the import's answer")?;
    expect_keys(&tasks[0], "waiting_on", &[], "the import's answer")?;
    expect_keys(&tasks[1], "blocked_by", &["a"], "the import's answer")?;
    expect_keys(&tasks[1], "waiting_on", &["a"], "the import's answer")?;
    let w1 = ctx.worker(&[&skill], json!({})).await?;
    let w2 = ctx.worker(&[&skill], json!({})).await?;
    let w3 = ctx.worker(&[&skill], json!({})).await?;
    let a = claim_task(
        &ctx,
        &w1,
        &t[0],
        "the critical dependants wait on their blockers",
    )
    .await?;
    claim_task(
        &ctx,
        &w2,
        &t[2],
        "the critical dependants wait on their blockers",
    )
    .await?;
    ctx.claim_none(&w3, "both dependants wait on leased blockers")
        .await?;
    pr_opened(&ctx, &w1, &a).await?;
    ctx.claim_none(&w3, "dependant b waits on blocker a, which is pr_opened")
        .await?;
    let b = ctx.task(&t[1]).await?;
    ensure_that!(
        b["status"] == "ready",
        "a waiting dependant stays ready; got status {}",
        b["status"]
    );
    expect_keys(&b, "waiting_on", &["a"], "while blocker a is pr_opened")?;
    admin_status(&ctx, &t[0], "merged").await?;
    let b = ctx.task(&t[1]).await?;
    expect_keys(&b, "waiting_on", &[], "after blocker a merged")?;
    expect_keys(&b, "blocked_by", &["a"], "after blocker a merged")?;
    claim_task(&ctx, &w3, &t[1], "its only blocker merged").await?;
    admin_status(&ctx, &t[2], "cancelled").await?;
    claim_task(&ctx, &w3, &t[3], "its only blocker was cancelled").await?;
    let later = ctx
        .import(
            &repo,
            &skill,
            json!([{"key": "e", "title": "dependant e", "blocked_by": ["a"]}]),
        )
        .await?;
    expect_keys(
        &later[0],
        "blocked_by",
        &["a"],
        "a later import naming a merged blocker",
    )?;
    expect_keys(
        &later[0],
        "waiting_on",
        &[],
        "a later import naming a merged blocker",
    )?;
    let e = ids(&later)?.remove(0);
    claim_task(&ctx, &w3, &e, "its blocker of an earlier import is merged").await?;
    Ok(())
}

/// A `blocked_by` key that is neither in the repository nor in the import: `422
/// unknown_dependency`, and nothing of the import is stored.
async fn unknown_dependency(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    refused(
        &ctx,
        &repo,
        &skill,
        json!([{"key": "x", "title": "fine"},
               {"key": "y", "title": "names a key nobody has", "blocked_by": ["nope"]}]),
        "unknown_dependency",
        0,
    )
    .await
}

/// A dependency cycle (two tasks, one task on itself, or through a task of an earlier import
/// updated by key): `422 dependency_cycle`, and nothing of the import is stored.
async fn cycle(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    refused(
        &ctx,
        &repo,
        &skill,
        json!([{"key": "p", "title": "p", "blocked_by": ["q"]},
               {"key": "q", "title": "q", "blocked_by": ["p"]}]),
        "dependency_cycle",
        0,
    )
    .await?;
    refused(
        &ctx,
        &repo,
        &skill,
        json!([{"key": "s", "title": "s", "blocked_by": ["s"]}]),
        "dependency_cycle",
        0,
    )
    .await?;
    ctx.import(&repo, &skill, json!([{"key": "m", "title": "m"}]))
        .await?;
    refused(
        &ctx,
        &repo,
        &skill,
        json!([{"key": "n", "title": "n", "blocked_by": ["m"]},
               {"key": "m", "title": "m", "blocked_by": ["n"]}]),
        "dependency_cycle",
        1,
    )
    .await?;
    let now = tasks_of(&ctx, &repo).await?;
    let Some(m) = now.first() else {
        return Err(Outcome::Failed(
            "task m of an earlier import is gone from GET /v1/admin/state".into(),
        ));
    };
    expect_keys(
        m,
        "blocked_by",
        &[],
        "task m after a refused import that would update it",
    )?;
    Ok(())
}

/// A task with `requires: {can_run_tests: true}` goes only to a worker whose capabilities hold
/// `can_run_tests` equal to `true`: not to one without it, nor with `false`, `"true"` or `1`. A
/// task that requires nothing goes to any worker.
async fn requires_matching(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "needs tests", "requires": {"can_run_tests": true}}]),
        )
        .await?;
    let t = ids(&tasks)?.remove(0);
    ensure_that!(
        tasks[0]["requires"] == json!({"can_run_tests": true}),
        "the imported task should show requires {{\"can_run_tests\": true}}, got {}",
        tasks[0]["requires"]
    );
    let none = ctx.worker(&[&skill], json!({})).await?;
    for (caps, why) in [
        (json!({}), "the worker declares no capabilities"),
        (
            json!({"can_run_tests": false}),
            "the worker's can_run_tests is false",
        ),
        (
            json!({"can_run_tests": "true"}),
            "the worker's can_run_tests is the string \"true\"",
        ),
        (
            json!({"can_run_tests": 1}),
            "the worker's can_run_tests is the number 1",
        ),
    ] {
        let w = ctx.worker(&[&skill], json!({"capabilities": caps})).await?;
        ctx.claim_none(&w, why).await?;
    }
    ctx.claim_none(&none, "the worker declares no capabilities")
        .await?;
    let able = ctx
        .worker(
            &[&skill],
            json!({"capabilities": {"can_run_tests": true, "tool": "conformance"}}),
        )
        .await?;
    claim_task(&ctx, &able, &t, "the worker's can_run_tests is true").await?;
    let plain = ctx
        .import(&repo, &skill, json!([{"title": "needs nothing"}]))
        .await?;
    let p = ids(&plain)?.remove(0);
    claim_task(
        &ctx,
        &none,
        &p,
        "a task that requires nothing goes to any worker",
    )
    .await?;
    Ok(())
}
