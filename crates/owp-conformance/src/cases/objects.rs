//! Sections 3 (objects) and 4 (endpoints): the shapes of tasks, workers and repo policies, and
//! what each admin and registration endpoint answers.

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Auth, str_field};
use crate::{Case, CaseResult, Ctx, Outcome};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![
        case!("objects.task_shape", task_shape),
        case!("objects.worker_shape", worker_shape),
        case!("objects.repo_shape", repo_shape),
        case!("endpoints.import_upsert_by_key", import_upsert_by_key),
        case!("endpoints.import_yaml", import_yaml),
        case!("endpoints.import_unknown_repo", import_unknown_repo),
        case!("endpoints.register", register),
        case!("endpoints.admin_state", admin_state),
        case!("endpoints.admin_force_status", admin_force_status),
        case!("endpoints.admin_update_worker", admin_update_worker),
    ]
}

fn is_int(v: &Value) -> bool {
    v.is_i64() || v.is_u64()
}

fn is_string_array(v: &Value) -> bool {
    v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
}

/// Fails unless `object[field]` is as `check` wants, naming `kind` and the field.
fn field(
    object: &Value,
    kind: &str,
    name: &str,
    want: &str,
    check: impl Fn(&Value) -> bool,
) -> CaseResult {
    let value = object.get(name).unwrap_or(&Value::Null);
    if object.get(name).is_none() || !check(value) {
        return Err(Outcome::Failed(format!(
            "{kind}: expected `{name}` to be {want}, got {}",
            object
                .get(name)
                .map_or("nothing".to_string(), Value::to_string)
        )));
    }
    Ok(())
}

/// Every task field of section 3 with its type, and the defaults of a task imported with only a
/// title; a fully specified task comes back as imported; a claim fills holder and lease.
async fn task_shape(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([
                {"title": "defaults only"},
                {"key": "full-1", "title": "everything", "description": "all fields",
                 "estimate_points": 3, "priority": "high", "area": "docs", "tier": 0,
                 "required_skills": [skill]},
            ]),
        )
        .await?;
    ensure_that!(
        tasks.len() == 2,
        "the import of two tasks answered {} tasks",
        tasks.len()
    );
    let plain = &tasks[0];
    let kind = "a task imported with only a title";
    field(plain, kind, "task_id", "a string", Value::is_string)?;
    field(plain, kind, "repo", &format!("\"{repo}\""), |v| {
        v == repo.as_str()
    })?;
    field(plain, kind, "key", "null", Value::is_null)?;
    field(plain, kind, "title", "\"defaults only\"", |v| {
        v == "defaults only"
    })?;
    field(plain, kind, "description", "a string or null", |v| {
        v.as_str().is_some_and(str::is_empty) || v.is_null()
    })?;
    field(plain, kind, "estimate_points", "1 (the default)", |v| {
        v == 1
    })?;
    field(plain, kind, "priority", "\"normal\" (the default)", |v| {
        v == "normal"
    })?;
    field(
        plain,
        kind,
        "required_skills",
        "an array of strings",
        is_string_array,
    )?;
    field(plain, kind, "area", "null", Value::is_null)?;
    field(plain, kind, "tier", "0 (the default)", |v| v == 0)?;
    field(plain, kind, "status", "\"ready\"", |v| v == "ready")?;
    field(plain, kind, "assigned_worker_id", "null", Value::is_null)?;
    field(plain, kind, "lease_id", "null", Value::is_null)?;
    field(plain, kind, "lease_expires_at", "null", Value::is_null)?;
    field(plain, kind, "artifact", "null", Value::is_null)?;
    field(plain, kind, "attempts", "0", |v| v == 0)?;
    field(plain, kind, "created_at", "a string", Value::is_string)?;
    field(plain, kind, "updated_at", "a string", Value::is_string)?;

    let full = &tasks[1];
    let kind = "a task imported with every field";
    field(full, kind, "key", "\"full-1\"", |v| v == "full-1")?;
    field(full, kind, "description", "\"all fields\"", |v| {
        v == "all fields"
    })?;
    field(full, kind, "estimate_points", "3", |v| v == 3)?;
    field(full, kind, "priority", "\"high\"", |v| v == "high")?;
    field(full, kind, "area", "\"docs\"", |v| v == "docs")?;
    field(
        full,
        kind,
        "required_skills",
        &format!("[\"{skill}\"]"),
        |v| {
            v.as_array().is_some_and(|a| {
                a.len() == 1
                    && a[0]
                        .as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(&skill))
            })
        },
    )?;
    let id = str_field(full, "task_id", kind)?;
    let stored = ctx.task(id).await?;
    for name in [
        "key",
        "title",
        "estimate_points",
        "priority",
        "area",
        "tier",
        "status",
    ] {
        ensure_that!(
            stored[name] == full[name],
            "GET /v1/tasks/{{id}}: `{name}` is {}, the import answered {}",
            stored[name],
            full[name]
        );
    }

    let worker = ctx.worker(&[&skill], json!({})).await?;
    let lease = ctx.claim_lease(&worker).await?;
    let task = &lease["task"];
    let kind = "a claimed task";
    field(task, kind, "status", "\"leased\"", |v| v == "leased")?;
    field(
        task,
        kind,
        "assigned_worker_id",
        &format!("\"{}\"", worker.id),
        |v| v == worker.id.as_str(),
    )?;
    field(task, kind, "lease_id", "the lease's id", |v| {
        *v == lease["lease_id"]
    })?;
    field(task, kind, "lease_expires_at", "a string", Value::is_string)?;
    field(task, kind, "attempts", "an integer", is_int)?;
    Ok(())
}

