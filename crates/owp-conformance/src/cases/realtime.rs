//! Section 4's real-time promises: a long-poll claim answers within a second of eligible work
//! appearing (feature `long_poll`), and `GET /v1/events` streams each change within a second as
//! Server-Sent Events whose `data` is JSON naming what changed (feature `sse`).

use std::time::{Duration, Instant};

use serde_json::json;

use super::common::{PRECISION, SLACK, Stream, claim_task, ids, nack, secs};
use crate::{Case, CaseResult, Ctx};
use crate::{case, ensure_that};

/// Each case judges how soon the server answers, so each runs alone under `--jobs`.
pub fn cases() -> Vec<Case> {
    vec![
        case!(
            "realtime.long_poll_wakes",
            feature = "long_poll",
            alone,
            long_poll_wakes
        ),
        case!(
            "realtime.long_poll_wakes_on_release",
            feature = "long_poll",
            alone,
            long_poll_wakes_on_release
        ),
        case!(
            "realtime.long_poll_times_out",
            feature = "long_poll",
            alone,
            long_poll_times_out
        ),
        case!("realtime.sse_event", feature = "sse", alone, sse_event),
    ]
}

/// `POST /v1/work?wait=10` with nothing eligible; a task imported 1.5 s later: the held claim
/// answers with a lease on it within a second of the import.
async fn long_poll_wakes(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let w = ctx.worker(&[&skill], json!({})).await?;
    let started = Instant::now();
    let poll = async {
        let reply = ctx.claim(&w, Some(10)).await;
        (reply, Instant::now())
    };
    let feed = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let sent = Instant::now();
        let tasks = ctx
            .import(
                &repo,
                &skill,
                json!([{"title": "appears while a claim waits"}]),
            )
            .await;
        (tasks, sent, Instant::now())
    };
    let ((reply, answered), (tasks, import_sent, import_answered)) = tokio::join!(poll, feed);
    let t = ids(&tasks?)?.remove(0);
    let reply = reply?;
    ensure_that!(
        reply.status == 200,
        "POST /v1/work?wait=10, a task for the worker imported after 1.5 s: expected a lease, got \
         {} after {}",
        reply.describe(),
        secs(answered - started)
    );
    ensure_that!(
        reply.body["lease"]["task"]["task_id"] == t.as_str(),
        "POST /v1/work?wait=10: expected a lease on the task imported meanwhile ({t}), got {}",
        reply.text
    );
    ensure_that!(
        answered >= import_sent,
        "the long poll answered with the task before it was imported"
    );
    let late = answered.saturating_duration_since(import_answered);
    ensure_that!(
        late <= PRECISION + SLACK,
        "a long-poll claim should answer within 1 s of eligible work appearing; it answered {} \
         after the import",
        secs(late)
    );
    Ok(())
}

/// Work appears not only by import: while another worker holds the only task, a long-poll claim
/// waits; when the holder gives it back 1.5 s later, the waiting claim answers with it within a
/// second.
async fn long_poll_wakes_on_release(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let t = ids(&ctx
        .import(
            &repo,
            &skill,
            json!([{"title": "given back while another waits"}]),
        )
        .await?)?
    .remove(0);
    let holder = ctx.worker(&[&skill], json!({})).await?;
    let waiter = ctx.worker(&[&skill], json!({})).await?;
    let lease = claim_task(&ctx, &holder, &t, "it is ready").await?;
    let started = Instant::now();
    let poll = async {
        let reply = ctx.claim(&waiter, Some(10)).await;
        (reply, Instant::now())
    };
    let release = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let sent = Instant::now();
        let done = nack(&ctx, &holder, &lease).await;
        (done, sent, Instant::now())
    };
    let ((reply, answered), (done, sent, released)) = tokio::join!(poll, release);
    done?;
    let reply = reply?;
    ensure_that!(
        reply.status == 200 && reply.body["lease"]["task"]["task_id"] == t.as_str(),
        "POST /v1/work?wait=10 while another worker held the only task, given back after 1.5 s: \
         expected a lease on it, got {} after {}",
        reply.describe(),
        secs(answered - started)
    );
    ensure_that!(
        answered >= sent,
        "the long poll answered with the task before its holder gave it back"
    );
    let late = answered.saturating_duration_since(released);
    ensure_that!(
        late <= PRECISION + SLACK,
        "a long-poll claim should answer within 1 s of work becoming eligible; it answered {} \
         after the holder gave the task back",
        secs(late)
    );
    Ok(())
}

/// `POST /v1/work?wait=2` with nothing eligible: `204` after about 2 s, neither at once nor much
/// later.
async fn long_poll_times_out(ctx: Ctx) -> CaseResult {
    let skill = ctx.skill();
    let w = ctx.worker(&[&skill], json!({})).await?;
    let started = Instant::now();
    let reply = ctx.claim(&w, Some(2)).await?;
    let took = started.elapsed();
    ensure_that!(
        reply.status == 204,
        "POST /v1/work?wait=2 with nothing eligible: expected 204, got {}",
        reply.describe()
    );
    ensure_that!(
        took >= Duration::from_secs(1),
        "POST /v1/work?wait=2 with nothing eligible should hold the request about 2 s; it \
         answered after {}",
        secs(took)
    );
    ensure_that!(
        took <= Duration::from_secs(2) + PRECISION + SLACK,
        "POST /v1/work?wait=2 with nothing eligible should answer after about 2 s; it took {}",
        secs(took)
    );
    Ok(())
}

/// `GET /v1/events` as admin with `Accept: text/event-stream`: an import, then a claim, each
/// produce an event within a second whose `data` is JSON naming the task (and its repository,
/// and for the claim the worker).
async fn sse_event(ctx: Ctx) -> CaseResult {
    let repo = ctx.repo().await?;
    let skill = ctx.skill();
    let w = ctx.worker(&[&skill], json!({})).await?;
    let mut stream = Stream::open(&ctx).await?;
    let tasks = ctx
        .import(&repo, &skill, json!([{"title": "streamed"}]))
        .await?;
    let imported = Instant::now();
    let t = ids(&tasks)?.remove(0);
    let (data, _) = stream
        .until("task_id", &t, imported + PRECISION + SLACK, "the import")
        .await?;
    ensure_that!(
        data["repo"] == repo.as_str(),
        "GET /v1/events: the import's event names task {t} but not its repo {repo}: {data}"
    );
    let sent = Instant::now();
    claim_task(&ctx, &w, &t, "it is ready").await?;
    let claimed = Instant::now();
    loop {
        let (data, at) = stream
            .until("task_id", &t, claimed + PRECISION + SLACK, "the claim")
            .await?;
        if data["worker_id"] == w.id.as_str() {
            ensure_that!(
                at >= sent,
                "GET /v1/events: an event named the claiming worker before it claimed"
            );
            return Ok(());
        }
    }
}
