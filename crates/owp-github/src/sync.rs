//! Bringing the pool in line with GitHub as it is now: a repository joins or leaves, an issue is
//! or is not a task (with its blockers), a pull request acts on the tasks it closes. Both the
//! webhook handlers (`apply`) and reconciliation (`reconcile`) use these, so an event and a look at
//! GitHub after a missed event end in the same state.

use serde_json::json;

use crate::api;
use crate::closing_refs;
use crate::credit;
use crate::domain::disclosure::Disclosure;
use crate::domain::labels;
use crate::domain::limits::{self, Controls};
use crate::domain::paths::{PathSource, PrLock};
use crate::domain::{TaskStatus, Visibility};
use crate::events::{Actor, Issue, PullRequest};
use crate::identity;
use crate::messages::{self, Holder};
use crate::permissions::Ask;
use crate::service::{Github, RepoSettings, target};
use crate::store::deps::ExternalBlocker;
use crate::store::github::pulls::{LinkedPr, PrState};
use crate::store::leases::{CreditTo, LeaseEnd, Move};
use crate::store::repos::{RepoUpsert, Steering};
use crate::store::rows::TaskRow;
use crate::store::tasks::TaskInput;
use crate::store::{NewEvent, StoreError, WriteTx};

/// A new repository's review budget.
pub const DEFAULT_MAX_OPEN_PRS: i64 = crate::repo_config::DEFAULT_MAX_OPEN_PRS as i64;

/// Why a delivery could not be applied now.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Something it needs from GitHub is not available now; try again later.
    #[error("{0}")]
    Retry(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) fn key_of(repo: &str, number: u64) -> String {
    format!("{repo}#{number}")
}

pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Shows the combined checks of commit `sha` on the tasks whose pull request has it as head.
pub(crate) async fn show_checks(
    tx: &mut WriteTx,
    repo: &str,
    sha: &str,
    actor: &str,
) -> Result<(), StoreError> {
    let state = tx.pr_checks().state(repo, sha).await?;
    for task_id in tx.pr_checks().tasks_with_head(repo, sha).await? {
        tx.pr_checks()
            .set_task_checks(&task_id, state, actor)
            .await?;
    }
    Ok(())
}

/// The pull request URL recorded on a task.
pub fn pr_url(task: &TaskRow) -> Option<String> {
    task.artifact
        .as_ref()
        .and_then(|a| a.get("pr_url"))
        .and_then(|u| u.as_str())
        .map(str::to_string)
}

/// The worker a commenter acts as: the worker their GitHub account (`account_id`, as the event
/// names it) proved to own, if any. Found by the account id, never by the login.
pub(crate) async fn linked_worker(
    tx: &mut WriteTx,
    account_id: i64,
) -> Result<Option<String>, StoreError> {
    tx.person_links().linked_worker(account_id).await
}

/// Whether the GitHub account `account_id` holds a task: the holder speaks for that account
/// (the person's implicit worker, or a worker the account linked). A login never tells.
pub(crate) async fn holds(
    tx: &mut WriteTx,
    task: &TaskRow,
    account_id: i64,
) -> Result<bool, StoreError> {
    let Some(holder) = task.worker_id.as_deref() else {
        return Ok(false);
    };
    Ok(tx.person_links().account_of_worker(holder).await? == Some(account_id))
}

/// A repository joins the pool through installation `installation_id`. `private` is what GitHub
/// said about the repository: it sets the board's visibility (unknown: a new repository is
/// private, a known one keeps its visibility).
pub async fn join_repo(
    tx: &mut WriteTx,
    repo: &str,
    github_id: Option<i64>,
    private: Option<bool>,
    installation_id: i64,
    actor: &str,
) -> Result<bool, StoreError> {
    tx.installations()
        .upsert(installation_id, "", false)
        .await?;
    // A known id under another name: the same repository, renamed or transferred.
    identity::follow_rename(tx, repo, github_id, actor).await?;
    let joined = tx
        .installations()
        .attach_repo(repo, github_id, installation_id)
        .await?;
    tx.identity()
        .outbox_follow_installation(repo, installation_id)
        .await?;
    let visibility = private.map(Visibility::from_private);
    if tx.repos().by_name(repo).await?.is_none() {
        let policy = RepoUpsert {
            name: repo.to_string(),
            max_open_prs: DEFAULT_MAX_OPEN_PRS,
            area_locks_enabled: None,
            by: Steering::Github,
            ..Default::default()
        };
        tx.repos().upsert_with(&policy, visibility, actor).await?;
    } else if let Some(v) = visibility {
        tx.repos().set_visibility(repo, v, actor).await?;
    }
    tx.repos()
        .default_clone_url(repo, &crate::domain::contract::github_clone_url(repo))
        .await?;
    if joined {
        tx.event(
            NewEvent::new("github.repo_joined", actor)
                .repo(repo)
                .data(json!({"installation_id": installation_id})),
        );
    }
    Ok(joined)
}