/// Every worker field of section 3; `active_points` and `active_tasks` follow a claim.
async fn worker_shape(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    ctx.import(
        &repo,
        &skill,
        json!([{"title": "three points", "estimate_points": 3}]),
    )
    .await?;
    let worker = ctx
        .worker(
            &[&skill],
            json!({"capacity_points": 5, "max_concurrent_tasks": 2,
                   "capabilities": {"can_run_tests": true, "tool": "x"}}),
        )
        .await?;
    let w = ctx.state_object("workers", "worker_id", &worker.id).await?;
    let kind = "a registered worker in GET /v1/admin/state";
    field(&w, kind, "worker_id", "a string", Value::is_string)?;
    field(&w, kind, "name", "a non-empty string", |v| {
        v.as_str().is_some_and(|s| !s.is_empty())
    })?;
    field(
        &w,
        kind,
        "skills",
        "an array of strings with our skill",
        |v| {
            is_string_array(v)
                && v.as_array().is_some_and(|a| {
                    a.iter()
                        .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&skill)))
                })
        },
    )?;
    field(&w, kind, "capacity_points", "5", |v| v == 5)?;
    field(&w, kind, "max_concurrent_tasks", "2", |v| v == 2)?;
    field(&w, kind, "github_login", "null", Value::is_null)?;
    field(&w, kind, "status", "\"idle\"", |v| v == "idle")?;
    field(&w, kind, "online", "true", |v| v == true)?;
    field(&w, kind, "last_heartbeat", "a string", Value::is_string)?;
    field(&w, kind, "trust_level", "0 (the default)", |v| v == 0)?;
    field(
        &w,
        kind,
        "capabilities",
        "the capabilities registered",
        |v| *v == json!({"can_run_tests": true, "tool": "x"}),
    )?;
    field(&w, kind, "active_points", "0", |v| v == 0)?;
    field(&w, kind, "active_tasks", "0", |v| v == 0)?;

    ctx.claim_lease(&worker).await?;
    let w = ctx.state_object("workers", "worker_id", &worker.id).await?;
    let kind = "the worker holding a 3-point lease";
    field(&w, kind, "active_points", "3", |v| v == 3)?;
    field(&w, kind, "active_tasks", "1", |v| v == 1)?;
    field(
        &w,
        kind,
        "status",
        "\"idle\", \"working\" or \"paused\"",
        |v| ["idle", "working", "paused"].iter().any(|s| v == s),
    )?;
    Ok(())
}

