//! Lead times ([`LEAD_TIME`]): from a task's creation to its pull request, and from the pull
//! request to the merge, read from the task's history in the background, off the request path.

use metrics::histogram;

use super::names::LEAD_TIME;
use super::record;
use crate::domain::Event;
use crate::store::{Store, StoreError};

/// How many lead-time look-ups may wait. Past that, samples are dropped (and counted) rather
/// than queued without bound: a burst of pull requests must not grow the process's memory.
const LEAD_TIME_QUEUE: usize = 1024;

/// The consumer's pause after each look-up: at most 20 a second. Each reads a task's whole
/// history; a pool opening thousands of pull requests a second (a load test) would otherwise spend
/// a good part of the database's read capacity timing them. Real pools stay far below; above,
/// the histogram is a sample and the rest is counted as dropped.
const LEAD_TIME_PACE: std::time::Duration = std::time::Duration::from_millis(50);

/// The queue of lead-time look-ups of this process and its one consumer, which reads each task's
/// history in the background, off the request path and one look-up at a time.
static LEAD_TIMES: std::sync::Mutex<Option<tokio::sync::mpsc::Sender<(Store, Event)>>> =
    std::sync::Mutex::new(None);

/// The lead-time queue, with its consumer started if it has none: on the runtime that opened
/// `store`, not the current one (commits on SQLite run on the writer thread, whose time is the
/// pool's throughput).
pub(super) fn lead_time_queue(store: &Store) -> Option<tokio::sync::mpsc::Sender<(Store, Event)>> {
    let runtime = store.home().clone();
    let mut slot = LEAD_TIMES.lock().ok()?;
    // A consumer that ended with its runtime (tests start several) is replaced.
    if let Some(sender) = slot.as_ref().filter(|s| !s.is_closed()) {
        return Some(sender.clone());
    }
    let (sender, queue) = tokio::sync::mpsc::channel(LEAD_TIME_QUEUE);
    runtime.spawn(lead_time_loop(queue));
    *slot = Some(sender.clone());
    Some(sender)
}

async fn lead_time_loop(mut queue: tokio::sync::mpsc::Receiver<(Store, Event)>) {
    while let Some((store, e)) = queue.recv().await {
        let Some(task_id) = e.task_id.as_deref() else {
            continue;
        };
        match lead_time_history(&store, task_id, &e).await {
            Ok(history) => {
                if let Some((stage, seconds)) = lead_time(&history, &e) {
                    record(|| histogram!(LEAD_TIME, "stage" => stage).record(seconds));
                }
            }
            Err(err) => tracing::debug!(error = %err, "lead time lookup failed"),
        }
        tokio::time::sleep(LEAD_TIME_PACE).await;
    }
}

/// How far back a merge looks for its pull request, in events of the task.
const LEAD_TIME_LOOKBACK: i64 = 500;

/// The part of a task's history that the lead time of `event` depends on: its first event for a
/// pull request, the events just before a merge for the merge. Never the whole history: a task
/// that keeps being reopened (or a load test that reopens the same few tasks thousands of times)
/// would make every look-up read, and hold in memory, more with each cycle.
async fn lead_time_history(
    store: &Store,
    task_id: &str,
    event: &Event,
) -> Result<Vec<Event>, StoreError> {
    match status_of(event) {
        Some("pr_opened") => Ok(store
            .events()
            .first_of_task(task_id)
            .await?
            .into_iter()
            .collect()),
        Some("merged") => {
            store
                .events()
                .of_task_before(task_id, event.id, LEAD_TIME_LOOKBACK)
                .await
        }
        _ => Ok(Vec::new()),
    }
}

pub(super) fn status_of(e: &Event) -> Option<&str> {
    e.data.get("status").and_then(|v| v.as_str())
}

pub(super) fn from_of(e: &Event) -> Option<&str> {
    e.data.get("from").and_then(|v| v.as_str())
}

