//! GitHub's payload shapes, reduced to the fields the App reads (the REST answers about issues
//! share [`Issue`]), and how they become the App's own types.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{ActorKind, RepoName};

#[derive(Deserialize)]
pub struct Ping {
    pub hook_id: Option<u64>,
    pub zen: Option<String>,
}

#[derive(Deserialize)]
pub struct IssuesPayload {
    pub issue: Issue,
    pub repository: Repository,
    pub sender: User,
    pub installation: Option<InstallationRef>,
    pub label: Option<Label>,
    #[serde(default)]
    pub changes: Changes,
}

#[derive(Deserialize)]
pub struct DependencyPayload {
    pub blocked_issue: IssueState,
    pub blocking_issue: IssueState,
    pub blocked_issue_repo: Option<Repository>,
    pub blocking_issue_repo: Option<Repository>,
    pub repository: Repository,
    pub sender: User,
    pub installation: Option<InstallationRef>,
}

/// The part of an issue a dependency needs.
#[derive(Deserialize)]
pub struct IssueState {
    pub number: u64,
    pub state: String,
}

#[derive(Deserialize)]
pub struct CommentPayload {
    pub issue: Issue,
    pub comment: Comment,
    pub repository: Repository,
    pub sender: User,
    pub installation: Option<InstallationRef>,
    #[serde(default)]
    pub changes: Changes,
}

#[derive(Deserialize)]
pub struct PullRequestPayload {
    pub pull_request: PullRequest,
    pub repository: Repository,
    pub sender: User,
    pub installation: Option<InstallationRef>,
    #[serde(default)]
    pub changes: Changes,
}

#[derive(Deserialize)]
pub struct StatusPayload {
    pub sha: String,
    pub state: String,
    pub context: String,
    pub repository: Repository,
    pub sender: Option<User>,
    pub installation: Option<InstallationRef>,
}

#[derive(Deserialize)]
pub struct CheckPayload {
    pub check_suite: Option<Check>,
    pub check_run: Option<Check>,
    pub repository: Repository,
    pub sender: Option<User>,
    pub installation: Option<InstallationRef>,
}

#[derive(Deserialize)]
pub struct Check {
    pub id: u64,
    pub head_sha: String,
    #[serde(default)]
    pub status: String,
    pub conclusion: Option<String>,
    #[serde(default)]
    pub pull_requests: Vec<CheckPull>,
}

#[derive(Deserialize)]
pub struct CheckPull {
    pub number: u64,
}

#[derive(Deserialize)]
pub struct InstallationPayload {
    pub installation: Installation,
    #[serde(default)]
    pub repositories: Vec<RepoName>,
    pub sender: User,
}

#[derive(Deserialize)]
pub struct InstallationRepositoriesPayload {
    pub installation: Installation,
    #[serde(default)]
    pub repositories_added: Vec<RepoName>,
    #[serde(default)]
    pub repositories_removed: Vec<RepoName>,
    pub sender: User,
}

#[derive(Deserialize)]
pub struct Installation {
    pub id: u64,
    pub account: User,
}

#[derive(Deserialize)]
pub struct InstallationRef {
    pub id: u64,
}

#[derive(Deserialize)]
pub struct User {
    pub login: String,
    pub id: u64,
    #[serde(rename = "type", default = "user_kind")]
    pub kind: ActorKind,
}

fn user_kind() -> ActorKind {
    ActorKind::User
}

#[derive(Deserialize)]
pub struct Repository {
    pub id: u64,
    pub full_name: String,
    pub default_branch: Option<String>,
    #[serde(default)]
    pub private: Option<bool>,
}

#[derive(Deserialize)]
pub struct Label {
    pub name: String,
}

/// An issue; `U` is how its author is read (webhook payloads and REST answers differ).
#[derive(Deserialize)]
pub struct Issue<U = User> {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    #[serde(default)]
    pub labels: Vec<Label>,
    /// `null` for a deleted account.
    pub user: Option<U>,
    pub html_url: String,
    /// Present (an object) only when the "issue" is a pull request.
    pub pull_request: Option<serde_json::Value>,
    #[serde(default)]
    pub issue_dependencies_summary: Option<super::DependencySummary>,
}

#[derive(Deserialize)]
pub struct Comment {
    pub id: u64,
    pub body: Option<String>,
    /// `null` for a deleted account.
    pub user: Option<User>,
    pub html_url: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub author_association: Option<String>,
}

#[derive(Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub merged: bool,
    pub merged_at: Option<DateTime<Utc>>,
    pub html_url: String,
    /// `null` for a deleted account.
    pub user: Option<User>,
    pub base: Branch,
    pub head: Option<Head>,
}

#[derive(Deserialize)]
pub struct Branch {
    #[serde(rename = "ref")]
    pub name: String,
}

#[derive(Deserialize)]
pub struct Head {
    pub sha: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct Changes {
    pub title: Option<From>,
    pub body: Option<From>,
    pub new_repository: Option<NewRepository>,
    pub new_issue: Option<NewIssue>,
}

#[derive(Deserialize)]
pub struct From {
    pub from: String,
}

#[derive(Deserialize)]
pub struct NewRepository {
    pub full_name: String,
    #[serde(default)]
    pub id: Option<u64>,
}

#[derive(Deserialize)]
pub struct RepositoryPayload {
    pub repository: Repository,
    pub sender: User,
    pub installation: Option<InstallationRef>,
}

#[derive(Deserialize)]
pub struct NewIssue {
    pub number: u64,
}

/// `push`: the branch, and the paths each listed commit changed (GitHub lists up to 2,048
/// commits; only the paths are read).
#[derive(Deserialize)]
pub struct PushPayload {
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub repository: Repository,
    #[serde(default)]
    pub commits: Vec<PushCommit>,
    pub head_commit: Option<PushCommit>,
    pub sender: Option<User>,
    pub installation: Option<InstallationRef>,
}

#[derive(Deserialize)]
pub struct PushCommit {
    #[serde(default)]
    pub added: Vec<String>,
    #[serde(default)]
    pub removed: Vec<String>,
    #[serde(default)]
    pub modified: Vec<String>,
}
