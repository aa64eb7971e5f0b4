//! Webhook deliveries as our own typed events.
//!
//! [`parse_event`] turns the `X-GitHub-Event` name and the raw JSON body into an [`Event`] that
//! holds only what the App uses; nothing else in the App sees GitHub's payload shapes. Events and
//! actions the App does not use become [`Event::Ignored`] (GitHub adds actions over time, e.g.
//! `issues.typed`); only a body that is not JSON, or a used action that lacks a field the App
//! needs, is an [`EventError`].

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Header naming the event (`issues`, `pull_request`, …).
pub const EVENT_HEADER: &str = "X-GitHub-Event";
/// Header carrying the delivery's unique id; a redelivery has the same id.
pub const DELIVERY_HEADER: &str = "X-GitHub-Delivery";

/// A webhook delivery, as the App understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// GitHub checks that the webhook works.
    Ping { hook_id: Option<u64>, zen: String },
    /// The App was installed, uninstalled, suspended or unsuspended.
    Installation(InstallationEvent),
    /// Repositories were added to or removed from an installation.
    InstallationRepositories(InstallationRepositoriesEvent),
    /// Something happened to an issue.
    Issue(IssueEvent),
    /// A comment on an issue (or pull request) was written or edited.
    IssueComment(CommentEvent),
    /// Something happened to a pull request.
    PullRequest(PullRequestEvent),
    /// A check suite, check run or commit status of a commit changed.
    Checks(ChecksEvent),
    /// A repository was renamed, transferred, deleted, archived or changed visibility.
    Repository(RepositoryEvent),
    /// `issue_dependencies`: one issue was marked blocked by another, or no longer.
    IssueDependency(DependencyEvent),
    /// `push` to the default branch that changes a vouch list or the settings file (other pushes
    /// are ignored).
    VouchListPushed(PushEvent),
    /// An event or action the App does not use; acknowledged and dropped.
    Ignored {
        event: String,
        action: Option<String>,
        reason: String,
    },
}

impl Event {
    /// The installation the delivery came through, when it names one.
    pub fn installation_id(&self) -> Option<u64> {
        match self {
            Event::Installation(e) => Some(e.installation_id),
            Event::InstallationRepositories(e) => Some(e.installation_id),
            Event::Issue(e) => e.installation_id,
            Event::IssueComment(e) => e.installation_id,
            Event::PullRequest(e) => e.installation_id,
            Event::Checks(e) => e.installation_id,
            Event::Repository(e) => e.installation_id,
            Event::IssueDependency(e) => e.installation_id,
            Event::VouchListPushed(e) => e.installation_id,
            Event::Ping { .. } | Event::Ignored { .. } => None,
        }
    }

    /// The repository (`owner/name`) the event is about, when it is about one.
    pub fn repo(&self) -> Option<&str> {
        match self {
            Event::Issue(e) => Some(&e.repo.full_name),
            Event::IssueComment(e) => Some(&e.repo.full_name),
            Event::PullRequest(e) => Some(&e.repo.full_name),
            Event::Checks(e) => Some(&e.repo.full_name),
            Event::Repository(e) => Some(&e.repo.full_name),
            Event::IssueDependency(e) => Some(&e.repo.full_name),
            Event::VouchListPushed(e) => Some(&e.repo.full_name),
            _ => None,
        }
    }

    /// Who caused the event, when known.
    pub fn sender(&self) -> Option<&Actor> {
        match self {
            Event::Installation(e) => Some(&e.sender),
            Event::InstallationRepositories(e) => Some(&e.sender),
            Event::Issue(e) => Some(&e.sender),
            Event::IssueComment(e) => Some(&e.sender),
            Event::PullRequest(e) => Some(&e.sender),
            Event::Checks(e) => e.sender.as_ref(),
            Event::Repository(e) => Some(&e.sender),
            Event::IssueDependency(e) => Some(&e.sender),
            Event::VouchListPushed(e) => e.sender.as_ref(),
            Event::Ping { .. } | Event::Ignored { .. } => None,
        }
    }
}