/// A repository leaves: the tasks nobody holds are cancelled; held ones stay with their holders.
pub async fn leave_repo(tx: &mut WriteTx, repo: &str, actor: &str) -> Result<(), StoreError> {
    leave_repo_because(
        tx,
        repo,
        "the GitHub App was removed from the repository",
        actor,
    )
    .await
}

/// A repository leaves the pool for the reason `why` (see [`leave_repo`]).
pub async fn leave_repo_because(
    tx: &mut WriteTx,
    repo: &str,
    why: &str,
    actor: &str,
) -> Result<(), StoreError> {
    tx.installations().detach_repo(repo).await?;
    let untaken = tx.installations().untaken_issue_tasks(repo).await?;
    for task_id in untaken {
        let task = tx.leases().lock_task(&task_id).await?;
        if matches!(task.status, TaskStatus::Ready | TaskStatus::Blocked) {
            let mv = Move {
                reason: Some(why.into()),
                ..Move::to(TaskStatus::Cancelled, LeaseEnd::Admin)
            };
            tx.leases().apply_move(&task, &mv, actor).await?;
        }
    }
    tx.event(
        NewEvent::new("github.repo_left", actor)
            .repo(repo)
            .data(json!({"reason": why})),
    );
    Ok(())
}

/// What an issue's `issue_dependencies_summary` says of its blockers, read before the
/// transaction that applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blockers {
    /// Nothing is known (no summary, or the issue is not a task): leave them as they are.
    Keep,
    /// Blockers exist but none is open: none holds the task.
    Released,
    /// The blockers as GitHub lists them now.
    Listed(Vec<ExternalBlocker>),
}

/// The blockers of `issue`, spending a request only when its summary counts an open blocker of
/// an issue that is (or becomes) a task.
pub async fn read_blockers(
    github: &Github,
    installation: i64,
    client: Option<&octocrab::Octocrab>,
    repo: &str,
    issue: &Issue,
    settings: &RepoSettings,
) -> Result<Blockers, ApplyError> {
    let Some(summary) = issue.dependencies else {
        return Ok(Blockers::Keep);
    };
    if summary.total == 0 {
        return Ok(Blockers::Listed(Vec::new()));
    }
    if summary.open == 0 {
        return Ok(Blockers::Released);
    }
    let ready = labels::map_labels(&issue.labels, &settings.config.labels).ready;
    if !(issue.open && ready) || issue.is_pull_request {
        return Ok(Blockers::Keep);
    }
    let number = to_i64(issue.number);
    let retry = |e: api::CallError| ApplyError::Retry(e.to_string());
    let listed = match client {
        Some(client) => api::issue_blockers(client, repo, number).await,
        None => {
            let client = api::installation(&github.app, installation)
                .await
                .map_err(retry)?;
            api::issue_blockers(&client, repo, number).await
        }
    };
    listed.map(Blockers::Listed).map_err(retry)
}

/// Records what [`read_blockers`] found on `task`.
pub async fn apply_blockers(
    tx: &mut WriteTx,
    task: &TaskRow,
    blockers: &Blockers,
    actor: &str,
) -> Result<(), StoreError> {
    match blockers {
        Blockers::Keep => Ok(()),
        Blockers::Released => tx.external_blockers().release(task, actor).await,
        Blockers::Listed(list) => tx.external_blockers().set_all(task, list, actor).await,
    }
}

