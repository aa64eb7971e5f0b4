//! Leases as MCP tasks (the `io.modelcontextprotocol/tasks` extension, MCP 2026-07-28), for an
//! MCP client that declares the extension; a client that does not sees the tools unchanged.
//!
//! `owp_claim` answering a lease, or `owp_propose` answering a proposal, gives such a client a
//! task handle (`resultType: "task"`, the tool's own answer under `_meta["owp/answer"]`). The
//! task follows the work on one OWP task: `input_required` while a plan awaits a maintainer (or
//! the task is blocked on one), `working` while the lease is held and while its pull request
//! awaits review, `completed` when it is merged, `failed` when the lease or the plan ended
//! otherwise, and `cancelled` when the worker gave it back or its maintainers cancelled the task.
//! The state is read from the OWP server (`GET /v1/workers/me`, the task, the worker's own
//! proposals), never assumed: a server that does not answer leaves the state as it was.
//! `tasks/cancel` gives the lease back (or withdraws the plan). While a task is open, the server
//! is read every [`POLL`] and a change is sent as `notifications/tasks`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rmcp::model::{
    CallToolResult, CreateTaskResult, DetailedTask, JsonObject, MetaObject, Notification,
    ServerNotification, Task as McpTask, TaskPayload, TaskStatusNotificationParams,
};
use rmcp::{ErrorData, Peer, RoleServer};
use serde_json::{Value, json};

use crate::cli::client::{ClientError, Me, OwpClient, ProposalState, Task};
use crate::domain::TaskStatus as OwpStatus;

/// How often the server is read while a task is open (also the `pollIntervalMs` suggested).
pub const POLL: Duration = Duration::from_secs(3);
/// A `tasks/get` within this of the last reading answers that reading.
const FRESH: Duration = Duration::from_secs(1);
/// The most tasks a session keeps; the oldest ended one makes room for a new one.
pub const MAX_TRACKED: usize = 32;
/// How long a task is kept (`ttlMs`).
const TTL_MS: u64 = 24 * 3600 * 1000;
/// The JSON-RPC error code of a `failed` task: the lease or the plan ended without the work.
const ENDED: i64 = -32000;
/// The `_meta` key carrying the tool's own answer next to a task handle.
pub const ANSWER_META: &str = "owp/answer";

/// One OWP task followed as an MCP task.
#[derive(Clone, Debug)]
pub(super) struct Tracked {
    pub owp_task: String,
    pub proposal: Option<String>,
    pub lease: Option<String>,
    /// When the lease runs out, as last read.
    pub expires_at: Option<String>,
    /// This session gave the lease back or withdrew the plan.
    pub given_back: bool,
    pub task: McpTask,
    pub payload: TaskPayload,
    read_at: Option<Instant>,
}

/// What the OWP server shows of a tracked task.
#[derive(Debug)]
pub(super) enum Seen {
    /// The worker holds the lease (`GET /v1/workers/me`).
    Held {
        expires_at: String,
        status: OwpStatus,
    },
    /// Only a plan so far: its state.
    Plan(ProposalState),
    /// The lease is no longer held, and the task is still the worker's to read.
    Task(Box<Task>),
    /// The lease is no longer held and the task is not the worker's any more.
    Gone,
}

