//! The profiles (the spec's "Profiles"): what `/v1/meta` claims — `versions` and `features` —
//! is read, and each required part of each revision claimed that no other case checks is
//! checked here: the revisions are cumulative and the parts listed belong to them, the Beads
//! import (1.2), field limits (1.2), outcomes per repository (1.3) and, where the server serves
//! it, `/metrics`. A part of a revision the server does not claim is skipped, saying so; what no
//! case can check over HTTP is said by [`crate::NOT_CHECKED`].

use reqwest::Method;
use serde_json::{Value, json};

use super::common::{admin_status, id, pr_opened, state_repo};
use crate::client::Auth;
use crate::{Case, CaseResult, Ctx, Outcome};
use crate::{case, ensure_that, fail_case};

pub fn cases() -> Vec<Case> {
    vec![
        case!("profile.revisions", revisions),
        case!("profile.beads_import", beads_import),
        case!("profile.field_limits", field_limits),
        case!("profile.outcomes", outcomes),
        case!("profile.metrics", metrics),
    ]
}

/// The revisions of `owp/1`, in order.
const REVISIONS: [&str; 6] = ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"];

/// Each optional part, with the revision that added it.
const FEATURES: [(&str, &str); 17] = [
    ("long_poll", "1.2"),
    ("sse", "1.2"),
    ("github", "1.2"),
    ("dependencies", "1.2"),
    ("requires", "1.2"),
    ("reputation", "1.2"),
    ("leaderboard", "1.2"),
    ("mcp", "1.2"),
    ("paths", "1.3"),
    ("preview", "1.3"),
    ("disclosure", "1.3"),
    ("signin", "1.3"),
    ("proposals", "1.4"),
    ("vouch", "1.4"),
    ("reviewers", "1.4"),
    ("evidence", "1.4"),
    ("persons", "1.5"),
];

