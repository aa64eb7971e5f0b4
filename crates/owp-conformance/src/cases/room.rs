//! Section 12's rules 13 and 14 over HTTP. Reviewers (rule 13) and cool-downs (rule 14) are set
//! by a repository's `.github/owp.yml`, which no REST route writes, so a runner checks what shows
//! over HTTP alone: the reviewers' load and away state in `GET /v1/admin/state`, and that a
//! repository which sets no `cooldown_hours` has no cool-down.

use serde_json::json;

use super::common::{claim_task, ids, nack, state};
use super::preview::{preview, reasons};
use crate::client::{find, utc_field};
use crate::{Case, CaseResult, Ctx};
use crate::{case, ensure_that, fail_case};

pub fn cases() -> Vec<Case> {
    vec![
        case!(
            "rules.reviewers_shown",
            feature = "reviewers",
            reviewers_shown
        ),
        case!("rules.no_cooldown_by_default", no_cooldown_by_default),
    ]
}

/// `GET /v1/admin/state` shows each repository's reviewers as `reviewers: [{login, open,
/// capacity, away, away_until?}]`, absent (or empty) for a repository that has none — such as
/// this case's own, fresh one. Every entry shown, of any repository, has those types.
async fn reviewers_shown(ctx: Ctx) -> CaseResult {
    let repo = ctx.github_repo("room").await?;
    let what = "GET /v1/admin/state";
    let fresh = state(&ctx, &repo).await?;
    let own = find(&fresh, "repos", "repo", &repo)?;
    ensure_that!(
        own.get("reviewers")
            .is_none_or(|r| r.as_array().is_some_and(Vec::is_empty)),
        "{what}: repository {repo} has no reviewers, so `reviewers` should be absent or [], got {}",
        own["reviewers"]
    );
    let all = ctx.admin_state().await?;
    for r in all["repos"].as_array().map_or(&[][..], Vec::as_slice) {
        let name = r["repo"].as_str().unwrap_or("?");
        let Some(reviewers) = r.get("reviewers") else {
            continue;
        };
        let Some(list) = reviewers.as_array() else {
            fail_case!("{what}: repository {name}'s `reviewers` is not a list: {reviewers}");
        };
        for entry in list {
            let login = entry["login"].as_str().unwrap_or("");
            let open = entry["open"].as_i64();
            let capacity = entry["capacity"].as_i64();
            ensure_that!(
                !login.is_empty()
                    && open.is_some_and(|n| n >= 0)
                    && capacity.is_some_and(|n| (1..=20).contains(&n))
                    && entry["away"].is_boolean(),
                "{what}: a reviewer of {name} should be {{login: string, open: integer ≥ 0, \
                 capacity: 1–20, away: boolean}}, got {entry}"
            );
            if entry.get("away_until").is_some_and(|u| !u.is_null()) {
                utc_field(
                    entry,
                    "away_until",
                    &format!("{what}: reviewer {login} of {name}"),
                )?;
            }
        }
    }
    Ok(())
}

/// A repository that sets no `cooldown_hours` has no cool-down (rule 14): a worker that gives a
/// task back claims another ready task of the same repository at once. Only the task given back
/// stays away from it (rule 1), and the preview says so by rule 1's code, not `cooling_down`.
async fn no_cooldown_by_default(ctx: Ctx) -> CaseResult {
    // A public repository: a preview names a refused task only where the worker may see it.
    let repo = ctx
        .repo_with(100, false, json!({"visibility": "public"}))
        .await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([
                {"title": "given back", "priority": "critical"},
                {"title": "taken next", "priority": "high"},
            ]),
        )
        .await?;
    let t = ids(&tasks)?;
    let w = ctx.worker(&[&skill], json!({})).await?;
    let first = claim_task(&ctx, &w, &t[0], "the more urgent of the two").await?;
    nack(&ctx, &w, &first).await?;
    // The preview is optional (feature `preview`); it lists at most 50 tasks, which may all be
    // others' on a busy pool.
    let p = match ctx.has_feature("preview") {
        true => Some(preview(&ctx, &w).await?),
        false => None,
    };
    if let Some(p) = p.filter(|p| p.to_string().contains(&t[1])) {
        let eligible = p["eligible"]
            .as_array()
            .is_some_and(|e| e.iter().any(|id| id == t[1].as_str()));
        ensure_that!(
            eligible,
            "GET /v1/work/preview after a nack, in a repository without `cooldown_hours`: task \
             {} should be eligible (no cool-down), got {p}",
            t[1]
        );
        let given_back: Vec<(i64, String)> = reasons(&p, &t[0]).unwrap_or_default();
        let named = |code: &str| given_back.iter().any(|(_, c)| c == code);
        ensure_that!(
            given_back
                .iter()
                .any(|(n, c)| *n == 1 && c == "recently_released")
                && !named("cooling_down"),
            "GET /v1/work/preview: the task given back ({}) should be refused by rule 1 \
             (recently_released) and not `cooling_down`; got {given_back:?} in {p}",
            t[0]
        );
    }
    claim_task(
        &ctx,
        &w,
        &t[1],
        "the repository sets no cooldown_hours, so a nack starts no cool-down; only the task \
         given back waits an hour",
    )
    .await?;
    Ok(())
}
