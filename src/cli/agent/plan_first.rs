//! Plan first (contract section 12, rule 11): in a repository that takes plans first, a worker
//! below the skip level is granted nothing until a maintainer approves its plan. When a claim
//! finds nothing and the preview shows a task refused only for `approval_required`, the agent
//! runs first on a plan-only brief in a scratch directory (it writes [`brief::PLAN_FILE`]; the
//! directory is then removed, so nothing it changed is kept), the plan is proposed, and the run
//! waits: the approved lease comes back through `POST /v1/work`, and its brief carries the plan.
//!
//! Only the person's own agent command runs here, with the restricted environment of every run;
//! no command of the repository or of the issue runs in this phase.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use super::process::{self, agent_line};
use super::redact::mask_secrets;
use super::workspace::safe_name;
use crate::cli::brief;
use crate::cli::client::present::now_clock;
use crate::cli::client::{
    OwnProposal, OwpClient, PreviewRefusal, Proposal, ProposalState, Task, say,
};
use crate::domain::proposals::MAX_PLAN_CHARS;

/// The refusal code of rule 11 in the preview.
const APPROVAL_REQUIRED: &str = "approval_required";
/// The first pause between two looks at a waiting proposal; each look doubles it, up to
/// [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_secs(2);
const MAX_PAUSE: Duration = Duration::from_secs(120);
/// The most bytes of the plan file read (a plan is at most [`MAX_PLAN_CHARS`] characters).
const MAX_PLAN_BYTES: u64 = 64 * 1024;

/// What the plan-only run of the agent takes from the run's options (`flow::AgentOptions`).
pub(super) struct PlanRun<'a> {
    pub command: &'a str,
    pub workdir: &'a Path,
    pub pass_env: &'a [String],
    pub max_minutes: Option<f64>,
}

/// A proposal this run waits on.
#[derive(Debug)]
struct Waiting {
    proposal_id: String,
    task_id: String,
    plan: String,
    next_look: tokio::time::Instant,
    pause: Duration,
}

/// The plan-first state of one run.
#[derive(Debug, Default)]
pub(super) struct PlanFirst {
    /// Tasks this run proposed for or gave up on: never planned twice in one run.
    tried: HashSet<String>,
    waiting: Option<Waiting>,
    /// The ended proposals this run has told of (or that ended before the window it tells of).
    told: HashSet<String>,
    /// When this run next looks at how its worker's proposals ended (none: at once).
    next_tell: Option<tokio::time::Instant>,
}

impl PlanFirst {
    pub(super) fn is_waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// The approved plan of the task of a lease just granted, when this run proposed it.
    fn plan_for(&mut self, task_id: &str) -> Option<String> {
        if self.waiting.as_ref().is_some_and(|w| w.task_id == task_id) {
            return self.waiting.take().map(|w| w.plan);
        }
        None
    }

    /// This worker's plan for the task of a lease it holds: the one this run proposed and waited
    /// on, else, where the repository takes plans first (or does not say), the plan of its own
    /// approved proposal for the task (`GET /v1/tasks/{id}/proposals`): a lease granted on an
    /// approval this run did not wait for, as one resumed from an earlier run. `None` when the
    /// proposals could not be read (see [`brief::PlanKnown::from_read`]).
    pub(super) async fn plan_of(
        &mut self,
        client: &OwpClient,
        task: &Task,
    ) -> Option<Option<String>> {
        if let Some(plan) = self.plan_for(&task.task_id) {
            return Some(Some(plan));
        }
        match client.approved_plan(task).await {
            Ok(plan) => Some(plan),
            Err(e) => {
                eprintln!(
                    "{}  could not read this worker's proposals for task {}: {e}",
                    now_clock(),
                    task.task_id
                );
                None
            }
        }
    }

