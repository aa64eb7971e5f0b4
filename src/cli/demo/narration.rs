//! The demo's narration: each event of the live stream told as one plain sentence, with a
//! coloured label, and why a worker waits when an area lock or the review budget holds it back.

use std::io::Write;

use anstyle::{AnsiColor, Style};
use chrono::{DateTime, Local};

use super::{REPO, Timeline};
use crate::cli::client::{Event, State, Task, Worker};
use crate::domain::TaskStatus;

// ---- narration ---------------------------------------------------------------------------------

/// What a narration line is about; printed as a short label in its own colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    Demo,
    Join,
    Lease,
    Work,
    Pr,
    Merge,
    Budget,
    Lock,
    Offline,
    Online,
    Expiry,
    Nack,
    /// Where a task stands (the opening and the closing).
    Task,
    /// What a worker did (the closing).
    Worker,
}

impl Tag {
    pub fn label(self) -> &'static str {
        match self {
            Tag::Demo => "demo",
            Tag::Join => "join",
            Tag::Lease => "lease",
            Tag::Work => "work",
            Tag::Pr => "pr",
            Tag::Merge => "merge",
            Tag::Budget => "budget",
            Tag::Lock => "lock",
            Tag::Offline => "offline",
            Tag::Online => "online",
            Tag::Expiry => "expiry",
            Tag::Nack => "nack",
            Tag::Task => "task",
            Tag::Worker => "worker",
        }
    }

    fn style(self) -> Style {
        let fg = |c: AnsiColor| Style::new().fg_color(Some(c.into()));
        match self {
            Tag::Demo => Style::new().bold(),
            Tag::Join | Tag::Online | Tag::Worker => fg(AnsiColor::Blue),
            Tag::Task => Style::new().bold(),
            Tag::Lease => fg(AnsiColor::Cyan),
            Tag::Work => fg(AnsiColor::BrightBlack),
            Tag::Pr => fg(AnsiColor::Magenta),
            Tag::Merge => fg(AnsiColor::Green).bold(),
            Tag::Budget | Tag::Lock => fg(AnsiColor::Yellow).bold(),
            Tag::Offline | Tag::Expiry | Tag::Nack => fg(AnsiColor::Red).bold(),
        }
    }
}

/// Prints narration lines: `HH:MM:SS  label    sentence`.
#[derive(Clone)]
pub(super) struct Printer {
    pub(super) color: bool,
}

