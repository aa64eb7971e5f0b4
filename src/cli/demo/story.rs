//! The demo's opening and closing: who can take which task when the workers join, and at the end
//! where every task and every worker stands, so nothing the demo introduced goes untold.

use std::collections::HashMap;

use super::Tag;
use super::narration::{could_do, task_key};
use crate::cli::client::{Event, State, Task, Worker};
use crate::domain::TaskStatus;

/// What one worker did during the demo, counted from the event stream.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub leases: u64,
    pub prs: u64,
    pub merges: u64,
    pub expiries: u64,
    pub nacks: u64,
}

/// Who did what: per worker, and the last worker that held each task.
#[derive(Default, Debug, Clone)]
pub struct Ledger {
    workers: HashMap<String, Record>,
    holders: HashMap<String, String>,
}

impl Ledger {
    /// Counts one event.
    pub fn record(&mut self, e: &Event) {
        let Some(task) = e.task_id.as_deref() else {
            return;
        };
        let status = e.data.get("status").and_then(|v| v.as_str());
        if e.kind == "task.leased"
            && let Some(worker) = &e.worker_id
        {
            self.holders.insert(task.to_string(), worker.clone());
        }
        // A merge is done by the maintainer: it counts for the worker whose pull request it was.
        let credited = match (e.kind.as_str(), status) {
            ("task.status", Some("merged")) => self.holders.get(task).cloned(),
            _ => e.worker_id.clone(),
        };
        let Some(credited) = credited else { return };
        let r = self.workers.entry(credited).or_default();
        match (e.kind.as_str(), status) {
            ("task.leased", _) => r.leases += 1,
            ("lease.expired", _) => r.expiries += 1,
            ("lease.nacked", _) => r.nacks += 1,
            ("task.status", Some("pr_opened")) => r.prs += 1,
            ("task.status", Some("merged")) => r.merges += 1,
            _ => {}
        }
    }
}

fn name_of<'a>(state: &'a State, worker_id: &'a str) -> &'a str {
    state
        .workers
        .iter()
        .find(|w| w.worker_id == worker_id)
        .map_or(worker_id, |w| w.name.as_str())
}

fn with_tier(t: &Task) -> String {
    if t.tier > 0 {
        format!("{} (tier {})", task_key(t), t.tier)
    } else {
        task_key(t)
    }
}

/// One line per worker: the tasks its skills, trust and capacity let it take; then the tasks
/// nobody here can take, with why.
pub fn cast(state: &State) -> Vec<(Tag, String)> {
    let mut lines = Vec::new();
    for w in &state.workers {
        let fits: Vec<String> = state
            .tasks
            .iter()
            .filter(|t| could_do(w, t))
            .map(with_tier)
            .collect();
        let trust = if w.trust_level > 0 {
            format!(", trusted with tier {}", w.trust_level)
        } else {
            String::new()
        };
        lines.push((
            Tag::Join,
            format!(
                "{} ({}{trust}) can take {} of the {} tasks: {}.",
                w.name,
                w.skills.join(", "),
                fits.len(),
                state.tasks.len(),
                if fits.is_empty() {
                    "none".to_string()
                } else {
                    fits.join(", ")
                }
            ),
        ));
    }
    for t in &state.tasks {
        if !state.workers.iter().any(|w| could_do(w, t)) {
            lines.push((
                Tag::Task,
                format!(
                    "{} can go to no one here: {}.",
                    task_key(t),
                    why_no_one(t, &state.workers)
                ),
            ));
        }
    }
    lines
}

/// Why no worker fits `t`: the first rule that shuts every one of them out.
fn why_no_one(t: &Task, workers: &[Worker]) -> String {
    let skilled = workers.iter().any(|w| {
        t.required_skills
            .iter()
            .all(|s| w.skills.iter().any(|k| k.eq_ignore_ascii_case(s)))
    });
    if !skilled {
        format!("nobody has the skills {}", t.required_skills.join(", "))
    } else if !workers.iter().any(|w| w.trust_level >= t.tier) {
        format!(
            "it is tier {}, and nobody is trusted that far (an admin raises a worker's trust)",
            t.tier
        )
    } else {
        format!(
            "its {} points exceed every capacity with those skills",
            t.estimate_points
        )
    }
}