/// The revisions `/v1/meta` claims.
fn claimed(ctx: &Ctx) -> Vec<String> {
    ctx.meta()["versions"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Skips the case unless the server claims `revision` in full.
fn needs(ctx: &Ctx, revision: &str, part: &str) -> CaseResult {
    if claimed(ctx).iter().any(|v| v == revision) {
        Ok(())
    } else {
        Err(Outcome::Skipped(format!(
            "the server does not claim revision {revision} in /v1/meta's versions: {part} is \
             not part of its claim"
        )))
    }
}

/// `versions` holds known revisions and is cumulative (claiming 1.3 claims 1.0–1.2 too), and
/// every part `features` lists that the spec names belongs to a claimed revision.
async fn revisions(ctx: Ctx) -> CaseResult {
    let versions = claimed(&ctx);
    ensure_that!(
        !versions.is_empty(),
        "§2, Profiles: /v1/meta lists the revisions it implements in full in `versions`; got {}",
        ctx.meta()["versions"]
    );
    let mut highest = 0;
    for v in &versions {
        match REVISIONS.iter().position(|r| r == v) {
            Some(i) => highest = highest.max(i),
            // A later revision this runner does not know: not judged.
            None if v.starts_with("1.") => {}
            None => fail_case!("§2: `versions` lists `{v}`, not a revision of owp/1"),
        }
    }
    for r in &REVISIONS[..=highest] {
        ensure_that!(
            versions.iter().any(|v| v == r),
            "§2, Profiles: revisions are cumulative: claiming {} claims {r} too, which \
             `versions` leaves out ({versions:?})",
            REVISIONS[highest]
        );
    }
    let features: Vec<&str> = ctx.meta()["features"]
        .as_array()
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for f in features {
        if let Some((_, added)) = FEATURES.iter().find(|(name, _)| *name == f) {
            ensure_that!(
                versions.iter().any(|v| v == added),
                "§2, Optional parts: `features` lists `{f}`, a part of revision {added}, which \
                 `versions` does not claim ({versions:?})"
            );
        }
    }
    Ok(())
}

/// `POST /v1/admin/tasks/beads?repo=R` (1.2): open beads of a task's type become tasks keyed by
/// their id, in file order, priority 0–4 mapped, `acceptance_criteria` appended to the
/// description under "## Acceptance criteria", `blocks` dependencies kept; every other status
/// and type is skipped and counted; a bead closed later cancels its task.
async fn beads_import(ctx: Ctx) -> CaseResult {
    needs(&ctx, "1.2", "the Beads import")?;
    let repo = ctx.repo().await?;
    let p = ctx.unique("bd");
    let lines = [
        json!({"id": format!("{p}-1"), "title": "Schema", "status": "open", "priority": 0,
               "issue_type": "task", "description": "Tables.",
               "acceptance_criteria": "  migrations run  "}),
        json!({"id": format!("{p}-2"), "title": "API", "priority": 3, "issue_type": "feature",
               "dependencies": [{"issue_id": format!("{p}-2"), "depends_on_id": format!("{p}-1"),
                                 "type": "blocks"}]}),
        json!({"id": format!("{p}-3"), "title": "Doing", "status": "in_progress",
               "priority": 2, "issue_type": "bug"}),
        json!({"id": format!("{p}-4"), "title": "Epic", "status": "open", "priority": 2,
               "issue_type": "epic"}),
        json!({"id": format!("{p}-5"), "title": "Done", "status": "closed", "priority": 2,
               "issue_type": "chore"}),
    ];
    let file = |lines: &[Value]| {
        lines
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes()
    };
    let path = format!("/v1/admin/tasks/beads?repo={repo}");
    let reply = ctx
        .send_raw(
            Method::POST,
            &path,
            Auth::Admin,
            "application/x-ndjson",
            file(&lines),
        )
        .await?;
    reply.expect(&[201], "§9.3 (Beads): POST /v1/admin/tasks/beads")?;
    let tasks = reply.body["tasks"].as_array().cloned().unwrap_or_default();
    ctx.remember_tasks(&tasks);
    let keys: Vec<&str> = tasks.iter().filter_map(|t| t["key"].as_str()).collect();
    let want = [format!("{p}-1"), format!("{p}-2")];
    ensure_that!(
        keys == want,
        "§9.3 (Beads): open beads of type task, bug, feature or chore (a bead without `status` \
         is open) become tasks keyed by their id, in file order: expected {want:?}, got {keys:?}"
    );
    let (first, second) = (&tasks[0], &tasks[1]);
    ensure_that!(
        first["description"] == "Tables.\n\n## Acceptance criteria\n\nmigrations run",
        "§9.3 (Beads): `acceptance_criteria`, trimmed, is appended to the description after a \
         blank line under `## Acceptance criteria`; got {}",
        first["description"]
    );
    ensure_that!(
        first["priority"] == "critical" && second["priority"] == "low",
        "§9.3 (Beads): priority 0 is critical, 3 low; got {} and {}",
        first["priority"],
        second["priority"]
    );
    ensure_that!(
        second["blocked_by"] == json!([format!("{p}-1")]),
        "§9.3 (Beads): a `blocks` dependency on an imported bead becomes `blocked_by`; got {}",
        second["blocked_by"]
    );
    let skipped = &reply.body["skipped"];
    ensure_that!(
        skipped["total"] == 3
            && skipped["statuses"]["in_progress"] == 1
            && skipped["statuses"]["closed"] == 1
            && skipped["types"]["epic"] == 1,
        "§9.3 (Beads): `skipped` counts the beads not imported by status (not `open`) and by \
         type; expected 3 (in_progress 1, closed 1; epic 1), got {skipped}"
    );
    let mut closed = lines.to_vec();
    closed[0]["status"] = json!("closed");
    let reply = ctx
        .send_raw(
            Method::POST,
            &path,
            Auth::Admin,
            "application/x-ndjson",
            file(&closed),
        )
        .await?;
    reply.expect(&[201], "§9.3 (Beads): the same file, one bead closed")?;
    let ended = &reply.body["ended"];
    ensure_that!(
        ended[0]["key"] == want[0].as_str()
            && ended[0]["status"] == "cancelled"
            && ended[0]["status_reason"] == "closed in Beads",
        "§9.3 (Beads): a task whose bead is now closed is cancelled, `status_reason` \"closed in \
         Beads\", and listed in `ended`; got {ended}"
    );
    Ok(())
}

/// Field limits (1.2): a value beyond its limit is `422` naming the field, and nothing of the
/// request is stored.
async fn field_limits(ctx: Ctx) -> CaseResult {
    needs(&ctx, "1.2", "field limits")?;
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let cases = [
        (
            json!({"title": "t".repeat(501)}),
            "tasks[1].title",
            "field_too_long",
        ),
        (
            json!({"title": "ok", "area": "a".repeat(201)}),
            "tasks[1].area",
            "field_too_long",
        ),
        (
            json!({"title": "ok", "estimate_points": 1001}),
            "tasks[1].estimate_points",
            "invalid_estimate_points",
        ),
        (
            json!({"title": "ok", "tier": 1001}),
            "tasks[1].tier",
            "invalid_tier",
        ),
    ];
    for (bad, field, code) in cases {
        let tasks = json!([{"title": "fine", "required_skills": [skill]},
        bad.as_object().map(|o| {
            let mut o = o.clone();
            o.insert("required_skills".into(), json!([skill]));
            Value::Object(o)
        })]);
        let reply = ctx
            .admin_post("/v1/admin/tasks", json!({"repo": repo, "tasks": tasks}))
            .await?;
        let what = format!("Limits: an import whose {field} is beyond its limit");
        reply.expect_problem(&[422], Some(code), &what)?;
        ensure_that!(
            reply.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains(field)),
            "{what}: the detail names `{field}`; got {}",
            reply.describe()
        );
    }
    let tasks = super::common::tasks_of(&ctx, &repo).await?;
    ensure_that!(
        tasks.is_empty(),
        "Limits: refused imports store nothing; the repository has {} tasks",
        tasks.len()
    );
    let reply = ctx
        .send(
            Method::POST,
            "/v1/workers/register",
            Auth::None,
            Some(&json!({"name": "n".repeat(101), "capacity_points": 1})),
            &[],
        )
        .await?;
    if let Some(id) = reply.body["worker_id"].as_str() {
        ctx.remember_worker(id);
    }
    reply.expect_problem(&[422], None, "Limits: a worker `name` of 101 characters")?;
    Ok(())
}

/// A fresh repository of the case where one pull request was merged and one closed unmerged.
async fn merged_and_closed(ctx: &Ctx) -> Result<String, Outcome> {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    ctx.import(
        &repo,
        &skill,
        json!([{"title": "merged", "priority": "high"}, {"title": "closed unmerged"}]),
    )
    .await?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    for to in ["merged", "ready"] {
        let lease = ctx.claim_lease(&worker).await?;
        pr_opened(ctx, &worker, &lease).await?;
        let task = id(&lease["task"], "task_id", "lease.task")?;
        admin_status(ctx, &task, to).await?;
    }
    Ok(repo)
}

/// Outcomes per repository (1.3): after one merge and one pull request closed unmerged, the
/// repository's `outcomes` in `GET /v1/admin/state` count them over 30 days, with the acceptance
/// rate and a lead time.
async fn outcomes(ctx: Ctx) -> CaseResult {
    needs(&ctx, "1.3", "outcomes per repository")?;
    let repo = merged_and_closed(&ctx).await?;
    let policy = state_repo(&ctx, &repo).await?;
    let o = &policy["outcomes"];
    ensure_that!(
        o["days"] == 30
            && o["merged"] == 1
            && o["closed_unmerged"] == 1
            && o["acceptance_rate"].as_f64() == Some(0.5)
            && o["lead_time_seconds"].as_f64().is_some_and(|s| s >= 0.0),
        "§9.4 (Outcomes): one merge and one pull request closed unmerged give outcomes {{days: \
         30, merged: 1, closed_unmerged: 1, acceptance_rate: 0.5, lead_time_seconds ≥ 0}}; got {o}"
    );
    Ok(())
}

/// The figure of `name` labelled with `repo` in a Prometheus text exposition, if any.
fn figure(text: &str, name: &str, repo: &str) -> Option<f64> {
    let label = format!("repo=\"{repo}\"");
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))
        .find_map(|l| l.split_whitespace().last()?.parse().ok())
}

