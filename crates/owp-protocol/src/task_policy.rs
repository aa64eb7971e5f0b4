//! What a repository asks of the work on one of its tasks (contract section 12, "Policy an agent
//! can read"): plans first, verified commits and disclosure, with the keys of `.github/owp.yml`
//! and the REST repo policy. Shown with a task's `contract` to whoever may see the contract.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::contract::PullRequestStart;
use super::disclosure::DisclosurePolicy;
use super::proposals::Approval;

/// Whether a repository asks for verified commits (contract section 12, "Work that shows its
/// proof"): `claim.verified_commits` of `.github/owp.yml`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerifiedCommits {
    /// Commits need no verified signature (unless `verified_commits_below_trust` asks it of the
    /// holder).
    #[default]
    Optional,
    /// A pull request is ready for review only when GitHub verified every one of its commits.
    Required,
}

impl VerifiedCommits {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifiedCommits::Optional => "optional",
            VerifiedCommits::Required => "required",
        }
    }

    /// Whether some holder is asked for verified commits, under this setting and
    /// `verified_commits_below_trust` (`below_trust`; 0 asks nobody, as no trust is below 0).
    pub fn asked_of_anyone(self, below_trust: Option<i64>) -> bool {
        self == VerifiedCommits::Required || below_trust.is_some_and(|n| n > 0)
    }

    /// The stored word ([`VerifiedCommits::as_str`]); anything else is `optional`.
    pub fn parse(s: &str) -> VerifiedCommits {
        match s {
            "required" => VerifiedCommits::Required,
            _ => VerifiedCommits::Optional,
        }
    }
}

/// The rules of a repository for the work on its tasks, as a task's holder reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaskPolicy {
    /// `plan`: a worker below `approval_skip_trust` (everyone, when null) proposes a plan and is
    /// granted the task only once a maintainer approved it (rule 11); `none`: claims directly.
    #[serde(default)]
    #[schema(required = true)]
    pub approval: Approval,
    /// The trust that claims directly in a `plan` repository (null: nobody).
    #[serde(default)]
    #[schema(required = true)]
    pub approval_skip_trust: Option<i64>,
    /// Days an open proposal lives, in a `plan` repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub proposal_days: Option<i64>,
    /// `required`: every commit of the pull request must carry a signature GitHub verifies.
    #[serde(default)]
    #[schema(required = true)]
    pub verified_commits: VerifiedCommits,
    /// Verified commits are asked of holders whose trust here is below this (0–3; null: as
    /// `verified_commits` says).
    #[serde(default)]
    #[schema(required = true)]
    pub verified_commits_below_trust: Option<i64>,
    /// `required`: the `pr_opened` report says which tool made the pull request (the contract's
    /// `disclosure`).
    #[serde(default)]
    #[schema(required = true)]
    pub disclosure: DisclosurePolicy,
    /// `draft`: open the pull request as a draft, and mark it ready when the worker's checks
    /// pass (the contract's `pull_requests`); `ready`: open it ready.
    #[serde(default)]
    #[schema(required = true)]
    pub pull_requests: PullRequestStart,
}

impl TaskPolicy {
    /// Whether the repository takes plans first from anyone.
    pub fn plans_first(&self) -> bool {
        self.approval == Approval::Plan
    }

    /// Whether pull requests are opened as drafts first.
    pub fn drafts_first(&self) -> bool {
        self.pull_requests == PullRequestStart::Draft
    }

    /// Whether some holder is asked for verified commits.
    pub fn asks_for_verified_commits(&self) -> bool {
        self.verified_commits
            .asked_of_anyone(self.verified_commits_below_trust)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_reads_with_the_settings_keys() {
        let p: TaskPolicy = serde_json::from_value(serde_json::json!({
            "approval": "plan", "approval_skip_trust": 2, "proposal_days": 7,
            "verified_commits": "optional", "verified_commits_below_trust": 1,
            "disclosure": "required"
        }))
        .unwrap();
        assert!(p.plans_first());
        assert!(p.asks_for_verified_commits());
        assert_eq!(p.disclosure, DisclosurePolicy::Required);
        let none = TaskPolicy::default();
        assert!(!none.plans_first() && !none.asks_for_verified_commits());
        let shown = serde_json::to_value(none).unwrap();
        assert!(shown.get("proposal_days").is_none(), "{shown}");
        assert_eq!(shown["verified_commits"], "optional");
        assert_eq!(shown["approval_skip_trust"], serde_json::Value::Null);
        assert_eq!(shown["pull_requests"], "ready");
        assert!(!none.drafts_first());
        let drafts: TaskPolicy =
            serde_json::from_value(serde_json::json!({"pull_requests": "draft"})).unwrap();
        assert!(drafts.drafts_first());
        let below_zero = TaskPolicy {
            verified_commits_below_trust: Some(0),
            ..TaskPolicy::default()
        };
        assert!(!below_zero.asks_for_verified_commits());
    }
}