fn seconds_between(from: &str, to: &str) -> Option<f64> {
    let from = chrono::DateTime::parse_from_rfc3339(from).ok()?;
    let to = chrono::DateTime::parse_from_rfc3339(to).ok()?;
    let ms = (to - from).num_milliseconds();
    (ms >= 0).then(|| ms as f64 / 1000.0)
}

/// The lead time that `event` (a move to `pr_opened` or `merged`) completes, from events of the
/// task's history in any order: creation (its first event) → pull request, or the latest pull
/// request before the merge → merge. `history` needs only those events (see
/// `lead_time_history`).
pub fn lead_time(history: &[Event], event: &Event) -> Option<(&'static str, f64)> {
    let earlier = history.iter().filter(|h| h.id < event.id);
    match status_of(event)? {
        "pr_opened" => {
            let created = history.iter().min_by_key(|h| h.id)?;
            if created.id >= event.id {
                return None;
            }
            Some((
                "ready_to_pr_opened",
                seconds_between(&created.at, &event.at)?,
            ))
        }
        "merged" => {
            let opened = earlier
                .filter(|h| status_of(h) == Some("pr_opened"))
                .max_by_key(|h| h.id)?;
            Some((
                "pr_opened_to_merged",
                seconds_between(&opened.at, &event.at)?,
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(id: i64, at: &str, data: serde_json::Value) -> Event {
        Event {
            id,
            kind: "task.status".into(),
            at: at.into(),
            repo: Some("acme/web".into()),
            task_id: Some("t_1".into()),
            worker_id: None,
            actor: "system".into(),
            data,
        }
    }

    #[test]
    fn lead_times_come_from_the_task_history() {
        let created = Event {
            kind: "task.created".into(),
            ..ev(1, "2026-01-01T10:00:00.000Z", json!({}))
        };
        let pr = ev(
            5,
            "2026-01-01T10:30:00.000Z",
            json!({"from": "in_progress", "status": "pr_opened"}),
        );
        let merged = ev(
            9,
            "2026-01-01T12:30:00.500Z",
            json!({"from": "pr_opened", "status": "merged"}),
        );
        let history = vec![created.clone(), pr.clone(), merged.clone()];
        assert_eq!(
            lead_time(&history, &pr),
            Some(("ready_to_pr_opened", 1800.0))
        );
        assert_eq!(
            lead_time(&history, &merged),
            Some(("pr_opened_to_merged", 7200.5))
        );
        // Merged without ever having a pull request: no PR → merge lead time.
        let forced = ev(3, "2026-01-01T11:00:00.000Z", json!({"status": "merged"}));
        assert_eq!(lead_time(&[created.clone(), forced.clone()], &forced), None);
    }

    #[test]
    fn lead_times_need_only_the_events_the_look_ups_read() {
        let created = Event {
            kind: "task.created".into(),
            ..ev(1, "2026-01-01T10:00:00.000Z", json!({}))
        };
        let status = |id, at, from: &str, to: &str| ev(id, at, json!({"from": from, "status": to}));
        // A task reopened twice: its second pull request counts from the task's creation, its
        // merge from the latest pull request before it.
        let first_pr = status(5, "2026-01-01T10:30:00.000Z", "in_progress", "pr_opened");
        let second_pr = status(20, "2026-01-02T10:00:00.000Z", "in_progress", "pr_opened");
        let reopened = status(21, "2026-01-02T11:00:00.000Z", "pr_opened", "ready");
        let third_pr = status(30, "2026-01-03T10:00:00.000Z", "in_progress", "pr_opened");
        let merged = status(31, "2026-01-03T10:00:01.000Z", "pr_opened", "merged");
        // For a pull request the look-up reads the first event only.
        assert_eq!(
            lead_time(std::slice::from_ref(&created), &third_pr),
            Some(("ready_to_pr_opened", 172_800.0))
        );
        // For a merge, the events before it, newest first, without the creation.
        let before = [third_pr.clone(), reopened, second_pr, first_pr];
        assert_eq!(
            lead_time(&before, &merged),
            Some(("pr_opened_to_merged", 1.0))
        );
        // A window without any pull request gives no sample.
        assert_eq!(lead_time(&[created], &merged), None);
    }
}
