//! Section 1 (wire format): problem documents, unknown and `x_*` fields, validation, the body
//! limit and timestamps.

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Auth, Reply, str_field, utc_field};
use crate::{Case, CaseResult, Ctx};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![
        case!("wire.problem_json", problem_json),
        case!("wire.unknown_fields_ignored", unknown_fields_ignored),
        case!("wire.x_fields_round_trip", x_fields_round_trip),
        case!("wire.validation_422", validation_422),
        case!("wire.body_too_large", body_too_large),
        case!("wire.timestamps_rfc3339", timestamps_rfc3339),
        case!("wire.wrong_types", wrong_types),
        case!("wire.unknown_object_404", unknown_object_404),
        case!("wire.odd_input_no_500", odd_input_no_500),
    ]
}

/// A malformed JSON body is `400` as an RFC 9457 problem, on an anonymous, an admin and a worker
/// route alike.
async fn problem_json(ctx: Ctx) -> CaseResult {
    let broken = b"{".to_vec();
    ctx.send_raw(
        Method::POST,
        "/v1/workers/register",
        Auth::None,
        "application/json",
        broken.clone(),
    )
    .await?
    .expect_problem(&[400], None, "POST /v1/workers/register with body `{`")?;
    ctx.send_raw(
        Method::POST,
        "/v1/admin/tasks",
        Auth::Admin,
        "application/json",
        broken.clone(),
    )
    .await?
    .expect_problem(&[400], None, "POST /v1/admin/tasks with body `{`")?;
    ctx.send_raw(
        Method::POST,
        "/v1/admin/repos",
        Auth::Admin,
        "application/json",
        b"[1, 2".to_vec(),
    )
    .await?
    .expect_problem(&[400], None, "POST /v1/admin/repos with body `[1, 2`")?;
    let skill = ctx.skill();
    let worker = ctx.worker(&[&skill], json!({})).await?;
    ctx.send_raw(
        Method::POST,
        "/v1/workers/heartbeat",
        Auth::Worker(&worker),
        "application/json",
        b"{\"status\": ".to_vec(),
    )
    .await?
    .expect_problem(
        &[400],
        None,
        "POST /v1/workers/heartbeat with a cut-off body",
    )?;
    Ok(())
}

/// Unknown request fields (not `x_*`) are accepted and ignored: not an error, and not stored.
async fn unknown_fields_ignored(ctx: Ctx) -> CaseResult {
    let repo = ctx
        .repo_with(100, false, json!({"zz_unknown_policy_field": 7}))
        .await?;
    let skill = ctx.skill();
    let worker = ctx
        .worker(&[&skill], json!({"zz_unknown_worker_field": {"a": 1}}))
        .await?;
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "unknown fields", "zz_unknown_task_field": "blue"}]),
        )
        .await?;
    let task_id = str_field(&tasks[0], "task_id", "the imported task")?.to_string();
    ensure_that!(
        tasks[0].get("zz_unknown_task_field").is_none(),
        "an unknown (non-x_) task field should be ignored, yet the import answered it back: {}",
        tasks[0]
    );
    let stored = ctx.task(&task_id).await?;
    ensure_that!(
        stored.get("zz_unknown_task_field").is_none(),
        "an unknown (non-x_) task field should be ignored, yet GET /v1/tasks/{{id}} returns it: {stored}"
    );
    ctx.send(
        Method::POST,
        "/v1/workers/heartbeat",
        Auth::Worker(&worker),
        Some(&json!({"zz_unknown": true})),
        &[],
    )
    .await?
    .expect(&[200], "POST /v1/workers/heartbeat with an unknown field")?;
    let lease = ctx.claim_lease(&worker).await?;
    let lease_id = str_field(&lease, "lease_id", "the lease")?;
    ctx.worker_post(
        &worker,
        &format!("/v1/tasks/{task_id}/status"),
        json!({"status": "in_progress", "zz_unknown": [1, 2]}),
    )
    .await?
    .expect(&[200], "status in_progress with an unknown field")?;
    ctx.worker_post(
        &worker,
        &format!("/v1/leases/{lease_id}/nack"),
        json!({"reason": "unknown fields", "zz_unknown": null}),
    )
    .await?
    .expect(&[200], "nack with an unknown field")?;
    Ok(())
}

