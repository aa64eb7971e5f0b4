//! The leaderboard: who merged what, for the workers that opted in to being listed.
//!
//! Admins see every repository. Anyone else (a visitor, a worker) sees it only when the service
//! runs with public boards, and then it counts public repositories alone: a private repository's
//! name and counts never appear to them, not even as a filter that answers differently.

use axum::Json;
use axum::extract::{Query, Request, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::is_admin;
use crate::domain::limits;

/// Default window of the leaderboard, in days.
pub const DEFAULT_DAYS: i64 = 30;

#[derive(Deserialize, IntoParams)]
pub struct LeaderboardQuery {
    /// Only this repository (`owner/name`); for anyone but an admin, only a public one.
    pub repo: Option<String>,
    /// Merges of the last this many days (1 to 3660; default 30).
    pub days: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LeaderboardEntry {
    pub name: String,
    pub github_login: Option<String>,
    /// Merged tasks in the window (merges decided by an admin or GitHub).
    pub merged: i64,
    /// The estimate points of those tasks.
    pub points: i64,
    /// The tools those tasks' pull requests were made with, as their worker disclosed them
    /// (`artifact.disclosure.tool`), the most used first; at most 5.
    pub tools: Vec<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Leaderboard {
    /// At most 100 workers, by merged tasks then points; only workers with
    /// `leaderboard_opt_in: true`.
    pub workers: Vec<LeaderboardEntry>,
}

/// The leaderboard of workers that opted in.
#[utoipa::path(get, path = "/v1/leaderboard", tag = "workers", params(LeaderboardQuery),
    security((), ("admin_token" = [])),
    responses((status = 200, body = Leaderboard),
              (status = 401, body = Problem, description = "public boards are off: admins only"),
              (status = 422, body = Problem)))]
pub async fn leaderboard(
    State(state): State<AppState>,
    Query(q): Query<LeaderboardQuery>,
    req: Request,
) -> ApiResult<Json<Leaderboard>> {
    let (mut parts, _) = req.into_parts();
    let admin = is_admin(&mut parts, &state).await;
    if !admin && !state.public_boards {
        return Err(ApiError::unauthorized(
            "the leaderboard is public only when the service runs with public boards",
        ));
    }
    let days = q.days.unwrap_or(DEFAULT_DAYS);
    limits::range("days", "invalid_days", days, limits::LEADERBOARD_DAYS)?;
    let repo = q.repo.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if let Some(repo) = repo {
        limits::text("repo", repo, limits::MAX_KEY_CHARS)?;
        if repo.contains('\0') {
            // No repository is named so (and PostgreSQL takes no NUL in a text).
            return Ok(Json(Leaderboard { workers: vec![] }));
        }
    }
    let since = crate::store::now_ms() - days * 86_400_000;
    let rows = state.store.leaderboard(repo, since, !admin).await?;
    let mut tools = state.store.leaderboard_tools(repo, since, !admin).await?;
    Ok(Json(Leaderboard {
        workers: rows
            .into_iter()
            .map(|r| LeaderboardEntry {
                tools: tools.remove(&r.worker_id).unwrap_or_default(),
                name: r.name,
                github_login: r.github_login,
                merged: r.merged,
                points: r.points,
            })
            .collect(),
    }))
}
