//! Section 11's disclosure over HTTP (feature `disclosure`): `artifact.disclosure: {tool,
//! model?}` on a `pr_opened` report, bounded, and required where the repository's contract says
//! `disclosure: required`.

use serde_json::json;

use super::common::{admin_status, id};
use crate::{Case, CaseResult, Ctx};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![case!(
        "disclosure.required_and_bounded",
        feature = "disclosure",
        required_and_bounded
    )]
}

/// In a repository whose contract says `disclosure: required`, a `pr_opened` report without
/// `artifact.disclosure` is `422 disclosure_required`, one whose `tool` is longer than 100
/// characters is a 422, and neither changes the task; a report with `{tool, model}` is taken and
/// the task's artifact shows it.
async fn required_and_bounded(ctx: Ctx) -> CaseResult {
    let repo = ctx
        .repo_with(100, false, json!({"contract": {"disclosure": "required"}}))
        .await?;
    let skill = ctx.skill();
    ctx.import(&repo, &skill, json!([{"title": "say which tool"}]))
        .await?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let lease = ctx.claim_lease(&worker).await?;
    let task = id(&lease["task"], "task_id", "lease.task")?;
    let path = format!("/v1/tasks/{task}/status");
    let url = format!("https://example.org/pr/{task}");
    ctx.worker_post(
        &worker,
        &path,
        json!({"status": "pr_opened", "artifact": {"pr_url": url}}),
    )
    .await?
    .expect_problem(
        &[422],
        Some("disclosure_required"),
        "pr_opened without artifact.disclosure where the contract requires it",
    )?;
    ctx.worker_post(
        &worker,
        &path,
        json!({"status": "pr_opened", "artifact": {"pr_url": url,
               "disclosure": {"tool": "t".repeat(101)}}}),
    )
    .await?
    .expect_problem(&[422], None, "artifact.disclosure.tool of 101 characters")?;
    let now = ctx
        .worker_get(&worker, &format!("/v1/tasks/{task}"))
        .await?;
    now.expect(&[200], "GET /v1/tasks/{id} by the holder")?;
    ensure_that!(
        now.body["status"] == "leased",
        "refused reports should leave the task leased, it is {}",
        now.body["status"]
    );
    let taken = ctx
        .worker_post(
            &worker,
            &path,
            json!({"status": "pr_opened", "artifact": {"pr_url": url,
                   "disclosure": {"tool": "conformance", "model": "m".repeat(100)}}}),
        )
        .await?;
    taken.expect(&[200], "pr_opened with artifact.disclosure")?;
    ensure_that!(
        taken.body["artifact"]["disclosure"]["tool"] == "conformance",
        "the task's artifact should show the disclosure, got {}",
        taken.body["artifact"]
    );
    admin_status(&ctx, &task, "merged").await
}
