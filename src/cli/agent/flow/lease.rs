//! The lease while this worker holds it: acknowledged, kept alive (renewed, the task looked
//! at), given back or reported, each tried again while the server cannot be reached.

use std::time::Duration;

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::{AgentOptions, Outcome};
use crate::cli::agent::interrupt::{self, Interrupt, Level};
use crate::cli::agent::redact::{self, mask_secrets};
use crate::cli::client::present::now_clock;
use crate::cli::client::{ClientError, Lease, OwpClient};
use crate::domain::TaskStatus;

/// How long a report or nack is retried while the server cannot be reached.
const REPORT_PATIENCE: Duration = Duration::from_secs(600);

/// Acknowledges the lease, trying again while the server cannot be reached. An ack whose answer
/// was lost may have been applied: a refused retry is checked against the task itself.
pub(super) async fn acknowledge(client: &OwpClient, lease: &Lease) -> Result<(), String> {
    let result = retrying("acknowledge the lease", || client.ack(&lease.lease_id)).await;
    match result {
        Ok(_) => Ok(()),
        Err(e) => match client.get_task(&lease.task.task_id).await {
            Ok(t)
                if t.status == TaskStatus::InProgress
                    && t.lease_id.as_deref() == Some(lease.lease_id.as_str()) =>
            {
                Ok(())
            }
            _ => Err(format!("the ack was refused: {e}")),
        },
    }
}

/// How often to renew: the option, else a third of the lease's remaining life (1 s to 5 min).
pub(super) fn renew_every(opts: &AgentOptions, lease: &Lease) -> Duration {
    if let Some(d) = opts.renew_every {
        return d;
    }
    let left = DateTime::parse_from_rfc3339(&lease.expires_at)
        .ok()
        .map(|t| (t.with_timezone(&Utc) - Utc::now()).num_milliseconds())
        .unwrap_or(90_000);
    let ms = (left / 3).clamp(1_000, 300_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(1_000))
}

/// How often the keeper looks at the task between renewals (a read, not a write).
const LOOK_EVERY: Duration = Duration::from_secs(15);

/// Keeps the lease until aborted: renews it every `every`, and between renewals looks at the
/// task, so a cancelled or blocked task, or a lease the server ended, is noticed within
/// [`LOOK_EVERY`]; then sends the reason on `stop`. A server that cannot be reached is tried
/// again: the lease may well still be ours when it answers. What an ACP agent does goes with a
/// renewal as the lease's progress (`told`).
pub(super) async fn keep_alive(
    client: OwpClient,
    (lease, mut told): (Lease, crate::cli::agent::acp::progress::Told),
    every: Duration,
    stop: watch::Sender<Option<String>>,
) {
    let tick = every.min(LOOK_EVERY);
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut renewed = tokio::time::Instant::now();
    loop {
        ticker.tick().await;
        let news = told.news(every.min(crate::cli::agent::acp::progress::TELL_EVERY));
        let renew = news.is_some() || renewed.elapsed() + tick / 2 >= every;
        let answer = if renew {
            let line = news.as_deref();
            client
                .renew_with(&lease.lease_id, line)
                .await
                .map(|c| c.task())
        } else {
            client.get_task(&lease.task.task_id).await.map(Some)
        };
        let why = match answer {
            Ok(task) => {
                if renew {
                    renewed = tokio::time::Instant::now();
                    told.sent(news);
                }
                match task {
                    Some(t) if matches!(t.status, TaskStatus::Cancelled | TaskStatus::Blocked) => {
                        format!("the task was {}", t.status.as_str())
                    }
                    Some(t) if t.lease_id.as_deref() != Some(lease.lease_id.as_str()) => {
                        format!("the lease ended (the task is {} now)", t.status.as_str())
                    }
                    _ => continue,
                }
            }
            Err(e) if e.is_transport() => {
                eprintln!(
                    "{}  could not reach the server: {e}; trying again",
                    now_clock()
                );
                continue;
            }
            Err(e) => {
                // A refused read says only that the task is not ours to read; the lease's own
                // answer says how it ended, whichever of the two asked first.
                let e = if renew {
                    e
                } else {
                    match client.renew(&lease.lease_id).await {
                        Ok(_) => continue,
                        Err(renewed) if renewed.is_transport() => e,
                        Err(renewed) => renewed,
                    }
                };
                match e.code() {
                    Some(code) => format!("the server ended the lease ({code}): {e}"),
                    None => format!("the server ended the lease: {e}"),
                }
            }
        };
        let _ = stop.send(Some(why));
        return;
    }
}

