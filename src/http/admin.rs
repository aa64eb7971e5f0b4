//! Admin endpoints: repository policies, the Beads import, overrides, archiving and the full state
//! (the task import is in [`super::import`]).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Admin, Payload};
use super::import::import_size;
use super::principal::{Principal, not_maintainer};
use crate::domain::limits;
use crate::domain::model::{SETTINGS_FIELD, VOUCH_ERRORS_FIELD};
use crate::domain::outcomes::{OUTCOME_DAYS, RepoOutcomes};
use crate::domain::{
    Event, Promotion, RepoContract, RepoPolicy, Reputation, Task, TaskStatus, Visibility, Worker,
    WorkerStatus,
};
use crate::store::repos::{RepoUpsert, Steering};
use crate::store::tasks::{TaskFilter, TaskInput};

#[derive(Deserialize, ToSchema)]
pub struct RepoBody {
    /// `owner/name` for GitHub repositories, any non-empty key otherwise.
    pub repo: String,
    /// The review budget: open PRs plus active leases never pass it.
    pub max_open_prs: i64,
    /// One in-flight task per area (default true).
    pub area_locks_enabled: Option<bool>,
    /// `public` lets anyone read the repository's board when the service runs with public
    /// boards; `private` keeps it to admins. New repositories are private unless this says
    /// otherwise; an update without it keeps the current visibility. Visibility follows GitHub:
    /// a maintainer may not make public a repository GitHub says is private (`403
    /// not_allowed`); the operator may, and that choice holds until GitHub's answer changes.
    pub visibility: Option<Visibility>,
    /// How work in the repository is done; `null` removes it, absent keeps it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<RepoContract>, nullable)]
    pub contract: Option<Option<RepoContract>>,
    /// Where workers clone the repository from (any URL or path `git clone` accepts); `null`
    /// removes it, absent keeps it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub clone_url: Option<Option<String>>,
    /// Trust progression: `[{level, merged}]` (at most 10 rules); absent keeps the current
    /// rules, `[]` removes them.
    pub promote: Option<Vec<Promotion>>,
    /// Plan first (rule 11): `plan` makes a worker below `approval_skip_trust` propose a plan
    /// that a maintainer approves before it holds a task; absent keeps the current value.
    pub approval: Option<crate::domain::proposals::Approval>,
    /// 0–3: effective trust that claims directly in a `plan` repository; `null`: nobody (the
    /// default); absent keeps it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable)]
    pub approval_skip_trust: Option<Option<i64>>,
    /// 1–30 (default 7): days an open proposal lives; absent keeps it.
    pub proposal_days: Option<i64>,
}

