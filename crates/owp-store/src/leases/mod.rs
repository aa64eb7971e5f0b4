//! Leases: the claim, ack/nack/renew, status moves, admin overrides and expiry.
//!
//! How the scheduling rules hold under concurrency (for any number of claims, in any number of
//! processes sharing the database):
//! - SQLite: every write transaction starts with `BEGIN IMMEDIATE`, so writers are serialised by
//!   the database file lock (across processes too) and each claim sees the previous one's result.
//! - PostgreSQL: a worker's own claims, acks and status moves run as one statement each
//!   ([`postgres_statement`], [`postgres_task_ops`]; those of several workers that arrive together
//!   share one statement, [`postgres_batches`]); the claim locks the worker, skips locked tasks and takes the
//!   repository row before the task's area. A named claim (`/owp claim`,
//!   [`WriteTx::claim_task`]) locks the task it names and then runs that same statement narrowed
//!   to it, so a deadlock with a worker's claim (possible only over one area of one repository)
//!   ends one of the two, which runs again. Status moves lock task, worker, area, repository in
//!   that order, so none waits on another in a cycle.
//! - On both, the writes themselves are conditional (`WHERE status = 'ready'`, `WHERE open_prs +
//!   active_leases < max_open_prs`, `WHERE active_points + $est <= capacity_points`), and the area
//!   lock is a partial UNIQUE index, so a rule can only be broken if the database itself is.
//!
//! The files:
//! - this one: what a move of a task is ([`Move`], [`MovePlan`]), the rules of a worker's move,
//!   and a worker's live leases;
//! - [`transitions`]: the general code of every lease operation, for every case;
//! - [`later_report`]: a holder's `pr_opened` report on its task already in `pr_opened` (GitHub's
//!   webhook came first);
//! - [`named_claim`]: a claim of one named task (`/owp claim`);
//! - [`refusals`]: why a claim refuses, read from the claim's own conditions (for a claim by name
//!   and the preview);
//! - [`crate::claim_rules`]: the scheduling rules as SQL, shared by every claim statement;
//! - [`crate::composed::leases`]: the text of every statement here, built from those rules and
//!   from the one text of each write a lease move makes (the task, the lease row, the worker's
//!   load, the repository's counters);
//! - [`sqlite_batch`]: SQLite's plain paths of a worker's claim, ack and status move, as
//!   statement batches;
//! - [`write_groups`]: SQLite's write groups, which run those batches of many workers in one
//!   transaction on the writer thread;
//! - [`postgres_statement`]: PostgreSQL's claim, one statement for one worker or several;
//! - [`postgres_task_ops`]: PostgreSQL's ack and status move, likewise;
//! - [`postgres_batches`]: the queue that has the claims, acks and moves of workers arriving
//!   together taken by one statement of each kind;
//! - [`expiry`]: leases past their deadline;
//! - [`empty_claims`]: claims that found nothing, remembered until the pool changes.
//!
//! The plain paths' files are named for their backend and their shape: a batch of statements in
//! one round trip on SQLite, one statement on PostgreSQL.
//!
//! [`WriteTx::claim_task`]: crate::WriteTx::claim_task

/// How long what GitHub said of a permission counts for a claim.
pub use crate::claim_rules::MAINTAINER_ANSWER_MS;
pub(crate) mod empty_claims;
mod expiry;
mod later_report;
mod named_claim;
pub(crate) mod postgres_batches;
pub(crate) mod postgres_statement;
pub(crate) mod postgres_task_ops;
pub(crate) mod refusals;
mod sqlite_batch;
mod transitions;
pub(crate) mod write_groups;

use serde_json::{Value, json};

use crate::composed::leases::Holder;
use crate::domain::rules;
use crate::domain::{Lease, TaskStatus};
use crate::domain::{RepoContract, disclosure, github_facts, limits};
use crate::rows::TaskRow;
use crate::{Store, StoreError};

/// What ends a lease (recorded in `leases.outcome` and the audit log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseEnd {
    PrOpened,
    Nacked,
    Expired,
    Blocked,
    Released,
    Admin,
}

impl LeaseEnd {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            LeaseEnd::PrOpened => "pr_opened",
            LeaseEnd::Nacked => "nacked",
            LeaseEnd::Expired => "expired",
            LeaseEnd::Blocked => "blocked",
            LeaseEnd::Released => "released",
            LeaseEnd::Admin => "admin",
        }
    }
}

/// A requested move of a task (by its holder, an admin, GitHub or the expiry).
#[derive(Clone, Debug)]
pub struct Move {
    pub to: TaskStatus,
    pub reason: Option<String>,
    pub artifact: Option<Value>,
    pub note: Option<String>,
    pub bump_attempts: bool,
    pub lease_end: LeaseEnd,
    /// Whom a merge is recorded for (see [`CreditTo`]).
    pub credit: CreditTo,
}