/// Where every task and every worker stands when the demo ends.
pub fn closing(state: &State, ledger: &Ledger) -> Vec<(Tag, String)> {
    let mut lines: Vec<(Tag, String)> = state
        .tasks
        .iter()
        .map(|t| (Tag::Task, task_fate(state, ledger, t)))
        .collect();
    for w in &state.workers {
        let r = ledger
            .workers
            .get(&w.worker_id)
            .copied()
            .unwrap_or_default();
        let mut text = format!(
            "{}: {} lease{}, {} pull request{}, {} merged",
            w.name,
            r.leases,
            plural(r.leases),
            r.prs,
            plural(r.prs),
            r.merges
        );
        if r.expiries > 0 {
            text.push_str(&format!(
                ", {} lease{} expired",
                r.expiries,
                plural(r.expiries)
            ));
        }
        if r.nacks > 0 {
            text.push_str(&format!(", {} given back", r.nacks));
        }
        text.push_str(if w.online {
            "; online at the end."
        } else {
            "; offline at the end (no heartbeat)."
        });
        lines.push((Tag::Worker, text));
    }
    lines
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One task's end: merged by whom, in review, in progress, or why it still waits.
fn task_fate(state: &State, ledger: &Ledger, t: &Task) -> String {
    let key = task_key(t);
    let holder = t
        .assigned_worker_id
        .as_deref()
        .or_else(|| ledger.holders.get(&t.task_id).map(String::as_str))
        .map(|id| name_of(state, id).to_string());
    let by = holder.clone().unwrap_or_else(|| "a worker".into());
    let requeued = if t.attempts > 0 {
        format!(
            " ({} expired lease{} before)",
            t.attempts,
            plural(u64::try_from(t.attempts).unwrap_or(0))
        )
    } else {
        String::new()
    };
    match t.status {
        TaskStatus::Merged => format!("{key} merged: {by}'s pull request{requeued}."),
        TaskStatus::PrOpened => {
            format!("{key} in review: {by}'s pull request waits for the maintainer{requeued}.")
        }
        TaskStatus::Leased | TaskStatus::InProgress => {
            format!("{key} still in progress with {by}{requeued}.")
        }
        TaskStatus::Ready => format!("{key} still waits{requeued}: {}.", why_waiting(state, t)),
        TaskStatus::Blocked => format!(
            "{key} blocked{requeued}: {}.",
            t.status_reason
                .as_deref()
                .unwrap_or("a maintainer must look at it")
        ),
        TaskStatus::Cancelled => format!("{key} cancelled."),
    }
}

/// Why a ready task was not offered by the end.
fn why_waiting(state: &State, t: &Task) -> String {
    if !t.waiting_on.is_empty() {
        return format!("it builds on {}", t.waiting_on.join(", "));
    }
    let able: Vec<&Worker> = state.workers.iter().filter(|w| could_do(w, t)).collect();
    if able.is_empty() {
        return why_no_one(t, &state.workers);
    }
    if !able.iter().any(|w| w.online) {
        let names: Vec<&str> = able.iter().map(|w| w.name.as_str()).collect();
        let names = names.join(" and ");
        let verb = if able.len() == 1 { "is" } else { "are" };
        return format!("only {names} can take it, and {names} {verb} offline");
    }
    if let Some(holder) = state.tasks.iter().find(|h| {
        h.task_id != t.task_id
            && h.repo == t.repo
            && t.area.is_some()
            && h.area == t.area
            && matches!(
                h.status,
                TaskStatus::Leased | TaskStatus::InProgress | TaskStatus::PrOpened
            )
    }) {
        return format!(
            "its area {} is held by {}",
            t.area.as_deref().unwrap_or_default(),
            task_key(holder)
        );
    }
    if state.repos.iter().any(|r| r.repo == t.repo && r.throttled) {
        return "the review budget is full".into();
    }
    "its turn had not come (higher priorities first, and each worker's capacity)".into()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn state() -> State {
        serde_json::from_value(json!({
            "repos": [{
                "repo": "demo", "max_open_prs": 2, "area_locks_enabled": true, "open_prs": 1,
                "active_leases": 1, "throttled": true,
                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
            }],
            "workers": [
                {"worker_id": "w_ada", "name": "ada", "skills": ["python"], "capacity_points": 5,
                 "max_concurrent_tasks": 1, "github_login": null, "status": "idle", "online": true,
                 "last_heartbeat": null, "trust_level": 1, "capabilities": {}, "active_points": 0,
                 "active_tasks": 0, "created_at": "2026-01-01T00:00:00Z"},
                {"worker_id": "w_gr", "name": "grace", "skills": ["rust"], "capacity_points": 3,
                 "max_concurrent_tasks": 1, "github_login": null, "status": "idle", "online": false,
                 "last_heartbeat": null, "trust_level": 0, "capabilities": {}, "active_points": 0,
                 "active_tasks": 0, "created_at": "2026-01-01T00:00:00Z"}
            ],
            "tasks": [
                task("t1", "DEMO-1", "merged", &["python"], "auth", 0, 0),
                task("t2", "DEMO-2", "ready", &["python"], "auth", 1, 0),
                task("t3", "DEMO-3", "ready", &["rust"], "cli", 0, 1),
                task("t4", "DEMO-4", "pr_opened", &["rust"], "cli", 0, 0),
                task("t5", "DEMO-5", "ready", &["go"], "web", 0, 0),
            ],
            "events": []
        }))
        .unwrap()
    }

    fn task(
        id: &str,
        key: &str,
        status: &str,
        skills: &[&str],
        area: &str,
        tier: i64,
        attempts: i64,
    ) -> serde_json::Value {
        json!({
            "task_id": id, "repo": "demo", "key": key, "title": format!("Title of {key}"),
            "description": "", "estimate_points": 2, "priority": "normal",
            "required_skills": skills, "area": area, "tier": tier, "status": status,
            "assigned_worker_id": if status == "pr_opened" { json!("w_gr") } else { json!(null) },
            "lease_id": null, "lease_expires_at": null, "artifact": null, "attempts": attempts,
            "status_reason": null, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z"
        })
    }

    fn event(kind: &str, task: &str, worker: &str, status: Option<&str>) -> Event {
        serde_json::from_value(json!({
            "id": 1, "kind": kind, "at": "2026-01-01T00:00:00Z", "repo": "demo",
            "task_id": task, "worker_id": worker, "actor": "system",
            "data": status.map_or(json!({}), |s| json!({"status": s}))
        }))
        .unwrap()
    }

    #[test]
    fn the_cast_says_who_can_take_what_and_what_no_one_can() {
        let lines = cast(&state());
        let text: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
        assert!(
            text[0].starts_with("ada (python, trusted with tier 1) can take 2 of the 5 tasks: DEMO-1, DEMO-2 (tier 1)."),
            "{text:?}"
        );
        assert!(
            text[1].starts_with("grace (rust) can take 2 of the 5"),
            "{text:?}"
        );
        assert_eq!(lines[2].0, Tag::Task);
        assert!(text[2].contains("DEMO-5 can go to no one here: nobody has the skills go"));
    }

    #[test]
    fn the_closing_tells_every_task_and_worker() {
        let s = state();
        let mut ledger = Ledger::default();
        ledger.record(&event("task.leased", "t1", "w_ada", None));
        ledger.record(&event("task.status", "t1", "w_ada", Some("pr_opened")));
        ledger.record(&event("task.status", "t1", "w_maintainer", Some("merged")));
        ledger.record(&event("task.leased", "t3", "w_gr", None));
        ledger.record(&event("lease.expired", "t3", "w_gr", Some("ready")));
        let lines = closing(&s, &ledger);
        let text: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(text.len(), 7, "five tasks and two workers: {text:?}");
        assert_eq!(text[0], "DEMO-1 merged: ada's pull request.");
        assert_eq!(text[1], "DEMO-2 still waits: the review budget is full.");
        assert_eq!(
            text[2],
            "DEMO-3 still waits (1 expired lease before): only grace can take it, and grace is offline."
        );
        assert!(
            text[3].starts_with("DEMO-4 in review: grace's pull request"),
            "{text:?}"
        );
        assert!(text[4].contains("nobody has the skills go"), "{text:?}");
        assert_eq!(
            text[5],
            "ada: 1 lease, 1 pull request, 1 merged; online at the end."
        );
        assert_eq!(
            text[6],
            "grace: 1 lease, 0 pull requests, 0 merged, 1 lease expired; offline at the end (no heartbeat)."
        );
        // Back online, what holds DEMO-3 is its area.
        let mut online = s.clone();
        online.workers[1].online = true;
        let lines = closing(&online, &ledger);
        assert_eq!(
            lines[2].1,
            "DEMO-3 still waits (1 expired lease before): its area cli is held by DEMO-4."
        );
    }
}