/// `x_*` fields of a repo policy, a task import and a registration come back unchanged, nested
/// values included.
async fn x_fields_round_trip(ctx: Ctx) -> CaseResult {
    let nested = json!({"a": [1, 2.5, {"b": null, "c": "ü"}], "d": true});
    let repo = ctx
        .repo_with(
            100,
            false,
            json!({"x_team": "platform", "x_nested": nested}),
        )
        .await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "x fields", "x_source": "backlog", "x_nested": nested, "x_n": 42}]),
        )
        .await?;
    let task_id = str_field(&tasks[0], "task_id", "the imported task")?.to_string();
    let stored = ctx.task(&task_id).await?;
    for (what, task) in [
        ("the import's answer", &tasks[0]),
        ("GET /v1/tasks/{id}", &stored),
    ] {
        ensure_that!(
            task["x_source"] == "backlog" && task["x_nested"] == nested && task["x_n"] == 42,
            "{what}: expected x_source \"backlog\", x_nested {nested} and x_n 42 as imported, got {}, {} and {}",
            task["x_source"],
            task["x_nested"],
            task["x_n"]
        );
    }
    let worker = ctx
        .worker(&[&skill], json!({"x_region": "eu", "x_nested": nested}))
        .await?;
    let stored = ctx.state_object("workers", "worker_id", &worker.id).await?;
    ensure_that!(
        stored["x_region"] == "eu" && stored["x_nested"] == nested,
        "the worker in GET /v1/admin/state: expected x_region \"eu\" and x_nested {nested} as registered, got {} and {}",
        stored["x_region"],
        stored["x_nested"]
    );
    let policy = ctx.state_object("repos", "repo", &repo).await?;
    ensure_that!(
        policy["x_team"] == "platform" && policy["x_nested"] == nested,
        "the repo in GET /v1/admin/state: expected x_team \"platform\" and x_nested {nested}, got {} and {}",
        policy["x_team"],
        policy["x_nested"]
    );
    // A claim's task carries them too.
    let lease = ctx.claim_lease(&worker).await?;
    ensure_that!(
        lease["task"]["x_source"] == "backlog" && lease["task"]["x_nested"] == nested,
        "the claimed task: expected its x_* fields as imported, got x_source {} and x_nested {}",
        lease["task"]["x_source"],
        lease["task"]["x_nested"]
    );
    Ok(())
}

