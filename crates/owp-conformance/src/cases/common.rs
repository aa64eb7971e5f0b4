//! What several parts' cases share: task ids and labels, claims that must return a given task,
//! lease and status moves, reading `GET /v1/admin/state`, a worker's reputation, the contract's
//! time precision, and the admin event stream.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::{Auth, MAX_ANSWER_BYTES, Worker, find, str_field};
use crate::{CaseResult, Ctx, Outcome};
use crate::{ensure_that, fail_case};

/// The contract's precision for time-based behaviour.
pub(super) const PRECISION: Duration = Duration::from_secs(1);
/// What this runner allows beyond the contract's bound (scheduling, a loaded machine).
pub(super) const SLACK: Duration = Duration::from_secs(2);
/// A duration for a failure message: seconds, one decimal.
pub(super) fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// A string field of an object, or a failure naming what lacked it.
pub(super) fn id(object: &Value, field: &str, what: &str) -> Result<String, Outcome> {
    str_field(object, field, what).map(str::to_string)
}

/// The ids of imported tasks, in the order of the answer.
pub(super) fn ids(tasks: &[Value]) -> Result<Vec<String>, Outcome> {
    tasks
        .iter()
        .map(|t| id(t, "task_id", "POST /v1/admin/tasks"))
        .collect()
}

/// How a task shows in a failure message: its title (the cases title every task) and id.
fn label(task: &Value) -> String {
    format!(
        "`{}` ({})",
        task["title"].as_str().unwrap_or("?"),
        task["task_id"].as_str().unwrap_or("?")
    )
}

/// A claim that must return the task `want` (`why` says why that one); returns the lease.
pub(super) async fn claim_task(
    ctx: &Ctx,
    worker: &Worker,
    want: &str,
    why: &str,
) -> Result<Value, Outcome> {
    let reply = ctx.claim(worker, None).await?;
    if reply.status != 200 {
        fail_case!(
            "POST /v1/work should offer task {want} ({why}); got {}",
            reply.describe()
        );
    }
    let lease = reply.body["lease"].clone();
    let got = lease["task"]["task_id"].as_str().unwrap_or("");
    ensure_that!(
        got == want && lease["lease_id"].is_string(),
        "POST /v1/work should offer task {want} ({why}); got task {}",
        label(&lease["task"])
    );
    Ok(lease)
}

/// What [`one_leased`] sets up.
pub(super) struct Leased {
    /// A fresh repository of the case.
    pub repo: String,
    /// The skill its one task requires (another worker with it may claim the task too).
    pub skill: String,
    /// The worker with that skill, which holds the lease.
    pub worker: Worker,
    /// Its lease, as the claim answered it.
    pub lease: Value,
    /// The task's id.
    pub task: String,
}

/// A fresh repository of the case with one task titled `title`, a worker with the task's skill,
/// and that worker's lease of it.
pub(super) async fn one_leased(ctx: &Ctx, title: &str) -> Result<Leased, Outcome> {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    ctx.import(&repo, &skill, json!([{ "title": title }]))
        .await?;
    let worker = ctx.worker(&[&skill], json!({})).await?;
    let lease = ctx.claim_lease(&worker).await?;
    let task = id(&lease["task"], "task_id", "lease.task")?;
    Ok(Leased {
        repo,
        skill,
        worker,
        lease,
        task,
    })
}

/// Acknowledges a lease (`POST /v1/leases/{id}/ack`), which must answer 200.
pub(super) async fn ack(ctx: &Ctx, worker: &Worker, lease: &Value) -> Result<Value, Outcome> {
    let lease_id = id(lease, "lease_id", "lease")?;
    let reply = ctx
        .worker_post(worker, &format!("/v1/leases/{lease_id}/ack"), json!({}))
        .await?;
    reply.expect(&[200], "POST /v1/leases/{id}/ack by its holder")?;
    Ok(reply.body.clone())
}

/// Gives a lease back (`POST /v1/leases/{id}/nack`), which must answer 200.
pub(super) async fn nack(ctx: &Ctx, worker: &Worker, lease: &Value) -> Result<Value, Outcome> {
    let lease_id = id(lease, "lease_id", "lease")?;
    let reply = ctx
        .worker_post(
            worker,
            &format!("/v1/leases/{lease_id}/nack"),
            json!({"reason": "conformance: giving it back"}),
        )
        .await?;
    reply.expect(&[200], "POST /v1/leases/{id}/nack by its holder")?;
    Ok(reply.body.clone())
}

/// The holder reports its leased task `pr_opened` with a pull request URL.
pub(super) async fn pr_opened(ctx: &Ctx, worker: &Worker, lease: &Value) -> CaseResult {
    let task_id = id(&lease["task"], "task_id", "lease.task")?;
    let reply = ctx
        .worker_post(
            worker,
            &format!("/v1/tasks/{task_id}/status"),
            json!({"status": "pr_opened",
                   "artifact": {"pr_url": format!("https://example.org/pr/{task_id}")}}),
        )
        .await?;
    reply.expect(&[200], "POST /v1/tasks/{id}/status pr_opened by the holder")?;
    Ok(())
}

/// The admin forces a task's status (`POST /v1/admin/tasks/{id}/status`).
pub(super) async fn admin_status(ctx: &Ctx, task_id: &str, status: &str) -> CaseResult {
    let reply = ctx
        .admin_post(
            &format!("/v1/admin/tasks/{task_id}/status"),
            json!({"status": status, "reason": "conformance"}),
        )
        .await?;
    reply.expect(
        &[200],
        &format!("POST /v1/admin/tasks/{{id}}/status {status}"),
    )?;
    ensure_that!(
        reply.body["status"] == status,
        "POST /v1/admin/tasks/{{id}}/status {status}: the answer's status is {}",
        reply.body["status"]
    );
    Ok(())
}