/// A field that is present (its value may be `null`) reads as `Some`; an absent one as `None`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Create or update a repository policy.
#[utoipa::path(post, path = "/v1/admin/repos", tag = "admin", request_body = RepoBody,
    security(("admin_token" = [])),
    responses((status = 201, body = RepoPolicy, description = "created"),
              (status = 403, body = Problem, description = "`not_maintainer`: a maintainer's change to a repository they do not maintain; `not_allowed`: to a repository that is not GitHub's, making public a repository GitHub says is private, or bringing back a repository the operator archived"),
              (status = 200, body = RepoPolicy, description = "updated"),
              (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn upsert_repo(
    State(state): State<AppState>,
    principal: Principal,
    body: Payload<RepoBody>,
) -> ApiResult<(StatusCode, Json<RepoPolicy>)> {
    principal.may_steer(&state, body.value.repo.trim()).await?;
    limits::range(
        "max_open_prs",
        "invalid_max_open_prs",
        body.value.max_open_prs,
        limits::MAX_OPEN_PRS,
    )?;
    let input = RepoUpsert {
        name: body.value.repo.trim().to_string(),
        max_open_prs: body.value.max_open_prs,
        area_locks_enabled: body.value.area_locks_enabled,
        extensions: body.extensions,
        contract: body.value.contract,
        clone_url: body.value.clone_url,
        by: if principal.is_admin() {
            Steering::Operator
        } else {
            Steering::Maintainer
        },
        approval: body.value.approval,
        approval_skip_trust: body.value.approval_skip_trust,
        proposal_days: body.value.proposal_days,
    };
    let (row, created) = state
        .store
        .reputations()
        .upsert_repo_promoting(
            &input,
            body.value.visibility,
            body.value.promote.as_deref(),
            &principal.actor(),
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut policy = row.to_api();
    policy.promote = state.store.reputations().promotions(row.id).await?;
    Ok((status, Json(policy)))
}

#[derive(Deserialize, IntoParams)]
pub struct StateQuery {
    /// Only this repository's tasks.
    pub repo: Option<String>,
    /// `true`: only the tasks that can be offered now (the frontier: `ready` and `waiting_on`
    /// empty); `false`: only `ready` tasks still waiting on a blocker.
    pub ready: Option<bool>,
    /// Only tasks in this status.
    pub status: Option<String>,
    /// Page size for tasks (default: all).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// How many of the newest events to include (default 200).
    pub events: Option<i64>,
    /// `true`: also archived repositories, workers and the tasks of archived repositories
    /// (left out by default).
    pub archived: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct PoolState {
    pub repos: Vec<RepoPolicy>,
    pub workers: Vec<Worker>,
    pub tasks: Vec<Task>,
    pub events: Vec<Event>,
}

/// Everything: repositories, workers, tasks and recent events. A maintainer sees only the
/// repositories they maintain, their tasks and events, and the workers holding those tasks.
#[utoipa::path(get, path = "/v1/admin/state", tag = "admin", params(StateQuery),
    security(("admin_token" = [])),
    responses((status = 200, body = PoolState), (status = 401, body = Problem),
              (status = 403, body = Problem, description = "`not_maintainer`: `repo` names a repository the maintainer does not maintain")))]
pub async fn state(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<StateQuery>,
) -> ApiResult<Json<PoolState>> {
    let visible = principal.visible_repos(&state).await?;
    if let (Some(visible), Some(repo)) = (&visible, &q.repo)
        && !visible.contains(repo.trim())
    {
        return Err(not_maintainer());
    }
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(TaskStatus::parse(s).ok_or_else(|| {
            ApiError::invalid("unknown_status", format!("unknown task status `{s}`"))
        })?),
    };
    state.store.expiry().due().await?;
    let store = &state.store;
    let now = crate::store::now_ms();
    let ttl = store.timing.heartbeat_ttl_ms;
    let archived = q.archived.unwrap_or(false);
    let mut repos = store.repos().all().await?;
    repos.retain(|r| archived || !r.archived);
    let mut workers = store.workers().all().await?;
    workers.retain(|w| archived || !w.archived);
    let filter = TaskFilter {
        repo: q.repo,
        status,
        worker_id: None,
        ready: q.ready,
        limit: q.limit,
        offset: q.offset,
        archived,
    };
    let mut events = store
        .events()
        .recent(q.events.unwrap_or(200).clamp(0, 10_000))
        .await?;
    let tasks = match &visible {
        None => store.tasks().list(&filter).await?,
        Some(visible) => {
            repos.retain(|r| visible.contains(&r.name));
            let tasks = maintained_tasks(store, filter, &repos).await?;
            let holders: std::collections::HashSet<&str> = tasks
                .iter()
                .filter_map(|t| t.worker_id.as_deref())
                .collect();
            workers.retain(|w| holders.contains(w.id.as_str()));
            events.retain(|e| e.repo.as_ref().is_some_and(|r| visible.contains(r)));
            tasks
        }
    };
    let mut reputations = store.reputations().opted_in().await?;
    let mut promotions = store.reputations().all_promotions().await?;
    let since = now - OUTCOME_DAYS * 86_400_000;
    let mut outcomes = store.outcomes().of_repo(since, false).await?;
    let mut reviewers = store.reviewers().loads(now).await?;
    let mut settings = repo_settings(store, &repos).await?;
    Ok(Json(PoolState {
        repos: repos
            .iter()
            .map(|r| {
                let mut policy = r.to_api();
                policy.promote = promotions.remove(&r.id).unwrap_or_default();
                policy.outcomes =
                    Some(outcomes.remove(&r.name).unwrap_or_else(RepoOutcomes::empty));
                policy.reviewers = reviewers.remove(&r.id).unwrap_or_default();
                if let Some(shown) = settings.remove(&r.name) {
                    shown.show_on(&mut policy);
                }
                policy
            })
            .collect(),
        workers: workers
            .iter()
            .map(|w| {
                let mut worker = w.to_api(now, ttl);
                if worker.reputation_opt_in {
                    worker.reputation = Some(
                        reputations
                            .remove(&w.id)
                            .unwrap_or_else(|| Reputation::new(0, 0, 0, 0)),
                    );
                }
                worker
            })
            .collect(),
        tasks: tasks.iter().map(|t| t.to_api()).collect(),
        events,
    }))
}

/// What the admin state shows of a GitHub repository's settings files.
struct ShownSettings {
    /// Every setting of `.github/owp.yml` in force.
    in_force: serde_json::Map<String, serde_json::Value>,
    /// Why a vouch list is not (wholly) applied, one sentence each.
    vouch_errors: Vec<String>,
}

impl ShownSettings {
    fn show_on(self, policy: &mut RepoPolicy) {
        let mut in_force = self.in_force;
        // A file that leaves the budget to the admin: the budget in force is the admin's.
        if in_force
            .get("max_open_prs")
            .is_some_and(serde_json::Value::is_null)
        {
            in_force.insert("max_open_prs".into(), policy.max_open_prs.into());
        }
        let ext = &mut policy.extensions;
        ext.insert(SETTINGS_FIELD.into(), serde_json::Value::Object(in_force));
        ext.insert(VOUCH_ERRORS_FIELD.into(), self.vouch_errors.into());
    }
}

/// The settings of the repositories `repos` (those a request shows) that the GitHub App serves
/// (two queries), by name. Only theirs are read: a maintainer of 3 of an installation's 1,000
/// repositories, polling from the dashboard, costs the reading of 3 settings files, not of 1,000.
async fn repo_settings(
    store: &crate::store::Store,
    repos: &[crate::store::rows::RepoRow],
) -> ApiResult<std::collections::HashMap<String, ShownSettings>> {
    let names: std::collections::HashSet<&str> = repos.iter().map(|r| r.name.as_str()).collect();
    let mut shown: std::collections::HashMap<String, ShownSettings> = store
        .installations()
        .repos(None)
        .await?
        .iter()
        .filter(|row| names.contains(row.repo.as_str()))
        .map(|row| {
            let settings = crate::github::service::settings_of(Some(row));
            let shown = ShownSettings {
                in_force: settings.config.in_force(),
                vouch_errors: Vec::new(),
            };
            (row.repo.clone(), shown)
        })
        .collect();
    for (repo, error) in store.vouch().list_errors().await? {
        if let Some(settings) = shown.get_mut(&repo) {
            settings.vouch_errors.push(error);
        }
    }
    Ok(shown)
}

/// The tasks of `repos` (a maintainer's) that `filter` selects, paged as one list.
async fn maintained_tasks(
    store: &crate::store::Store,
    filter: TaskFilter,
    repos: &[crate::store::rows::RepoRow],
) -> ApiResult<Vec<crate::store::rows::TaskRow>> {
    let mut tasks = Vec::new();
    for r in repos {
        if filter.repo.as_ref().is_some_and(|only| *only != r.name) {
            continue;
        }
        let one = TaskFilter {
            repo: Some(r.name.clone()),
            status: filter.status,
            worker_id: None,
            ready: filter.ready,
            limit: None,
            offset: None,
            archived: filter.archived,
        };
        tasks.extend(store.tasks().list(&one).await?);
    }
    let offset = usize::try_from(filter.offset.unwrap_or(0).max(0)).unwrap_or(0);
    let limit = filter
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l.max(0)).unwrap_or(0));
    Ok(tasks.into_iter().skip(offset).take(limit).collect())
}

