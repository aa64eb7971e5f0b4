//! What `owp admin` and `owp leaderboard` print: the pool's state as tables, one task, one
//! worker, the leaderboard.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use serde_json::Value;

use super::super::client::present::{ago, clip, clock, relative, table};
use super::super::client::{State, Task, Worker};
use super::budget_line;

mod settings;
use crate::domain::model::{CLAIMS_BY_COMMENT_FIELD, TaskStatus};

/// The human view of `GET /v1/leaderboard`.
pub fn render_leaderboard(board: &Value) -> String {
    let workers = board["workers"].as_array().cloned().unwrap_or_default();
    if workers.is_empty() {
        return "Nobody on the leaderboard yet (workers opt in with `leaderboard_opt_in`, people \
                with `/owp opt-in`)."
            .to_string();
    }
    let rows: Vec<Vec<String>> = workers
        .iter()
        .enumerate()
        .map(|(i, w)| {
            vec![
                (i + 1).to_string(),
                clip(w["name"].as_str().unwrap_or("-"), 40),
                w["github_login"]
                    .as_str()
                    .map(|l| format!("@{l}"))
                    .unwrap_or_else(|| "-".into()),
                w["merged"].to_string(),
                w["points"].to_string(),
                made_with(&w["tools"]),
            ]
        })
        .collect();
    table(
        &["#", "NAME", "GITHUB", "MERGED", "POINTS", "MADE WITH"],
        &rows,
    )
}

/// The tools a leaderboard row's merged pull requests disclosed, `-` when none did.
fn made_with(tools: &Value) -> String {
    let tools: Vec<String> = tools
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|t| clip(t, 30))
        .collect();
    if tools.is_empty() {
        "-".into()
    } else {
        tools.join(", ")
    }
}

fn status_rank(s: TaskStatus) -> usize {
    match s {
        TaskStatus::InProgress => 0,
        TaskStatus::Leased => 1,
        TaskStatus::PrOpened => 2,
        TaskStatus::Blocked => 3,
        TaskStatus::Ready => 4,
        TaskStatus::Merged => 5,
        TaskStatus::Cancelled => 6,
    }
}

/// Whom a merge's `credit` names: `@login (worker name)`, `@login` or the worker's name.
fn credited(credit: Option<&Value>) -> String {
    let text = |k: &str| credit.and_then(|c| c.get(k)).and_then(Value::as_str);
    match (text("github_login"), text("name")) {
        (Some(login), Some(name)) if !name.eq_ignore_ascii_case(login) => {
            format!("@{login} ({name})")
        }
        (Some(login), _) => format!("@{login}"),
        (None, Some(name)) => name.to_string(),
        (None, None) => "-".into(),
    }
}

