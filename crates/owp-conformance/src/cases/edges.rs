//! The protocol's edges (the appendix "Edges" of the spec): the one answer each gets — a body of
//! another media type, a query value of the wrong type, a report after the lease ended, a
//! malformed contract or disclosure, the order stored paths come back in, who may read a task, a
//! lone surrogate, problem titles — and the order in which an endpoint checks a request. Every
//! failure names the section of the spec that decides it.

use reqwest::Method;
use serde_json::{Value, json};

use super::common::{Leased, id, nack, one_leased};
use crate::client::{Auth, Reply};
use crate::{Case, CaseResult, Ctx};
use crate::{case, ensure_that};

pub fn cases() -> Vec<Case> {
    vec![
        case!("edges.media_type_415", media_type_415),
        case!("edges.query_value_422", query_value_422),
        case!("edges.report_after_lease_ended", report_after_lease_ended),
        case!("edges.contract_invalid", contract_invalid),
        case!(
            "edges.disclosure_closed",
            feature = "disclosure",
            disclosure_closed
        ),
        case!("edges.paths_sorted", feature = "paths", paths_sorted),
        case!("edges.who_reads_a_task", who_reads_a_task),
        case!("edges.lone_surrogate_400", lone_surrogate_400),
        case!("edges.problem_title_by_status", problem_title_by_status),
        case!("edges.order_of_checks", order_of_checks),
    ]
}

/// A JSON document sent as `text/plain` is `415 unsupported_media_type`, on an anonymous, an
/// admin and a worker route; the same document without `Content-Type` is read as JSON.
async fn media_type_415(ctx: Ctx) -> CaseResult {
    let skill = ctx.skill();
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let registration =
        json!({"name": ctx.unique("worker"), "capacity_points": 1, "specialist": true});
    let bytes = |v: &Value| serde_json::to_vec(v).map_err(anyhow::Error::from);
    let reply = ctx
        .send_raw(
            Method::POST,
            "/v1/workers/register",
            Auth::None,
            "text/plain",
            bytes(&registration)?,
        )
        .await?;
    if let Some(id) = reply.body["worker_id"].as_str() {
        ctx.remember_worker(id);
    }
    reply.expect_problem(
        &[415],
        Some("unsupported_media_type"),
        "§3: POST /v1/workers/register with a JSON body sent as text/plain",
    )?;
    let repo = ctx.unique("repo");
    ctx.send_raw(
        Method::POST,
        "/v1/admin/repos",
        Auth::Admin,
        "text/plain; charset=utf-8",
        bytes(&json!({"repo": repo, "max_open_prs": 1}))?,
    )
    .await?
    .expect_problem(
        &[415],
        Some("unsupported_media_type"),
        "§3: POST /v1/admin/repos with a JSON body sent as text/plain",
    )?;
    ctx.send_raw(
        Method::POST,
        "/v1/workers/heartbeat",
        Auth::Worker(&worker),
        "text/plain",
        b"{}".to_vec(),
    )
    .await?
    .expect_problem(
        &[415],
        Some("unsupported_media_type"),
        "§3: POST /v1/workers/heartbeat with `{}` sent as text/plain",
    )?;
    // Without a Content-Type the same registration is JSON.
    let reply = ctx
        .request_as(Method::POST, "/v1/workers/register", Auth::None)
        .body(bytes(&registration)?)
        .send()
        .await?;
    let status = reply.status().as_u16();
    let body: Value = reply.json().await.unwrap_or(Value::Null);
    if let Some(id) = body["worker_id"].as_str() {
        ctx.remember_worker(id);
    }
    ensure_that!(
        status == 201,
        "§3: a registration without Content-Type is read as JSON and answers 201, got {status} \
         {body}"
    );
    Ok(())
}