#[derive(Deserialize, ToSchema)]
pub struct ForceStatusBody {
    /// `ready`, `blocked`, `cancelled`, `pr_opened` or `merged`.
    pub status: String,
    pub reason: Option<String>,
}

/// Force a task's status (leases are only granted by claims).
#[utoipa::path(post, path = "/v1/admin/tasks/{task_id}/status", tag = "admin",
    params(("task_id" = String, Path)), request_body = ForceStatusBody,
    security(("admin_token" = [])),
    responses((status = 200, body = Task), (status = 404, body = Problem), (status = 422, body = Problem),
              (status = 403, body = Problem, description = "`not_maintainer`: a task of a repository the maintainer does not maintain, or no such task")))]
pub async fn force_status(
    State(state): State<AppState>,
    principal: Principal,
    Path(task_id): Path<String>,
    body: Payload<ForceStatusBody>,
) -> ApiResult<Json<Task>> {
    if !principal.is_admin() {
        // The same answer whether the task exists or not.
        let task = state
            .store
            .tasks()
            .get(&task_id)
            .await?
            .ok_or_else(not_maintainer)?;
        principal.may_steer(&state, &task.repo).await?;
    }
    let actor = principal.actor();
    let to = TaskStatus::parse(&body.value.status).ok_or_else(|| {
        ApiError::invalid(
            "unknown_status",
            format!("unknown task status `{}`", body.value.status),
        )
    })?;
    let reason = body.value.reason;
    limits::opt_free_text("reason", reason.as_deref(), limits::MAX_REASON_CHARS)?;
    // On the writer thread (SQLite): the transaction's statements then follow each other without
    // waiting behind request handling while the claims queue behind its write turn.
    let row = state
        .store
        .on_writer(move |store| async move {
            store
                .write(|mut tx| {
                    let (task_id, reason, actor) = (&task_id, reason.clone(), &actor);
                    async move {
                        let result = tx.leases().admin_status(task_id, to, reason, actor).await;
                        (tx, result)
                    }
                })
                .await
        })
        .await?;
    Ok(Json(row.to_api()))
}