/// The repo policy's fields and defaults, and `throttled` exactly when
/// `open_prs + active_leases ≥ max_open_prs`, as leases and pull requests come and go.
async fn repo_shape(ctx: Ctx) -> CaseResult {
    let name = ctx.unique("repo");
    let reply = ctx
        .admin_post("/v1/admin/repos", json!({"repo": name, "max_open_prs": 2}))
        .await?;
    reply.expect(&[200, 201], "POST /v1/admin/repos")?;
    let p = &reply.body;
    let kind = "a new repo policy";
    field(p, kind, "repo", &format!("\"{name}\""), |v| {
        v == name.as_str()
    })?;
    field(p, kind, "max_open_prs", "2", |v| v == 2)?;
    field(p, kind, "area_locks_enabled", "true (the default)", |v| {
        v == true
    })?;
    field(p, kind, "open_prs", "0", |v| v == 0)?;
    field(p, kind, "active_leases", "0", |v| v == 0)?;
    field(p, kind, "throttled", "false", |v| v == false)?;
    let reply = ctx
        .admin_post(
            "/v1/admin/repos",
            json!({"repo": name, "max_open_prs": 2, "area_locks_enabled": false}),
        )
        .await?;
    reply.expect(&[200, 201], "POST /v1/admin/repos (update)")?;
    field(
        &reply.body,
        "the updated policy",
        "area_locks_enabled",
        "false",
        |v| v == false,
    )?;

    let zero = ctx.repo_with(0, false, json!({})).await?;
    let p = ctx.state_object("repos", "repo", &zero).await?;
    field(
        &p,
        "a policy with max_open_prs 0",
        "throttled",
        "true (0 + 0 ≥ 0)",
        |v| v == true,
    )?;

    let skill = ctx.skill();
    ctx.import(&name, &skill, json!([{"title": "one"}, {"title": "two"}]))
        .await?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let expect = |open: i64, active: i64, throttled: bool, when: &'static str| {
        let ctx = ctx.clone();
        let name = name.clone();
        async move {
            let p = ctx.state_object("repos", "repo", &name).await?;
            ensure_that!(
                p["open_prs"] == open
                    && p["active_leases"] == active
                    && p["throttled"] == throttled,
                "the policy (max_open_prs 2) {when}: expected open_prs {open}, active_leases \
                 {active}, throttled {throttled}; got {}, {}, {}",
                p["open_prs"],
                p["active_leases"],
                p["throttled"]
            );
            Ok::<(), Outcome>(())
        }
    };
    let first = ctx.claim_lease(&worker).await?;
    expect(0, 1, false, "with one lease").await?;
    ctx.claim_lease(&worker).await?;
    expect(0, 2, true, "with two leases").await?;
    let task_id = str_field(&first["task"], "task_id", "the first lease's task")?;
    ctx.worker_post(
        &worker,
        &format!("/v1/tasks/{task_id}/status"),
        json!({"status": "pr_opened", "artifact": {"pr_url": "https://example.com/acme/pull/1"}}),
    )
    .await?
    .expect(&[200], "status pr_opened")?;
    expect(1, 1, true, "with one pull request and one lease").await?;
    ctx.admin_post(
        &format!("/v1/admin/tasks/{task_id}/status"),
        json!({"status": "merged"}),
    )
    .await?
    .expect(&[200], "admin status merged")?;
    expect(0, 1, false, "once the pull request merged").await?;
    Ok(())
}

/// Importing a key that already exists in the repo updates that task, never a second one.
async fn import_upsert_by_key(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let first = ctx
        .import(
            &repo,
            &skill,
            json!([{"key": "K-1", "title": "first title"}]),
        )
        .await?;
    let second = ctx
        .import(
            &repo,
            &skill,
            json!([{"key": "K-1", "title": "second title", "priority": "high"}]),
        )
        .await?;
    let id = str_field(&first[0], "task_id", "the first import")?;
    ensure_that!(
        second[0]["task_id"] == id,
        "importing key K-1 again should update task {id}, got task {}",
        second[0]["task_id"]
    );
    ensure_that!(
        second[0]["title"] == "second title" && second[0]["priority"] == "high",
        "importing key K-1 again should update its title and priority, got {} and {}",
        second[0]["title"],
        second[0]["priority"]
    );
    let state = ctx.admin_state().await?;
    let count = state["tasks"].as_array().map_or(0, |t| {
        t.iter()
            .filter(|t| t["repo"] == repo.as_str() && t["key"] == "K-1")
            .count()
    });
    ensure_that!(
        count == 1,
        "GET /v1/admin/state should list one task with key K-1 in {repo}, lists {count}"
    );
    let worker = ctx.worker(&[&skill], json!({})).await?;
    ctx.claim_lease(&worker).await?;
    ctx.claim_none(&worker, "the repo holds one task, already leased")
        .await
}