/// Whom a move is recorded for: the audit event's `worker_id`, which reputation, promotion and
/// the leaderboard count (see `store::reputation`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CreditTo {
    /// The task's holder (every move but a merge of someone else's pull request).
    #[default]
    Holder,
    /// A merge of a pull request the holder did not author: the author's worker (or nobody)
    /// becomes the task's worker of record and is credited; the holder's claim ends without
    /// credit.
    Author(Option<String>),
}

impl Move {
    pub fn to(to: TaskStatus, lease_end: LeaseEnd) -> Move {
        Move {
            to,
            reason: None,
            artifact: None,
            note: None,
            bump_attempts: false,
            lease_end,
            credit: CreditTo::Holder,
        }
    }
}

/// The move a worker asks for from `from` (the rules of a worker's status update): which status
/// it reaches, with what artifact and note. A move to `in_progress` is an `ack` in disguise.
pub(super) fn worker_move(
    task: &TaskRow,
    to: TaskStatus,
    artifact: Option<Value>,
    note: Option<String>,
) -> Result<Move, StoreError> {
    let from = task.status;
    if !rules::worker_may_report(to) {
        return Err(StoreError::forbidden(
            "not_allowed",
            format!(
                "a worker cannot report `{to}`: only an admin or GitHub (the linked pull request \
                 merged) decide it"
            ),
        ));
    }
    let Some(target) = rules::worker_move(from, to) else {
        return Err(StoreError::conflict(
            "invalid_transition",
            format!("a worker cannot move a task from {from} to {to}"),
        ));
    };
    check_report(task, target, artifact.as_ref(), note.as_deref())?;
    let blocked = target == TaskStatus::Blocked;
    Ok(Move {
        artifact,
        reason: if blocked { note.clone() } else { None },
        note,
        ..Move::to(
            target,
            if blocked {
                LeaseEnd::Blocked
            } else {
                LeaseEnd::PrOpened
            },
        )
    })
}

/// Checks what a worker reports with a move to `target`: the artifact names nothing that GitHub
/// decides (`domain::github_facts`); a `pr_opened` needs `artifact.pr_url` (of the task's own
/// repository for a GitHub task) and, where the repository's contract says so,
/// `artifact.disclosure`; `artifact.evidence` has the contract's shape; the note and the
/// artifact keep their bounds. Every path of a worker's report, first or later, passes here.
pub(super) fn check_report(
    task: &TaskRow,
    target: TaskStatus,
    artifact: Option<&Value>,
    note: Option<&str>,
) -> Result<(), StoreError> {
    github_facts::not_reported(artifact)?;
    if target == TaskStatus::PrOpened {
        let has_url = artifact
            .as_ref()
            .and_then(|a| a.get("pr_url"))
            .and_then(Value::as_str)
            .is_some_and(|u| !u.trim().is_empty());
        if !has_url {
            return Err(StoreError::invalid(
                "missing_pr_url",
                "moving to pr_opened needs `artifact.pr_url`",
            ));
        }
    }
    limits::opt_free_text("note", note, limits::MAX_REASON_CHARS)?;
    let disclosure = RepoContract::stored_disclosure_policy(task.contract.as_deref());
    disclosure::check_report(artifact, disclosure, target == TaskStatus::PrOpened)?;
    if let Some(evidence) = artifact.and_then(|a| a.get("evidence")) {
        crate::domain::evidence::checked(evidence)?;
    }
    if let Some(a) = artifact {
        limits::json("artifact", a, limits::MAX_ARTIFACT_BYTES)?;
        match a.get("pr_url") {
            None | Some(Value::Null) => {}
            Some(Value::String(url)) => match github_task_repo(task) {
                Some(repo) => limits::github_pr_url(repo, url)?,
                None => limits::pr_url(url)?,
            },
            Some(_) => {
                return Err(StoreError::invalid(
                    "invalid_pr_url",
                    "`artifact.pr_url` must be a string",
                ));
            }
        }
    }
    Ok(())
}

/// The repository whose pull requests a task's `pr_url` must name: a repository the GitHub App is
/// installed on, or that of a GitHub task (one keyed `owner/name#N`, as the App keys issues);
/// their pull requests live at `https://github.com/owner/name/pull/N`. Checked here, on every
/// path of a worker's report, after the caller was found to hold the task: only its holder
/// learns anything of the task's repository.
fn github_task_repo(task: &TaskRow) -> Option<&str> {
    if task.github_app {
        return Some(task.repo.as_str());
    }
    let key = task.key.as_deref()?;
    let (repo, number) = key.rsplit_once('#')?;
    let (owner, name) = repo.split_once('/')?;
    let github = !owner.is_empty()
        && !name.is_empty()
        && !name.contains('/')
        && repo.eq_ignore_ascii_case(&task.repo)
        && number.parse::<u64>().is_ok();
    github.then_some(task.repo.as_str())
}