#[derive(Deserialize, ToSchema)]
pub struct WorkerUpdateBody {
    pub trust_level: Option<i64>,
    /// `paused` stops offers; `idle` (or `working`) resumes them.
    pub status: Option<String>,
}

/// Update a worker's trust level or pause/resume it.
#[utoipa::path(post, path = "/v1/admin/workers/{worker_id}", tag = "admin",
    params(("worker_id" = String, Path)), request_body = WorkerUpdateBody,
    security(("admin_token" = [])),
    responses((status = 200, body = Worker), (status = 404, body = Problem), (status = 422, body = Problem),
              (status = 410, body = Problem, description = "`archived`: an archived worker is not resumed")))]
pub async fn update_worker(
    State(state): State<AppState>,
    _admin: Admin,
    Path(worker_id): Path<String>,
    body: Payload<WorkerUpdateBody>,
) -> ApiResult<Json<Worker>> {
    let status = match body.value.status.as_deref() {
        None => None,
        Some(s) => Some(WorkerStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "unknown_status",
                format!("unknown worker status `{s}` (idle, working or paused)"),
            )
        })?),
    };
    let trust_level = body.value.trust_level;
    let (row, now) = state
        .store
        .on_writer(move |store| async move {
            store
                .write(|mut tx| {
                    let worker_id = &worker_id;
                    async move {
                        let result = tx
                            .workers()
                            .admin_update(worker_id, trust_level, status)
                            .await
                            .map(|row| (row, tx.now));
                        (tx, result)
                    }
                })
                .await
        })
        .await?;
    Ok(Json(row.to_api(now, state.store.timing.heartbeat_ttl_ms)))
}

/// Archive a worker that holds no lease: its token stops working, it is paused, and it leaves
/// the admin state (unless `?archived=true`), the dashboard and the public board.
#[utoipa::path(post, path = "/v1/admin/workers/{worker_id}/archive", tag = "admin",
    params(("worker_id" = String, Path)),
    security(("admin_token" = [])),
    responses((status = 200, body = Worker, description = "archived (or already archived)"),
              (status = 404, body = Problem),
              (status = 409, body = Problem, description = "`worker_busy`: it holds a lease")))]
pub async fn archive_worker(
    State(state): State<AppState>,
    _admin: Admin,
    Path(worker_id): Path<String>,
) -> ApiResult<Json<Worker>> {
    let (row, now) = state
        .store
        .write_on_writer(move |mut tx| {
            let worker_id = worker_id.clone();
            async move {
                let result = tx
                    .archive()
                    .worker(&worker_id)
                    .await
                    .map(|row| (row, tx.now));
                (tx, result)
            }
        })
        .await?;
    Ok(Json(row.to_api(now, state.store.timing.heartbeat_ttl_ms)))
}

#[derive(Deserialize, ToSchema)]
pub struct ArchiveRepoBody {
    /// The repository to archive.
    pub repo: String,
}

/// Archive a repository nobody is working on: its `ready` and `blocked` tasks are cancelled, it
/// takes no import, and it leaves the admin state (unless `?archived=true`), the dashboard and
/// the public board. `POST /v1/admin/repos` with its name brings it back.
#[utoipa::path(post, path = "/v1/admin/repos/archive", tag = "admin", request_body = ArchiveRepoBody,
    security(("admin_token" = [])),
    responses((status = 200, body = RepoPolicy, description = "archived (or already archived)"),
              (status = 404, body = Problem, description = "unknown repo"),
              (status = 409, body = Problem, description = "`repo_busy`: a task is leased, in progress or has an open pull request")))]