/// Brings a task in line with its issue as it is now: an open issue with the ready label is a
/// task with the fields its labels say; otherwise the task leaves the pool. The body's `Paths:`
/// line sets the paths of a new task (the maintainer who put the issue in the pool read it), and
/// of an existing one only when `body_paths` says a maintainer changed it: the issue's author
/// cannot widen what a labelled task locks.
pub async fn sync_issue(
    tx: &mut WriteTx,
    installation: i64,
    repo: &str,
    issue: &Issue,
    settings: &RepoSettings,
    body_paths: bool,
    actor: &str,
) -> Result<Option<TaskRow>, StoreError> {
    let key = key_of(repo, issue.number);
    let mapping = labels::map_labels(&issue.labels, &settings.config.labels);
    if issue.open && mapping.ready {
        let before = tx.tasks().by_key(repo, &key).await?;
        let body_paths = body_paths || before.is_none();
        let fields = mapping.task_fields(&settings.config.tiers);
        let input = TaskInput {
            key: Some(key.clone()),
            // GitHub takes any text: what a terminal would read as an escape is dropped here
            // rather than refused (an import from a file is refused instead).
            title: limits::strip_controls(&issue.title, Controls::None),
            description: limits::strip_controls(&issue.body, Controls::LineBreaks),
            estimate_points: fields.estimate_points,
            priority: fields.priority,
            required_skills: fields
                .required_skills
                .iter()
                .map(|s| limits::strip_controls(s, Controls::None))
                .collect(),
            area: fields
                .area
                .map(|a| limits::strip_controls(&a, Controls::None)),
            tier: fields.tier,
            extensions: Default::default(),
            blocked_by: None,
            requires: fields.requires,
            // The issue body's `Paths:` line (rule 10); one that does not check out sets none.
            paths: body_paths.then(|| {
                crate::domain::paths::from_issue_body(&issue.body)
                    .and_then(Result::ok)
                    .unwrap_or_default()
            }),
        };
        let unchanged = before.as_ref().is_some_and(|t| same_fields(t, &input));
        let task = match (before, unchanged) {
            (Some(task), true) => task,
            _ => tx
                .tasks()
                .import(repo, std::slice::from_ref(&input), actor)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    StoreError::conflict("import_failed", "the task was not imported")
                })?,
        };
        // Rule 14: an issue of the first-timers label is kept for first timers.
        let first_timers = settings
            .config
            .claim
            .first_timers_label
            .as_deref()
            .is_some_and(|label| issue.labels.iter().any(|l| l.eq_ignore_ascii_case(label)));
        tx.issues().set_first_timers(&task.id, first_timers).await?;
        let warnings: Vec<String> = mapping.warnings.iter().map(ToString::to_string).collect();
        let previous = tx.issues().task(&task.id).await?;
        tx.issues()
            .upsert_task(&task.id, repo, to_i64(issue.number), &warnings)
            .await?;
        if previous.as_ref().is_some_and(|g| g.left_pool.is_some()) {
            tx.issues().set_left_pool(&task.id, None).await?;
        }
        let warnings_changed = previous.as_ref().map(|g| &g.label_warnings) != Some(&warnings);
        if task.status == TaskStatus::Cancelled {
            let mv = Move::to(TaskStatus::Ready, LeaseEnd::Admin);
            let task = tx.leases().apply_move(&task, &mv, actor).await?;
            return Ok(Some(task));
        }
        if previous.is_none() || warnings_changed {
            tx.show_again(&task.id);
        }
        return Ok(Some(task));
    }
    let Some(task) = tx.tasks().by_key(repo, &key).await? else {
        return Ok(None);
    };
    if tx.issues().task(&task.id).await?.is_none() {
        // Not a task made from this issue (imported by an admin under the same key).
        return Ok(Some(task));
    }
    let why = if issue.open {
        format!("its `{}` label was removed", settings.config.labels.ready)
    } else {
        "it was closed".to_string()
    };
    leave_pool(tx, installation, repo, issue.number, &task, &why, actor).await
}

/// Whether an import would change nothing.
pub(crate) fn same_fields(task: &TaskRow, input: &TaskInput) -> bool {
    let skills = crate::domain::model::normalize_skills(&input.required_skills);
    task.title == input.title
        && task.description == input.description
        && task.estimate_points == input.estimate_points
        && task.priority == input.priority
        && task.required_skills == skills
        && task.area == input.area
        && task.tier == input.tier
        && task.requires == input.requires
}

