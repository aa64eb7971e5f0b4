//! Section 11 (v1.3): path locks. A task that changes the same paths as another task of its
//! repository in flight is not offered (rule 10), waits visibly (`waiting_on_paths`), is refused
//! by the preview with rule 10, and is offered once the other is given back.

use serde_json::{Value, json};

use super::common::{claim_task, ids, nack};
use super::preview::{preview, reasons};
use crate::{Case, CaseResult, Ctx, Outcome};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![case!(
        "paths.overlap_waits_for_the_holder",
        feature = "paths",
        overlap_waits_for_the_holder
    )]
}

/// A task's string array `field`, or a failure naming what it is instead.
fn strings(task: &Value, field: &str, when: &str) -> Result<Vec<String>, Outcome> {
    let Some(list) = task[field].as_array() else {
        return Err(Outcome::Failed(format!(
            "{when}: expected task `{}` to show `{field}` as an array, got {}",
            task["title"].as_str().unwrap_or("?"),
            task[field]
        )));
    };
    Ok(list
        .iter()
        .map(|v| v.as_str().unwrap_or("?").to_string())
        .collect())
}

/// The task's `waiting_on_paths` as the admin reads it (`GET /v1/tasks/{id}`), which must be
/// `want`.
async fn expect_waiting(ctx: &Ctx, task_id: &str, want: &[&str], when: &str) -> CaseResult {
    let task = ctx.task(task_id).await?;
    let got = strings(&task, "waiting_on_paths", when)?;
    ensure_that!(
        got == want,
        "{when}: expected task `{}` to show waiting_on_paths {want:?}, got {got:?}",
        task["title"].as_str().unwrap_or("?")
    );
    Ok(())
}

/// Worker A holds a task on `src/auth/**`. A second task on `src/auth/login.rs` overlaps it; a
/// third on `src/authz/**` does not (overlap is by whole segments). Worker B is offered the
/// disjoint task, never the overlapping one, which stays `ready` with `waiting_on_paths` naming
/// A's task and which B's preview refuses with rule 10 (`paths_locked`). Once A gives its task
/// back, B is offered the overlapping task.
async fn overlap_waits_for_the_holder(ctx: Ctx) -> CaseResult {
    // A public repository: a preview names a refused task only where the worker may see it.
    let repo = ctx
        .repo_with(100, false, json!({"visibility": "public"}))
        .await?;
    let skill = ctx.skill();
    let held = ctx
        .import(
            &repo,
            &skill,
            json!([{"key": "auth-all", "title": "rework the auth module", "priority": "low",
                    "paths": ["src/auth/**"]}]),
        )
        .await?;
    let holder = ids(&held)?.remove(0);
    let stored = strings(&held[0], "paths", "POST /v1/admin/tasks with paths")?;
    ensure_that!(
        stored == ["src/auth/**"],
        "POST /v1/admin/tasks: expected the task to show paths [\"src/auth/**\"], got {stored:?}"
    );
    let a = ctx.worker(&[&skill], json!({})).await?;
    let lease = claim_task(&ctx, &a, &holder, "the only task of its skill").await?;

    // Imported after A's claim, and more urgent than A's task, so that a server ignoring
    // the paths would offer the overlapping one first.
    let others = ctx
        .import(
            &repo,
            &skill,
            json!([
                {"key": "auth-login", "title": "fix the login form", "priority": "critical",
                 "paths": ["src/auth/login.rs"]},
                {"key": "authz", "title": "tidy the authorisation rules", "priority": "high",
                 "paths": ["src/authz/**"]},
            ]),
        )
        .await?;
    let t = ids(&others)?;
    let (overlapping, disjoint) = (&t[0], &t[1]);
    let b = ctx.worker(&[&skill], json!({})).await?;
    claim_task(
        &ctx,
        &b,
        disjoint,
        "the more urgent task overlaps the paths of A's leased task",
    )
    .await?;
    ctx.claim_none(
        &b,
        "the last ready task overlaps the paths of A's leased task",
    )
    .await?;
    let task = ctx.task(overlapping).await?;
    ensure_that!(
        task["status"] == "ready",
        "a task waiting on paths should stay ready, got {}",
        task["status"]
    );
    expect_waiting(
        &ctx,
        overlapping,
        &["auth-all"],
        "while `auth-all` (src/auth/**) is leased",
    )
    .await?;
    expect_waiting(
        &ctx,
        disjoint,
        &[],
        "src/authz/** does not overlap src/auth/**",
    )
    .await?;
    if ctx.has_feature("preview") {
        let p = preview(&ctx, &b).await?;
        // A busy pool may list 50 older urgent tasks first: then there is nothing to check here.
        if p.to_string().contains(overlapping.as_str()) {
            let r = reasons(&p, overlapping).unwrap_or_default();
            ensure_that!(
                r.iter()
                    .any(|(rule, code)| *rule == 10 && code == "paths_locked"),
                "GET /v1/work/preview: task {overlapping} overlaps the paths of a leased task and \
                 should be refused by rule 10 (paths_locked); got {r:?} in {p}"
            );
        }
    }

    nack(&ctx, &a, &lease).await?;
    expect_waiting(&ctx, overlapping, &[], "after A gave `auth-all` back").await?;
    claim_task(
        &ctx,
        &b,
        overlapping,
        "A gave back the task that held its paths",
    )
    .await?;
    Ok(())
}