/// A GitHub account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub login: String,
    pub id: u64,
    pub kind: ActorKind,
}

impl Actor {
    /// The account GitHub shows for a deleted one (`ghost`), which a REST listing may also send
    /// as `user: null`.
    pub fn ghost() -> Actor {
        Actor {
            login: "ghost".into(),
            id: 10137,
            kind: ActorKind::User,
        }
    }

    /// `user` as an account; `null` (a deleted account) is [`Actor::ghost`].
    pub fn or_ghost<U: Into<Actor>>(user: Option<U>) -> Actor {
        user.map_or_else(Actor::ghost, Into::into)
    }

    /// A bot account (GitHub Apps, including this one, act as bots). The App never acts on bots'
    /// comments.
    pub fn is_bot(&self) -> bool {
        self.kind == ActorKind::Bot || self.login.ends_with("[bot]")
    }
}

/// The `type` of a GitHub account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ActorKind {
    User,
    Bot,
    Organization,
    #[serde(other)]
    Other,
}

/// A repository named in an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub id: u64,
    /// `owner/name`.
    pub full_name: String,
    pub default_branch: Option<String>,
    /// Whether GitHub says the repository is private (`None` when the payload does not say).
    pub private: Option<bool>,
}

/// A repository in an installation's list (its id, name and whether it is private are sent).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RepoName {
    pub id: u64,
    /// `owner/name`.
    pub full_name: String,
    /// Whether GitHub says the repository is private (`None` when the payload does not say).
    #[serde(default)]
    pub private: Option<bool>,
}

/// An issue as the App needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    /// Empty when the issue has no description.
    pub body: String,
    pub open: bool,
    pub labels: Vec<String>,
    pub author: Actor,
    pub html_url: String,
    /// GitHub sends pull request comments as issue comments; this tells them apart.
    pub is_pull_request: bool,
    /// GitHub's `issue_dependencies_summary`, when the payload has one.
    pub dependencies: Option<DependencySummary>,
}

/// How many issues block an issue: `open` of them still open, `total` in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct DependencySummary {
    #[serde(rename = "blocked_by", default)]
    pub open: u64,
    #[serde(rename = "total_blocked_by", default)]
    pub total: u64,
}

/// An issue named by a dependency: its repository, number and whether it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRef {
    pub repo: String,
    pub number: u64,
    pub open: bool,
}

/// `issue_dependencies`: `blocked` is (`added`) or is no longer (`!added`) blocked by
/// `blocking`. GitHub sends `blocked_by_*` to the blocked issue's repository and `blocking_*` to
/// the blocking one's; both read the same here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyEvent {
    pub added: bool,
    pub installation_id: Option<u64>,
    /// The repository the delivery is about.
    pub repo: Repo,
    pub blocked: IssueRef,
    pub blocking: IssueRef,
    pub sender: Actor,
}

/// What happened to an issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueAction {
    Opened,
    /// Title or body changed; the previous values are given for what changed.
    Edited {
        previous_title: Option<String>,
        previous_body: Option<String>,
    },
    Labeled {
        label: Option<String>,
    },
    Unlabeled {
        label: Option<String>,
    },
    Closed,
    Reopened,
    /// Moved to another repository; the new issue there, when GitHub says.
    Transferred {
        new_repo: Option<String>,
        /// GitHub's id of the repository it moved to.
        new_repo_id: Option<u64>,
        new_number: Option<u64>,
    },
    Deleted,
}

/// An `issues` delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueEvent {
    pub action: IssueAction,
    pub installation_id: Option<u64>,
    pub repo: Repo,
    pub issue: Issue,
    pub sender: Actor,
}