/// A query value that is not of its type (`?wait=abc`, `?limit=abc`) is `422
/// validation_failed`, like a body field of the wrong type; `?wait` over 30 is `422
/// invalid_wait`; without credentials it is `401` first.
async fn query_value_422(ctx: Ctx) -> CaseResult {
    let skill = ctx.skill();
    let worker = ctx.worker(&[&skill], json!({})).await?;
    for query in ["wait=abc", "wait=-1", "wait=1.5"] {
        ctx.send(
            Method::POST,
            &format!("/v1/work?{query}"),
            Auth::Worker(&worker),
            None,
            &[],
        )
        .await?
        .expect_problem(
            &[422],
            Some("validation_failed"),
            &format!("§12, Edges: POST /v1/work?{query}"),
        )?;
    }
    ctx.send(
        Method::POST,
        "/v1/work?wait=31",
        Auth::Worker(&worker),
        None,
        &[],
    )
    .await?
    .expect_problem(&[422], Some("invalid_wait"), "§9.10: POST /v1/work?wait=31")?;
    for query in ["limit=abc", "offset=x", "events=many"] {
        ctx.admin_get(&format!("/v1/admin/state?{query}"))
            .await?
            .expect_problem(
                &[422],
                Some("validation_failed"),
                &format!("§12, Edges: GET /v1/admin/state?{query}"),
            )?;
    }
    ctx.send(Method::POST, "/v1/work?wait=abc", Auth::None, None, &[])
        .await?
        .expect_problem(
            &[401],
            Some("unauthorized"),
            "Edges (order of checks): POST /v1/work?wait=abc without credentials",
        )?;
    Ok(())
}

/// A report on a task whose lease the worker held and that has ended (given back here) is `409
/// lease_not_held` while the task is nobody's, as `ack`, `nack` and `renew` of that lease
/// answer; a worker that never held the task, or once another holds it, gets `403
/// not_lease_holder`.
async fn report_after_lease_ended(ctx: Ctx) -> CaseResult {
    let Leased {
        skill,
        worker: holder,
        lease,
        task,
        ..
    } = one_leased(&ctx, "given back, then reported on").await?;
    let stranger = ctx.worker(&[&skill], json!({})).await?;
    nack(&ctx, &holder, &lease).await?;
    let path = format!("/v1/tasks/{task}/status");
    for status in ["in_progress", "blocked"] {
        ctx.worker_post(&holder, &path, json!({"status": status, "note": "late"}))
            .await?
            .expect_problem(
                &[409],
                Some("lease_not_held"),
                &format!("§9.15: status {status} by the worker whose lease of the task ended"),
            )?;
    }
    ctx.worker_post(
        &holder,
        &path,
        json!({"status": "pr_opened", "artifact": {"pr_url": "https://example.org/pr/1"}}),
    )
    .await?
    .expect_problem(
        &[409],
        Some("lease_not_held"),
        "§9.15: status pr_opened by the worker whose lease of the task ended",
    )?;
    ctx.worker_post(&stranger, &path, json!({"status": "in_progress"}))
        .await?
        .expect_problem(
            &[403],
            Some("not_lease_holder"),
            "§9.15: status in_progress by a worker that never held the task",
        )?;
    let now = ctx.task(&task).await?;
    ensure_that!(
        now["status"] == "ready",
        "§9.15: refused reports leave the task as it was (`ready`), it is {}",
        now["status"]
    );
    // Once another worker holds it, the task is that worker's: 403 for the one before.
    super::common::claim_task(&ctx, &stranger, &task, "given back by the other worker").await?;
    ctx.worker_post(&holder, &path, json!({"status": "in_progress"}))
        .await?
        .expect_problem(
            &[403],
            Some("not_lease_holder"),
            "§9.15: status in_progress by a worker whose lease ended, the task now another's",
        )?;
    Ok(())
}