    /// After a claim that found nothing: proposes for the first task (in the preview's order, the
    /// order a claim offers tasks) that only rule 11 refuses. False when there is none.
    pub(super) async fn propose_next(
        &mut self,
        client: &OwpClient,
        opts: &PlanRun<'_>,
    ) -> anyhow::Result<bool> {
        let preview = match client.preview().await {
            Ok(p) => p,
            Err(e) if e.is_transport() || e.status() == Some(429) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let candidate = preview.refused.iter().find_map(|r| match r {
            PreviewRefusal::Task(t)
                if !t.reasons.is_empty()
                    && t.reasons.iter().all(|r| r.code == APPROVAL_REQUIRED)
                    && !self.tried.contains(&t.task_id) =>
            {
                Some(t.clone())
            }
            _ => None,
        });
        let Some(task) = candidate else {
            return Ok(false);
        };
        self.tried.insert(task.task_id.clone());
        let name = task.key.clone().unwrap_or_else(|| task.task_id.clone());
        // A proposal of an earlier run that still waits: wait on it.
        if let Ok(mine) = client.my_proposals(&task.task_id).await
            && let Some(open) = mine
                .into_iter()
                .rev()
                .find(|p| p.state == ProposalState::Open)
        {
            say!(
                "{}  proposal {} for {name} already waits for a maintainer's approval",
                now_clock(),
                open.proposal_id
            );
            self.wait_on(open);
            return Ok(true);
        }
        say!(
            "{}  {name} takes plans first: asking the agent for a plan (task {})",
            now_clock(),
            task.task_id
        );
        // The task's text, which the server shows a worker that may plan it.
        let shown = match client.get_task(&task.task_id).await {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::debug!(task = %task.task_id, error = %e, "cannot read the task to plan");
                None
            }
        };
        let Some(plan) =
            write_plan(opts, &task.task_id, task.key.as_deref(), shown.as_ref()).await?
        else {
            return Ok(false);
        };
        let proposal = match client.propose(&task.task_id, &plan).await {
            Ok(p) => p,
            Err(e) if e.code() == Some("already_proposed") => {
                match client
                    .my_proposals(&task.task_id)
                    .await
                    .ok()
                    .and_then(|m| m.into_iter().rev().find(|p| p.state == ProposalState::Open))
                {
                    Some(p) => p,
                    None => return Ok(false),
                }
            }
            Err(e) if e.is_transport() => {
                eprintln!("{}  could not send the proposal: {e}", now_clock());
                self.tried.remove(&task.task_id);
                return Ok(false);
            }
            Err(e) => {
                say!(
                    "{}  the proposal for {name} was refused: {e}; moving on",
                    now_clock()
                );
                return Ok(false);
            }
        };
        say!(
            "{}  proposal {} for {name} sent: it waits for a maintainer's approval{}",
            now_clock(),
            proposal.proposal_id,
            lifetime(&proposal)
        );
        self.wait_on(proposal);
        Ok(true)
    }

