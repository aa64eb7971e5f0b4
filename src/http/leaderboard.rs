//! The leaderboard: who merged what, for the workers that opted in to being listed.
//!
//! Admins see every repository. A maintainer signed in with GitHub sees the repositories they
//! maintain. Anyone else (a visitor, a worker) sees it only when the service runs with public
//! boards, and then it counts public repositories alone: a private repository's name and counts
//! never appear to them, not even as a filter that answers differently.

use axum::Json;
use axum::extract::{Query, Request, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::principal::{Principal, principal};
use crate::domain::limits;
use crate::store::reputation::LeaderRow;

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
              (status = 401, body = Problem, description = "public boards are off: the admin and signed-in maintainers only"),
              (status = 422, body = Problem)))]
pub async fn leaderboard(
    State(state): State<AppState>,
    Query(q): Query<LeaderboardQuery>,
    req: Request,
) -> ApiResult<Json<Leaderboard>> {
    let (mut parts, _) = req.into_parts();
    let who = principal(&mut parts, &state).await.ok().flatten();
    let admin = matches!(who, Some(Principal::Admin));
    // A maintainer without public boards: the repositories they maintain (with public boards, a
    // maintainer sees what every visitor sees, as the board does).
    let maintained = match &who {
        Some(p @ Principal::Maintainer(_)) if !state.public_boards => {
            p.visible_repos(&state).await?
        }
        _ => None,
    };
    if !admin && maintained.is_none() && !state.public_boards {
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
    if let Some(maintained) = maintained {
        return maintainers_leaderboard(&state, maintained, repo, since).await;
    }
    let rows = state
        .store
        .reputations()
        .leaderboard(repo, since, !admin)
        .await?;
    let mut tools = state
        .store
        .outcomes()
        .leaderboard_tools(repo, since, !admin)
        .await?;
    Ok(Json(entries(rows, &mut tools)))
}

/// A maintainer's leaderboard: the repositories they maintain (or the one named, when it is one
/// of them), each counted as the admin counts it, added up per worker.
async fn maintainers_leaderboard(
    state: &AppState,
    maintained: std::collections::HashSet<String>,
    repo: Option<&str>,
    since: i64,
) -> ApiResult<Json<Leaderboard>> {
    let mut repos: Vec<String> = match repo {
        Some(r) => maintained
            .into_iter()
            .filter(|m| m.eq_ignore_ascii_case(r))
            .collect(),
        None => maintained.into_iter().collect(),
    };
    repos.sort();
    let mut totals: Vec<LeaderRow> = Vec::new();
    let mut tools: std::collections::HashMap<String, Vec<String>> = Default::default();
    for name in &repos {
        for row in state
            .store
            .reputations()
            .leaderboard(Some(name), since, false)
            .await?
        {
            match totals.iter_mut().find(|t| t.worker_id == row.worker_id) {
                Some(t) => {
                    t.merged += row.merged;
                    t.points += row.points;
                }
                None => totals.push(row),
            }
        }
        for (worker, used) in state
            .store
            .outcomes()
            .leaderboard_tools(Some(name), since, false)
            .await?
        {
            let list = tools.entry(worker).or_default();
            for tool in used {
                if !list.contains(&tool) && list.len() < 5 {
                    list.push(tool);
                }
            }
        }
    }
    totals.sort_by(|a, b| {
        (b.merged, b.points)
            .cmp(&(a.merged, a.points))
            .then_with(|| a.name.cmp(&b.name))
    });
    totals.truncate(100);
    Ok(Json(entries(totals, &mut tools)))
}

fn entries(
    rows: Vec<LeaderRow>,
    tools: &mut std::collections::HashMap<String, Vec<String>>,
) -> Leaderboard {
    Leaderboard {
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
    }
}