/// `GET /metrics` is in no profile; a server that serves it to the admin token exports each
/// repository's outcomes as section 9.4 names them: `owp_repo_acceptance_ratio` and
/// `owp_repo_lead_time_seconds`, labelled `repo`, in Prometheus' text format. A server that
/// answers it `404` is skipped, saying so.
async fn metrics(ctx: Ctx) -> CaseResult {
    needs(&ctx, "1.3", "outcomes in /metrics")?;
    let probe = ctx
        .send(Method::GET, "/metrics", Auth::Admin, None, &[])
        .await?;
    if probe.status == 404 {
        return Err(Outcome::Skipped(
            "the server does not serve GET /metrics, which is in no profile (Profiles)".into(),
        ));
    }
    let repo = merged_and_closed(&ctx).await?;
    let reply = ctx
        .send(Method::GET, "/metrics", Auth::Admin, None, &[])
        .await?;
    reply.expect(&[200], "§9.4: GET /metrics with the admin token")?;
    ensure_that!(
        reply.content_type.starts_with("text/plain"),
        "§9.4: GET /metrics answers Prometheus' text format (text/plain), got `{}`",
        reply.content_type
    );
    let ratio = figure(&reply.text, "owp_repo_acceptance_ratio", &repo);
    ensure_that!(
        ratio == Some(0.5),
        "§9.4: GET /metrics exports `owp_repo_acceptance_ratio{{repo=\"{repo}\"}} 0.5` after one \
         merge and one pull request closed unmerged; found {ratio:?}"
    );
    let lead = figure(&reply.text, "owp_repo_lead_time_seconds", &repo);
    ensure_that!(
        lead.is_some_and(|s| s >= 0.0),
        "§9.4: GET /metrics exports `owp_repo_lead_time_seconds{{repo=\"{repo}\"}}` (≥ 0) once a \
         task merged; found {lead:?}"
    );
    Ok(())
}