/// Well-formed but invalid values are `422` problems, and change nothing.
async fn validation_422(ctx: Ctx) -> CaseResult {
    let skill = ctx.skill();
    let register = |extra: Value| {
        let mut body = json!({
            "name": ctx.unique("worker"), "skills": [skill.clone()],
            "capacity_points": 3, "max_concurrent_tasks": 1,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        body
    };
    for (what, extra) in [
        ("capacity_points -1", json!({"capacity_points": -1})),
        ("capacity_points 0", json!({"capacity_points": 0})),
        ("max_concurrent_tasks 0", json!({"max_concurrent_tasks": 0})),
    ] {
        let reply = ctx
            .send(
                Method::POST,
                "/v1/workers/register",
                Auth::None,
                Some(&register(extra)),
                &[],
            )
            .await?;
        if reply.status == 201
            && let Some(id) = reply.body["worker_id"].as_str()
        {
            ctx.remember_worker(id);
        }
        reply.expect_problem(&[422], None, &format!("register with {what}"))?;
    }
    let repo = ctx.repo().await?;
    let reply = ctx
        .admin_post(
            "/v1/admin/tasks",
            json!({"repo": repo, "tasks": [
                {"key": "v-2", "title": "bad priority", "priority": "urgent", "required_skills": [skill]},
            ]}),
        )
        .await?;
    if let Some(tasks) = reply.body["tasks"].as_array() {
        ctx.remember_tasks(tasks);
    }
    reply.expect_problem(&[422], None, "import of a task with priority \"urgent\"")?;
    let reply = ctx
        .admin_post(
            "/v1/admin/tasks",
            json!({"repo": repo, "tasks": [
                {"key": "v-3", "title": "bad estimate", "estimate_points": 0, "required_skills": [skill]},
            ]}),
        )
        .await?;
    if let Some(tasks) = reply.body["tasks"].as_array() {
        ctx.remember_tasks(tasks);
    }
    reply.expect_problem(&[422], None, "import of a task with estimate_points 0")?;
    let reply = ctx
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": ctx.unique("repo"), "max_open_prs": -1}),
        )
        .await?;
    reply.expect_problem(&[422], None, "POST /v1/admin/repos with max_open_prs -1")?;

    let tasks = ctx
        .import(&repo, &skill, json!([{"key": "v-4", "title": "target"}]))
        .await?;
    let task_id = str_field(&tasks[0], "task_id", "the imported task")?.to_string();
    ctx.admin_post(
        &format!("/v1/admin/tasks/{task_id}/status"),
        json!({"status": "nonsense"}),
    )
    .await?
    .expect_problem(&[422], None, "admin status \"nonsense\"")?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let lease = ctx.claim_lease(&worker).await?;
    ensure_that!(
        lease["task"]["task_id"] == task_id.as_str(),
        "the claim should offer the only eligible task {task_id} (the refused imports must not have \
         stored `bad priority` or `bad estimate`), got {}",
        lease["task"]["task_id"]
    );
    ctx.worker_post(
        &worker,
        &format!("/v1/tasks/{task_id}/status"),
        json!({"status": "nonsense"}),
    )
    .await?
    .expect_problem(&[422], None, "worker status \"nonsense\"")?;
    let task = ctx.task(&task_id).await?;
    ensure_that!(
        task["status"] == "leased",
        "after the refused status reports the task should still be leased, got {}",
        task["status"]
    );
    ctx.send(
        Method::POST,
        "/v1/workers/heartbeat",
        Auth::Worker(&worker),
        Some(&json!({"status": "sleeping"})),
        &[],
    )
    .await?
    .expect_problem(&[422], None, "heartbeat with status \"sleeping\"")?;
    ctx.claim_none(&worker, "the refused imports stored nothing")
        .await?;
    Ok(())
}

/// A body over 1 MiB on the OWP API is `413`, and nothing of it is stored.
async fn body_too_large(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let body = json!({"repo": repo, "tasks": [
        {"key": "big", "title": "too large", "description": "a".repeat(1024 * 1024 + 16),
         "required_skills": [skill]},
    ]});
    let bytes = serde_json::to_vec(&body).map_err(anyhow::Error::from)?;
    let reply = ctx
        .send_raw(
            Method::POST,
            "/v1/admin/tasks",
            Auth::Admin,
            "application/json",
            bytes,
        )
        .await?;
    if let Some(tasks) = reply.body["tasks"].as_array() {
        ctx.remember_tasks(tasks);
    }
    reply.expect_problem(
        &[413],
        None,
        "POST /v1/admin/tasks with a 1 MiB + 16 bytes description",
    )?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    ctx.claim_none(&worker, "the refused import stored nothing")
        .await?;
    Ok(())
}

/// Timestamps are RFC 3339 in UTC: a task's `created_at`/`updated_at` and `lease_expires_at`, a
/// lease's `expires_at` and `accept_by`, a worker's `last_heartbeat`.
async fn timestamps_rfc3339(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "times"}]))
        .await?;
    let created = utc_field(&tasks[0], "created_at", "the imported task")?;
    let updated = utc_field(&tasks[0], "updated_at", "the imported task")?;
    ensure_that!(
        updated >= created,
        "the imported task: updated_at {updated} is before created_at {created}"
    );
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let lease = ctx.claim_lease(&worker).await?;
    let expires = utc_field(&lease, "expires_at", "the lease")?;
    let accept_by = utc_field(&lease, "accept_by", "the lease")?;
    let task_expires = utc_field(&lease["task"], "lease_expires_at", "the leased task")?;
    let leased_at = utc_field(&lease["task"], "updated_at", "the leased task")?;
    utc_field(&lease["task"], "created_at", "the leased task")?;
    ensure_that!(
        accept_by > leased_at && expires >= accept_by,
        "the lease: expected updated_at {leased_at} < accept_by {accept_by} ≤ expires_at {expires}"
    );
    ensure_that!(
        task_expires > leased_at,
        "the leased task: lease_expires_at {task_expires} is not after its updated_at {leased_at}"
    );
    let stored = ctx.state_object("workers", "worker_id", &worker.id).await?;
    utc_field(
        &stored,
        "last_heartbeat",
        "the worker in GET /v1/admin/state",
    )?;
    Ok(())
}

/// Values of the wrong JSON type are client errors (`400` or `422` problems), never a `500`, and
/// store nothing.
async fn wrong_types(ctx: Ctx) -> CaseResult {
    let skill = ctx.skill();
    for (what, body) in [
        (
            "capacity_points \"five\"",
            json!({"name": ctx.unique("worker"), "skills": [skill], "capacity_points": "five"}),
        ),
        (
            "skills as a string",
            json!({"name": ctx.unique("worker"), "skills": skill, "capacity_points": 1}),
        ),
        ("a body that is an array", json!([1, 2, 3])),
        ("no name", json!({"skills": [skill], "capacity_points": 1})),
    ] {
        let reply = ctx
            .send(
                Method::POST,
                "/v1/workers/register",
                Auth::None,
                Some(&body),
                &[],
            )
            .await?;
        if let Some(id) = reply.body["worker_id"].as_str() {
            ctx.remember_worker(id);
        }
        reply.expect_problem(&[400, 422], None, &format!("register with {what}"))?;
    }
    let repo = ctx.repo().await?;
    for (what, tasks) in [
        ("tasks as an object", json!({"title": "t"})),
        (
            "estimate_points \"3\"",
            json!([{"title": "t", "estimate_points": "3", "required_skills": [skill]}]),
        ),
        (
            "a title that is a number",
            json!([{"title": 7, "required_skills": [skill]}]),
        ),
        (
            "required_skills of numbers",
            json!([{"title": "t", "required_skills": [1, 2]}]),
        ),
    ] {
        let reply = ctx
            .admin_post("/v1/admin/tasks", json!({"repo": repo, "tasks": tasks}))
            .await?;
        if let Some(tasks) = reply.body["tasks"].as_array() {
            ctx.remember_tasks(tasks);
        }
        reply.expect_problem(&[400, 422], None, &format!("import with {what}"))?;
    }
    ctx.admin_post(
        "/v1/admin/repos",
        json!({"repo": ctx.unique("repo"), "max_open_prs": "3"}),
    )
    .await?
    .expect_problem(
        &[400, 422],
        None,
        "POST /v1/admin/repos with max_open_prs \"3\"",
    )?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    ctx.claim_none(&worker, "the refused imports stored nothing")
        .await?;
    Ok(())
}