/// Any fault inside a repository's `contract` — a `disclosure` other than `required` or
/// `optional`, an unknown field, a value that is not a string — is `422 invalid_contract`, and
/// nothing changes.
async fn contract_invalid(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    for contract in [
        json!({"disclosure": "maybe"}),
        json!({"tests": "cargo test"}),
        json!({"test": 3}),
        json!({"disclosure": true}),
    ] {
        ctx.admin_post(
            "/v1/admin/repos",
            json!({"repo": repo, "max_open_prs": 100, "contract": contract}),
        )
        .await?
        .expect_problem(
            &[422],
            Some("invalid_contract"),
            &format!("§5.3: POST /v1/admin/repos with contract {contract}"),
        )?;
    }
    let policy = super::common::state_repo(&ctx, &repo).await?;
    ensure_that!(
        policy.get("contract").is_none_or(Value::is_null),
        "§5.3: refused contracts leave the policy without one, it shows {}",
        policy["contract"]
    );
    Ok(())
}

/// `artifact.disclosure` is a closed object, as `artifact.evidence` is: an unknown key in it is
/// `422 invalid_disclosure`, and the task does not move.
async fn disclosure_closed(ctx: Ctx) -> CaseResult {
    let Leased { worker, task, .. } = one_leased(&ctx, "a typo in the disclosure").await?;
    let url = format!("https://example.org/pr/{task}");
    ctx.worker_post(
        &worker,
        &format!("/v1/tasks/{task}/status"),
        json!({"status": "pr_opened",
               "artifact": {"pr_url": url, "disclosure": {"tool": "aider", "modle": "x"}}}),
    )
    .await?
    .expect_problem(
        &[422],
        Some("invalid_disclosure"),
        "§16.7: artifact.disclosure with an unknown key `modle`",
    )?;
    let now = ctx.task(&task).await?;
    ensure_that!(
        now["status"] == "leased",
        "§16.7: a refused report leaves the task `leased`, it is {}",
        now["status"]
    );
    Ok(())
}

/// A task's `paths` come back normalised, each once, sorted by byte order, whatever order the
/// import listed them in.
async fn paths_sorted(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "many paths",
                    "paths": ["src/b/**", "docs/*.md", "./src//a/", "src/b/**", "Z.md"]}]),
        )
        .await?;
    let want = json!(["Z.md", "docs/*.md", "src/a", "src/b/**"]);
    ensure_that!(
        tasks[0]["paths"] == want,
        "§9.3: `paths` are stored normalised, once each, sorted by byte order: expected {want}, \
         got {}",
        tasks[0]["paths"]
    );
    let task = id(&tasks[0], "task_id", "POST /v1/admin/tasks")?;
    let read = ctx.task(&task).await?;
    ensure_that!(
        read["paths"] == want,
        "§9.3: GET /v1/tasks/{{id}} shows `paths` as stored: expected {want}, got {}",
        read["paths"]
    );
    Ok(())
}

/// `GET /v1/tasks/{id}`: the admin and the holder read the task; another worker gets `403
/// not_lease_holder` — except, with feature `proposals`, for a `ready` task of a public
/// repository that takes plans first, at or below its trust, which it may read to write a plan.
async fn who_reads_a_task(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "read by whom"}]))
        .await?;
    let task = id(&tasks[0], "task_id", "POST /v1/admin/tasks")?;
    let path = format!("/v1/tasks/{task}");
    let holder = ctx.worker(&[&skill], json!({})).await?;
    let other = ctx.worker(&[&skill], json!({})).await?;
    ctx.worker_get(&other, &path).await?.expect_problem(
        &[403],
        Some("not_lease_holder"),
        "§9.14: GET /v1/tasks/{id} of a ready task by a worker (not a plans-first repository)",
    )?;
    ctx.claim_lease(&holder).await?;
    ctx.worker_get(&holder, &path)
        .await?
        .expect(&[200], "§9.14: GET /v1/tasks/{id} by its holder")?;
    ctx.worker_get(&other, &path).await?.expect_problem(
        &[403],
        Some("not_lease_holder"),
        "§9.14: GET /v1/tasks/{id} of a leased task by another worker",
    )?;
    if !ctx.has_feature("proposals") {
        return Ok(());
    }
    let plans = |visibility: &str| json!({"visibility": visibility, "approval": "plan", "approval_skip_trust": null});
    for (visibility, readable) in [("public", true), ("private", false)] {
        let repo = ctx.repo_with(100, false, plans(visibility)).await?;
        let tasks = ctx
            .import(&repo, &skill, json!([{"title": "plan me"}]))
            .await?;
        let task = id(&tasks[0], "task_id", "POST /v1/admin/tasks")?;
        let reply = ctx.worker_get(&other, &format!("/v1/tasks/{task}")).await?;
        let what = format!(
            "§9.14: GET /v1/tasks/{{id}} of a ready task of a {visibility} repository that takes \
             plans first, by a worker"
        );
        if readable {
            reply.expect(&[200], &what)?;
            ensure_that!(
                reply.body["task_id"] == task.as_str(),
                "{what}: expected the task, got {}",
                reply.describe()
            );
        } else {
            reply.expect_problem(&[403], Some("not_lease_holder"), &what)?;
        }
    }
    Ok(())
}

