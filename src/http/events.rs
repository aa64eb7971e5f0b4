//! `GET /v1/events`: the audit log as Server-Sent Events, live across every process sharing the
//! database. `Last-Event-ID` (or `?after=`) resumes after a given event.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::error::{ApiResult, Problem};
use super::extract::RECHECK;
use super::principal::{Principal, not_maintainer, principal_of};

#[derive(Deserialize, IntoParams)]
pub struct StreamQuery {
    /// Replay events after this id first (as `Last-Event-ID` does).
    pub after: Option<i64>,
    /// Only the events of this repository.
    pub repo: Option<String>,
}

/// A stream of every state change; each event's `data` is the JSON event (`id`, `kind`, `at`,
/// `repo`, `task_id`, `worker_id`, `actor`, `data`). A maintainer's stream holds only the events
/// of the repositories they maintain (as GitHub says when the stream opens).
#[utoipa::path(get, path = "/v1/events", tag = "events", params(StreamQuery),
    security(("admin_token" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "Server-Sent Events"),
              (status = 401, body = Problem),
              (status = 403, body = Problem, description = "`not_maintainer`: `repo` names a repository the maintainer does not maintain")))]
pub async fn stream(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let mut visible = principal.visible_repos(&state).await?;
    let only = q.repo.map(|r| r.trim().to_string());
    if let (Some(visible), Some(repo)) = (&visible, &only)
        && !visible.contains(repo)
    {
        return Err(not_maintainer());
    }
    let shown = move |visible: &Option<HashSet<String>>, repo: Option<&String>| {
        let in_scope = visible
            .as_ref()
            .is_none_or(|v| repo.is_some_and(|r| v.contains(r)));
        let in_filter = only.as_ref().is_none_or(|o| repo == Some(o));
        in_scope && in_filter
    };
    // The stream runs the authentication step that admitted it again every few seconds: it ends
    // once the credential does (signed out, revoked, expired) or names someone else, and once
    // the person loses a repository they could see (as the permission cache says) or the answer
    // cannot be had (it fails closed; the client reconnects and sees what it may see now).
    let recheck_state = state.clone();
    let recheck_headers = headers.clone();
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(q.after);
    let start = match resume {
        Some(id) => id,
        None => state.store.events().last_id().await?,
    };
    let store = state.store.clone();
    let mut changes = state.last_event.clone();
    let stream = async_stream::stream! {
        let mut last = start;
        let mut checked = tokio::time::Instant::now();
        loop {
            if checked.elapsed() >= RECHECK {
                checked = tokio::time::Instant::now();
                if !still_admitted(&recheck_state, &recheck_headers, &principal, &mut visible).await {
                    break;
                }
            }
            changes.mark_unchanged();
            match store.events().after(last, 500).await {
                Ok(events) => {
                    let full = events.len() == 500;
                    for e in events {
                        last = e.id;
                        if !shown(&visible, e.repo.as_ref()) {
                            continue;
                        }
                        let data = serde_json::to_string(&e).unwrap_or_default();
                        yield Ok(SseEvent::default().id(e.id.to_string()).event(e.kind.clone()).data(data));
                    }
                    if full {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event stream read failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { break },
                () = tokio::time::sleep_until(checked + RECHECK) => {}
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Whether an open stream's request still names `principal` through the authentication step
/// that admitted it ([`principal_of`]), and whether a maintainer still sees every repository the
/// stream showed them (`visible` follows what they see now).
async fn still_admitted(
    state: &AppState,
    headers: &HeaderMap,
    principal: &Principal,
    visible: &mut Option<HashSet<String>>,
) -> bool {
    let now = principal_of(&Method::GET, headers, &state.store, &state.admin_token).await;
    let same = match (&now, principal) {
        (Ok(Some(Principal::Admin)), Principal::Admin) => true,
        (Ok(Some(Principal::Maintainer(now))), Principal::Maintainer(then)) => {
            now.digest == then.digest && now.login == then.login
        }
        _ => false,
    };
    if !same {
        return false;
    }
    let Some(before) = visible.as_ref() else {
        return true;
    };
    match principal.visible_repos(state).await {
        Ok(Some(now)) if before.is_subset(&now) => {
            *visible = Some(now);
            true
        }
        _ => false,
    }
}