/// The issue left the pool: a task nobody holds is cancelled; a holder is told, and the task
/// leaves when they let go.
async fn leave_pool(
    tx: &mut WriteTx,
    installation: i64,
    repo: &str,
    number: u64,
    task: &TaskRow,
    why: &str,
    actor: &str,
) -> Result<Option<TaskRow>, StoreError> {
    match task.status {
        TaskStatus::Ready | TaskStatus::Blocked => {
            let mv = Move {
                reason: Some(format!("the issue left the pool: {why}")),
                ..Move::to(TaskStatus::Cancelled, LeaseEnd::Admin)
            };
            Ok(Some(tx.leases().apply_move(task, &mv, actor).await?))
        }
        TaskStatus::Leased | TaskStatus::InProgress | TaskStatus::PrOpened => {
            let gh_task = tx.issues().task(&task.id).await?;
            if gh_task.as_ref().is_some_and(|g| g.left_pool.is_some()) {
                return Ok(Some(task.clone()));
            }
            tx.issues().set_left_pool(&task.id, Some(why)).await?;
            tx.event(
                NewEvent::new("github.left_pool", actor)
                    .repo(repo)
                    .task(&task.id)
                    .worker(task.worker_id.as_deref())
                    .data(json!({"reason": why, "status": task.status.as_str()})),
            );
            // An open pull request governs the task; only someone still working is told.
            if task.status.is_active() {
                let login = holder_login(tx, task).await?;
                let body = messages::left_pool_while_held(login.as_deref(), why);
                tx.outbox()
                    .enqueue_comment(
                        &target(installation, repo, to_i64(number)),
                        Some(&task.id),
                        &body,
                    )
                    .await?;
            }
            Ok(Some(task.clone()))
        }
        TaskStatus::Merged | TaskStatus::Cancelled => Ok(Some(task.clone())),
    }
}

/// The GitHub login of whoever holds a task, when known.
async fn holder_login(tx: &mut WriteTx, task: &TaskRow) -> Result<Option<String>, StoreError> {
    if let Some(claim) = tx.comment_claims().get(&task.id).await? {
        return Ok(Some(claim.login));
    }
    match &task.worker_id {
        Some(worker) => Ok(match holder_of(tx, worker).await? {
            Holder::Person { login } => Some(login),
            Holder::Worker { login, .. } => login,
        }),
        None => Ok(None),
    }
}

/// How a worker is shown on GitHub.
pub async fn holder_of(tx: &mut WriteTx, worker_id: &str) -> Result<Holder, StoreError> {
    let worker = tx.workers().get(worker_id).await?;
    if worker.claims_by_comment() {
        return Ok(Holder::Person {
            login: worker.github_login.clone().unwrap_or(worker.name.clone()),
        });
    }
    let login = tx.person_links().login_of_worker(worker_id).await?;
    Ok(Holder::Worker {
        name: worker.name,
        login,
    })
}

/// The host of a web URL (`github.com`, or a GitHub Enterprise Server's).
pub(crate) fn web_host(url: &str) -> &str {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .filter(|h| !h.is_empty())
        .unwrap_or(closing_refs::GITHUB_WEB_HOST)
}