/// What [`LeasesTx::apply_move`] decided before writing (shared by both backends' code).
///
/// [`LeasesTx::apply_move`]: transitions::LeasesTx::apply_move
pub(super) struct MovePlan {
    pub leaving_lease: bool,
    /// What the move does to the task's holder: a merge of a pull request its holder did not
    /// author makes the author the worker of record ([`CreditTo::Author`]); a pull request opened
    /// or merged keeps its holder; every other move clears it.
    pub holder: Holder,
    /// The worker the move's audit event names (what reputation counts).
    pub recorded_worker: Option<String>,
    pub artifact: Option<Value>,
    /// The task's `status_reason` after the move: the move's reason on a move to `blocked` or
    /// `cancelled`, `None` otherwise (a reason given for another move is only in its event).
    pub status_reason: Option<String>,
    pub active_delta: i64,
    pub pr_delta: i64,
    /// The task waits for a maintainer after the move (its holder reported it `blocked`).
    pub awaits_maintainer: bool,
    pub kind: &'static str,
    pub data: Value,
}

impl MovePlan {
    pub fn new(task: &TaskRow, mv: &Move) -> MovePlan {
        let from = task.status;
        let to = mv.to;
        let leaving_lease = from.is_active();
        let opens_pr = to == TaskStatus::PrOpened && from != TaskStatus::PrOpened;
        let closes_pr = from == TaskStatus::PrOpened && to != TaskStatus::PrOpened;
        // A holder's `blocked` takes a review slot until someone else moves the task on (any
        // move of a waiting task is an admin's, a maintainer's or GitHub's: it has no holder).
        let awaits = to == TaskStatus::Blocked && mv.lease_end == LeaseEnd::Blocked;
        let artifact = match (&task.artifact, &mv.artifact) {
            (Some(Value::Object(old)), Some(Value::Object(new))) => {
                let mut merged = old.clone();
                merged.extend(new.clone());
                Some(Value::Object(merged))
            }
            (_, Some(new)) => Some(new.clone()),
            (old, None) => old.clone(),
        };
        let mut data = json!({"from": from.as_str(), "status": to.as_str()});
        if let Some(r) = &mv.reason {
            data["reason"] = json!(r);
        }
        if let Some(n) = &mv.note {
            data["note"] = json!(n);
        }
        if let Some(a) = &mv.artifact {
            data["artifact"] = a.clone();
        }
        if let Some(l) = &task.lease_id {
            data["lease_id"] = json!(l);
        }
        let (replaces_holder, recorded_worker) = match &mv.credit {
            CreditTo::Author(author) if to == TaskStatus::Merged => (true, author.clone()),
            _ => (false, task.worker_id.clone()),
        };
        MovePlan {
            leaving_lease,
            holder: if replaces_holder {
                Holder::Replaced
            } else if matches!(to, TaskStatus::PrOpened | TaskStatus::Merged) {
                Holder::Kept
            } else {
                Holder::Cleared
            },
            recorded_worker,
            artifact,
            status_reason: matches!(to, TaskStatus::Blocked | TaskStatus::Cancelled)
                .then(|| mv.reason.clone())
                .flatten(),
            active_delta: if leaving_lease { -1 } else { 0 },
            pr_delta: i64::from(opens_pr) - i64::from(closes_pr) + i64::from(awaits)
                - i64::from(task.awaits_maintainer),
            awaits_maintainer: awaits,
            kind: match mv.lease_end {
                LeaseEnd::Expired => "lease.expired",
                LeaseEnd::Nacked => "lease.nacked",
                _ => "task.status",
            },
            data,
        }
    }
}

/// The audit data of an ack.
pub(super) fn ack_data(lease_id: Option<&str>) -> serde_json::Value {
    serde_json::json!({"from": "leased", "status": "in_progress", "lease_id": lease_id})
}

/// The points a task's lease counts against its holder.
pub(super) fn task_lease_points(task: &TaskRow) -> i64 {
    task.lease_points.unwrap_or(task.estimate_points)
}

/// The task changed between the read a move was planned on and its conditional write.
pub(super) fn concurrent_change() -> StoreError {
    StoreError::conflict(
        "concurrent_change",
        "the task changed while this request was processed; retry",
    )
}

/// A batch whose statements did not all apply as their predecessors promised: the transaction is
/// rolled back (or, if it had already committed, nothing was written beyond what applied).
pub(super) fn inconsistent(what: &str) -> StoreError {
    StoreError::Db(sqlx::Error::Protocol(format!(
        "{what}: the statements of one transaction disagreed"
    )))
}

impl Store {
    /// The live leases of a worker.
    pub async fn worker_leases(&self, worker_id: &str) -> Result<Vec<Lease>, StoreError> {
        let rows = crate::composed::leases::general::worker_leases()
            .query()
            .bind(worker_id)
            .fetch_all(&self.read)
            .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(held(&TaskRow::decode(&r)?));
        }
        Ok(out)
    }
}

/// A live lease as its holder sees it.
pub(crate) fn held(t: &TaskRow) -> Lease {
    Lease {
        lease_id: t.lease_id.clone().unwrap_or_default(),
        expires_at: crate::format_ts(t.lease_expires_at.unwrap_or_default()),
        accept_by: crate::format_ts(t.accept_by.or(t.lease_expires_at).unwrap_or_default()),
        task: t.to_holder_api(),
    }
}