    /// While no lease comes: says once each of this worker's plans that ended without becoming
    /// its work (declined, not chosen, expired) — "your plan for TASK was not chosen: REASON" —
    /// whether or not this run was waiting on it (`GET /v1/proposals`). The first look tells of
    /// those that ended in the last [`TOLD_WINDOW`]; later looks, every [`TELL_PAUSE`], of those
    /// that ended since. The proposal this run waits on is told by [`PlanFirst::look`].
    pub(super) async fn tell_ended(&mut self, client: &OwpClient) {
        let now = tokio::time::Instant::now();
        if self.next_tell.is_some_and(|at| now < at) {
            return;
        }
        let first = self.next_tell.is_none();
        self.next_tell = Some(now + TELL_PAUSE);
        let mine = match client.own_proposals().await {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "cannot list this worker's proposals");
                return;
            }
        };
        let waiting = self.waiting.as_ref().map(|w| w.proposal_id.as_str());
        for p in ended_lately(&mine, first) {
            let id = &p.proposal.proposal_id;
            if Some(id.as_str()) == waiting || !self.told.insert(id.clone()) {
                continue;
            }
            if let Some(ending) = p.ending() {
                say!("{}  {ending}", now_clock());
            }
        }
        // Those that ended before the window are not news: never told later either.
        for p in &mine {
            if p.ended_at.is_some() {
                self.told.insert(p.proposal.proposal_id.clone());
            }
        }
    }

    fn wait_on(&mut self, proposal: Proposal) {
        self.waiting = Some(Waiting {
            proposal_id: proposal.proposal_id,
            task_id: proposal.task_id,
            plan: proposal.plan,
            next_look: tokio::time::Instant::now() + FIRST_PAUSE,
            pause: FIRST_PAUSE,
        });
    }

    /// While waiting and nothing was granted: looks at the proposal when its pause is over (the
    /// pause doubles each time, up to two minutes). `Some(why)` when it ended without a lease
    /// (declined, not chosen, withdrawn, expired, or approved but its lease already gone); the
    /// run then moves on.
    pub(super) async fn look(&mut self, client: &OwpClient) -> Option<String> {
        let w = self.waiting.as_mut()?;
        if tokio::time::Instant::now() < w.next_look {
            return None;
        }
        w.pause = (w.pause * 2).min(MAX_PAUSE);
        w.next_look = tokio::time::Instant::now() + w.pause;
        let mine = match client.my_proposals(&w.task_id).await {
            Ok(m) => m,
            Err(e) => {
                eprintln!(
                    "{}  could not look at proposal {}: {e}; trying again",
                    now_clock(),
                    w.proposal_id
                );
                return None;
            }
        };
        let state = mine
            .iter()
            .find(|p| p.proposal_id == w.proposal_id)
            .map_or(ProposalState::Expired, |p| p.state);
        if state == ProposalState::Open {
            return None;
        }
        let id = w.proposal_id.clone();
        // Said as every ended plan is said, with the task and the maintainer's reason, where
        // the server lists this worker's proposals.
        let own = client.own_proposals().await.ok().and_then(|all| {
            all.into_iter()
                .find(|p| p.proposal.proposal_id == id)
                .and_then(|p| p.ending())
        });
        self.told.insert(id);
        let w = self.waiting.as_ref()?;
        let why = match (own, state) {
            (Some(own), _) => own,
            (None, ProposalState::Approved) => format!(
                "proposal {} was approved, but its lease is no longer this worker's",
                w.proposal_id
            ),
            (None, other) => format!(
                "proposal {} {}: the task is not this worker's",
                w.proposal_id,
                match other {
                    ProposalState::Declined => "was declined by a maintainer",
                    ProposalState::NotChosen => {
                        "was not chosen (a maintainer approved another plan)"
                    }
                    ProposalState::Withdrawn => "was withdrawn",
                    _ => "expired",
                }
            ),
        };
        self.waiting = None;
        say!("{}  {why}; moving on", now_clock());
        Some(why)
    }
}

/// How long between two looks at how this worker's proposals ended.
const TELL_PAUSE: Duration = Duration::from_secs(60);
/// A run's first look tells of the plans that ended within this long.
const TOLD_WINDOW: chrono::Duration = chrono::Duration::days(7);

/// The ended proposals of `mine` to tell of: on a run's `first` look, those that ended within
/// [`TOLD_WINDOW`]; later, every one that ended.
fn ended_lately(mine: &[OwnProposal], first: bool) -> impl Iterator<Item = &OwnProposal> {
    let since = chrono::Utc::now() - TOLD_WINDOW;
    mine.iter().filter(move |p| {
        let ended = p
            .ended_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        match ended {
            Some(at) => !first || at >= since,
            None => false,
        }
    })
}

/// How long a proposal lives, in words: ", for N day(s) (until …)".
fn lifetime(p: &Proposal) -> String {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (parse(&p.created_at), parse(&p.expires_at)) {
        (Some(from), Some(to)) => {
            let days = (to - from).num_hours() as f64 / 24.0;
            format!(
                "; a proposal lives {days:.0} day(s), until {} (a task that leaves the pool ends \
                 it sooner)",
                p.expires_at
            )
        }
        _ => format!("; it expires at {}", p.expires_at),
    }
}

