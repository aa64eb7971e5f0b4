//! Plan first (contract section 12, rule 11): a repository's approval policy, and a proposal as
//! the API shows it. The rule itself is SQL (`store::leases::claim_rules`, `Condition::Approved`);
//! the proposals' limits are the database's (`store::proposals`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::limits::{self, OutOfBounds};

type Checked = Result<(), OutOfBounds>;

/// A plan is at most this many characters.
pub const MAX_PLAN_CHARS: usize = 4_000;
/// Open proposals of one task at most.
pub const MAX_OPEN_PER_TASK: i64 = 5;
/// Open proposals of one person (a GitHub login) or unlinked worker across the pool at most.
pub const MAX_OPEN_PER_PROPOSER: i64 = 3;
/// Days a proposal stays open when the repository does not say.
pub const DEFAULT_PROPOSAL_DAYS: u8 = 7;
/// The range of `proposal_days`.
pub const PROPOSAL_DAYS: (i64, i64) = (1, 30);
/// The highest `approval_skip_trust`.
pub const MAX_SKIP_TRUST: i64 = 3;
/// An approved proposal's lease must be acknowledged within this (24 hours).
pub const APPROVED_ACCEPT_MS: i64 = 24 * 3_600_000;
/// A reason given with a decline is at most this many characters.
pub const MAX_DECLINE_REASON_CHARS: usize = 500;

/// Whether a repository takes a plan before a claim.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// Claims as before.
    #[default]
    None,
    /// Workers below `approval_skip_trust` propose a plan; a maintainer approves one.
    Plan,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::None => "none",
            Approval::Plan => "plan",
        }
    }

    /// The stored value (anything but `plan` reads as `none`).
    pub fn parse(stored: &str) -> Approval {
        if stored == "plan" {
            Approval::Plan
        } else {
            Approval::None
        }
    }
}

/// A repository's approval policy, as `.github/owp.yml` (`claim:`) or the REST repo policy set
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApprovalPolicy {
    pub approval: Approval,
    /// Workers with at least this effective trust claim directly (`None`: nobody does).
    pub skip_trust: Option<i64>,
    /// Days a proposal stays open.
    pub proposal_days: i64,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        ApprovalPolicy {
            approval: Approval::None,
            skip_trust: None,
            proposal_days: i64::from(DEFAULT_PROPOSAL_DAYS),
        }
    }
}

/// `approval_skip_trust` is 0–3.
pub fn check_skip_trust(value: Option<i64>) -> Checked {
    value.map_or(Ok(()), |v| {
        limits::range(
            "approval_skip_trust",
            "invalid_approval_skip_trust",
            v,
            (0, MAX_SKIP_TRUST),
        )
    })
}

/// `proposal_days` is 1–30.
pub fn check_proposal_days(value: i64) -> Checked {
    limits::range(
        "proposal_days",
        "invalid_proposal_days",
        value,
        PROPOSAL_DAYS,
    )
}

/// Where a proposal is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProposalState {
    Open,
    Approved,
    Declined,
    NotChosen,
    Withdrawn,
    Expired,
}

impl ProposalState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalState::Open => "open",
            ProposalState::Approved => "approved",
            ProposalState::Declined => "declined",
            ProposalState::NotChosen => "not_chosen",
            ProposalState::Withdrawn => "withdrawn",
            ProposalState::Expired => "expired",
        }
    }

    pub fn parse(stored: &str) -> Option<ProposalState> {
        [
            ProposalState::Open,
            ProposalState::Approved,
            ProposalState::Declined,
            ProposalState::NotChosen,
            ProposalState::Withdrawn,
            ProposalState::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == stored)
    }
}

/// What a maintainer sees of a proposer beside an open proposal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Scorecard {
    /// Merged tasks of the proposer in this repository.
    pub merged_here: i64,
    /// Merged tasks of the proposer on this server.
    pub merged_pool: i64,
    /// Merged ÷ (merged + closed unmerged) in this repository; null when none.
    pub acceptance_rate_here: Option<f64>,
    /// The linked GitHub account's age in days; null when unknown.
    pub account_age_days: Option<i64>,
    /// Whether the repository's vouch list vouches for the proposer.
    pub vouched: bool,
    /// Tasks the proposer holds now on this server (`leased`, `in_progress`, `pr_opened`, or a
    /// holder's `blocked`).
    pub open_holds: i64,
    /// The distinct tool names disclosed on the proposer's last 10 merges on this server, most
    /// frequent first.
    pub tools: Vec<String>,
}

/// A worker's plan for a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Proposal {
    pub proposal_id: String,
    pub task_id: String,
    pub worker_id: String,
    /// The proposing worker's name, as it registered (shown where a proposal has no `login`).
    #[serde(default)]
    pub worker_name: String,
    /// The proposer's GitHub login: a proven person's (by comment or a linked worker), never a
    /// login typed at registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// The proposer's own words.
    pub plan: String,
    pub state: ProposalState,
    pub created_at: String,
    pub expires_at: String,
    /// For maintainers and the admin, on an open proposal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scorecard: Option<Scorecard>,
}

/// A worker's own proposal as `GET /v1/proposals` lists it: with the task it is for (which the
/// worker may no longer read once another holds it) and how it ended, so that a worker learns
/// what became of every plan it proposed, whether or not it was waiting on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OwnProposal {
    pub proposal: Proposal,
    /// The task's key (an issue's `OWNER/NAME#N` in GitHub mode), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_key: Option<String>,
    pub task_title: String,
    /// When it ended; absent while it is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Why it ended, when a reason was kept (a maintainer's, given with a decline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl OwnProposal {
    /// The task, as a person names it: its key, else its title.
    pub fn task_name(&self) -> &str {
        self.task_key.as_deref().unwrap_or(&self.task_title)
    }

    /// "your plan for TASK was not chosen: REASON", for a plan that ended without becoming the
    /// worker's work (declined, not chosen, expired); `None` while open, once approved, or when
    /// the worker withdrew it itself.
    pub fn ending(&self) -> Option<String> {
        let (how, why) = match self.proposal.state {
            ProposalState::Declined => (
                "was declined",
                self.reason
                    .clone()
                    .unwrap_or_else(|| "a maintainer gave no reason".into()),
            ),
            ProposalState::NotChosen => (
                "was not chosen",
                "a maintainer approved another plan for it".into(),
            ),
            ProposalState::Expired => (
                "expired",
                "no maintainer approved it while it was open, or the task left the pool".into(),
            ),
            ProposalState::Open | ProposalState::Approved | ProposalState::Withdrawn => {
                return None;
            }
        };
        Some(format!("your plan for {} {how}: {why}", self.task_name()))
    }
}