impl Printer {
    pub(super) fn line(&self, at: DateTime<Local>, tag: Tag, text: &str) {
        let clock = at.format("%H:%M:%S").to_string();
        let label = format!("{:<7}", tag.label());
        let line = if self.color {
            let dim = Style::new().dimmed();
            let style = tag.style();
            format!("{dim}{clock}{dim:#}  {style}{label}{style:#}  {text}")
        } else {
            format!("{clock}  {label}  {text}")
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    pub(super) fn now(&self, tag: Tag, text: &str) {
        self.line(Local::now(), tag, text);
    }

    pub(super) fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
}

/// `DEMO-2 “Rotate password-reset tokens…”`.
pub(super) fn task_label(t: &Task) -> String {
    let key = t.key.clone().unwrap_or_else(|| t.task_id.clone());
    format!("{key} “{}”", clip(&t.title, 44))
}

pub(super) fn task_key(t: &Task) -> String {
    t.key.clone().unwrap_or_else(|| t.task_id.clone())
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The sentence for one event, read against the latest state (names, titles, attempts).
pub fn describe(e: &Event, state: &State, timeline: &Timeline) -> Option<(Tag, String)> {
    let task = e
        .task_id
        .as_deref()
        .and_then(|id| state.tasks.iter().find(|t| t.task_id == id));
    let who = e
        .worker_id
        .as_deref()
        .and_then(|id| state.workers.iter().find(|w| w.worker_id == id))
        .map(|w| w.name.clone())
        .or_else(|| e.worker_id.clone())
        .unwrap_or_else(|| "someone".into());
    let status = e.data.get("status").and_then(|v| v.as_str());
    match e.kind.as_str() {
        "worker.registered" => {
            let w = state
                .workers
                .iter()
                .find(|w| Some(&w.worker_id) == e.worker_id.as_ref())?;
            Some((
                Tag::Join,
                format!(
                    "{} joined: skills {} · {} points, up to {} at a time.",
                    w.name,
                    if w.skills.is_empty() {
                        "(none)".to_string()
                    } else {
                        w.skills.join(", ")
                    },
                    w.capacity_points,
                    w.max_concurrent_tasks
                ),
            ))
        }
        "worker.trust" => {
            let to = e.data.get("to").and_then(|v| v.as_i64()).or_else(|| {
                state
                    .workers
                    .iter()
                    .find(|w| Some(&w.worker_id) == e.worker_id.as_ref())
                    .map(|w| w.trust_level)
            })?;
            Some((
                Tag::Join,
                format!(
                    "{who} is trusted with tier-{to} tasks (sensitive ones, like auth and the database)."
                ),
            ))
        }
        "task.leased" => {
            let t = task?;
            let area = t
                .area
                .as_deref()
                .map(|a| format!(", area {a}"))
                .unwrap_or_default();
            Some((
                Tag::Lease,
                format!(
                    "{who} was offered {} ({} pts{area}) and must accept within {} s.",
                    task_label(t),
                    t.estimate_points,
                    timeline.accept_ttl
                ),
            ))
        }
        "task.status" => {
            let t = task?;
            match status? {
                "in_progress" => Some((
                    Tag::Work,
                    format!("{who} accepted {} and is working on it.", task_key(t)),
                )),
                "pr_opened" => {
                    let url = e
                        .data
                        .pointer("/artifact/pr_url")
                        .and_then(|v| v.as_str())
                        .unwrap_or("(no link)");
                    Some((
                        Tag::Pr,
                        format!(
                            "{who} opened a pull request for {}: {url}. It keeps a review slot until it merges.",
                            task_key(t)
                        ),
                    ))
                }
                "merged" => Some((
                    Tag::Merge,
                    format!(
                        "{} merged: the maintainer approved {who}'s pull request, and a review slot is free again.",
                        task_label(t)
                    ),
                )),
                "blocked" => Some((Tag::Nack, format!("{} is blocked.", task_key(t)))),
                "ready" => Some((Tag::Nack, format!("{} is back in the queue.", task_key(t)))),
                _ => None,
            }
        }
        "lease.expired" => {
            let t = task?;
            if status == Some("blocked") {
                Some((
                    Tag::Expiry,
                    format!(
                        "{who}'s lease on {} expired again: the task is blocked until a maintainer looks at it.",
                        task_key(t)
                    ),
                ))
            } else {
                Some((
                    Tag::Expiry,
                    format!(
                        "{who}'s lease on {} expired without a heartbeat: the task is back in the queue (attempt {}).",
                        task_label(t),
                        t.attempts.max(1)
                    ),
                ))
            }
        }
        "lease.nacked" => {
            let t = task?;
            let why = e
                .data
                .get("note")
                .or_else(|| e.data.get("reason"))
                .and_then(|v| v.as_str())
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            Some((Tag::Nack, format!("{who} gave {} back{why}.", task_key(t))))
        }
        "worker.offline" => Some((
            Tag::Offline,
            format!(
                "{who} is offline: no heartbeat for {} s.",
                timeline.heartbeat_ttl
            ),
        )),
        "worker.online" => Some((Tag::Online, format!("{who} is back online."))),
        _ => None,
    }
}

/// The budget line for a repository whose budget just filled up; `again` after the first time.
/// (A slot freeing up needs no line of its own: the merge or expiry that frees it is told.)
pub fn budget_sentence(repo: &crate::cli::client::RepoPolicy, again: bool) -> String {
    let used = crate::domain::rules::review_slots_used(repo.open_prs, repo.active_leases);
    let parts = format!(
        "{} open PR{}, {} lease{}",
        repo.open_prs,
        if repo.open_prs == 1 { "" } else { "s" },
        repo.active_leases,
        if repo.active_leases == 1 { "" } else { "s" },
    );
    if again {
        format!(
            "The review budget of {} is full again ({parts}): new assignments wait.",
            repo.repo
        )
    } else {
        format!(
            "The review budget of {} is full: {used} of {} slots in use ({parts}). \
             New assignments wait until a pull request merges.",
            repo.repo, repo.max_open_prs,
        )
    }
}

/// Does `worker` have the skills, trust and capacity for `task` (area locks and the budget
/// aside)?
pub(super) fn could_do(worker: &Worker, task: &Task) -> bool {
    let skills: Vec<String> = worker.skills.iter().map(|s| s.to_lowercase()).collect();
    task.required_skills
        .iter()
        .all(|s| skills.contains(&s.to_lowercase()))
        && task.tier <= worker.trust_level
        && task.estimate_points <= worker.capacity_points
}

/// An area lock at work: `worker` was kept off `skipped` (which it would otherwise come to first)
/// because `holder` holds the same area.
#[derive(Debug, Clone)]
pub struct LockedOut {
    pub skipped: Task,
    pub holder: Task,
}

/// Finds the task an area lock kept `worker_id` from: among the ready tasks it could do, ranked
/// as the claim ranks them (priority, then creation order), the first whose area another task
/// holds. With `leased`, only tasks ranked before the one it got count. When the budget is full
/// (and nothing was leased) the budget, not a lock, is what holds the worker back.
pub fn locked_out(state: &State, worker_id: &str, leased: Option<&str>) -> Option<LockedOut> {
    let worker = state.workers.iter().find(|w| w.worker_id == worker_id)?;
    let rank = |t: &Task| -> (i64, usize) {
        let pos = state
            .tasks
            .iter()
            .position(|x| x.task_id == t.task_id)
            .unwrap_or(usize::MAX);
        (-t.priority.rank(), pos)
    };
    let limit = match leased {
        Some(id) => Some(rank(state.tasks.iter().find(|t| t.task_id == id)?)),
        None => {
            let repo = state.repos.iter().find(|r| r.repo == REPO)?;
            if repo.throttled {
                return None;
            }
            None
        }
    };
    let mut candidates: Vec<&Task> = state
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Ready && could_do(worker, t) && t.area.is_some())
        .filter(|t| limit.is_none_or(|l| rank(t) < l))
        .collect();
    candidates.sort_by_key(|t| rank(t));
    for c in candidates {
        let holder = state.tasks.iter().find(|h| {
            h.task_id != c.task_id
                && h.repo == c.repo
                && h.area == c.area
                && matches!(
                    h.status,
                    TaskStatus::Leased | TaskStatus::InProgress | TaskStatus::PrOpened
                )
        });
        if let Some(holder) = holder {
            return Some(LockedOut {
                skipped: c.clone(),
                holder: holder.clone(),
            });
        }
    }
    None
}

pub(super) fn lock_sentence(
    state: &State,
    worker: &str,
    lock: &LockedOut,
    got: Option<&Task>,
) -> String {
    let holder_name = lock
        .holder
        .assigned_worker_id
        .as_deref()
        .and_then(|id| state.workers.iter().find(|w| w.worker_id == id))
        .map(|w| w.name.as_str())
        .unwrap_or("another worker");
    let phase = match lock.holder.status {
        TaskStatus::PrOpened => "its pull request is in review",
        TaskStatus::Leased => "just offered",
        _ => "in progress",
    };
    let area = lock.skipped.area.as_deref().unwrap_or("?");
    let what = if holder_name == worker {
        format!(
            "The area lock holds {} back: {worker} already has area {area} with {} ({phase}), and one task per area is in flight at a time.",
            task_label(&lock.skipped),
            task_key(&lock.holder),
        )
    } else {
        format!(
            "The area lock kept {worker} off {}: {holder_name} holds area {area} with {} ({phase}).",
            task_label(&lock.skipped),
            task_key(&lock.holder),
        )
    };
    match got {
        Some(t) => format!("{what} {worker} got {} instead.", task_key(t)),
        None => format!("{what} {worker} waits."),
    }
}