/// Runs the agent on the plan-only brief in a scratch directory and reads the plan it wrote
/// (masked, at most [`MAX_PLAN_CHARS`] characters). The directory is removed afterwards. `None`
/// (said why) when the agent failed or wrote no plan.
async fn write_plan(
    opts: &PlanRun<'_>,
    task_id: &str,
    key: Option<&str>,
    task: Option<&Task>,
) -> anyhow::Result<Option<String>> {
    let name = safe_name(task_id);
    let dir = opts.workdir.join("plans").join(&name);
    let brief_path = opts.workdir.join("briefs").join(format!("{name}.plan.md"));
    let log = opts.workdir.join("logs").join(format!("{name}.plan.log"));
    remove_dir(&dir).await;
    for d in [Some(dir.as_path()), brief_path.parent(), log.parent()]
        .into_iter()
        .flatten()
    {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    // A repository of its own, so an agent that commits its plan commits it here (and never into
    // a repository around the work directory); the plan is read from the directory either way.
    let inited = tokio::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await;
    if !inited.is_ok_and(|s| s.success()) {
        tracing::debug!(dir = %dir.display(), "git init of the planning directory failed");
    }
    std::fs::write(
        &brief_path,
        brief::render_plan(task_id, key, task, MAX_PLAN_CHARS),
    )
    .with_context(|| format!("cannot write {}", brief_path.display()))?;
    let title = key.unwrap_or(task_id);
    let line = agent_line(opts.command, &brief_path, &dir, task_id, title, key);
    say!(
        "{}  running the agent for a plan only: {}",
        now_clock(),
        mask_secrets(&line)
    );
    say!("           log: {}", log.display());
    let mut cmd = process::shell(&line);
    super::env::restrict(&mut cmd, opts.pass_env);
    cmd.env("OWP_BRIEF", &brief_path)
        .env("OWP_WORKDIR", &dir)
        .env("OWP_TASK_ID", task_id)
        .env("OWP_TITLE", title)
        .env("OWP_PLAN_ONLY", "1");
    let limit = opts.max_minutes.map(|m| Duration::from_secs_f64(m * 60.0));
    let (_keep, stop) = watch::channel(None::<String>);
    let ended = process::run_logged(cmd, &dir, &log, true, limit, stop).await;
    let plan = read_plan(&dir.join(brief::PLAN_FILE));
    // Whatever the agent changed in this phase is discarded.
    remove_dir(&dir).await;
    let ended = ended?;
    if !ended.success() {
        say!(
            "{}  the agent did not finish the plan ({}); no proposal is made for {title}",
            now_clock(),
            log.display()
        );
        return Ok(None);
    }
    match plan {
        Some(plan) => Ok(Some(plan)),
        None => {
            say!(
                "{}  the agent wrote no {} in its directory; no proposal is made for {title}",
                now_clock(),
                brief::PLAN_FILE
            );
            Ok(None)
        }
    }
}

/// The plan in `path`: read up to [`MAX_PLAN_BYTES`], secrets masked, cut to [`MAX_PLAN_CHARS`]
/// characters; `None` when missing or blank.
fn read_plan(path: &Path) -> Option<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_PLAN_BYTES).read_to_end(&mut bytes).ok()?;
    let text = mask_secrets(String::from_utf8_lossy(&bytes).trim());
    let plan: String = text.chars().take(MAX_PLAN_CHARS).collect();
    (!plan.trim().is_empty()).then(|| plan.trim_end().to_string())
}

/// Removes a scratch directory, if there (tried twice: a process that just ended may still hold
/// a file on some systems).
async fn remove_dir(dir: &PathBuf) {
    for _ in 0..2 {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_bounded_masked_and_never_blank() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("PLAN.md");
        assert_eq!(read_plan(&path), None);
        std::fs::write(&path, "  \n\n").unwrap();
        assert_eq!(read_plan(&path), None);
        std::fs::write(&path, "x".repeat(MAX_PLAN_CHARS + 50)).unwrap();
        assert_eq!(read_plan(&path).unwrap().chars().count(), MAX_PLAN_CHARS);
        std::fs::write(
            &path,
            "Fix it.\ntoken ghp_abcdefghijklmnopqrstuvwxyz0123456789\n",
        )
        .unwrap();
        let plan = read_plan(&path).unwrap();
        assert!(plan.starts_with("Fix it."), "{plan}");
        assert!(
            !plan.contains("ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
            "{plan}"
        );
    }
}