#[derive(Default)]
pub(super) struct Tasks {
    tracked: std::sync::Mutex<HashMap<String, Tracked>>,
    peer: std::sync::Mutex<Option<Peer<RoleServer>>>,
    watching: AtomicBool,
    /// Held for a whole reading and the notifications it sends: the watcher, `tasks/get` and
    /// `tasks/cancel` read one after the other, so an older reading never lands after a newer
    /// one and the client is told of the changes in the order they were seen.
    reading: tokio::sync::Mutex<()>,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn failed(message: &str, data: Value) -> TaskPayload {
    let mut error = JsonObject::new();
    error.insert("code".into(), json!(ENDED));
    error.insert("message".into(), json!(message));
    error.insert("data".into(), data);
    TaskPayload::Failed { error }
}

fn input_required() -> TaskPayload {
    // Nothing is asked of the client: the input awaited is a maintainer's.
    TaskPayload::InputRequired {
        input_requests: Default::default(),
    }
}

/// The MCP state of `tracked` given what the server shows, with its status message.
pub(super) fn state_of(tracked: &Tracked, seen: &Seen, at: DateTime<Utc>) -> (TaskPayload, String) {
    let lease = tracked.lease.as_deref().unwrap_or("-");
    let ids = json!({"task_id": tracked.owp_task, "lease_id": tracked.lease, "proposal_id": tracked.proposal});
    let with = |outcome: &str| {
        let mut data = ids.clone();
        data["outcome"] = json!(outcome);
        data
    };
    match seen {
        Seen::Held { expires_at, status } => (
            TaskPayload::Working,
            format!(
                "lease {lease} held until {expires_at} (task {})",
                status.as_str()
            ),
        ),
        Seen::Plan(ProposalState::Open) => (
            input_required(),
            "the plan awaits a maintainer's answer".into(),
        ),
        Seen::Plan(ProposalState::Approved) => (
            TaskPayload::Working,
            "the plan was approved: owp_claim returns its lease".into(),
        ),
        Seen::Plan(ProposalState::Withdrawn) => {
            (TaskPayload::Cancelled, "the plan was withdrawn".into())
        }
        Seen::Plan(state) => {
            let why = match state {
                ProposalState::Declined => "the plan was declined by a maintainer",
                ProposalState::NotChosen => "another plan for the task was approved",
                _ => "the plan expired without an answer",
            };
            (failed(why, with(state.as_str())), why.into())
        }
        Seen::Task(task) => match task.status {
            OwpStatus::Merged => {
                let line = format!("merged: {}", pr_url(task).unwrap_or("the work is done"));
                let result = super::json_result(&json!({ "task": task }), vec![line.clone()]);
                (
                    TaskPayload::Completed {
                        result: as_object(&result),
                    },
                    line,
                )
            }
            OwpStatus::PrOpened => (
                TaskPayload::Working,
                format!(
                    "pull request {} open: awaiting review and merge",
                    pr_url(task).unwrap_or("-")
                ),
            ),
            OwpStatus::Blocked => (
                input_required(),
                format!(
                    "blocked: awaits a maintainer ({})",
                    task.status_reason.as_deref().unwrap_or("no reason given")
                ),
            ),
            OwpStatus::Cancelled => (
                TaskPayload::Cancelled,
                format!(
                    "the task was cancelled by its maintainers ({})",
                    task.status_reason.as_deref().unwrap_or("no reason given")
                ),
            ),
            // Ready, leased or in progress without this lease: it went back to the pool.
            _ => gone(tracked, at, &with),
        },
        Seen::Gone => gone(tracked, at, &with),
    }
}

/// A lease that ended without a pull request: given back here, expired, or ended by the pool.
fn gone(
    tracked: &Tracked,
    at: DateTime<Utc>,
    with: &dyn Fn(&str) -> Value,
) -> (TaskPayload, String) {
    if tracked.given_back {
        return (
            TaskPayload::Cancelled,
            "given back: the task returned to the pool".into(),
        );
    }
    let expired = tracked
        .expires_at
        .as_deref()
        .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
        .is_some_and(|e| e <= at);
    let why = if expired {
        format!(
            "the lease expired at {} before a pull request was reported",
            tracked.expires_at.as_deref().unwrap_or("-")
        )
    } else {
        "the lease was ended by the pool before a pull request was reported (released or revoked \
         by a maintainer, or the task was changed)"
            .into()
    };
    let outcome = if expired { "expired" } else { "ended" };
    (failed(&why, with(outcome)), why)
}

fn pr_url(task: &Task) -> Option<&str> {
    task.artifact.as_ref()?.get("pr_url")?.as_str()
}

fn as_object(result: &CallToolResult) -> JsonObject {
    match serde_json::to_value(result) {
        Ok(Value::Object(o)) => o,
        _ => JsonObject::new(),
    }
}

impl Tracked {
    fn detailed(&self) -> DetailedTask {
        DetailedTask::new(self.task.clone(), self.payload.clone())
    }