/// Unknown objects are `404` problems: a task, a lease, a worker, a task's status override.
async fn unknown_object_404(ctx: Ctx) -> CaseResult {
    let skill = ctx.skill();
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let missing = ctx.unique("missing");
    ctx.admin_get(&format!("/v1/tasks/{missing}"))
        .await?
        .expect_problem(
            &[404],
            None,
            "GET /v1/tasks/{id} of an unknown task, as admin",
        )?;
    for path in [
        format!("/v1/leases/{missing}/ack"),
        format!("/v1/leases/{missing}/renew"),
    ] {
        ctx.worker_post(&worker, &path, json!({}))
            .await?
            .expect_problem(&[404], None, &format!("POST {path} (an unknown lease)"))?;
    }
    ctx.worker_post(
        &worker,
        &format!("/v1/leases/{missing}/nack"),
        json!({"reason": "none"}),
    )
    .await?
    .expect_problem(&[404], None, "nack of an unknown lease")?;
    ctx.worker_post(
        &worker,
        &format!("/v1/tasks/{missing}/status"),
        json!({"status": "in_progress"}),
    )
    .await?
    .expect_problem(&[403, 404], None, "status report on an unknown task")?;
    Ok(())
}

/// Odd input is a client error, never a server error: strange ids in paths, bad query values,
/// numbers far beyond any range, a JSON body sent as text. A `4xx` is a problem document.
async fn odd_input_no_500(ctx: Ctx) -> CaseResult {
    let skill = ctx.skill();
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let long_id = "t".repeat(5000);
    let client_error = |reply: &Reply, what: &str| -> CaseResult {
        ensure_that!(
            (400..500).contains(&reply.status),
            "{what}: expected a 4xx client error, got {}",
            reply.describe()
        );
        reply.expect_problem(&[reply.status], None, what)?;
        Ok(())
    };
    for path in [
        format!("/v1/tasks/{long_id}"),
        "/v1/tasks/%FF%FE".to_string(),
        "/v1/tasks/..%2F..%2Fadmin".to_string(),
        "/v1/tasks/'%20OR%201=1".to_string(),
    ] {
        let reply = ctx.admin_get(&path).await?;
        client_error(&reply, &format!("GET {}", &path[..path.len().min(60)]))?;
    }
    for query in ["wait=abc", "wait=-1", "wait=99999999999999999999999"] {
        let reply = ctx
            .send(
                Method::POST,
                &format!("/v1/work?{query}"),
                Auth::Worker(&worker),
                None,
                &[],
            )
            .await?;
        client_error(&reply, &format!("POST /v1/work?{query}"))?;
    }
    let huge = serde_json::from_str::<Value>("1e30").map_err(anyhow::Error::from)?;
    let reply = ctx
        .send(
            Method::POST,
            "/v1/workers/register",
            Auth::None,
            Some(
                &json!({"name": ctx.unique("worker"), "skills": [skill], "capacity_points": huge}),
            ),
            &[],
        )
        .await?;
    if let Some(id) = reply.body["worker_id"].as_str() {
        ctx.remember_worker(id);
    }
    client_error(&reply, "register with capacity_points 1e30")?;
    let reply = ctx
        .send_raw(
            Method::POST,
            "/v1/workers/register",
            Auth::None,
            "text/plain",
            serde_json::to_vec(&json!({"name": ctx.unique("worker"), "capacity_points": 1}))
                .map_err(anyhow::Error::from)?,
        )
        .await?;
    if let Some(id) = reply.body["worker_id"].as_str() {
        ctx.remember_worker(id);
    }
    ensure_that!(
        reply.status < 500,
        "register with Content-Type text/plain: expected no server error, got {}",
        reply.describe()
    );
    let reply = ctx
        .send_raw(
            Method::POST,
            "/v1/admin/tasks",
            Auth::Admin,
            "application/json",
            b"{\"repo\": \"\\ud800\", \"tasks\": []}".to_vec(),
        )
        .await?;
    client_error(&reply, "an import whose repo is a lone UTF-16 surrogate")?;
    Ok(())
}