/// Brings the tasks a pull request closes in line with it as it is now. With `unlink_missing`,
/// tasks it no longer names are let go (its description was edited).
///
/// Only links GitHub itself makes count: issues of the pull request's own repository (`#N`,
/// `owner/name#N` or the issue's URL of that repository); a reference to another repository
/// never acts. While a task is claimed, a pull request acts on it only when its author is the
/// holder or (not as a draft) a maintainer (`author_is_maintainer`); a draft acts only as the
/// holder's. Any other linked pull request is recorded (not acting) and shown to maintainers,
/// but ends no claim and takes no review slot. A merge (a maintainer's decision) always acts.
///
/// `pr_paths` is what the files it changes lock, when they were just read (it was opened or
/// pushed): a task it acts on while open holds those patterns (rule 10), or, when they are too
/// broad to lock, only its declared paths, and the link is marked `paths_too_broad` for
/// maintainers; a task no open pull request acts on any more holds none of a pull request's.
pub async fn sync_pull(
    tx: &mut WriteTx,
    repo: &str,
    pr: &PullRequest,
    unlink_missing: bool,
    author_is_maintainer: bool,
    pr_paths: Option<&PrLock>,
    actor: &str,
) -> Result<(), StoreError> {
    let number = to_i64(pr.number);
    // What GitHub says of it answers a worker's report of it (`pr_reports`) without a read.
    let known = crate::pr_reports::known_pull(pr, tx.now);
    tx.known_answers().note_pull(repo, number, &known).await?;
    let refs = same_repo_references(pr, repo);
    let state = if pr.open {
        PrState::Open
    } else if pr.merged {
        PrState::Merged
    } else {
        PrState::Closed
    };
    let mut named: Vec<String> = Vec::new();
    for r in &refs {
        let Some(task) = tx.tasks().by_key(repo, &r.key()).await? else {
            continue;
        };
        if tx.issues().task(&task.id).await?.is_none() {
            continue;
        }
        named.push(task.id.clone());
    }
    // Tasks linked before (the body may have changed since).
    let earlier = tx.pulls().links_of_pr(repo, number).await?;
    for link in &earlier {
        if !named.contains(&link.task_id) && (!unlink_missing || !pr.open) {
            named.push(link.task_id.clone());
        }
    }
    for task_id in &named {
        let task = tx.leases().lock_task(task_id).await?;
        let before = earlier.iter().find(|l| &l.task_id == task_id);
        // A closed pull request gives the task back only if it was the one it waited on.
        let governed = before.is_some_and(|l| l.state == PrState::Open && l.acting)
            || pr_url(&task).as_deref() == Some(pr.html_url.as_str());
        let acting = match state {
            PrState::Merged => true,
            PrState::Closed => governed,
            PrState::Open => may_act(tx, &task, pr, author_is_maintainer).await?,
        };
        let link = LinkedPr {
            repo: repo.to_string(),
            pr_number: number,
            task_id: task_id.clone(),
            pr_url: pr.html_url.clone(),
            author: pr.author.login.clone(),
            author_id: i64::try_from(pr.author.id).ok(),
            state,
            draft: pr.draft,
            acting,
        };
        tx.pulls().upsert_linked(&link).await?;
        let holds_files = acting && state == PrState::Open;
        follow_pr_paths(tx, &task, holds_files, pr_paths, actor).await?;
        if holds_files && let Some(lock) = pr_paths {
            let too_broad = *lock == PrLock::TooBroad;
            if tx.pulls().set_paths_too_broad(&link, too_broad).await? && too_broad {
                tx.event(
                    NewEvent::new("github.paths_too_broad", actor)
                        .repo(repo)
                        .task(task_id)
                        .data(json!({
                            "pr_url": pr.html_url,
                            "reason": "the pull request changes more than a lock may hold; \
                                       the task holds only its declared paths",
                        })),
                );
            }
        }
        if !acting {
            let newly = before.is_none_or(|l| l.acting || l.state != PrState::Open);
            if state == PrState::Open && newly {
                let denounced = tx
                    .vouch()
                    .denounces(repo, to_i64(pr.author.id), &pr.author.login)
                    .await?;
                tx.event(
                    NewEvent::new("github.pr_not_acting", actor)
                        .repo(repo)
                        .task(task_id)
                        .worker(task.worker_id.as_deref())
                        .data(json!({
                            "pr_url": pr.html_url,
                            "author": pr.author.login,
                            "draft": pr.draft,
                            "reason": if denounced {
                                "its author is denounced by the repository's vouch list"
                            } else if pr.draft {
                                "a draft that is not the holder's"
                            } else {
                                "not the holder's and not a maintainer's while the task is claimed"
                            },
                        })),
                );
            }
            continue;
        }
        move_for_pull(tx, &task, pr, state, actor).await?;
        if state == PrState::Open {
            assign_reviewer(tx, &task, pr, actor).await?;
            // What its description says made it, followed on every edit.
            let said = Disclosure::from_pr_body(&pr.body);
            tx.pr_checks()
                .set_task_disclosure(task_id, said.as_ref(), actor)
                .await?;
        }
        if state == PrState::Open
            && let Some(sha) = &pr.head_sha
        {
            tx.pr_checks().set_head(repo, number, sha).await?;
            show_checks(tx, repo, sha, actor).await?;
        }
    }
    if unlink_missing && pr.open {
        for link in earlier
            .iter()
            .filter(|l| !named.contains(&l.task_id) && l.state == PrState::Open)
        {
            let unlinked = LinkedPr {
                state: PrState::Closed,
                ..link.clone()
            };
            tx.pulls().upsert_linked(&unlinked).await?;
            let task = tx.leases().lock_task(&link.task_id).await?;
            follow_pr_paths(tx, &task, false, None, actor).await?;
            if link.acting
                && task.status == TaskStatus::PrOpened
                && tx.pulls().open_links_of_task(&task.id).await?.is_empty()
            {
                let mv = Move {
                    reason: Some(format!("{} no longer closes this issue", pr.html_url)),
                    ..Move::to(TaskStatus::Ready, LeaseEnd::Admin)
                };
                tx.leases().apply_move(&task, &mv, actor).await?;
            }
        }
    }
    Ok(())
}