/// A JSON string holding a lone UTF-16 surrogate escape (`"\ud800"`) names no Unicode text: the
/// body is `400 malformed_body`. A surrogate pair (`"\ud83d\ude00"`) is one character and is
/// taken.
async fn lone_surrogate_400(ctx: Ctx) -> CaseResult {
    ctx.send_raw(
        Method::POST,
        "/v1/admin/tasks",
        Auth::Admin,
        "application/json",
        b"{\"repo\": \"\\ud800\", \"tasks\": []}".to_vec(),
    )
    .await?
    .expect_problem(
        &[400],
        Some("malformed_body"),
        "§3, Edges: an import whose `repo` is the lone surrogate \\ud800",
    )?;
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let body = format!(
        "{{\"repo\": \"{repo}\", \"tasks\": [{{\"title\": \"smile \\ud83d\\ude00\", \
         \"required_skills\": [\"{skill}\"]}}]}}"
    );
    let reply = ctx
        .send_raw(
            Method::POST,
            "/v1/admin/tasks",
            Auth::Admin,
            "application/json",
            body.into_bytes(),
        )
        .await?;
    reply.expect(
        &[201],
        "§3, Edges: an import whose title holds a surrogate pair",
    )?;
    if let Some(list) = reply.body["tasks"].as_array() {
        ctx.remember_tasks(list);
    }
    ensure_that!(
        reply.body["tasks"][0]["title"] == "smile \u{1F600}",
        "§3, Edges: the surrogate pair is one character, U+1F600; got {}",
        reply.body["tasks"][0]["title"]
    );
    Ok(())
}

/// Problem documents are judged by `status` and `code`: `title` is a non-empty string whose
/// wording is the server's (an HTTP library's reason phrase, most often), never compared.
async fn problem_title_by_status(ctx: Ctx) -> CaseResult {
    let skill = ctx.skill();
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let mut replies: Vec<(Reply, u16, &str)> = Vec::new();
    replies.push((
        ctx.send_raw(
            Method::POST,
            "/v1/admin/repos",
            Auth::Admin,
            "application/json",
            b"{".to_vec(),
        )
        .await?,
        400,
        "malformed_body",
    ));
    replies.push((
        ctx.send(Method::GET, "/v1/admin/state", Auth::None, None, &[])
            .await?,
        401,
        "unauthorized",
    ));
    replies.push((
        ctx.admin_get(&format!("/v1/tasks/{}", ctx.unique("t")))
            .await?,
        404,
        "task_not_found",
    ));
    replies.push((
        ctx.send(Method::DELETE, "/v1/work", Auth::Worker(&worker), None, &[])
            .await?,
        405,
        "method_not_allowed",
    ));
    replies.push((
        ctx.send_raw(
            Method::POST,
            "/v1/workers/heartbeat",
            Auth::Worker(&worker),
            "application/xml",
            b"<a/>".to_vec(),
        )
        .await?,
        415,
        "unsupported_media_type",
    ));
    replies.push((
        ctx.worker_post(
            &worker,
            "/v1/workers/heartbeat",
            json!({"status": "asleep"}),
        )
        .await?,
        422,
        "unknown_status",
    ));
    for (reply, status, code) in &replies {
        let what = format!("§3, §12: a {status} answer ({code})");
        reply.expect_problem(&[*status], Some(code), &what)?;
        ensure_that!(
            reply.body["title"]
                .as_str()
                .is_some_and(|t| !t.trim().is_empty()),
            "{what}: `title` is a non-empty string, got {}",
            reply.body["title"]
        );
    }
    Ok(())
}