/// The human view of `GET /v1/admin/state`.
pub fn render_state(state: &State, all: bool, events: usize, now: chrono::DateTime<Utc>) -> String {
    let mut out = String::new();
    let names: HashMap<&str, &str> = state
        .workers
        .iter()
        .map(|w| (w.worker_id.as_str(), w.name.as_str()))
        .collect();

    // Repos.
    out.push_str(&format!("Repos ({})\n", state.repos.len()));
    if state.repos.is_empty() {
        out.push_str("  none yet: `owp admin init-repo REPO --max-open-prs N`\n");
    } else {
        let rows: Vec<Vec<String>> = state
            .repos
            .iter()
            .map(|p| {
                vec![
                    p.repo.clone(),
                    budget_line(p),
                    p.open_prs.to_string(),
                    p.active_leases.to_string(),
                    if p.area_locks_enabled { "on" } else { "off" }.to_string(),
                    p.visibility.as_str().to_string(),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "REPO",
                "REVIEW BUDGET",
                "OPEN PRS",
                "ACTIVE LEASES",
                "AREA LOCKS",
                "BOARD",
            ],
            &rows,
        ));
        out.push('\n');
        for p in &state.repos {
            out.push_str(&settings::errors_lines(p));
            if let Some(line) = labels_line(&p.repo, &p.extensions) {
                out.push_str(&line);
            }
            if let Some(line) = reviewers_line(p) {
                out.push_str(&line);
            }
            let people = p.people_in_words();
            if !people.is_empty() {
                out.push_str(&format!("  {} people: {}\n", p.repo, people.join(" · ")));
            }
            out.push_str(&settings::in_force_lines(p));
        }
    }

    // Workers.
    let online = state.workers.iter().filter(|w| w.online).count();
    out.push_str(&format!(
        "\nWorkers ({online} online, {} offline)\n",
        state.workers.len() - online
    ));
    if state.workers.is_empty() {
        out.push_str("  none yet: `owp worker register --name NAME --skills a,b --capacity 5`\n");
    } else {
        let mut workers: Vec<&Worker> = state.workers.iter().collect();
        workers.sort_by(|a, b| b.online.cmp(&a.online).then(a.name.cmp(&b.name)));
        let rows: Vec<Vec<String>> = workers
            .iter()
            .map(|w| {
                vec![
                    w.name.clone(),
                    w.worker_id.clone(),
                    if w.online { "online" } else { "offline" }.to_string(),
                    w.status.as_str().to_string(),
                    // A person claiming by comment has no seat: the concurrency cap limits them.
                    if w.extensions.get(CLAIMS_BY_COMMENT_FIELD) == Some(&Value::Bool(true)) {
                        "by comment".to_string()
                    } else {
                        format!("{}/{} pts", w.active_points, w.capacity_points)
                    },
                    format!("{}/{}", w.active_tasks, w.max_concurrent_tasks),
                    w.trust_level.to_string(),
                    if w.skills.is_empty() {
                        "-".to_string()
                    } else {
                        w.skills.join(",")
                    },
                    w.last_heartbeat
                        .as_deref()
                        .map(|t| ago(t, now))
                        .unwrap_or_else(|| "never".into()),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "NAME",
                "ID",
                "ONLINE",
                "STATUS",
                "LOAD",
                "TASKS",
                "TRUST",
                "SKILLS",
                "HEARTBEAT",
            ],
            &rows,
        ));
        out.push('\n');
    }

    // Tasks by status.
    let mut counts: BTreeMap<usize, (TaskStatus, usize)> = BTreeMap::new();
    for t in &state.tasks {
        counts
            .entry(status_rank(t.status))
            .or_insert((t.status, 0))
            .1 += 1;
    }
    let summary: Vec<String> = counts
        .values()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    out.push_str(&format!(
        "\nTasks ({}){}{}\n",
        state.tasks.len(),
        if summary.is_empty() { "" } else { ": " },
        summary.join(", ")
    ));
    let mut tasks: Vec<&Task> = state
        .tasks
        .iter()
        .filter(|t| all || !matches!(t.status, TaskStatus::Merged | TaskStatus::Cancelled))
        .collect();
    tasks.sort_by(|a, b| {
        status_rank(a.status)
            .cmp(&status_rank(b.status))
            .then(b.priority.cmp(&a.priority))
            .then(a.created_at.cmp(&b.created_at))
    });
    if state.tasks.is_empty() {
        out.push_str("  none yet: `owp admin import-tasks FILE --repo REPO`\n");
    } else if !tasks.is_empty() {
        let rows: Vec<Vec<String>> = tasks
            .iter()
            .map(|t| {
                let who = t
                    .assigned_worker_id
                    .as_deref()
                    .map(|id| {
                        names
                            .get(id)
                            .map(|n| n.to_string())
                            .unwrap_or(id.to_string())
                    })
                    .unwrap_or_else(|| "-".into());
                let mut extra = String::new();
                if t.status == TaskStatus::Ready && !t.waiting_on.is_empty() {
                    extra = clip(&format!("waits on {}", t.waiting_on.join(", ")), 40);
                } else if t.status == TaskStatus::Ready && !t.waiting_on_paths.is_empty() {
                    let on = t.waiting_on_paths.join(", ");
                    extra = clip(&format!("paths held by {on}"), 40);
                } else if t.status.is_active()
                    && let Some(exp) = &t.lease_expires_at
                {
                    extra = format!("expires {}", relative(exp, now));
                } else if let Some(pr) = t
                    .artifact
                    .as_ref()
                    .and_then(|a| a.get("pr_url"))
                    .and_then(Value::as_str)
                {
                    extra = pr.to_string();
                } else if let Some(reason) = &t.status_reason {
                    extra = clip(reason, 40);
                }
                vec![
                    t.status.as_str().to_string(),
                    t.task_id.clone(),
                    t.key.clone().unwrap_or_else(|| "-".into()),
                    clip(&t.title, 44),
                    t.repo.clone(),
                    t.area.clone().unwrap_or_else(|| "-".into()),
                    t.estimate_points.to_string(),
                    t.priority.as_str().to_string(),
                    if t.tier > 0 {
                        t.tier.to_string()
                    } else {
                        "0".into()
                    },
                    who,
                    extra,
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "STATUS", "ID", "KEY", "TITLE", "REPO", "AREA", "PTS", "PRIORITY", "TIER",
                "WORKER", "",
            ],
            &rows,
        ));
        out.push('\n');
    }
    let hidden = state.tasks.len() - tasks.len();
    if hidden > 0 {
        out.push_str(&format!(
            "  ({hidden} merged or cancelled not shown; --all lists them)\n"
        ));
    }

    // Who did what: the merges that credited someone (GitHub's), and with --all every merged
    // task with the worker that held it.
    let mut merged: Vec<&Task> = state
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Merged)
        .filter(|t| {
            all || t
                .artifact
                .as_ref()
                .is_some_and(|a| a.get("credit").is_some())
        })
        .collect();
    if !merged.is_empty() {
        merged.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
        let shown = if all {
            merged.len()
        } else {
            merged.len().min(10)
        };
        out.push_str(&format!("\nCredits ({})\n", merged.len()));
        let rows: Vec<Vec<String>> = merged[..shown]
            .iter()
            .map(|t| {
                let credit = t.artifact.as_ref().and_then(|a| a.get("credit"));
                let who = match credit {
                    Some(_) => credited(credit),
                    None => t
                        .assigned_worker_id
                        .as_deref()
                        .map(|id| names.get(id).map_or(id, |n| n).to_string())
                        .unwrap_or_else(|| "-".into()),
                };
                vec![
                    t.key.clone().unwrap_or_else(|| t.task_id.clone()),
                    clip(&t.title, 44),
                    who,
                    credit
                        .and_then(|c| c.get("pr_url"))
                        .or_else(|| t.artifact.as_ref().and_then(|a| a.get("pr_url")))
                        .and_then(Value::as_str)
                        .unwrap_or("-")
                        .to_string(),
                ]
            })
            .collect();
        out.push_str(&table(
            &["TASK", "TITLE", "CREDITED TO", "PULL REQUEST"],
            &rows,
        ));
        out.push('\n');
    }

    // Recent events.
    if events > 0 && !state.events.is_empty() {
        let mut recent: Vec<_> = state.events.iter().collect();
        recent.sort_by_key(|e| std::cmp::Reverse(e.id));
        recent.truncate(events);
        recent.reverse();
        out.push_str("\nRecent events\n");
        let rows: Vec<Vec<String>> = recent
            .iter()
            .map(|e| {
                vec![
                    clock(&e.at),
                    e.kind.clone(),
                    e.repo.clone().unwrap_or_else(|| "-".into()),
                    e.task_id.clone().unwrap_or_else(|| "-".into()),
                    e.actor.clone(),
                ]
            })
            .collect();
        out.push_str(&table(&["AT", "EVENT", "REPO", "TASK", "BY"], &rows));
        out.push('\n');
    }
    out
}
pub(super) fn describe_task(t: &Task) -> String {
    let mut lines = vec![format!("{} · {}", t.task_id, t.title)];
    let mut facts = vec![format!("repo {}", t.repo)];
    if let Some(key) = &t.key {
        facts.push(format!("key {key}"));
    }
    facts.push(format!("status {}", t.status.as_str()));
    if let Some(area) = &t.area {
        facts.push(format!("area {area}"));
    }
    facts.push(format!(
        "{} point{}",
        t.estimate_points,
        if t.estimate_points == 1 { "" } else { "s" }
    ));
    facts.push(format!("priority {}", t.priority.as_str()));
    facts.push(format!("tier {}", t.tier));
    facts.push(format!("attempts {}", t.attempts));
    lines.push(format!("  {}", facts.join(" · ")));
    if !t.required_skills.is_empty() {
        lines.push(format!("  skills {}", t.required_skills.join(", ")));
    }
    if let Some(w) = &t.assigned_worker_id {
        let until = t
            .lease_expires_at
            .as_deref()
            .map(|e| format!(", lease until {} ({})", clock(e), relative(e, Utc::now())))
            .unwrap_or_default();
        lines.push(format!("  worker {w}{until}"));
    }
    if let Some(artifact) = &t.artifact
        && !artifact.is_null()
    {
        lines.push(format!("  artifact {artifact}"));
    }
    if let Some(reason) = &t.status_reason {
        lines.push(format!("  reason {reason}"));
    }
    if !t.description.trim().is_empty() {
        lines.push(format!("  {}", clip(&t.description, 300)));
    }
    lines.join("\n")
}