/// The admin updates a worker (`POST /v1/admin/workers/{id}`); returns the worker it answers.
pub(super) async fn admin_worker(
    ctx: &Ctx,
    worker: &Worker,
    body: Value,
) -> Result<Value, Outcome> {
    let reply = ctx
        .admin_post(&format!("/v1/admin/workers/{}", worker.id), body.clone())
        .await?;
    reply.expect(&[200], &format!("POST /v1/admin/workers/{{id}} {body}"))?;
    Ok(reply.body.clone())
}

/// `GET /v1/admin/state?repo=R`. The contract lets a server add filters; one that filters the
/// tasks by `repo` answers faster on a large pool, one that does not answers them all. Callers
/// pick what they need from the lists either way.
pub(super) async fn state(ctx: &Ctx, repo: &str) -> Result<Value, Outcome> {
    let query: String = url::form_urlencoded::byte_serialize(repo.as_bytes()).collect();
    let reply = ctx
        .admin_get(&format!("/v1/admin/state?repo={query}"))
        .await?;
    reply.expect(&[200], "GET /v1/admin/state")?;
    Ok(reply.body.clone())
}

/// The worker as `GET /v1/admin/state` shows it.
pub(super) async fn state_worker(ctx: &Ctx, worker: &Worker) -> Result<Value, Outcome> {
    // A repository nobody created: no tasks to list.
    let state = state(ctx, &ctx.unique("no-such-repo")).await?;
    Ok(find(&state, "workers", "worker_id", &worker.id)?.clone())
}

/// The repository policy as `GET /v1/admin/state` shows it.
pub(super) async fn state_repo(ctx: &Ctx, repo: &str) -> Result<Value, Outcome> {
    let state = state(ctx, repo).await?;
    Ok(find(&state, "repos", "repo", repo)?.clone())
}

/// The tasks of one repository in `GET /v1/admin/state`.
pub(super) async fn tasks_of(ctx: &Ctx, repo: &str) -> Result<Vec<Value>, Outcome> {
    let state = state(ctx, repo).await?;
    Ok(state["tasks"]
        .as_array()
        .map(|l| l.iter().filter(|t| t["repo"] == repo).cloned().collect())
        .unwrap_or_default())
}

/// The worker's `reputation` as the admin state shows it.
pub(super) async fn reputation(ctx: &Ctx, w: &Worker) -> Result<Value, Outcome> {
    let worker = state_worker(ctx, w).await?;
    let rep = worker["reputation"].clone();
    for field in ["merged", "closed_unmerged", "expired", "nacked", "score"] {
        ensure_that!(
            rep[field].is_number(),
            "an opted-in worker's reputation should have a number `{field}`; worker: {worker}"
        );
    }
    Ok(rep)
}

/// An open event stream, read chunk by chunk.
pub(super) struct Stream {
    res: reqwest::Response,
    buffer: String,
}

impl Stream {
    /// `GET /v1/events` as admin with `Accept: text/event-stream`, which must answer 200 with that
    /// content type.
    pub(super) async fn open(ctx: &Ctx) -> Result<Stream, Outcome> {
        let res = ctx
            .request_as(reqwest::Method::GET, "/v1/events", Auth::Admin)
            .header("Accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| Outcome::Failed(format!("GET /v1/events: no answer: {e}")))?;
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        ensure_that!(
            res.status() == 200 && content_type.starts_with("text/event-stream"),
            "GET /v1/events as admin: expected 200 text/event-stream, got {} `{content_type}`",
            res.status()
        );
        Ok(Stream {
            res,
            buffer: String::new(),
        })
    }

    /// The next event's `data` parsed as JSON (events without data, or whose data is not JSON,
    /// are passed over), or `None` when `deadline` passes first or the stream ends.
    async fn next(&mut self, deadline: Instant) -> Result<Option<Value>, Outcome> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(|d| d.strip_prefix(' ').unwrap_or(d))
                    .collect();
                if data.is_empty() {
                    continue;
                }
                if let Ok(value) = serde_json::from_str::<Value>(&data.join("\n")) {
                    return Ok(Some(value));
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.res.chunk()).await {
                Err(_) => return Ok(None),
                Ok(Err(e)) => fail_case!("GET /v1/events: the stream broke: {e}"),
                Ok(Ok(None)) => return Ok(None),
                Ok(Ok(Some(bytes))) => {
                    self.buffer
                        .push_str(&String::from_utf8_lossy(&bytes).replace('\r', ""));
                    // One event never gets near the cap on answers; a stream that never ends
                    // its event does not fill the runner's memory.
                    ensure_that!(
                        self.buffer.len() <= MAX_ANSWER_BYTES,
                        "GET /v1/events: an event longer than {} MiB, the most the runner reads",
                        MAX_ANSWER_BYTES >> 20
                    );
                }
            }
        }
    }

    /// Reads events until one whose data names `field` = `value`; fails when none comes by
    /// `deadline`. Returns that event's data and when it was read.
    pub(super) async fn until(
        &mut self,
        field: &str,
        value: &str,
        deadline: Instant,
        what: &str,
    ) -> Result<(Value, Instant), Outcome> {
        let mut seen = 0;
        while let Some(data) = self.next(deadline).await? {
            if data[field] == value {
                return Ok((data, Instant::now()));
            }
            seen += 1;
        }
        fail_case!(
            "GET /v1/events: no event whose data names {field} {value} within {} of {what} \
             (the contract allows 1 s); {seen} other events came",
            secs(PRECISION + SLACK)
        )
    }
}