    fn is_open(&self) -> bool {
        !self.payload.status().is_terminal()
    }
}

impl Tasks {
    /// A task handle for the answer of `tool` (a lease from `owp_claim`, a proposal from
    /// `owp_propose`), or None when the answer names neither (nothing to claim, an error) or the
    /// session follows [`MAX_TRACKED`] open tasks already.
    pub(super) async fn adopt(
        &self,
        tool: &str,
        answer: &CallToolResult,
        peer: Peer<RoleServer>,
    ) -> Option<CreateTaskResult> {
        if answer.is_error == Some(true) {
            return None;
        }
        // Not while a reading is under way: what it read is older than this answer.
        let _reading = self.reading.lock().await;
        let value: Value = answer
            .content
            .first()
            .and_then(|c| c.as_text())
            .and_then(|t| serde_json::from_str(&t.text).ok())?;
        let (owp_task, lease, proposal, expires_at, payload, message) = match tool {
            "owp_claim" => {
                let lease = value.get("lease")?;
                let id = lease.get("lease_id")?.as_str()?.to_string();
                let expires = lease.get("expires_at")?.as_str()?.to_string();
                // Worded as a reading of the held lease words it, so that the first reading
                // tells no change.
                let status = lease["task"]["status"].as_str().unwrap_or("leased");
                let message = format!("lease {id} held until {expires} (task {status})");
                (
                    lease.get("task")?.get("task_id")?.as_str()?.to_string(),
                    Some(id),
                    None,
                    Some(expires),
                    TaskPayload::Working,
                    message,
                )
            }
            "owp_propose" => {
                let p = value.get("proposal")?;
                (
                    p.get("task_id")?.as_str()?.to_string(),
                    None,
                    Some(p.get("proposal_id")?.as_str()?.to_string()),
                    None,
                    input_required(),
                    "the plan awaits a maintainer's answer".to_string(),
                )
            }
            _ => return None,
        };
        *self.peer.lock().unwrap_or_else(|e| e.into_inner()) = Some(peer);
        let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        // The same OWP task followed already (a plan, then its lease): the same MCP task.
        let existing = tracked
            .iter()
            .find(|(_, t)| t.is_open() && t.owp_task == owp_task)
            .map(|(id, _)| id.clone());
        let id = match existing {
            Some(id) => id,
            None => {
                if tracked.len() >= MAX_TRACKED {
                    let oldest = tracked
                        .iter()
                        .filter(|(_, t)| !t.is_open())
                        .min_by(|a, b| a.1.task.last_updated_at.cmp(&b.1.task.last_updated_at))
                        .map(|(id, _)| id.clone())?;
                    tracked.remove(&oldest);
                }
                let id = lease.clone().or(proposal.clone())?;
                let at = now();
                let mut task = McpTask::new(id.clone(), payload.status(), at.clone(), at)
                    .with_ttl_ms(TTL_MS)
                    .with_poll_interval_ms(POLL.as_millis() as u64);
                task.status_message = Some(message.clone());
                tracked.insert(
                    id.clone(),
                    Tracked {
                        owp_task,
                        proposal: None,
                        lease: None,
                        expires_at: None,
                        given_back: false,
                        task,
                        payload: payload.clone(),
                        read_at: None,
                    },
                );
                id
            }
        };
        let entry = tracked.get_mut(&id)?;
        if lease.is_some() {
            entry.lease = lease;
            entry.expires_at = expires_at;
        }
        if proposal.is_some() {
            entry.proposal = proposal;
        }
        set(entry, payload, message);
        let mut meta = JsonObject::new();
        meta.insert(ANSWER_META.into(), Value::Object(as_object(answer)));
        Some(CreateTaskResult::new(entry.task.clone()).with_meta(MetaObject(meta)))
    }

    /// Forgets when the tasks were last read: after a tool call that changed the work (an ack, a
    /// report), the next `tasks/get` reads the server again rather than answering a reading made
    /// before it.
    pub(super) fn stale(&self) {
        let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        for t in tracked.values_mut() {
            t.read_at = None;
        }
    }

    /// Whether the watcher is to be started (true once per session).
    pub(super) fn start_watching(&self) -> bool {
        !self.watching.swap(true, Ordering::SeqCst)
    }

