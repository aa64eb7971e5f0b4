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

/// GitHub's payload shapes, reduced to the fields the App reads (the REST answers about issues
/// share [`wire::Issue`]).
pub(crate) mod wire {
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
}

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
mod tests {
    use super::*;
    use serde_json::json;

    fn user(login: &str, kind: &str) -> Value {
        json!({"login": login, "id": 1, "type": kind})
    }

    fn issue_payload(action: &str) -> Value {
        json!({
            "action": action,
            "issue": {
                "number": 7, "title": "Fix it", "body": null, "state": "open",
                "labels": [{"name": "pool:ready"}, {"name": "estimate:2"}],
                "user": user("alice", "User"),
                "html_url": "https://github.com/o/r/issues/7"
            },
            "repository": {"id": 5, "full_name": "o/r", "default_branch": "main"},
            "sender": user("alice", "User"),
            "installation": {"id": 99}
        })
    }

    fn parse(event: &str, payload: &Value) -> Event {
        parse_event(event, payload.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn minimal_issue_event() {
        let Event::Issue(e) = parse("issues", &issue_payload("opened")) else {
            panic!()
        };
        assert_eq!(e.action, IssueAction::Opened);
        assert_eq!(e.installation_id, Some(99));
        assert_eq!(e.repo.full_name, "o/r");
        assert_eq!(e.issue.body, "");
        assert_eq!(e.issue.labels, ["pool:ready", "estimate:2"]);
        assert!(e.issue.open && !e.issue.is_pull_request);
    }

    #[test]
    fn nul_characters_become_replacement_characters() {
        let mut payload = issue_payload("opened");
        payload["issue"]["title"] = json!("Fix\u{0}it");
        payload["issue"]["body"] = json!("\u{0}");
        payload["issue"]["labels"][0]["name"] = json!("area:\u{0}x");
        payload["issue"]["extra"] = json!({"k\u{0}": "v"});
        let body = payload.to_string();
        assert!(body.contains("\\u0000"), "{body}");
        let Event::Issue(e) = parse_event("issues", body.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(e.issue.title, "Fix\u{FFFD}it");
        assert_eq!(e.issue.body, "\u{FFFD}");
        assert_eq!(e.issue.labels[0], "area:\u{FFFD}x");
        let mut value = json!({"a\u{0}": ["b\u{0}", {"c": "\u{0}\u{0}"}], "n": 1});
        replace_nul(&mut value);
        assert_eq!(
            value,
            json!({"a\u{FFFD}": ["b\u{FFFD}", {"c": "\u{FFFD}\u{FFFD}"}], "n": 1})
        );
    }

    #[test]
    fn unknown_action_is_ignored_not_an_error() {
        let event = parse("issues", &issue_payload("typed"));
        assert_eq!(
            event,
            Event::Ignored {
                event: "issues".into(),
                action: Some("typed".into()),
                reason: "action `typed` of `issues` is not used".into(),
            }
        );
    }

    #[test]
    fn unknown_event_is_ignored() {
        let event = parse_event("star", br#"{"action":"created"}"#).unwrap();
        assert!(
            matches!(event, Event::Ignored { ref reason, .. } if reason == "`star` events are not used")
        );
        let event = parse_event("push", br#"{"ref":"refs/heads/main"}"#).unwrap();
        assert!(matches!(event, Event::Ignored { action: None, .. }));
    }

    #[test]
    fn unused_action_is_ignored_even_when_its_payload_is_odd() {
        // Actions we skip are not read further, so their shape cannot fail the delivery.
        let event = parse_event("installation", br#"{"action":"new_permissions_accepted"}"#);
        assert!(matches!(event, Ok(Event::Ignored { .. })));
        let event = parse_event("issue_comment", br#"{"action":"deleted"}"#);
        assert!(matches!(event, Ok(Event::Ignored { .. })));
        let event = parse_event("issues", br#"{"action":"typed"}"#);
        assert!(matches!(event, Ok(Event::Ignored { .. })));
        let event = parse_event("pull_request", br#"{"action":"labeled"}"#);
        assert!(matches!(event, Ok(Event::Ignored { .. })));
    }

    #[test]
    fn not_json_is_an_error() {
        assert!(matches!(
            parse_event("issues", b"not json"),
            Err(EventError::InvalidJson(_))
        ));
    }

    #[test]
    fn used_action_missing_fields_is_malformed() {
        let err = parse_event("issues", br#"{"action":"opened"}"#).unwrap_err();
        assert!(
            matches!(&err, EventError::Malformed { event, action, .. } if event == "issues" && action == "opened"),
            "{err:?}"
        );
    }

    #[test]
    fn bot_senders() {
        let mut p = issue_payload("opened");
        p["sender"] = user("owp-pool[bot]", "Bot");
        let Event::Issue(e) = parse("issues", &p) else {
            panic!()
        };
        assert!(e.sender.is_bot());
        assert_eq!(e.sender.kind, ActorKind::Bot);
        let odd = Actor {
            login: "someone[bot]".into(),
            id: 1,
            kind: ActorKind::Other,
        };
        assert!(odd.is_bot());
    }

    #[test]
    fn issue_comment_on_a_pull_request_is_marked() {
        let mut p = issue_payload("created");
        p["issue"]["pull_request"] = json!({"url": "https://api.github.com/repos/o/r/pulls/7"});
        p["comment"] = json!({
            "id": 3, "body": "/owp claim", "user": user("bob", "User"),
            "html_url": "https://github.com/o/r/pull/7#issuecomment-3",
            "created_at": "2026-11-22T10:00:00Z", "updated_at": "2026-11-22T10:00:00Z"
        });
        let Event::IssueComment(e) = parse("issue_comment", &p) else {
            panic!()
        };
        assert!(e.issue.is_pull_request);
        assert_eq!(e.comment.body, "/owp claim");
        assert_eq!(e.action, CommentAction::Created);
        assert_eq!(e.sender.login, "alice");
    }

    #[test]
    fn accessors() {
        let event = parse("issues", &issue_payload("closed"));
        assert_eq!(event.installation_id(), Some(99));
        assert_eq!(event.repo(), Some("o/r"));
        assert_eq!(event.sender().map(|a| a.login.as_str()), Some("alice"));
    }
}

#[cfg(test)]
mod check_tests {
    use super::*;

    fn repo() -> serde_json::Value {
        serde_json::json!({"id": 1, "full_name": "o/r", "private": false})
    }

    fn checks(event: &str, body: serde_json::Value) -> ChecksEvent {
        match parse_event(event, body.to_string().as_bytes()).unwrap() {
            Event::Checks(c) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn check_suites_runs_and_statuses_become_one_state_each() {
        let suite = |status: &str, conclusion: serde_json::Value| {
            checks(
                "check_suite",
                serde_json::json!({"action": "completed", "repository": repo(),
                    "check_suite": {"id": 5, "head_sha": "abc", "status": status,
                                    "conclusion": conclusion}}),
            )
        };
        let done = suite("completed", "success".into());
        assert_eq!((done.sha.as_str(), done.check.as_str()), ("abc", "suite:5"));
        assert_eq!(done.state, CheckState::Success);
        assert_eq!(
            suite("completed", "neutral".into()).state,
            CheckState::Success
        );
        assert_eq!(
            suite("completed", "timed_out".into()).state,
            CheckState::Failure
        );
        assert_eq!(
            suite("completed", "cancelled".into()).state,
            CheckState::Failure
        );
        assert_eq!(
            suite("queued", serde_json::Value::Null).state,
            CheckState::Pending
        );
        let run = checks(
            "check_run",
            serde_json::json!({"action": "created", "repository": repo(),
                "check_run": {"id": 9, "head_sha": "abc", "status": "in_progress", "conclusion": null}}),
        );
        assert_eq!(
            (run.check.as_str(), run.state),
            ("run:9", CheckState::Pending)
        );
        for (state, want) in [
            ("error", CheckState::Failure),
            ("failure", CheckState::Failure),
            ("pending", CheckState::Pending),
            ("success", CheckState::Success),
        ] {
            let s = checks(
                "status",
                serde_json::json!({"sha": "abc", "state": state, "context": "ci", "repository": repo()}),
            );
            assert_eq!((s.check.as_str(), s.state), ("status:ci", want));
        }
        // A check suite without the suite, or an action the App does not use, is ignored.
        let other = parse_event(
            "check_suite",
            br#"{"action":"completed","repository":{"id":1,"full_name":"o/r"}}"#,
        )
        .unwrap();
        assert!(matches!(other, Event::Ignored { .. }));
        let other = parse_event("check_run", br#"{"action":"requested_action"}"#).unwrap();
        assert!(matches!(other, Event::Ignored { .. }));
    }
}
