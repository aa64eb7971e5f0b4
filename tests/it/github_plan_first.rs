//! Plan first (contract section 12, rule 11) in GitHub mode: `.github/owp.yml` `claim:
//! {approval: plan, approval_skip_trust: N, proposal_days: N}` sets the repository's policy; a
//! value out of range is a settings error like any other (the file is refused whole, the previous
//! settings stay). A `/owp claim` below `approval_skip_trust` proposes the plan written on the
//! lines after it; the status comment lists the open plans with their scorecards; a maintainer
//! approves one (`/owp approve @login`, every other rule checked again) or declines one, the
//! proposer withdraws their own, and each end is told to its proposer once.

use serde_json::Value;

use crate::github_support::story::{REPO, Story};
use owp::domain::TaskStatus;
use owp::domain::proposals::{Approval, ApprovalPolicy};

mod by_comment;
mod over_api;
mod whole_story;

/// `GET /v1/tasks/{id}/proposals` of issue `n`'s task, as the admin sees it.
pub(crate) async fn proposals(story: &Story, n: u64) -> Vec<Value> {
    let task = story.task(n).await;
    let (status, body) = story
        .admin(
            reqwest::Method::GET,
            &format!("/v1/tasks/{}/proposals", task.id),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["proposals"].as_array().unwrap().clone()
}

const PLAN_FIRST: &str = "claim:\n  approval: plan\n  approval_skip_trust: 1\n  proposal_days: 3\n";

async fn plan_first_story(postgres: bool) {
    let story = Story::on(postgres, Some(PLAN_FIRST), |_| {}).await;
    let planned = ApprovalPolicy {
        approval: Approval::Plan,
        skip_trust: Some(1),
        proposal_days: 3,
    };
    assert_eq!(story.policy().await.approval, planned);

    let n = story.label_issue("Fix the parser", &[]).await;
    // No plan: the reply says how to propose one, and nothing is stored.
    story.comment(n, "alice", "/owp claim").await;
    story.expect_comment(
        n,
        "@alice, this repository takes a plan first: write your plan on the lines after \
         `/owp claim`, in the same comment",
    );
    story.expect_status(n, &["**Ready**"]);
    assert!(proposals(&story, n).await.is_empty());
    assert_eq!(story.task(n).await.status, TaskStatus::Ready);

    // Out of range: the whole file is refused, and the plan-first policy stays.
    story.fake.set_file(
        REPO,
        ".github/owp.yml",
        "claim:\n  approval: none\n  proposal_days: 31\n",
    );
    story.running().github.reconcile_now().await.unwrap();
    let policy = story.policy().await;
    assert_eq!(
        policy.extensions["x_github_config_error"],
        ".github/owp.yml: claim.proposal_days must be between 1 and 30 (got 31)"
    );
    assert_eq!(policy.approval, planned);
}

#[tokio::test]
async fn owp_yml_sets_plan_first_and_a_bad_value_keeps_it_sqlite() {
    plan_first_story(false).await;
}

#[tokio::test]
async fn owp_yml_sets_plan_first_and_a_bad_value_keeps_it_postgres() {
    plan_first_story(true).await;
}
