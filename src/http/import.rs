//! Task import: `POST /v1/admin/tasks` (JSON, or the same document as YAML).
//!
//! The answer names the fields of each task the import ignored, with the field probably meant
//! (see [`crate::domain::task_fields`]); `?strict=true` refuses them instead (`422
//! unknown_fields`, nothing imported).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Payload, typed};
use super::principal::Principal;
use crate::domain::model::extension_fields;
use crate::domain::task_fields::{self, IgnoredFields};
use crate::domain::{Priority, Task, limits};
use crate::store::tasks::TaskInput;

#[derive(Deserialize, ToSchema)]
pub struct ImportBody {
    pub repo: String,
    #[schema(value_type = Vec<TaskImport>)]
    pub tasks: Vec<Value>,
}

/// One task to import.
#[derive(Deserialize, ToSchema)]
pub struct TaskImport {
    /// Stable external id; a task with the same key in the repo is updated, never duplicated.
    pub key: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub estimate_points: Option<i64>,
    pub priority: Option<Priority>,
    pub required_skills: Option<Vec<String>>,
    pub area: Option<String>,
    pub tier: Option<i64>,
    /// Keys of tasks of the same repository (stored, or in this import) that must be merged or
    /// cancelled before this one is offered; at most 50. Replaces the task's blockers on
    /// re-import (absent: none).
    pub blocked_by: Option<Vec<String>>,
    /// Capability names to the values a worker must declare in its `capabilities` to be offered
    /// this task (at most 16; names of `a-z0-9_.-`, at most 64 characters; values booleans,
    /// numbers or strings of at most 200 characters). Replaces the task's on re-import (absent:
    /// none).
    #[schema(value_type = Option<Object>)]
    pub requires: Option<Map<String, Value>>,
    /// The paths the task changes (rule 10): at most 20 patterns of at most 200 characters
    /// (`src/auth/**`, `docs/*.md`, a file path). While another task of the repository in flight
    /// holds an overlapping path, this one is not offered. Replaces the task's declared paths on
    /// re-import (absent: none).
    pub paths: Option<Vec<String>>,
}

#[derive(Deserialize, IntoParams)]
pub struct ImportQuery {
    /// `true`: a task with a field the import does not read (not a task field, not `x_*`) is
    /// refused with `422 unknown_fields`, and nothing is imported.
    pub strict: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct TaskList {
    pub tasks: Vec<Task>,
    /// The tasks that had fields the import did not read (neither task fields nor `x_*`), with
    /// the field probably meant: at most 100 tasks, 20 fields each. `[]` when none.
    pub ignored: Vec<IgnoredFields>,
}

/// Import tasks (JSON, or the same document as YAML with `Content-Type: application/yaml`).
#[utoipa::path(post, path = "/v1/admin/tasks", tag = "admin", request_body = ImportBody,
    params(ImportQuery), security(("admin_token" = [])),
    responses((status = 201, body = TaskList), (status = 404, body = Problem, description = "unknown repo"),
              (status = 403, body = Problem, description = "`not_maintainer`: a maintainer's import into a repository they do not maintain"),
              (status = 413, body = Problem, description = "body over 1 MiB, or YAML expanding past 4 MiB"),
              (status = 422, body = Problem, description = "a value out of its limits, more than 1,000 tasks, a `blocked_by` key that names no task (`unknown_dependency`), blockers that form a cycle (`dependency_cycle`), or with `strict=true` a field the import does not read (`unknown_fields`)")))]
pub async fn import_tasks(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ImportQuery>,
    body: Payload<ImportBody>,
) -> ApiResult<(StatusCode, Json<TaskList>)> {
    let repo = body.value.repo.trim().to_string();
    principal.may_steer(&state, &repo).await?;
    let actor = principal.actor();
    import_size(body.value.tasks.len(), |n, max| {
        format!("`tasks` has {n} entries; one import takes at most {max} (send several imports)")
    })?;
    let ignored = task_fields::ignored_in_all(&body.value.tasks);
    if q.strict == Some(true) && !ignored.is_empty() {
        return Err(ApiError::invalid(
            "unknown_fields",
            unknown_fields(&ignored),
        ));
    }
    let mut inputs = Vec::with_capacity(body.value.tasks.len());
    for (i, doc) in body.value.tasks.into_iter().enumerate() {
        if !doc.is_object() {
            return Err(ApiError::invalid(
                "validation_failed",
                format!("tasks[{i}] must be an object"),
            ));
        }
        let extensions = extension_fields(&doc);
        let t: TaskImport = typed(doc).map_err(|e| {
            ApiError::invalid("validation_failed", format!("tasks[{i}]: {}", e.detail))
        })?;
        inputs.push(TaskInput {
            key: t.key,
            title: t.title,
            description: t.description.unwrap_or_default(),
            estimate_points: t.estimate_points.unwrap_or(1),
            priority: t.priority.unwrap_or_default(),
            required_skills: t.required_skills.unwrap_or_default(),
            area: t.area,
            tier: t.tier.unwrap_or(0),
            extensions,
            blocked_by: Some(t.blocked_by.unwrap_or_default()),
            requires: t.requires.unwrap_or_default(),
            paths: Some(t.paths.unwrap_or_default()),
        });
    }
    let rows = state
        .store
        .on_writer(move |store| async move { store.tasks().import(&repo, &inputs, &actor).await })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TaskList {
            tasks: rows.iter().map(|r| r.to_api()).collect(),
            ignored,
        }),
    ))
}

/// The detail of `422 unknown_fields`: `tasks[0].estimate (did you mean …?), …`.
fn unknown_fields(ignored: &[IgnoredFields]) -> String {
    let listed: Vec<String> = ignored
        .iter()
        .flat_map(|t| {
            t.fields.iter().map(move |f| {
                let meant = f
                    .did_you_mean
                    .as_ref()
                    .map(|m| format!(" (did you mean `{m}`?)"))
                    .unwrap_or_default();
                format!("`tasks[{}].{}`{meant}", t.index, f.name)
            })
        })
        .take(20)
        .collect();
    format!(
        "fields the import does not read (strict): {}",
        listed.join(", ")
    )
}

/// `422 too_many_tasks` when one import holds `n` tasks, more than
/// [`limits::MAX_TASKS_PER_IMPORT`]; `detail(n, max)` says so in the words of the import.
pub(super) fn import_size(n: usize, detail: impl FnOnce(usize, usize) -> String) -> ApiResult<()> {
    if n <= limits::MAX_TASKS_PER_IMPORT {
        return Ok(());
    }
    Err(ApiError::invalid(
        "too_many_tasks",
        detail(n, limits::MAX_TASKS_PER_IMPORT),
    ))
}