/// The same import as YAML (`Content-Type: application/yaml`).
async fn import_yaml(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let yaml = format!(
        "repo: {repo}\ntasks:\n  - key: Y-1\n    title: \"From YAML\"\n    estimate_points: 2\n    \
         priority: low\n    required_skills: [{skill}]\n  - title: Second\n    required_skills:\n      \
         - {skill}\n"
    );
    let reply = ctx
        .send_raw(
            Method::POST,
            "/v1/admin/tasks",
            Auth::Admin,
            "application/yaml",
            yaml.into_bytes(),
        )
        .await?;
    if let Some(tasks) = reply.body["tasks"].as_array() {
        ctx.remember_tasks(tasks);
    }
    reply.expect(&[201], "POST /v1/admin/tasks as application/yaml")?;
    let tasks = reply.body["tasks"].as_array().cloned().unwrap_or_default();
    ensure_that!(
        tasks.len() == 2
            && tasks[0]["key"] == "Y-1"
            && tasks[0]["title"] == "From YAML"
            && tasks[0]["estimate_points"] == 2
            && tasks[0]["priority"] == "low"
            && tasks[1]["title"] == "Second",
        "the YAML import: expected Y-1 `From YAML` (2 points, low) and `Second`, got {}",
        reply.text
    );
    Ok(())
}

/// Importing into a repo that has no policy is `404`.
async fn import_unknown_repo(ctx: Ctx) -> CaseResult {
    let repo = ctx.unique("never-created");
    let skill = ctx.skill();
    let reply = ctx
        .admin_post(
            "/v1/admin/tasks",
            json!({"repo": repo, "tasks": [{"title": "nowhere", "required_skills": [skill]}]}),
        )
        .await?;
    if let Some(tasks) = reply.body["tasks"].as_array() {
        ctx.remember_tasks(tasks);
    }
    reply.expect_problem(&[404], None, "POST /v1/admin/tasks for an unknown repo")?;
    Ok(())
}

/// Registration: `201` with `worker_id`, `token`, `protocol` `owp/1` and the three TTLs.
async fn register(ctx: Ctx) -> CaseResult {
    let skill = ctx.skill();
    let worker = ctx
        .worker(
            &[&skill],
            json!({"capacity_points": 2, "max_concurrent_tasks": 1}),
        )
        .await?;
    let r = &worker.registered;
    let kind = "the registration answer";
    field(r, kind, "worker_id", "a non-empty string", |v| {
        v.as_str().is_some_and(|s| !s.is_empty())
    })?;
    field(r, kind, "token", "a non-empty string", |v| {
        v.as_str().is_some_and(|s| !s.is_empty())
    })?;
    field(r, kind, "protocol", "\"owp/1\"", |v| v == "owp/1")?;
    for ttl in [
        "heartbeat_ttl_seconds",
        "lease_ttl_seconds",
        "accept_ttl_seconds",
    ] {
        field(r, kind, ttl, "a whole number of seconds ≥ 1", |v| {
            v.as_u64().is_some_and(|s| s >= 1)
        })?;
    }
    let other = ctx.worker(&[&skill], json!({})).await?;
    ensure_that!(
        other.id != worker.id && other.token != worker.token,
        "two registrations got the same worker_id or token ({})",
        worker.id
    );
    ctx.heartbeat(&worker)
        .await?
        .expect(&[200], "heartbeat with the token just issued")?;
    Ok(())
}

/// `GET /v1/admin/state` lists repos, workers, tasks and events, ours among them.
async fn admin_state(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "listed"}]))
        .await?;
    let task_id = str_field(&tasks[0], "task_id", "the imported task")?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let state = ctx.admin_state().await?;
    for list in ["repos", "workers", "tasks", "events"] {
        ensure_that!(
            state[list].is_array(),
            "GET /v1/admin/state: expected `{list}` to be an array, got {}",
            state[list]
        );
    }
    let has = |list: &str, field: &str, value: &str| {
        state[list]
            .as_array()
            .is_some_and(|a| a.iter().any(|o| o[field] == value))
    };
    ensure_that!(
        has("repos", "repo", &repo),
        "GET /v1/admin/state: repo {repo} is not in `repos`"
    );
    ensure_that!(
        has("workers", "worker_id", &worker.id),
        "GET /v1/admin/state: worker {} is not in `workers`",
        worker.id
    );
    ensure_that!(
        has("tasks", "task_id", task_id),
        "GET /v1/admin/state: task {task_id} is not in `tasks`"
    );
    Ok(())
}