/// The order in which a request is judged (appendix "Edges"): credentials (401), then the body's
/// media type (415), its syntax (400) and what the body alone says (422), then whether the
/// object exists (404), whose it is (403 / 409 `lease_not_held`), and last the object's state
/// (409).
async fn order_of_checks(ctx: Ctx) -> CaseResult {
    let Leased {
        skill,
        worker: holder,
        task,
        ..
    } = one_leased(&ctx, "judged in order").await?;
    let other = ctx.worker(&[&skill], json!({})).await?;
    let unknown = format!("/v1/tasks/{}/status", ctx.unique("t"));
    let own = format!("/v1/tasks/{task}/status");
    let steps: Vec<(Reply, u16, &str, &str)> = vec![
        (
            raw(&ctx, &own, Auth::Token("owpw_wrong"), "text/plain", b"{").await?,
            401,
            "unauthorized",
            "a wrong token, a text/plain body that does not parse",
        ),
        (
            raw(&ctx, &unknown, Auth::Worker(&holder), "text/plain", b"{").await?,
            415,
            "unsupported_media_type",
            "an unknown task, a text/plain body that does not parse",
        ),
        (
            raw(
                &ctx,
                &unknown,
                Auth::Worker(&holder),
                "application/json",
                b"{",
            )
            .await?,
            400,
            "malformed_body",
            "an unknown task, a JSON body that does not parse",
        ),
        (
            raw(
                &ctx,
                &unknown,
                Auth::Worker(&holder),
                "application/json",
                b"{}",
            )
            .await?,
            422,
            "validation_failed",
            "an unknown task, a body without `status`",
        ),
        (
            raw(
                &ctx,
                &unknown,
                Auth::Worker(&holder),
                "application/json",
                br#"{"status": "in_progress"}"#,
            )
            .await?,
            404,
            "task_not_found",
            "an unknown task, a good body",
        ),
        (
            raw(
                &ctx,
                &own,
                Auth::Worker(&other),
                "application/json",
                br#"{"status": "merged"}"#,
            )
            .await?,
            403,
            "not_lease_holder",
            "another worker's task, a move no worker may make",
        ),
        (
            raw(
                &ctx,
                &own,
                Auth::Worker(&holder),
                "application/json",
                br#"{"status": "ready"}"#,
            )
            .await?,
            409,
            "invalid_transition",
            "the holder's task, a move the state machine does not allow",
        ),
    ];
    for (reply, status, code, what) in &steps {
        reply.expect_problem(
            &[*status],
            Some(code),
            &format!("Edges (order of checks): POST /v1/tasks/{{id}}/status with {what}"),
        )?;
    }
    let unknown_task = format!("/v1/admin/tasks/{}/status", ctx.unique("t"));
    ctx.send_raw(
        Method::POST,
        &unknown_task,
        Auth::Token("wrong"),
        "application/json",
        b"{".to_vec(),
    )
    .await?
    .expect_problem(
        &[401],
        Some("unauthorized"),
        "Edges (order of checks): an admin route without the admin token, a body that does not \
         parse",
    )?;
    ctx.admin_post(&unknown_task, json!({"status": "sleeping"}))
        .await?
        .expect_problem(
            &[422],
            Some("unknown_status"),
            "Edges (order of checks): an admin override of an unknown task to an unknown status",
        )?;
    Ok(())
}

/// `POST path` with a raw body of content type `ct`.
async fn raw(
    ctx: &Ctx,
    path: &str,
    auth: Auth<'_>,
    ct: &str,
    body: &[u8],
) -> Result<Reply, crate::Outcome> {
    ctx.send_raw(Method::POST, path, auth, ct, body.to_vec())
        .await
}
