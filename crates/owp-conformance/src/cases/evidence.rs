//! Section 12's evidence over HTTP (feature `evidence`): `artifact.evidence: {head_sha,
//! commands}` on a `pr_opened` report, taken as reported when well formed and `422
//! invalid_evidence` otherwise, without changing the task.

use serde_json::json;

use super::common::{admin_status, id};
use crate::{Case, CaseResult, Ctx};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![case!(
        "evidence.checked_and_kept",
        feature = "evidence",
        checked_and_kept
    )]
}

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// Malformed evidence (a short or non-hexadecimal `head_sha`, an unknown or missing command
/// name, eleven commands, a command of 501 characters, a fractional exit code, seconds outside
/// 0–86,400, commands that are not a list) is `422 invalid_evidence` and leaves the task leased;
/// well-formed evidence is taken, and the task's artifact shows it as reported.
async fn checked_and_kept(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo_with(100, false, json!({})).await?;
    let skill = ctx.skill();
    ctx.import(&repo, &skill, json!([{"title": "show the proof"}]))
        .await?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let lease = ctx.claim_lease(&worker).await?;
    let task = id(&lease["task"], "task_id", "lease.task")?;
    let path = format!("/v1/tasks/{task}/status");
    let url = format!("https://example.org/pr/{task}");
    let one = json!({"name": "test", "command": "cargo test", "exit_code": 0, "seconds": 12});
    let malformed = [
        (
            "a head_sha of 7 characters",
            json!({"head_sha": "0123456", "commands": [one]}),
        ),
        (
            "a command named build",
            json!({"head_sha": SHA, "commands": [{"name": "build", "command": "make",
                   "exit_code": 0, "seconds": 1}]}),
        ),
        (
            "eleven commands",
            json!({"head_sha": SHA, "commands": vec![one.clone(); 11]}),
        ),
        (
            "an exit code of 0.5",
            json!({"head_sha": SHA, "commands": [{"name": "lint", "command": "x",
                   "exit_code": 0.5, "seconds": 1}]}),
        ),
        (
            "a head_sha of 40 characters that are not hexadecimal",
            json!({"head_sha": "z".repeat(40), "commands": [one]}),
        ),
        (
            "a command of 501 characters",
            json!({"head_sha": SHA, "commands": [{"name": "test", "command": "x".repeat(501),
                   "exit_code": 0, "seconds": 1}]}),
        ),
        (
            "86,401 seconds",
            json!({"head_sha": SHA, "commands": [{"name": "test", "command": "x",
                   "exit_code": 0, "seconds": 86_401}]}),
        ),
        (
            "negative seconds",
            json!({"head_sha": SHA, "commands": [{"name": "test", "command": "x",
                   "exit_code": 0, "seconds": -1}]}),
        ),
        (
            "a command without its name",
            json!({"head_sha": SHA, "commands": [{"command": "x", "exit_code": 0,
                   "seconds": 1}]}),
        ),
        (
            "commands that are not a list",
            json!({"head_sha": SHA, "commands": "cargo test"}),
        ),
    ];
    for (what, evidence) in malformed {
        ctx.worker_post(
            &worker,
            &path,
            json!({"status": "pr_opened", "artifact": {"pr_url": url, "evidence": evidence}}),
        )
        .await?
        .expect_problem(
            &[422],
            Some("invalid_evidence"),
            &format!("evidence with {what}"),
        )?;
    }
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
                   "evidence": {"head_sha": SHA, "commands": [one]}}}),
        )
        .await?;
    taken.expect(&[200], "pr_opened with artifact.evidence")?;
    let shown = &taken.body["artifact"]["evidence"];
    ensure_that!(
        shown["head_sha"] == SHA
            && shown["commands"][0]["command"] == "cargo test"
            && shown["commands"][0]["name"] == "test"
            && shown["commands"][0]["exit_code"] == 0
            && shown["commands"][0]["seconds"].as_f64() == Some(12.0),
        "the task's artifact should show the evidence as reported, got {}",
        taken.body["artifact"]
    );
    let read = ctx.task(&task).await?;
    ensure_that!(
        read["artifact"]["evidence"] == *shown,
        "GET /v1/tasks/{{id}} should show the evidence the report kept, got {}",
        read["artifact"]
    );
    admin_status(&ctx, &task, "merged").await
}