/// A comment on an issue or pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    pub body: String,
    pub author: Actor,
    pub html_url: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// How GitHub says the author relates to the repository (`OWNER`, `MEMBER`,
    /// `COLLABORATOR`, `CONTRIBUTOR`, `NONE`, …), as it spelled it; `None` when it did not say.
    pub author_association: Option<String>,
}

impl Comment {
    /// Whether GitHub marks the author as the repository's collaborator, member or owner (a
    /// first-timers issue is not claimed by such a comment: rule 14).
    pub fn by_insider(&self) -> bool {
        self.author_association
            .as_deref()
            .is_some_and(|a| ["COLLABORATOR", "MEMBER", "OWNER"].contains(&a))
    }
}

/// What happened to a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentAction {
    Created,
    /// The body before the edit, when GitHub sends it (it does when the body changed).
    Edited {
        previous_body: Option<String>,
    },
}

/// An `issue_comment` delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentEvent {
    pub action: CommentAction,
    pub installation_id: Option<u64>,
    pub repo: Repo,
    pub issue: Issue,
    pub comment: Comment,
    pub sender: Actor,
}

/// A pull request as the App needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    /// Empty when the pull request has no description.
    pub body: String,
    pub open: bool,
    pub draft: bool,
    pub merged: bool,
    pub merged_at: Option<DateTime<Utc>>,
    pub html_url: String,
    pub author: Actor,
    /// The branch it targets.
    pub base_ref: String,
    /// The commit at its head (whose checks tell whether it is ready for review).
    pub head_sha: Option<String>,
}

/// What happened to a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullRequestAction {
    Opened,
    Reopened,
    /// The body (or title) changed; the previous body when it changed.
    Edited {
        previous_body: Option<String>,
    },
    /// Closed, merged or not (see [`PullRequest::merged`]).
    Closed,
    ReadyForReview,
    ConvertedToDraft,
    /// New commits were pushed: the head moved, and its checks are the ones that count.
    Synchronize,
}

/// A `pull_request` delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestEvent {
    pub action: PullRequestAction,
    pub installation_id: Option<u64>,
    pub repo: Repo,
    pub pull_request: PullRequest,
    pub sender: Actor,
}

/// Where a commit's checks stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckState {
    Pending,
    Success,
    Failure,
}

impl CheckState {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckState::Pending => "pending",
            CheckState::Success => "success",
            CheckState::Failure => "failure",
        }
    }

    pub fn parse(s: &str) -> Option<CheckState> {
        match s {
            "pending" => Some(CheckState::Pending),
            "success" => Some(CheckState::Success),
            "failure" => Some(CheckState::Failure),
            _ => None,
        }
    }

    /// A check suite's or run's `status` and `conclusion`: not completed is pending; success,
    /// neutral and skipped pass; every other conclusion (failure, cancelled, timed out, action
    /// required, stale) fails.
    fn of_check(status: &str, conclusion: Option<&str>) -> CheckState {
        if status != "completed" {
            return CheckState::Pending;
        }
        match conclusion {
            Some("success" | "neutral" | "skipped") => CheckState::Success,
            None => CheckState::Pending,
            Some(_) => CheckState::Failure,
        }
    }

    /// A commit status's `state` (`error` fails).
    fn of_status(state: &str) -> CheckState {
        match state {
            "success" => CheckState::Success,
            "pending" => CheckState::Pending,
            _ => CheckState::Failure,
        }
    }
}

/// A `check_suite`, `check_run` or `status` delivery: one check of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksEvent {
    pub installation_id: Option<u64>,
    pub repo: Repo,
    /// The commit checked.
    pub sha: String,
    /// Which check: `suite:ID`, `run:ID` or `status:CONTEXT`.
    pub check: String,
    pub state: CheckState,
    pub sender: Option<Actor>,
    /// Pull requests of the repository whose head the check suite or run is about (GitHub
    /// names them; empty for commit statuses and for pull requests from forks).
    pub pull_requests: Vec<u64>,
}

/// What happened to the App's installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallationAction {
    Created,
    Deleted,
    Suspended,
    Unsuspended,
}