/// Gives the task back, trying again while the server cannot be reached; whether it was.
pub(super) async fn give_back(client: &OwpClient, lease_id: &str, reason: &str) -> bool {
    let full = redact::clip(&mask_secrets(reason));
    let result = retrying("give the task back", || client.nack(lease_id, Some(&full))).await;
    match result {
        Ok(_) => true,
        Err(e) if e.status() == Some(422) => {
            // A server with a tighter bound on reasons: the first line says what failed.
            let short: String = full
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            retrying("give the task back", || client.nack(lease_id, Some(&short)))
                .await
                .is_ok()
        }
        Err(_) => false,
    }
}

/// A task stopped when this is dropped, whichever way the lease's work ends.
pub(super) struct Aborted(pub(super) tokio::task::JoinHandle<()>);

impl Drop for Aborted {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Passes the volunteer's Ctrl-C to the lease's commands by the channel a lost lease takes, unless
/// the lease was lost first.
pub(super) async fn forward_interrupt(
    mut interrupt: Interrupt,
    stop: watch::Sender<Option<String>>,
) {
    interrupt.reached(Level::Stop).await;
    stop.send_if_modified(|why| {
        if why.is_some() {
            return false;
        }
        *why = Some(interrupt::REASON.to_string());
        true
    });
}

/// How long the give-back may still take once the volunteer pressed Ctrl-C a second time.
const GIVE_BACK_AFTER_SECOND_CTRL_C: Duration = Duration::from_secs(5);

/// The volunteer stopped the run while the lease was held and before a pull request was
/// reported: the task is given back (the protocol's `nack`). Left to expire, the lease would hold
/// the task, the repository's review budget and its area until then, and would end the same way
/// for the person's cool-down, with an expiry on their reputation besides. A second Ctrl-C leaves
/// the give-back a few seconds more.
pub(super) async fn given_back_on_interrupt(
    client: &OwpClient,
    lease_id: &str,
    interrupt: &Interrupt,
) -> Outcome {
    let mut hurry = interrupt.clone();
    let given = tokio::select! {
        given = give_back(client, lease_id, "the volunteer stopped the run (Ctrl-C)") => given,
        _ = async {
            hurry.reached(Level::Now).await;
            tokio::time::sleep(GIVE_BACK_AFTER_SECOND_CTRL_C).await;
        } => false,
    };
    Outcome::Interrupted(if given {
        "the task was given back; the pool does not offer it to this worker again for an hour, \
         and where its repository asks for a cool-down after a claim ends without a pull request, \
         you cannot claim there until it has passed (`owp worker why` says until when)"
            .to_string()
    } else {
        "the task could not be given back: the lease stays this worker's until it expires \
         without heartbeats (`owp worker run` takes it up again before then)"
            .to_string()
    })
}

pub(super) async fn report_pr(
    client: &OwpClient,
    task_id: &str,
    artifact: serde_json::Value,
) -> anyhow::Result<()> {
    retrying("report the pull request", || {
        client.task_status(task_id, "pr_opened", Some(artifact.clone()), None)
    })
    .await
    .map(|_| ())
    .map_err(|e| anyhow!("could not report the pull request: {e}"))
}

async fn retrying<T, F, Fut>(what: &str, mut call: F) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let deadline = tokio::time::Instant::now() + REPORT_PATIENCE;
    let mut pause = Duration::from_millis(500);
    loop {
        match call().await {
            // The server unreachable, or asking to be asked again (`503`: its database busy, or
            // GitHub not answering about the pull request yet).
            Err(e)
                if (e.is_transport() || e.status() == Some(503))
                    && tokio::time::Instant::now() < deadline =>
            {
                eprintln!("{}  could not {what}: {e}; trying again", now_clock());
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(15));
            }
            Err(e) => {
                eprintln!("{}  could not {what}: {e}", now_clock());
                return Err(e);
            }
            Ok(v) => return Ok(v),
        }
    }
}
