//! `owp worker status` and `heartbeat`, and how a lease is shown.

use chrono::Utc;
use serde_json::Value;

use crate::cli::client::present::{ago, clip, clock, issue_link, relative};
use crate::cli::client::{Lease, OwnProposal, ProposalState, say};
use crate::domain::model::{TaskStatus, WorkerStatus};

use super::*;

pub(super) async fn status(args: CommonArgs) -> anyhow::Result<()> {
    let session = Session::load(&args)?;
    let me = session.client.me().await?;
    if session.json {
        say!("{}", serde_json::to_string_pretty(&me)?);
        return Ok(());
    }
    let w = &me.worker;
    let now = Utc::now();
    say!(
        "{} ({}) · {} · {} · trust {}",
        w.name,
        w.worker_id,
        if w.online { "online" } else { "offline" },
        w.status.as_str(),
        w.trust_level
    );
    say!("  server          {}", session.client.base_url);
    say!(
        "  skills          {}",
        if w.skills.is_empty() {
            "(none)".to_string()
        } else {
            w.skills.join(", ")
        }
    );
    say!(
        "  load            {} of {} points · {} of {} tasks",
        w.active_points,
        w.capacity_points,
        w.active_tasks,
        w.max_concurrent_tasks
    );
    match (&w.github_login, w.github_verified) {
        (Some(login), true) => say!("  github          @{login} (linked)"),
        (Some(login), false) => say!(
            "  github          {login} (typed at registration, unverified: `owp worker link` proves it)"
        ),
        (None, _) => say!("  github          not linked: `owp worker link` links it"),
    }
    if let Some(hb) = &w.last_heartbeat {
        say!("  last heartbeat  {} ({})", clock(hb), ago(hb, now));
    }
    if w.status == WorkerStatus::Paused {
        say!(
            "  paused: no new work until `owp worker heartbeat --resume` (or an admin resumes it)"
        );
    }
    if me.leases.is_empty() {
        say!("no leases held");
    } else {
        say!("leases held ({}):", me.leases.len());
        let workdir = session
            .config
            .agent
            .as_ref()
            .and_then(|a| a.workdir.clone())
            .or_else(crate::cli::agent::default_workdir);
        for (i, lease) in me.leases.iter().enumerate() {
            say!("{}", describe_lease(lease, Some(i + 1), None));
            if let Some(line) = workdir
                .as_deref()
                .and_then(|w| agent_activity(w, lease, now))
            {
                say!("{line}");
            }
            if let Some(progress) = &lease.task.lease_progress {
                let when = lease.task.lease_progress_at.as_deref().unwrap_or_default();
                say!(
                    "      the pool shows: {} ({})",
                    clip(progress, 200),
                    ago(when, now)
                );
            }
        }
    }
    // Plans first: what became of this worker's proposals (a server without the list says
    // nothing here).
    match session.client.own_proposals().await {
        Ok(mine) => {
            for line in plan_lines(&mine, now) {
                say!("{line}");
            }
        }
        Err(e) => tracing::debug!(error = %e, "cannot list this worker's proposals"),
    }
    Ok(())
}

/// How long `owp worker status` keeps telling of a plan that ended.
const ENDED_SHOWN_DAYS: i64 = 7;

/// This worker's plans as `owp worker status` shows them: each open one, waiting for a
/// maintainer, and each that ended in the last [`ENDED_SHOWN_DAYS`] days without becoming its
/// work ("your plan for TASK was not chosen: REASON").
fn plan_lines(mine: &[OwnProposal], now: chrono::DateTime<Utc>) -> Vec<String> {
    let since = now - chrono::Duration::days(ENDED_SHOWN_DAYS);
    let mut lines = Vec::new();
    for p in mine {
        if p.proposal.state == ProposalState::Open {
            lines.push(format!(
                "  your plan for {} waits for a maintainer's approval (until {})",
                p.task_name(),
                p.proposal.expires_at
            ));
            continue;
        }
        let recent = p
            .ended_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|at| at >= since);
        if let (true, Some(ending)) = (recent, p.ending()) {
            let when = ago(p.ended_at.as_deref().unwrap_or_default(), now);
            lines.push(format!("  {ending} ({when})"));
        }
    }
    if !lines.is_empty() {
        lines.insert(0, "plans:".to_string());
    }
    lines
}