/// The files of its pull request a task holds (rule 10): those just read (`pr_paths`) while an
/// open pull request acts on it (`holds`), none when they are too broad; none once no open pull
/// request acts on it.
async fn follow_pr_paths(
    tx: &mut WriteTx,
    task: &TaskRow,
    holds: bool,
    pr_paths: Option<&PrLock>,
    actor: &str,
) -> Result<(), StoreError> {
    if holds {
        let paths = match pr_paths {
            Some(PrLock::Paths(paths)) => paths.as_slice(),
            Some(PrLock::TooBroad) => &[],
            None => return Ok(()),
        };
        tx.paths()
            .set_task_paths(task, PathSource::PullRequest, paths, actor)
            .await?;
        return Ok(());
    }
    if tx.pulls().open_links_of_task(&task.id).await?.is_empty() {
        tx.paths()
            .set_task_paths(task, PathSource::PullRequest, &[], actor)
            .await?;
    }
    Ok(())
}

/// The issues of its own repository a pull request closes, as GitHub links them; references to
/// other repositories are dropped.
pub fn same_repo_references(pr: &PullRequest, repo: &str) -> Vec<closing_refs::IssueRef> {
    closing_refs::closing_references_on_host(&pr.body, repo, web_host(&pr.html_url))
        .into_iter()
        .filter(|r| r.repo() == repo)
        .collect()
}

/// Whether an open pull request may act on a task (see [`sync_pull`]).
pub(crate) async fn may_act(
    tx: &mut WriteTx,
    task: &TaskRow,
    pr: &PullRequest,
    author_is_maintainer: bool,
) -> Result<bool, StoreError> {
    let author = pr.author.login.as_str();
    let author_id = to_i64(pr.author.id);
    // Rule 12: a denounced author's pull request is recorded and never acts.
    if tx.vouch().denounces(&task.repo, author_id, author).await? {
        return Ok(false);
    }
    Ok(match task.status {
        TaskStatus::Ready => !pr.draft,
        TaskStatus::Leased | TaskStatus::InProgress | TaskStatus::Blocked => {
            holds(tx, task, author_id).await? || (author_is_maintainer && !pr.draft)
        }
        TaskStatus::PrOpened => {
            author_is_maintainer
                || tx
                    .pulls()
                    .open_links_of_task(&task.id)
                    .await?
                    .iter()
                    .any(|l| same_author(l, &pr.author))
                || holds(tx, task, author_id).await?
        }
        TaskStatus::Merged | TaskStatus::Cancelled => true,
    })
}

/// Whether a linked pull request's author is `author`: the same account id, or the same login
/// for a link recorded before ids were kept.
fn same_author(link: &LinkedPr, author: &Actor) -> bool {
    match link.author_id {
        Some(id) => i64::try_from(author.id) == Ok(id),
        None => link.author.eq_ignore_ascii_case(&author.login),
    }
}