    pub(super) fn get(&self, id: &str) -> Option<Tracked> {
        self.tracked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    fn open_ids(&self, stale_only: bool) -> Vec<String> {
        let tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        tracked
            .iter()
            .filter(|(_, t)| t.is_open())
            .filter(|(_, t)| !stale_only || t.read_at.is_none_or(|r| r.elapsed() >= FRESH))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Reads the server for `only` (or every open task), records what changed and notifies the
    /// client of each change (false once the client is gone). A server that does not answer
    /// changes nothing; a task that ended stays as it ended.
    pub(super) async fn refresh(
        &self,
        client: &OwpClient,
        only: Option<&str>,
        force: bool,
    ) -> bool {
        let _reading = self.reading.lock().await;
        let changed = self.read(client, only, force).await;
        self.notify(changed).await
    }

    async fn read(&self, client: &OwpClient, only: Option<&str>, force: bool) -> Vec<DetailedTask> {
        let ids: Vec<String> = self
            .open_ids(!force)
            .into_iter()
            .filter(|id| only.is_none_or(|o| o == id))
            .collect();
        if ids.is_empty() {
            return Vec::new();
        }
        let me = match client.me().await {
            Ok(me) => me,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the leases for the MCP tasks");
                return Vec::new();
            }
        };
        let mut changed = Vec::new();
        for id in ids {
            let Some(tracked) = self.get(&id) else {
                continue;
            };
            let Some(seen) = see(client, &tracked, &me).await else {
                continue;
            };
            let mut all = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
            // Ended meanwhile (`tasks/cancel` gave it back): an end is final.
            let Some(entry) = all.get_mut(&id).filter(|e| e.is_open()) else {
                continue;
            };
            if let Seen::Held { expires_at, .. } = &seen {
                if entry.lease.is_none() {
                    entry.lease = me
                        .leases
                        .iter()
                        .find(|l| l.task.task_id == entry.owp_task)
                        .map(|l| l.lease_id.clone());
                }
                entry.expires_at = Some(expires_at.clone());
            }
            entry.read_at = Some(Instant::now());
            let (payload, message) = state_of(entry, &seen, Utc::now());
            if set(entry, payload, message) {
                changed.push(entry.detailed());
            }
        }
        changed
    }

    /// Marks the task `id`, or the one of the lease `id`, given back by this session (`yes`)
    /// before the lease is given back or the plan withdrawn, so that a reading in between tells
    /// an end of this session's own; unmarks it (`!yes`) when the server refused.
    pub(super) fn give_back(&self, id: &str, yes: bool) {
        let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        for (key, t) in tracked.iter_mut() {
            if t.is_open() && (key == id || t.lease.as_deref() == Some(id)) {
                t.given_back = yes;
            }
        }
    }

    /// Sends `notifications/tasks` for each of `changed`. Answers false once the client is gone.
    async fn notify(&self, changed: Vec<DetailedTask>) -> bool {
        let peer = self.peer.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(peer) = peer else {
            return true;
        };
        for task in changed {
            let note = ServerNotification::TaskStatusNotification(Notification::new(
                TaskStatusNotificationParams::new(task),
            ));
            if let Err(e) = peer.send_notification(note).await {
                tracing::debug!(error = %e, "cannot notify the MCP client");
                return !peer.is_transport_closed();
            }
        }
        true
    }
}

/// Sets the state; answers whether the status or its message changed.
fn set(entry: &mut Tracked, payload: TaskPayload, message: String) -> bool {
    let same = entry.payload == payload && entry.task.status_message.as_deref() == Some(&message);
    if !same {
        entry.task.status = payload.status();
        entry.task.status_message = Some(message);
        entry.task.last_updated_at = now();
        entry.payload = payload;
    }
    !same
}

/// What the server shows of `tracked`, or None when it did not answer.
async fn see(client: &OwpClient, tracked: &Tracked, me: &Me) -> Option<Seen> {
    let held = me.leases.iter().find(|l| match &tracked.lease {
        Some(id) => &l.lease_id == id,
        None => l.task.task_id == tracked.owp_task,
    });
    if let Some(lease) = held {
        return Some(Seen::Held {
            expires_at: lease.expires_at.clone(),
            status: lease.task.status,
        });
    }
    if tracked.lease.is_none() {
        let proposal = tracked.proposal.as_deref()?;
        let mine = client.my_proposals(&tracked.owp_task).await.ok()?;
        let state = mine.iter().find(|p| p.proposal_id == proposal)?.state;
        return Some(Seen::Plan(state));
    }
    match client.get_task(&tracked.owp_task).await {
        Ok(task) => Some(Seen::Task(Box::new(task))),
        Err(e) if is_not_mine(&e) => Some(Seen::Gone),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read a task of an MCP task");
            None
        }
    }
}

fn is_not_mine(e: &ClientError) -> bool {
    matches!(e.status(), Some(403 | 404))
}

/// Reads the server every [`POLL`] while a task is open and notifies each change, until the
/// client goes away.
pub(super) async fn watch(service: super::OwpMcp) {
    let mut ticker = tokio::time::interval(POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let tasks = &service.inner.tasks;
        if tasks.open_ids(false).is_empty() {
            continue;
        }
        let Ok(client) = service.client("tasks").await else {
            return;
        };
        if !tasks.refresh(client, None, true).await {
            return;
        }
    }
}

/// `tasks/get`: the task as the server shows it now (read again at most every [`FRESH`]).
pub(super) async fn get(service: &super::OwpMcp, id: &str) -> Result<DetailedTask, ErrorData> {
    known(service, id)?;
    if let Ok(client) = service.client("tasks/get").await {
        service.inner.tasks.refresh(client, Some(id), false).await;
    }
    Ok(known(service, id)?.detailed())
}

/// `tasks/cancel`: gives the lease back (or withdraws the plan); the task then shows `cancelled`.
pub(super) async fn cancel(service: &super::OwpMcp, id: &str) -> Result<(), ErrorData> {
    let tracked = known(service, id)?;
    if !tracked.is_open() {
        return Err(ErrorData::invalid_params(
            format!(
                "task {id} has ended ({}): there is nothing to cancel",
                json!(tracked.payload.status()).as_str().unwrap_or("ended")
            ),
            None,
        ));
    }
    let client = service
        .client("tasks/cancel")
        .await
        .map_err(|r| ErrorData::internal_error(super::first_text(&r), None))?;
    service.inner.tasks.give_back(id, true);
    let answer = match (&tracked.lease, &tracked.proposal) {
        (Some(lease), _) => client
            .nack(lease, Some("given back through tasks/cancel"))
            .await
            .map(|_| ()),
        (None, Some(proposal)) => client.withdraw_proposal(proposal).await.map(|_| ()),
        (None, None) => Ok(()),
    };
    if let Err(e) = answer {
        let line = super::explain("tasks/cancel", &e, service.inner.profile_name.as_deref());
        // A lease that ended anyway shows as such on the next reading.
        if !matches!(e.status(), Some(404 | 409)) {
            service.inner.tasks.give_back(id, false);
            return Err(ErrorData::internal_error(line, None));
        }
    }
    service.inner.tasks.refresh(client, Some(id), true).await;
    Ok(())
}

fn known(service: &super::OwpMcp, id: &str) -> Result<Tracked, ErrorData> {
    service.inner.tasks.get(id).ok_or_else(|| {
        ErrorData::invalid_params(
            format!(
                "no task {:?} in this session",
                crate::cli::present::clip(id, 80)
            ),
            None,
        )
    })
}

/// Starts the watcher of `service` once.
pub(super) fn ensure_watching(service: &super::OwpMcp) {
    if service.inner.tasks.start_watching() {
        tokio::spawn(watch(service.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::TaskStatus;

    fn tracked(lease: Option<&str>, expires_at: Option<&str>) -> Tracked {
        let at = now();
        Tracked {
            owp_task: "t_1".into(),
            proposal: Some("p_1".into()),
            lease: lease.map(String::from),
            expires_at: expires_at.map(String::from),
            given_back: false,
            task: McpTask::new("p_1", TaskStatus::Working, at.clone(), at),
            payload: TaskPayload::Working,
            read_at: None,
        }
    }

    fn task(status: OwpStatus) -> Seen {
        let mut task = crate::cli::brief::tests_task();
        task.status = status;
        task.artifact = Some(json!({"pr_url": "https://github.com/o/r/pull/7"}));
        Seen::Task(Box::new(task))
    }

    #[test]
    fn a_lease_maps_onto_the_task_states() {
        let at = Utc::now();
        let t = tracked(Some("l_1"), Some("2999-01-01T00:00:00Z"));
        let held = Seen::Held {
            expires_at: "2999-01-01T00:00:00Z".into(),
            status: OwpStatus::InProgress,
        };
        let (payload, line) = state_of(&t, &held, at);
        assert_eq!(payload.status(), TaskStatus::Working);
        assert!(line.contains("lease l_1 held until 2999"), "{line}");
        let (payload, line) = state_of(&t, &Seen::Plan(ProposalState::Open), at);
        assert_eq!(payload.status(), TaskStatus::InputRequired);
        assert!(line.contains("awaits a maintainer"), "{line}");
        let (payload, line) = state_of(&t, &task(OwpStatus::PrOpened), at);
        assert_eq!(payload.status(), TaskStatus::Working);
        assert!(line.contains("pull/7 open"), "{line}");
        let (payload, line) = state_of(&t, &task(OwpStatus::Merged), at);
        let TaskPayload::Completed { result } = payload else {
            panic!("not completed: {line}");
        };
        assert_eq!(result["isError"], json!(false));
        assert_eq!(
            state_of(&t, &task(OwpStatus::Blocked), at).0.status(),
            TaskStatus::InputRequired
        );
        assert_eq!(
            state_of(&t, &task(OwpStatus::Cancelled), at).0.status(),
            TaskStatus::Cancelled
        );
    }

    #[test]
    fn an_ended_lease_says_how_it_ended() {
        let at = Utc::now();
        // Ended by the pool (revoked, released) before it ran out: failed, saying so.
        let t = tracked(Some("l_1"), Some("2999-01-01T00:00:00Z"));
        let (payload, line) = state_of(&t, &Seen::Gone, at);
        let TaskPayload::Failed { error } = payload else {
            panic!("not failed: {line}");
        };
        assert_eq!(error["code"], json!(ENDED));
        assert_eq!(error["data"]["outcome"], json!("ended"));
        assert_eq!(error["data"]["lease_id"], json!("l_1"));
        assert!(line.contains("ended by the pool"), "{line}");
        // Past its end: expired.
        let t = tracked(Some("l_1"), Some("2000-01-01T00:00:00Z"));
        let (payload, line) = state_of(&t, &Seen::Gone, at);
        let TaskPayload::Failed { error } = payload else {
            panic!("not failed: {line}");
        };
        assert_eq!(error["data"]["outcome"], json!("expired"));
        // A task back in the pool reads the same as one no longer readable.
        assert_eq!(state_of(&t, &task(OwpStatus::Ready), at).1, line);
        // Given back here: cancelled.
        let mut t = tracked(Some("l_1"), Some("2999-01-01T00:00:00Z"));
        t.given_back = true;
        assert_eq!(
            state_of(&t, &Seen::Gone, at).0.status(),
            TaskStatus::Cancelled
        );
        // Plans that ended.
        for (state, status) in [
            (ProposalState::Declined, TaskStatus::Failed),
            (ProposalState::NotChosen, TaskStatus::Failed),
            (ProposalState::Expired, TaskStatus::Failed),
            (ProposalState::Withdrawn, TaskStatus::Cancelled),
            (ProposalState::Approved, TaskStatus::Working),
        ] {
            assert_eq!(state_of(&t, &Seen::Plan(state), at).0.status(), status);
        }
    }

    #[test]
    fn a_change_is_told_once() {
        let mut t = tracked(None, None);
        assert!(set(&mut t, input_required(), "waits".into()));
        assert!(!set(&mut t, input_required(), "waits".into()));
        assert_eq!(t.task.status, TaskStatus::InputRequired);
        assert!(set(&mut t, TaskPayload::Working, "works".into()));
    }
}