pub(super) async fn heartbeat(args: HeartbeatArgs) -> anyhow::Result<()> {
    let session = Session::load(&args.common)?;
    let wanted = if args.pause {
        Some("paused")
    } else if args.resume {
        Some("idle")
    } else {
        None
    };
    let answer = session.client.heartbeat(wanted).await?;
    if session.json {
        say!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let status = answer
        .get("worker")
        .and_then(|w| w.get("status"))
        .and_then(Value::as_str)
        .or(wanted)
        .unwrap_or("online");
    let renewed = match answer.get("renewed_leases").and_then(Value::as_u64) {
        Some(1) => "; 1 lease renewed".to_string(),
        Some(n) => format!("; {n} leases renewed"),
        None => "; its leases are renewed".to_string(),
    };
    let paused = if status == "paused" {
        " (no new work until `owp worker heartbeat --resume`)"
    } else {
        ""
    };
    say!(
        "heartbeat sent: {} ({}) is online, {status}{paused}{renewed}",
        session.config.name,
        session.config.worker_id
    );
    Ok(())
}

// ---- lease display --------------------------------------------------------------------------

/// A lease as a few readable lines: title, repo and key (with the issue link for GitHub keys),
/// area, points, status and expiry.
/// What the ACP agent working on `lease` on this machine last said it does (`owp worker run
/// --acp` keeps it beside the lease's log), when it is this lease's.
fn agent_activity(
    workdir: &std::path::Path,
    lease: &Lease,
    now: chrono::DateTime<Utc>,
) -> Option<String> {
    use crate::cli::agent::acp::progress;
    let log = crate::cli::agent::workspace::Layout::new(workdir, &lease.task).log;
    let a = progress::read(&log).filter(|a| a.lease_id == lease.lease_id)?;
    let when = ago(&a.at, now);
    Some(match &a.ended {
        Some(how) => format!(
            "      agent session ended ({}) {when}",
            progress::clean(how)
        ),
        None => format!(
            "      agent: {} · {when} · {} update(s), {} tool call(s)",
            progress::clean(&a.doing),
            a.updates,
            a.tool_calls
        ),
    })
}

pub fn describe_lease(lease: &Lease, index: Option<usize>, expires_at: Option<&str>) -> String {
    let task = &lease.task;
    let now = Utc::now();
    let mut lines = Vec::new();
    let number = index.map(|i| format!("[{i}] ")).unwrap_or_default();
    lines.push(format!("  {number}{}", task.title));
    let pad = " ".repeat(number.chars().count() + 2);
    let mut facts = vec![format!("repo {}", task.repo)];
    if let Some(key) = &task.key {
        facts.push(format!("key {key}"));
    }
    if let Some(area) = &task.area {
        facts.push(format!("area {area}"));
    }
    facts.push(format!(
        "{} point{}",
        task.estimate_points,
        if task.estimate_points == 1 { "" } else { "s" }
    ));
    facts.push(format!("priority {}", task.priority.as_str()));
    if task.tier > 0 {
        facts.push(format!("tier {}", task.tier));
    }
    lines.push(format!("{pad}{}", facts.join(" · ")));
    if let Some(link) = task.key.as_deref().and_then(issue_link) {
        lines.push(format!("{pad}issue {link}"));
    }
    if !task.required_skills.is_empty() {
        lines.push(format!("{pad}skills {}", task.required_skills.join(", ")));
    }
    let expires = expires_at
        .map(str::to_string)
        .or_else(|| task.lease_expires_at.clone())
        .unwrap_or_else(|| lease.expires_at.clone());
    let mut state = format!(
        "{pad}{} · task {} · lease {}",
        task.status.as_str(),
        task.task_id,
        lease.lease_id
    );
    if task.status != TaskStatus::PrOpened {
        state.push_str(&format!(
            " · expires {} ({})",
            clock(&expires),
            relative(&expires, now)
        ));
    }
    lines.push(state);
    if let Some(pr) = task
        .artifact
        .as_ref()
        .and_then(|a| a.get("pr_url"))
        .and_then(Value::as_str)
    {
        lines.push(format!("{pad}pull request {pr}"));
    }
    let description = task.description.trim();
    if !description.is_empty() {
        lines.push(format!("{pad}“{}”", clip(description, 160)));
    }
    lines.join("\n")
}