pub(super) fn describe_worker(w: &Worker) -> String {
    let mut out = format!(
        "{} ({}) · {} · {} · trust {}\n  load {}/{} points · {}/{} tasks · skills {}",
        w.name,
        w.worker_id,
        if w.online { "online" } else { "offline" },
        w.status.as_str(),
        w.trust_level,
        w.active_points,
        w.capacity_points,
        w.active_tasks,
        w.max_concurrent_tasks,
        if w.skills.is_empty() {
            "-".to_string()
        } else {
            w.skills.join(",")
        }
    );
    if let Some(login) = &w.github_login {
        out.push_str(&format!(" · github @{login}"));
    }
    if let Some(hb) = &w.last_heartbeat {
        out.push_str(&format!(
            "\n  last heartbeat {} ({})",
            clock(hb),
            ago(hb, Utc::now())
        ));
    }
    out
}

/// What `owp admin state` says of the labels a GitHub repository lacks (nothing when it has them
/// all, or when it is not a GitHub repository).
fn labels_line(repo: &str, extensions: &serde_json::Map<String, Value>) -> Option<String> {
    match extensions.get(crate::domain::model::LABELS_MISSING_FIELD)? {
        Value::Array(missing) if !missing.is_empty() => {
            let names: Vec<String> = missing
                .iter()
                .take(10)
                .filter_map(Value::as_str)
                .map(|n| clip(n, 60))
                .collect();
            Some(format!(
                "  ! {repo}: labels not in the repository yet: {} (people can pick only labels that exist; \
                 create the ones you use: gh label create NAME --repo {repo})\n",
                names.join(", ")
            ))
        }
        Value::String(_) => Some(format!(
            "  ? {repo}: GitHub did not list its labels; whether the pool's labels exist is unknown\n"
        )),
        _ => None,
    }
}

/// `  reviewers of o/r: alice 1/2, bob 0/1 (away until 2026-12-03 10:00 UTC)`: each reviewer's
/// open reviews of their number (rule 13), and who is away.
fn reviewers_line(p: &crate::domain::RepoPolicy) -> Option<String> {
    if p.reviewers.is_empty() {
        return None;
    }
    let each: Vec<String> = p
        .reviewers
        .iter()
        .map(|r| {
            let away = match (&r.away, &r.away_until) {
                (false, _) => String::new(),
                (true, Some(until)) => format!(
                    " (away until {})",
                    chrono::DateTime::parse_from_rfc3339(until)
                        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_else(|_| clip(until, 40))
                ),
                (true, None) => " (away)".to_string(),
            };
            format!("{} {}/{}{away}", r.login, r.open, r.capacity)
        })
        .collect();
    Some(format!("  reviewers of {}: {}\n", p.repo, each.join(", ")))
}