/// An `installation` delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationEvent {
    pub action: InstallationAction,
    pub installation_id: u64,
    /// The user or organisation the App is installed on.
    pub account: String,
    /// The repositories the installation covers (sent with `created`).
    pub repositories: Vec<RepoName>,
    pub sender: Actor,
}

/// An `installation_repositories` delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationRepositoriesEvent {
    pub installation_id: u64,
    pub added: Vec<RepoName>,
    pub removed: Vec<RepoName>,
    pub sender: Actor,
}

/// What happened to a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepositoryAction {
    /// Its name changed; GitHub keeps its id.
    Renamed,
    /// It moved to another account (its owner changed); GitHub keeps its id.
    Transferred,
    Deleted,
    /// Read-only from now on.
    Archived,
    Unarchived,
    Privatized,
    Publicized,
}

/// A `repository` delivery: `repo` is the repository as it is now (its new name after a rename or
/// transfer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryEvent {
    pub action: RepositoryAction,
    pub installation_id: Option<u64>,
    pub repo: Repo,
    pub sender: Actor,
}

/// A delivery that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The body is not JSON.
    #[error("the webhook body is not JSON")]
    InvalidJson(#[source] serde_json::Error),
    /// A used event lacks a field the App needs.
    #[error("the `{event}` event (action `{action}`) lacks what the App needs")]
    Malformed {
        event: String,
        action: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The actions the App uses, per event (with an `action`); the others are ignored.
pub const USED_ACTIONS: [(&str, &[&str]); 9] = [
    (
        "issue_dependencies",
        &[
            "blocked_by_added",
            "blocked_by_removed",
            "blocking_added",
            "blocking_removed",
        ],
    ),
    (
        "issues",
        &[
            "opened",
            "edited",
            "labeled",
            "unlabeled",
            "closed",
            "reopened",
            "transferred",
            "deleted",
        ],
    ),
    ("issue_comment", &["created", "edited"]),
    (
        "pull_request",
        &[
            "opened",
            "reopened",
            "edited",
            "closed",
            "ready_for_review",
            "converted_to_draft",
            "synchronize",
        ],
    ),
    (
        "installation",
        &["created", "deleted", "suspend", "unsuspend"],
    ),
    ("installation_repositories", &["added", "removed"]),
    ("check_suite", &["completed", "requested", "rerequested"]),
    ("check_run", &["created", "completed", "rerequested"]),
    (
        "repository",
        &[
            "renamed",
            "transferred",
            "deleted",
            "archived",
            "unarchived",
            "privatized",
            "publicized",
        ],
    ),
];

/// Pull requests of one check suite or run that the App follows.
const MAX_CHECK_PULL_REQUESTS: usize = 20;

/// The longest commit status context kept (GitHub allows 255).
const MAX_CONTEXT_CHARS: usize = 255;

/// Reads a delivery: `event` is the `X-GitHub-Event` header, `body` the raw request body.
pub fn parse_event(event: &str, body: &[u8]) -> Result<Event, EventError> {
    let mut payload: Value = serde_json::from_slice(body).map_err(EventError::InvalidJson)?;
    replace_nul(&mut payload);
    let action = payload
        .get("action")
        .and_then(Value::as_str)
        .map(str::to_string);
    let ignored = |reason: String| Event::Ignored {
        event: event.to_string(),
        action: action.clone(),
        reason,
    };
    let Some(act) = action.as_deref() else {
        return match event {
            "ping" => {
                let ping: wire::Ping = read(event, "", payload)?;
                Ok(Event::Ping {
                    hook_id: ping.hook_id,
                    zen: ping.zen.unwrap_or_default(),
                })
            }
            "status" => {
                let p: wire::StatusPayload = read(event, "", payload)?;
                let context: String = p.context.chars().take(MAX_CONTEXT_CHARS).collect();
                Ok(Event::Checks(ChecksEvent {
                    installation_id: p.installation.map(|i| i.id),
                    repo: p.repository.into(),
                    sha: p.sha,
                    check: format!("status:{context}"),
                    state: CheckState::of_status(&p.state),
                    sender: p.sender.map(Into::into),
                    pull_requests: Vec::new(),
                }))
            }
            "push" => {
                let p: wire::PushPayload = read(event, "", payload)?;
                let default = p.repository.default_branch.as_deref().unwrap_or("main");
                if p.git_ref != format!("refs/heads/{default}") {
                    return Ok(ignored("a push to another branch than the default".into()));
                }
                let paths = || {
                    p.commits
                        .iter()
                        .chain(p.head_commit.as_ref())
                        .flat_map(|c| c.added.iter().chain(&c.removed).chain(&c.modified))
                        .map(String::as_str)
                };
                let lists = crate::domain::vouch::touches_list(paths());
                let settings = paths().any(|path| path == crate::repo_config::CONFIG_PATH);
                if !lists && !settings {
                    return Ok(ignored(
                        "a push that changes no vouch list and not the settings file".into(),
                    ));
                }
                Ok(Event::VouchListPushed(PushEvent {
                    installation_id: p.installation.map(|i| i.id),
                    repo: p.repository.into(),
                    sender: p.sender.map(Into::into),
                    lists,
                }))
            }
            _ => Ok(ignored(format!("`{event}` events are not used"))),
        };
    };
    let unused = || ignored(format!("action `{act}` of `{event}` is not used"));
    // Unused actions are ignored before their payload is read (it may lack what a used one has).
    match USED_ACTIONS.iter().find(|(name, _)| *name == event) {
        None => return Ok(ignored(format!("`{event}` events are not used"))),
        Some((_, actions)) if !actions.contains(&act) => return Ok(unused()),
        Some(_) => {}
    }

    let parsed = match event {
        "issue_dependencies" => {
            let p: wire::DependencyPayload = read(event, act, payload)?;
            let here = p.repository.full_name.clone();
            let (blocked_repo, blocking_repo) = if act.starts_with("blocked_by") {
                (Some(here), p.blocking_issue_repo.map(|r| r.full_name))
            } else {
                (p.blocked_issue_repo.map(|r| r.full_name), Some(here))
            };
            let (Some(blocked_repo), Some(blocking_repo)) = (blocked_repo, blocking_repo) else {
                return Err(EventError::Malformed {
                    event: event.to_string(),
                    action: act.to_string(),
                    source: <serde_json::Error as serde::de::Error>::missing_field(
                        "blocking_issue_repo",
                    ),
                });
            };
            Event::IssueDependency(DependencyEvent {
                added: act.ends_with("_added"),
                installation_id: p.installation.map(|i| i.id),
                repo: p.repository.into(),
                blocked: IssueRef {
                    repo: blocked_repo,
                    number: p.blocked_issue.number,
                    open: p.blocked_issue.state == "open",
                },
                blocking: IssueRef {
                    repo: blocking_repo,
                    number: p.blocking_issue.number,
                    open: p.blocking_issue.state == "open",
                },
                sender: p.sender.into(),
            })
        }
        "issues" => {
            let p: wire::IssuesPayload = read(event, act, payload)?;
            let action = match act {
                "opened" => IssueAction::Opened,
                "edited" => IssueAction::Edited {
                    previous_title: p.changes.title.map(|c| c.from),
                    previous_body: p.changes.body.map(|c| c.from),
                },
                "labeled" => IssueAction::Labeled {
                    label: p.label.map(|l| l.name),
                },
                "unlabeled" => IssueAction::Unlabeled {
                    label: p.label.map(|l| l.name),
                },
                "closed" => IssueAction::Closed,
                "reopened" => IssueAction::Reopened,
                "transferred" => IssueAction::Transferred {
                    new_repo_id: p.changes.new_repository.as_ref().and_then(|r| r.id),
                    new_repo: p.changes.new_repository.map(|r| r.full_name),
                    new_number: p.changes.new_issue.map(|i| i.number),
                },
                "deleted" => IssueAction::Deleted,
                _ => return Ok(unused()),
            };
            Event::Issue(IssueEvent {
                action,
                installation_id: p.installation.map(|i| i.id),
                repo: p.repository.into(),
                issue: p.issue.into(),
                sender: p.sender.into(),
            })
        }
        "issue_comment" => {
            let p: wire::CommentPayload = read(event, act, payload)?;
            let action = if act == "created" {
                CommentAction::Created
            } else {
                CommentAction::Edited {
                    previous_body: p.changes.body.map(|c| c.from),
                }
            };
            Event::IssueComment(CommentEvent {
                action,
                installation_id: p.installation.map(|i| i.id),
                repo: p.repository.into(),
                issue: p.issue.into(),
                comment: p.comment.into(),
                sender: p.sender.into(),
            })
        }
        "pull_request" => {
            let p: wire::PullRequestPayload = read(event, act, payload)?;
            let action = match act {
                "opened" => PullRequestAction::Opened,
                "reopened" => PullRequestAction::Reopened,
                "edited" => PullRequestAction::Edited {
                    previous_body: p.changes.body.map(|c| c.from),
                },
                "closed" => PullRequestAction::Closed,
                "ready_for_review" => PullRequestAction::ReadyForReview,
                "converted_to_draft" => PullRequestAction::ConvertedToDraft,
                "synchronize" => PullRequestAction::Synchronize,
                _ => return Ok(unused()),
            };
            Event::PullRequest(PullRequestEvent {
                action,
                installation_id: p.installation.map(|i| i.id),
                repo: p.repository.into(),
                pull_request: p.pull_request.into(),
                sender: p.sender.into(),
            })
        }
        "check_suite" | "check_run" => {
            let p: wire::CheckPayload = read(event, act, payload)?;
            let (kind, check) = match (p.check_suite, p.check_run) {
                (Some(c), _) if event == "check_suite" => ("suite", c),
                (_, Some(c)) if event == "check_run" => ("run", c),
                _ => return Ok(unused()),
            };
            Event::Checks(ChecksEvent {
                installation_id: p.installation.map(|i| i.id),
                repo: p.repository.into(),
                sha: check.head_sha,
                check: format!("{kind}:{}", check.id),
                state: CheckState::of_check(&check.status, check.conclusion.as_deref()),
                sender: p.sender.map(Into::into),
                pull_requests: check
                    .pull_requests
                    .iter()
                    .map(|pr| pr.number)
                    .take(MAX_CHECK_PULL_REQUESTS)
                    .collect(),
            })
        }
        "installation" => {
            let action = match act {
                "created" => InstallationAction::Created,
                "deleted" => InstallationAction::Deleted,
                "suspend" => InstallationAction::Suspended,
                "unsuspend" => InstallationAction::Unsuspended,
                _ => return Ok(unused()),
            };
            let p: wire::InstallationPayload = read(event, act, payload)?;
            Event::Installation(InstallationEvent {
                action,
                installation_id: p.installation.id,
                account: p.installation.account.login,
                repositories: p.repositories,
                sender: p.sender.into(),
            })
        }
        "installation_repositories" => {
            let p: wire::InstallationRepositoriesPayload = read(event, act, payload)?;
            Event::InstallationRepositories(InstallationRepositoriesEvent {
                installation_id: p.installation.id,
                added: p.repositories_added,
                removed: p.repositories_removed,
                sender: p.sender.into(),
            })
        }
        "repository" => {
            let action = match act {
                "renamed" => RepositoryAction::Renamed,
                "transferred" => RepositoryAction::Transferred,
                "deleted" => RepositoryAction::Deleted,
                "archived" => RepositoryAction::Archived,
                "unarchived" => RepositoryAction::Unarchived,
                "privatized" => RepositoryAction::Privatized,
                "publicized" => RepositoryAction::Publicized,
                _ => return Ok(unused()),
            };
            let p: wire::RepositoryPayload = read(event, act, payload)?;
            Event::Repository(RepositoryEvent {
                action,
                installation_id: p.installation.map(|i| i.id),
                repo: p.repository.into(),
                sender: p.sender.into(),
            })
        }
        _ => return Ok(ignored(format!("`{event}` events are not used"))),
    };
    Ok(parsed)
}

/// A push to a repository's default branch that changes its vouch list (`VOUCHED.td` or
/// `.github/VOUCHED.td`) or its settings file (`.github/owp.yml`): the settings and the lists are
/// read again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    pub installation_id: Option<u64>,
    pub repo: Repo,
    pub sender: Option<Actor>,
    /// Whether it changes a vouch list (then every list is read again, whatever was known).
    pub lists: bool,
}

/// Text from GitHub may hold NUL characters (`\u0000` in JSON), which PostgreSQL cannot store in
/// text columns (SQLite can). Every string GitHub sends — webhook payloads and REST answers alike —
/// passes through here before the App reads it, so both backends store the same thing: each NUL
/// becomes U+FFFD, the replacement character. Object keys are treated the same way.
pub fn replace_nul(value: &mut Value) {
    match value {
        Value::String(s) if s.contains('\0') => *s = without_nul(s),
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, v)| (without_nul(&k), v))
                    .collect();
            }
            map.values_mut().for_each(replace_nul);
        }
        _ => {}
    }
}

