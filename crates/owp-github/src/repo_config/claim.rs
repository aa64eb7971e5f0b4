//! `claim:` of `.github/owp.yml`: how long a comment claim lives, who may claim (account age,
//! first timers, cool-downs, plans first) and what a pull request must show (verified commits).

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

/// Whether a repository asks for verified commits (contract section 12, "Work that shows its
/// proof").
pub use crate::domain::task_policy::VerifiedCommits;

/// Lifetime of a comment claim.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimConfig {
    /// Days a comment claim lives after the claimer's last activity.
    pub ttl_days: u32,
    /// Whether to remind the claimer at half time.
    pub reminder: bool,
    /// A GitHub account younger than this many days cannot claim (0: any account may).
    pub min_account_age_days: u32,
    /// `required`: a pull request acting on a task is ready for review only when GitHub verified
    /// the signature of every one of its commits.
    pub verified_commits: VerifiedCommits,
    /// Verified commits are asked only of holders whose trust here is below this (0–3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_commits_below_trust: Option<u8>,
    /// Issues with this label are kept for first timers: people with no merged task here, who
    /// claim by comment only when GitHub does not mark them as the repository's collaborator,
    /// member or owner (rule 14). `None`: no issue is kept so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_timers_label: Option<String>,
    /// After a person's claim here ended without a pull request, they claim here again only
    /// this many hours later (rule 14; 0: at once).
    pub cooldown_hours: u32,
    /// `plan`: a claimer below `approval_skip_trust` proposes a plan first (rule 11).
    pub approval: crate::domain::proposals::Approval,
    /// Trust that claims directly in a `plan` repository (0–3; absent: nobody).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_skip_trust: Option<u8>,
    /// Days an open proposal lives (1–30).
    pub proposal_days: u8,
}

impl ClaimConfig {
    /// The approval policy these settings give the repository.
    pub fn approval_policy(&self) -> crate::domain::proposals::ApprovalPolicy {
        crate::domain::proposals::ApprovalPolicy {
            approval: self.approval,
            skip_trust: self.approval_skip_trust.map(i64::from),
            proposal_days: i64::from(self.proposal_days),
        }
    }
}

impl Default for ClaimConfig {
    fn default() -> Self {
        ClaimConfig {
            ttl_days: 7,
            reminder: true,
            min_account_age_days: 0,
            verified_commits: VerifiedCommits::Optional,
            verified_commits_below_trust: None,
            first_timers_label: None,
            cooldown_hours: 0,
            approval: crate::domain::proposals::Approval::None,
            approval_skip_trust: None,
            proposal_days: crate::domain::proposals::DEFAULT_PROPOSAL_DAYS,
        }
    }
}

/// The highest trust level `verified_commits_below_trust` names.
pub const MAX_TRUST_LEVEL: u8 = 3;

impl ClaimConfig {
    /// Whether a holder of this trust (0 for a person without a worker) must show verified
    /// commits; `trust` is asked only when the answer depends on it.
    pub fn verified_commits_for(&self, trust: impl FnOnce() -> i64) -> bool {
        match (self.verified_commits, self.verified_commits_below_trust) {
            (VerifiedCommits::Required, _) => true,
            (VerifiedCommits::Optional, Some(below)) => trust() < i64::from(below),
            (VerifiedCommits::Optional, None) => false,
        }
    }

    /// Whether some holder could be asked for verified commits.
    pub fn asks_for_verified_commits(&self) -> bool {
        self.verified_commits
            .asked_of_anyone(self.verified_commits_below_trust.map(i64::from))
    }

    /// How long a comment claim lives after the claimer's last activity.
    pub fn ttl(&self) -> TimeDelta {
        TimeDelta::days(i64::from(self.ttl_days))
    }

    /// When, after the claimer's last activity, the reminder is due (half the TTL); `None` when
    /// reminders are off.
    pub fn reminder_after(&self) -> Option<TimeDelta> {
        self.reminder.then(|| self.ttl() / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::super::RepoConfig;
    use crate::domain::proposals::{Approval, ApprovalPolicy};

    fn policy(yaml: &str) -> ApprovalPolicy {
        RepoConfig::parse(yaml)
            .unwrap_or_else(|e| panic!("{e}"))
            .claim
            .approval_policy()
    }

    fn error(yaml: &str) -> String {
        RepoConfig::parse(yaml)
            .expect_err("should be refused")
            .message
    }

    /// `.github/owp.yml` `claim: {approval, approval_skip_trust, proposal_days}`, in range or a
    /// settings error.
    #[test]
    fn plan_first_settings_in_range() {
        let p = policy("claim:\n  approval: plan\n  approval_skip_trust: 2\n  proposal_days: 30\n");
        assert_eq!(
            (p.approval, p.skip_trust, p.proposal_days),
            (Approval::Plan, Some(2), 30)
        );
        assert_eq!(policy(""), ApprovalPolicy::default());
        assert_eq!(ApprovalPolicy::default().proposal_days, 7);
        assert_eq!(
            error("claim:\n  approval_skip_trust: 4\n"),
            "claim.approval_skip_trust must be between 0 and 3 (got 4)"
        );
        assert!(error("claim:\n  proposal_days: 0\n").contains("proposal_days"));
        assert!(error("claim:\n  approval: always\n").contains("approval"));
    }
}
