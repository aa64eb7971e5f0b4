//! Proposals (contract section 12, rule 11 "plan first"), as a worker makes and follows them.

use reqwest::Method;
use serde::Deserialize;

use super::{Auth, Body, ClientError, OwpClient, Retry, Task, reason_body, segment};
pub use crate::domain::proposals::{OwnProposal, Proposal, ProposalState};

/// `GET /v1/tasks/{id}/proposals` answer.
#[derive(Deserialize)]
struct ProposalList {
    #[serde(default)]
    proposals: Vec<Proposal>,
}

/// `GET /v1/proposals` answer.
#[derive(Deserialize)]
struct OwnProposalList {
    #[serde(default)]
    proposals: Vec<OwnProposal>,
}

impl OwpClient {
    /// `POST /v1/tasks/{id}/proposals`: this worker's plan for a task of a repository that takes
    /// plans first. Not retried: a lost answer shows as `already_proposed` on the next try.
    pub async fn propose(&self, task_id: &str, plan: &str) -> Result<Proposal, ClientError> {
        let path = format!("/v1/tasks/{}/proposals", segment(task_id));
        self.call(
            Method::POST,
            &path,
            Auth::Worker,
            Body::json(&serde_json::json!({ "plan": plan })),
            Retry::Never,
        )
        .await
    }

    /// `GET /v1/tasks/{id}/proposals`: this worker's own proposals for the task, oldest first.
    pub async fn my_proposals(&self, task_id: &str) -> Result<Vec<Proposal>, ClientError> {
        let path = format!("/v1/tasks/{}/proposals", segment(task_id));
        let list: ProposalList = self
            .call(Method::GET, &path, Auth::Worker, Body::None, Retry::Safe)
            .await?;
        Ok(list.proposals)
    }

    /// `GET /v1/proposals`: this worker's own proposals across the pool, oldest first, each with
    /// its task and how it ended.
    pub async fn own_proposals(&self) -> Result<Vec<OwnProposal>, ClientError> {
        let list: OwnProposalList = self
            .call(
                Method::GET,
                "/v1/proposals",
                Auth::Worker,
                Body::None,
                Retry::Safe,
            )
            .await?;
        Ok(list.proposals)
    }

    /// `DELETE /v1/proposals/{id}`: withdraw this worker's own open proposal.
    pub async fn withdraw_proposal(&self, proposal_id: &str) -> Result<Proposal, ClientError> {
        let path = format!("/v1/proposals/{}", segment(proposal_id));
        self.call(
            Method::DELETE,
            &path,
            Auth::Worker,
            Body::None,
            Retry::Never,
        )
        .await
    }

    /// `GET /v1/tasks/{id}/proposals` as the admin or a maintainer: every proposal of the task,
    /// oldest first, each open one with its scorecard.
    pub async fn task_proposals(&self, task_id: &str) -> Result<Vec<Proposal>, ClientError> {
        let path = format!("/v1/tasks/{}/proposals", segment(task_id));
        let list: ProposalList = self
            .call(Method::GET, &path, Auth::Admin, Body::None, Retry::Safe)
            .await?;
        Ok(list.proposals)
    }

    /// `POST /v1/admin/proposals/{id}/approve` or `…/decline` (with its reason): the proposal as
    /// it ended, and the lease an approval made. Not retried: a second approval is refused.
    pub async fn answer_proposal(
        &self,
        proposal_id: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<serde_json::Value, ClientError> {
        let path = format!(
            "/v1/admin/proposals/{}/{}",
            segment(proposal_id),
            if approve { "approve" } else { "decline" }
        );
        let body = reason_body(reason);
        self.call(
            Method::POST,
            &path,
            Auth::Admin,
            Body::json(&body),
            Retry::Never,
        )
        .await
    }

    /// This worker's approved plan for a task it holds (the latest approved of its own
    /// proposals), or none. Not asked where the task's policy says the repository takes no
    /// plans first.
    pub async fn approved_plan(&self, task: &Task) -> Result<Option<String>, ClientError> {
        if task.policy.is_some_and(|p| !p.plans_first()) {
            return Ok(None);
        }
        let mine = self.my_proposals(&task.task_id).await?;
        Ok(mine
            .into_iter()
            .rev()
            .find(|p| p.state == ProposalState::Approved)
            .map(|p| p.plan))
    }
}