pub async fn archive_repo(
    State(state): State<AppState>,
    _admin: Admin,
    body: Payload<ArchiveRepoBody>,
) -> ApiResult<Json<RepoPolicy>> {
    let name = body.value.repo.trim().to_string();
    let row = state
        .store
        .write_on_writer(move |mut tx| {
            let name = name.clone();
            async move {
                let result = tx.archive().repo(&name, "admin").await;
                (tx, result)
            }
        })
        .await?;
    Ok(Json(row.to_api()))
}

#[derive(Deserialize, IntoParams)]
pub struct BeadsQuery {
    /// The repository to import into.
    pub repo: String,
}

/// What a Beads import skipped.
#[derive(Serialize, ToSchema)]
pub struct BeadsSkipped {
    /// Beads that did not become tasks.
    pub total: u64,
    /// Beads not `open`, by status (`closed`, `tombstone`, `in_progress`, …).
    pub statuses: std::collections::BTreeMap<String, u64>,
    /// Open beads whose type is not a task's (`epic`, `message`, …), by type.
    pub types: std::collections::BTreeMap<String, u64>,
}

#[derive(Serialize, ToSchema)]
pub struct BeadsImport {
    /// The tasks created or updated, in file order.
    pub tasks: Vec<Task>,
    /// Tasks whose bead is closed (or tombstoned) now: cancelled by this import.
    pub ended: Vec<Task>,
    pub skipped: BeadsSkipped,
}

/// Import a Beads backlog (`.beads/issues.jsonl`, sent as it is): open tasks, bugs, features
/// and chores become tasks keyed by their bead id; `blocks` dependencies become `blocked_by`;
/// a task whose bead is closed ends. All or nothing.
#[utoipa::path(post, path = "/v1/admin/tasks/beads", tag = "admin", params(BeadsQuery),
    request_body(content = String, content_type = "text/plain",
        description = "One bead a line, as Beads writes `.beads/issues.jsonl` (sent as it is; `application/x-ndjson` is read the same)"),
    security(("admin_token" = [])),
    responses((status = 201, body = BeadsImport), (status = 404, body = Problem, description = "unknown repo"),
              (status = 413, body = Problem, description = "body over 1 MiB"),
              (status = 422, body = Problem, description = "a malformed line (`invalid_beads`, naming its line), a value out of its limits, more than 1,000 tasks, or a dependency cycle")))]
pub async fn import_beads(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<BeadsQuery>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<BeadsImport>)> {
    principal.may_steer(&state, q.repo.trim()).await?;
    let actor = principal.actor();
    use crate::domain::beads;
    use crate::domain::labels::{LabelNames, TierRules, map_labels};

    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("invalid_beads", "the file is not UTF-8 text"))?;
    let backlog =
        beads::parse(text).map_err(|e| ApiError::invalid("invalid_beads", e.to_string()))?;
    import_size(backlog.tasks.len(), |n, max| {
        format!("the file holds {n} open tasks; one import takes at most {max}")
    })?;
    let names = LabelNames::default();
    let tiers = TierRules::default();
    let inputs: Vec<TaskInput> = backlog
        .tasks
        .iter()
        .map(|bead| {
            let fields = map_labels(&bead.labels, &names).task_fields(&tiers);
            TaskInput {
                key: Some(bead.key.clone()),
                title: bead.title.clone(),
                description: bead.description.clone(),
                estimate_points: fields.estimate_points,
                priority: bead.priority,
                required_skills: fields.required_skills,
                area: fields.area,
                tier: fields.tier,
                extensions: Default::default(),
                blocked_by: Some(bead.blocked_by.clone()),
                requires: fields.requires,
                // The Beads convention for rule 10: a label `paths:PATTERN` per pattern.
                paths: Some(
                    bead.labels
                        .iter()
                        .filter_map(|l| l.strip_prefix("paths:"))
                        .map(str::to_string)
                        .collect(),
                ),
            }
        })
        .collect();
    let skipped = BeadsSkipped {
        total: backlog.skipped(),
        statuses: backlog.skipped_statuses.clone(),
        types: backlog.skipped_types.clone(),
    };
    let closed = backlog.closed;
    let repo = q.repo.trim().to_string();
    let (tasks, ended) = state
        .store
        .on_writer(move |store| async move {
            store
                .write(|mut tx| {
                    let (repo, inputs, closed, actor) = (&repo, &inputs, &closed, &actor);
                    async move {
                        let result = tx.tasks().import_beads(repo, inputs, closed, actor).await;
                        (tx, result)
                    }
                })
                .await
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(BeadsImport {
            tasks: tasks.iter().map(|r| r.to_api()).collect(),
            ended: ended.iter().map(|r| r.to_api()).collect(),
            skipped,
        }),
    ))
}
