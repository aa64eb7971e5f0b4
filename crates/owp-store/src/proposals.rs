//! Proposals (contract section 12, rule 11 "Plan first"): a worker's plan for a `ready` task of a
//! repository that takes plans first, and a maintainer's answer.
//!
//! The limits (one open proposal of a person or worker on a task, 5 open on a task, 3 open of a
//! person or unlinked worker across the pool) are the database's: the insert is one conditional
//! statement, which SQLite's serialised writers keep current, and PostgreSQL checks them again
//! under locks (the trigger `proposals_limit` of migrations 0037 and 0039). A person is one
//! proposer whether they propose by comment (their implicit worker) or through a worker linked
//! to their login. A task that leaves `ready` ends its open proposals by a trigger of the same
//! migration, whichever path moves it; the sweep ([`Proposals::sweep`]) ends those past
//! their days and records the audit event of every end a trigger wrote. An approval is the
//! named claim ([`WriteTx::claim_task`]) of the proposer, in the transaction that approves, so
//! every other rule is the claim statement's own.
//!
//! The view: [`Store::proposals`] reads and opens a transaction of its own for each change
//! (`read.rs`, `write.rs`); [`WriteTx::proposals`] changes them inside a transaction a caller
//! holds (`write.rs`, `persons.rs`). Their fixed statements are `sql/proposals/`; the insert,
//! the scorecard and the denounced proposers' list join the claim's rules about the person,
//! composed at run time.
//!
//! [`Proposals::sweep`]: crate::proposals::Proposals::sweep

mod persons;
mod read;
mod write;

use super::engine::checked::checked_in_tx;
use super::{Store, StoreError, WriteTx, format_ts};
use crate::domain::proposals::{
    MAX_OPEN_PER_PROPOSER, MAX_OPEN_PER_TASK, Proposal, ProposalState, Scorecard,
};

/// Proposals, read; each change in a transaction of its own ([`Store::proposals`]).
pub struct Proposals<'s> {
    store: &'s Store,
}

/// Proposals inside a caller's write transaction ([`WriteTx::proposals`]).
pub struct ProposalsTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The proposals' view of the store.
    pub fn proposals(&self) -> Proposals<'_> {
        Proposals { store: self }
    }
}

impl WriteTx {
    /// The proposals' view of this transaction.
    pub fn proposals(&mut self) -> ProposalsTx<'_> {
        ProposalsTx { tx: self }
    }
}

/// The name under which PostgreSQL's recheck refuses a proposal past a limit.
const LIMIT_CONSTRAINT: &str = "proposals_limit";

/// The name under which PostgreSQL's recheck refuses a second open proposal of one proposer for
/// one task.
const ONCE_CONSTRAINT: &str = "proposals_once";

/// Whose proposals a list shows.
#[derive(Clone, Debug)]
pub enum Viewer {
    /// The task's maintainers and the admin: all, each open one with its scorecard.
    Maintainer,
    /// A worker: its own.
    Worker(String),
}

/// A proposal as stored.
#[derive(Clone, Debug)]
pub struct ProposalRow {
    pub id: String,
    pub task_id: String,
    pub task_seq: i64,
    pub repo_id: i64,
    pub repo: String,
    pub worker_id: String,
    /// The proposing worker's name (a person's comment worker is named by their login).
    pub worker_name: String,
    pub login: Option<String>,
    pub plan: String,
    pub state: ProposalState,
    pub created_at: i64,
    pub expires_at: i64,
}

impl ProposalRow {
    /// The row of a statement of `sql/proposals/`.
    fn of(fields: owp_sql_sqlite::proposals::ProposalFields) -> ProposalRow {
        let (
            id,
            task_id,
            task_seq,
            repo_id,
            repo,
            worker_id,
            worker_name,
            login,
            plan,
            state,
            created_at,
            expires_at,
        ) = fields;
        ProposalRow {
            id,
            task_id,
            task_seq,
            repo_id,
            repo,
            worker_id,
            worker_name,
            login,
            plan,
            state: ProposalState::parse(&state).unwrap_or(ProposalState::Expired),
            created_at,
            expires_at,
        }
    }

    /// Its state at `now`: an open proposal past its days is expired, whether or not the sweep
    /// has written it yet.
    pub fn state_at(&self, now: i64) -> ProposalState {
        match self.state {
            ProposalState::Open if self.expires_at <= now => ProposalState::Expired,
            s => s,
        }
    }

    pub fn to_api(&self, now: i64, scorecard: Option<Scorecard>) -> Proposal {
        Proposal {
            proposal_id: self.id.clone(),
            task_id: self.task_id.clone(),
            worker_id: self.worker_id.clone(),
            worker_name: self.worker_name.clone(),
            login: self.login.clone(),
            plan: self.plan.clone(),
            state: self.state_at(now),
            created_at: format_ts(self.created_at),
            expires_at: format_ts(self.expires_at),
            scorecard,
        }
    }
}

/// An open proposal of a repository with the task it is for (the dashboard's list).
#[derive(Clone, Debug)]
pub struct RepoProposal {
    pub task_key: Option<String>,
    pub task_title: String,
    pub proposal: Proposal,
}