/// `text` with every NUL character replaced by U+FFFD (see [`replace_nul`]).
pub fn without_nul(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

fn read<T: DeserializeOwned>(event: &str, action: &str, payload: Value) -> Result<T, EventError> {
    serde_json::from_value(payload).map_err(|source| EventError::Malformed {
        event: event.to_string(),
        action: action.to_string(),
        source,
    })
}

/// GitHub's payload shapes, reduced to the fields the App reads.
pub(crate) mod wire;

impl From<wire::User> for Actor {
    fn from(u: wire::User) -> Self {
        Actor {
            login: u.login,
            id: u.id,
            kind: u.kind,
        }
    }
}

impl From<wire::Repository> for Repo {
    fn from(r: wire::Repository) -> Self {
        Repo {
            id: r.id,
            full_name: r.full_name,
            default_branch: r.default_branch,
            private: r.private,
        }
    }
}

impl<U: Into<Actor>> From<wire::Issue<U>> for Issue {
    fn from(i: wire::Issue<U>) -> Self {
        Issue {
            number: i.number,
            title: i.title,
            body: i.body.unwrap_or_default(),
            open: i.state == "open",
            labels: i.labels.into_iter().map(|l| l.name).collect(),
            author: Actor::or_ghost(i.user),
            html_url: i.html_url,
            is_pull_request: i.pull_request.is_some_and(|v| !v.is_null()),
            dependencies: i.issue_dependencies_summary,
        }
    }
}

impl From<wire::Comment> for Comment {
    fn from(c: wire::Comment) -> Self {
        Comment {
            id: c.id,
            body: c.body.unwrap_or_default(),
            author: Actor::or_ghost(c.user),
            html_url: c.html_url,
            created_at: c.created_at,
            updated_at: c.updated_at,
            author_association: c.author_association,
        }
    }
}

impl From<wire::PullRequest> for PullRequest {
    fn from(p: wire::PullRequest) -> Self {
        PullRequest {
            number: p.number,
            title: p.title,
            body: p.body.unwrap_or_default(),
            open: p.state == "open",
            draft: p.draft,
            merged: p.merged,
            merged_at: p.merged_at,
            html_url: p.html_url,
            author: Actor::or_ghost(p.user),
            base_ref: p.base.name,
            head_sha: p.head.and_then(|h| h.sha),
        }
    }
}

#[cfg(test)]
mod tests;