/// Whether the author of a pull request must be asked about (some task it links is claimed by
/// someone else): only then is GitHub asked whether they are a maintainer.
pub async fn needs_maintainer_check(
    store: &crate::store::Store,
    repo: &str,
    pr: &PullRequest,
) -> Result<bool, StoreError> {
    if !pr.open || pr.draft {
        return Ok(false);
    }
    for r in same_repo_references(pr, repo) {
        if let Some(task) = store.tasks().by_key(repo, &r.key()).await?
            && matches!(
                task.status,
                TaskStatus::Leased
                    | TaskStatus::InProgress
                    | TaskStatus::Blocked
                    | TaskStatus::PrOpened
            )
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether a pull request's author is a maintainer, asked of GitHub only when it matters; an
/// unreadable permission counts as no write access (the pull request is only recorded).
pub async fn pr_author_is_maintainer(
    github: &Github,
    installation: i64,
    repo: &str,
    pr: &PullRequest,
) -> Result<bool, StoreError> {
    if !needs_maintainer_check(&github.store, repo, pr).await? {
        return Ok(false);
    }
    match github
        .is_maintainer(installation, repo, &pr.author.login, Ask::Counted)
        .await
    {
        Ok(m) => Ok(m),
        Err(e) => {
            tracing::warn!(error = %e, login = %pr.author.login, "cannot check a pull request author's permission; treating as no write access");
            Ok(false)
        }
    }
}

async fn move_for_pull(
    tx: &mut WriteTx,
    task: &TaskRow,
    pr: &PullRequest,
    state: PrState,
    actor: &str,
) -> Result<(), StoreError> {
    let artifact = json!({"pr_url": pr.html_url});
    match state {
        PrState::Open => {
            if matches!(
                task.status,
                TaskStatus::Ready | TaskStatus::Leased | TaskStatus::InProgress
            ) {
                let mv = Move {
                    artifact: Some(artifact),
                    ..Move::to(TaskStatus::PrOpened, LeaseEnd::PrOpened)
                };
                tx.leases().apply_move(task, &mv, actor).await?;
            }
        }
        PrState::Merged => {
            if matches!(
                task.status,
                TaskStatus::Ready
                    | TaskStatus::Leased
                    | TaskStatus::InProgress
                    | TaskStatus::PrOpened
            ) {
                let mut artifact = artifact;
                let (to, mut credit) = credit::for_merge(tx, task, pr).await?;
                // The holder's own pull request keeps what its worker disclosed about it, else
                // what its description says.
                let disclosed = Disclosure::of_artifact(task.artifact.as_ref())
                    .or_else(|| Disclosure::from_pr_body(&pr.body));
                if let (CreditTo::Holder, Some(disclosure)) = (&to, disclosed) {
                    artifact["disclosure"] = json!(disclosure);
                    credit["disclosure"] = json!(disclosure);
                }
                artifact["credit"] = credit;
                let mv = Move {
                    artifact: Some(artifact),
                    credit: to,
                    ..Move::to(TaskStatus::Merged, LeaseEnd::PrOpened)
                };
                tx.leases().apply_move(task, &mv, actor).await?;
            }
        }
        PrState::Closed => {
            if task.status == TaskStatus::PrOpened
                && tx.pulls().open_links_of_task(&task.id).await?.is_empty()
            {
                let mv = Move {
                    reason: None,
                    note: Some(format!("{} was closed without merging", pr.html_url)),
                    bump_attempts: true,
                    ..Move::to(TaskStatus::Ready, LeaseEnd::Admin)
                };
                tx.leases().apply_move(task, &mv, actor).await?;
                let_go_if_out_of_pool(tx, &task.id, actor).await?;
            }
        }
    }
    Ok(())
}

/// Rule 13: a pull request that starts acting on a task (`before`, as it was before the pull
/// request moved it) is assigned the repository's reviewer with room who has the fewest open
/// reviews; a task already `pr_opened` keeps its reviewer, and gets one if it has none (its
/// holder reported the pull request before GitHub told of it). Without reviewers, or without
/// room, nobody is assigned (a maintainer may name one: `/owp review @login`).
async fn assign_reviewer(
    tx: &mut WriteTx,
    before: &TaskRow,
    pr: &PullRequest,
    actor: &str,
) -> Result<(), StoreError> {
    let task = tx.leases().lock_task(&before.id).await?;
    if task.status != TaskStatus::PrOpened
        || (before.status == TaskStatus::PrOpened
            && tx.reviewers().open_review_of(&task).await?.is_some())
    {
        return Ok(());
    }
    let author = i64::try_from(pr.author.id).unwrap_or(i64::MAX);
    tx.reviewers().assign(&task, author, actor).await?;
    Ok(())
}

/// A task back in the queue whose issue left the pool meanwhile leaves the pool now.
pub async fn let_go_if_out_of_pool(
    tx: &mut WriteTx,
    task_id: &str,
    actor: &str,
) -> Result<(), StoreError> {
    let Some(why) = tx.issues().task(task_id).await?.and_then(|g| g.left_pool) else {
        return Ok(());
    };
    let task = tx.leases().lock_task(task_id).await?;
    if task.status == TaskStatus::Ready {
        let mv = Move {
            reason: Some(format!("the issue left the pool: {why}")),
            ..Move::to(TaskStatus::Cancelled, LeaseEnd::Admin)
        };
        tx.leases().apply_move(&task, &mv, actor).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_hosts() {
        assert_eq!(web_host("https://github.com/o/r/pull/1"), "github.com");
        assert_eq!(
            web_host("https://ghe.example.com/o/r/pull/1"),
            "ghe.example.com"
        );
        assert_eq!(web_host("nonsense"), "github.com");
    }
}