fn not_found(id: &str) -> StoreError {
    StoreError::not_found("proposal_not_found", format!("unknown proposal `{id}`"))
}

fn not_open(state: ProposalState) -> StoreError {
    StoreError::conflict(
        "proposal_not_open",
        format!(
            "the proposal is {} and can no longer change",
            state.as_str()
        ),
    )
}

fn too_many() -> StoreError {
    StoreError::conflict(
        "too_many_proposals",
        format!(
            "a task has at most {MAX_OPEN_PER_TASK} open proposals, and a person or unlinked \
             worker at most {MAX_OPEN_PER_PROPOSER} across the pool"
        ),
    )
}

/// A second open proposal of one proposer for one task: a person proposes once per task, by
/// comment or through a worker linked to their login, as does an unlinked worker.
fn already_proposed() -> StoreError {
    StoreError::conflict(
        "already_proposed",
        "this person or worker already has an open proposal for the task (by comment or \
         through a worker linked to the same GitHub login)",
    )
}

/// Whether `e` is PostgreSQL's recheck refusing a second open proposal of one proposer for one
/// task.
fn is_once(e: &StoreError) -> bool {
    match e {
        StoreError::Db(sqlx::Error::Database(db)) => {
            db.constraint() == Some(ONCE_CONSTRAINT) || db.message().contains("already proposed")
        }
        _ => false,
    }
}

/// Whether `e` is PostgreSQL's recheck refusing a proposal past a limit.
fn is_limit(e: &StoreError) -> bool {
    match e {
        StoreError::Db(sqlx::Error::Database(db)) => {
            db.constraint() == Some(LIMIT_CONSTRAINT) || db.message().contains("open proposals")
        }
        _ => false,
    }
}

fn task_not_ready() -> StoreError {
    StoreError::conflict("task_not_ready", "only a `ready` task takes proposals")
}

/// The audit event's kind of a proposal's end.
fn proposal_event(state: ProposalState) -> &'static str {
    match state {
        ProposalState::Open => "proposal.opened",
        ProposalState::Approved => "proposal.approved",
        ProposalState::Declined => "proposal.declined",
        ProposalState::NotChosen => "proposal.not_chosen",
        ProposalState::Withdrawn => "proposal.withdrawn",
        ProposalState::Expired => "proposal.expired",
    }
}

/// The distinct `artifact.disclosure.tool` of `artifacts` (JSON texts), most frequent first
/// (ties by name).
fn disclosed_tools(artifacts: impl Iterator<Item = String>) -> Vec<String> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for a in artifacts {
        let tool = serde_json::from_str::<serde_json::Value>(&a)
            .ok()
            .and_then(|v| v["disclosure"]["tool"].as_str().map(str::to_string));
        if let Some(tool) = tool {
            *counts.entry(tool).or_default() += 1;
        }
    }
    let mut tools: Vec<(String, usize)> = counts.into_iter().collect();
    tools.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    tools.into_iter().map(|(t, _)| t).collect()
}

/// An ended proposal, as its proposer is told of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedProposal {
    /// The proposer's GitHub login (none: an unlinked worker, told over the API only).
    pub login: Option<String>,
    pub state: ProposalState,
    /// A maintainer's reason for a decline.
    pub reason: Option<String>,
    /// An approved plan of a worker (not a person's comment claim): the worker's name, whose
    /// lease waits to be claimed and acknowledged within the accept window.
    pub worker: Option<String>,
}

/// The proposals `ids` as their proposers are told of their ends, in the order given (read in
/// the transaction that ended them).
pub async fn ended_proposals(
    conn: &mut crate::engine::tx_conn::TxConnection,
    ids: &[&str],
) -> Result<Vec<EndedProposal>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row = checked_in_tx!(conn, proposals::ended(id))?;
        if let Some((login, state, reason, worker_id, name, all_skills)) = row {
            let state = ProposalState::parse(&state).unwrap_or(ProposalState::Expired);
            // A person's own comment worker holds the issue as a comment claim; any other
            // holds a lease to acknowledge.
            let by_comment = crate::rows::claims_by_comment(&worker_id, all_skills != 0);
            out.push(EndedProposal {
                login,
                state,
                reason,
                worker: (state == ProposalState::Approved && !by_comment).then_some(name),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::composed::proposals::open_at as live;
    use crate::domain::proposals::{MAX_OPEN_PER_PROPOSER, MAX_OPEN_PER_TASK};
    use crate::rule_texts::{function_in_force, same_text};

    /// The recheck of the proposals' limits counts open proposals as the insert does, against
    /// the same limits.
    #[test]
    fn the_proposals_trigger_rechecks_the_inserts_own_limits() {
        let body = same_text(&function_in_force("owp_proposals_limit"));
        let live = same_text(&live("p", "NEW.created_at"));
        assert_eq!(body.matches(&live).count(), 3, "{body}");
        let limits =
            format!("on_task >= {MAX_OPEN_PER_TASK} OR of_proposer >= {MAX_OPEN_PER_PROPOSER}");
        assert!(body.contains(&limits), "{body} does not say {limits}");
    }
}
