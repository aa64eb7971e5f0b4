//! Section 11 (v1.3): why not me. `GET /v1/work/preview` names every rule that keeps each ready
//! task from the worker, and agrees with the claim that follows it.

use serde_json::{Value, json};

use super::common::{claim_task, ids};
use crate::{Case, CaseResult, Ctx, Outcome};
use crate::{case, ensure_that, fail_case};

pub fn cases() -> Vec<Case> {
    vec![case!(
        "preview.every_rule_and_the_claim_agrees",
        feature = "preview",
        every_rule_and_the_claim_agrees
    )]
}

/// The worker's preview, checked for its shape.
pub(super) async fn preview(ctx: &Ctx, worker: &crate::client::Worker) -> Result<Value, Outcome> {
    let reply = ctx.worker_get(worker, "/v1/work/preview").await?;
    reply.expect(&[200], "GET /v1/work/preview")?;
    let body = reply.body.clone();
    ensure_that!(
        body["eligible"].is_array() && body["refused"].is_array(),
        "GET /v1/work/preview: expected `eligible` and `refused` arrays, got {}",
        reply.describe()
    );
    // A refused task the worker may not see is only counted, in one element `{hidden: N}`.
    let refused = body["refused"].as_array().map_or(&[][..], Vec::as_slice);
    let mut looked = body["eligible"].as_array().map_or(0, Vec::len);
    for r in refused {
        match r.get("hidden") {
            Some(n) => {
                ensure_that!(
                    n.as_u64().is_some_and(|n| n > 0) && r.get("task_id").is_none(),
                    "GET /v1/work/preview: a hidden count is `{{hidden: N}}` with N > 0 and no \
                     task id, got {r}"
                );
                looked += usize::try_from(n.as_u64().unwrap_or(0)).unwrap_or(usize::MAX);
            }
            None => looked += 1,
        }
    }
    ensure_that!(
        looked <= 50,
        "GET /v1/work/preview looked at {looked} tasks; at most 50"
    );
    Ok(body)
}

/// The `(rule, code)` pairs of `task` in a preview, `None` when it is not refused there.
pub(super) fn reasons(preview: &Value, task: &str) -> Option<Vec<(i64, String)>> {
    let refused = preview["refused"]
        .as_array()?
        .iter()
        .find(|r| r["task_id"] == task)?;
    Some(
        refused["reasons"]
            .as_array()?
            .iter()
            .map(|r| {
                (
                    r["rule"].as_i64().unwrap_or(0),
                    r["code"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect(),
    )
}

/// A task that fits and one that breaks rules 3 and 4 at once: the first is eligible (first,
/// since nothing else fits a worker of this case's own skill), the second is refused naming
/// both rules; the claim takes the first, and the preview then no longer lists it.
async fn every_rule_and_the_claim_agrees(ctx: Ctx) -> CaseResult {
    // A public repository: a preview names a refused task only where the worker may see it.
    let repo = ctx
        .repo_with(100, false, json!({"visibility": "public"}))
        .await?;
    let skill = ctx.skill();
    let missing = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([
                {"title": "fits", "priority": "critical"},
                {"title": "needs another skill and more points", "priority": "critical",
                 "required_skills": [skill.clone(), missing.clone()], "estimate_points": 5},
            ]),
        )
        .await?;
    let t = ids(&tasks)?;
    let w = ctx.worker(&[&skill], json!({"capacity_points": 2})).await?;
    let p = preview(&ctx, &w).await?;
    let listed = |id: &str| p.to_string().contains(id);
    if !listed(&t[0]) && !listed(&t[1]) {
        return Err(Outcome::Skipped(
            "more than 50 ready tasks stand before this case's in the offer order".into(),
        ));
    }
    let first = p["eligible"].as_array().and_then(|e| e.first()).cloned();
    ensure_that!(
        first.as_ref().and_then(Value::as_str) == Some(t[0].as_str()),
        "GET /v1/work/preview: the task that fits ({}) should be the first eligible, got {}",
        t[0],
        p
    );
    match reasons(&p, &t[1]) {
        Some(r) => {
            let has = |rule: i64, code: &str| r.iter().any(|(n, c)| *n == rule && c == code);
            ensure_that!(
                has(3, "skills_missing") && has(4, "capacity_exceeded"),
                "GET /v1/work/preview: task {} should be refused by rule 3 (skills_missing) and \
                 rule 4 (capacity_exceeded), every refusing rule named; got {r:?}",
                t[1]
            );
        }
        None => fail_case!(
            "GET /v1/work/preview: task {} breaks rules 3 and 4 but is not in `refused`: {p}",
            t[1]
        ),
    }
    claim_task(&ctx, &w, &t[0], "the preview called it the first eligible").await?;
    let after = preview(&ctx, &w).await?;
    ensure_that!(
        !after.to_string().contains(&t[0]),
        "GET /v1/work/preview still lists the task the worker now holds: {after}"
    );
    Ok(())
}