/// The admin forces statuses (`blocked`, `ready`, `merged`) from any status, ending a lease it
/// interrupts; an unknown status is `422`, an unknown task `404`.
async fn admin_force_status(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "forced"}]))
        .await?;
    let task_id = str_field(&tasks[0], "task_id", "the imported task")?.to_string();
    let path = format!("/v1/admin/tasks/{task_id}/status");
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let lease = ctx.claim_lease(&worker).await?;
    let lease_id = str_field(&lease, "lease_id", "the lease")?.to_string();
    for (status, reason) in [
        ("blocked", Some("waiting for the parser rewrite")),
        ("ready", None),
    ] {
        let body = match reason {
            Some(r) => json!({"status": status, "reason": r}),
            None => json!({"status": status}),
        };
        let reply = ctx.admin_post(&path, body).await?;
        reply.expect(&[200], &format!("admin status {status}"))?;
        ensure_that!(
            reply.body["task_id"] == task_id.as_str() && reply.body["status"] == status,
            "admin status {status}: expected the task, now {status}, got {}",
            reply.text
        );
        ensure_that!(
            ctx.task(&task_id).await?["status"] == status,
            "admin status {status}: GET /v1/tasks/{{id}} does not show {status}"
        );
    }
    ctx.worker_post(&worker, &format!("/v1/leases/{lease_id}/ack"), json!({}))
        .await?
        .expect_problem(
            &[409],
            None,
            "ack of a lease the admin ended (task forced to blocked)",
        )?;
    let again = ctx.claim_lease(&worker).await?;
    ensure_that!(
        again["task"]["task_id"] == task_id.as_str(),
        "a task forced back to ready should be offered again, got {}",
        again["task"]["task_id"]
    );
    let reply = ctx.admin_post(&path, json!({"status": "merged"})).await?;
    reply.expect(&[200], "admin status merged")?;
    ensure_that!(
        reply.body["status"] == "merged",
        "admin status merged: got {}",
        reply.text
    );
    ctx.admin_post(&path, json!({"status": "finished"}))
        .await?
        .expect_problem(&[422], None, "admin status \"finished\"")?;
    ctx.admin_post(
        &format!("/v1/admin/tasks/{}/status", ctx.unique("no-such-task")),
        json!({"status": "ready"}),
    )
    .await?
    .expect_problem(&[404], None, "admin status of an unknown task")?;
    ensure_that!(
        ctx.task(&task_id).await?["status"] == "merged",
        "the refused admin status calls changed the merged task"
    );
    Ok(())
}

/// `POST /v1/admin/workers/{id}` sets `trust_level` (rule 7 follows) and pauses and resumes.
async fn admin_update_worker(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    ctx.import(&repo, &skill, json!([{"title": "tier one", "tier": 1}]))
        .await?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let path = format!("/v1/admin/workers/{}", worker.id);
    ctx.claim_none(&worker, "a tier-1 task and a trust-0 worker")
        .await?;
    let reply = ctx.admin_post(&path, json!({"trust_level": 1})).await?;
    reply.expect(&[200], "admin trust_level 1")?;
    ensure_that!(
        reply.body["worker_id"] == worker.id.as_str() && reply.body["trust_level"] == 1,
        "admin trust_level 1: expected the worker with trust_level 1, got {}",
        reply.text
    );
    let reply = ctx.admin_post(&path, json!({"status": "paused"})).await?;
    reply.expect(&[200], "admin status paused")?;
    ensure_that!(
        reply.body["status"] == "paused" && reply.body["trust_level"] == 1,
        "admin status paused: expected status paused and trust_level still 1, got {}",
        reply.text
    );
    ctx.claim_none(&worker, "the worker is paused").await?;
    let reply = ctx.admin_post(&path, json!({"status": "idle"})).await?;
    reply.expect(&[200], "admin status idle")?;
    ensure_that!(
        reply.body["status"] != "paused",
        "admin status idle: the worker is still paused: {}",
        reply.text
    );
    ctx.claim_lease(&worker).await?;
    ctx.admin_post(&path, json!({"trust_level": -1}))
        .await?
        .expect_problem(&[422], None, "admin trust_level -1")?;
    ctx.admin_post(
        &format!("/v1/admin/workers/{}", ctx.unique("no-such-worker")),
        json!({"trust_level": 1}),
    )
    .await?
    .expect_problem(&[404], None, "admin update of an unknown worker")?;
    Ok(())
}
