//! The public board: what an anonymous visitor may read when the service runs with public boards
//! (`OWP_PUBLIC_BOARDS`).
//!
//! Only repositories marked public are shown: their review budgets, tasks and events, and the
//! names of the workers those tasks and events name. Nothing of a private repository, no worker
//! list, no capacity figures, and nothing that writes.
//!
//! Routes (registered only when the option is on):
//! - `GET /board/state?events=N`: `{repos, tasks, workers: [{worker_id, name}], events}`, shaped
//!   like `GET /v1/admin/state` so the page renders both the same way.
//! - `GET /board/events`: Server-Sent Events of public repositories' changes, resumable with
//!   `Last-Event-ID` like `GET /v1/events`. Events of private repositories and of no repository
//!   (workers) are left out. When the set of public repositories changes, a `board.changed`
//!   event (empty data) tells the page to reload.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, watch};

use crate::domain::outcomes::{OUTCOME_DAYS, RepoOutcomes};
use crate::domain::{Event, RepoPolicy, Task};
use crate::http::error::ApiError;
use crate::store::Store;

/// Anonymous event streams open at once; more are refused with 503 until one closes.
pub const MAX_PUBLIC_STREAMS: usize = 256;
/// The most events a board state carries.
const MAX_STATE_EVENTS: i64 = 2_000;
/// Events read from the log per round of a stream.
const STREAM_BATCH: i64 = 500;

/// What the public board reads from, shared by its routes.
#[derive(Clone)]
pub struct PublicBoards {
    store: Store,
    last_event: watch::Receiver<i64>,
    streams: Arc<Semaphore>,
}

impl PublicBoards {
    /// `last_event` is the service's newest event id (its changes wake the streams).
    pub fn new(store: Store, last_event: watch::Receiver<i64>) -> PublicBoards {
        PublicBoards {
            store,
            last_event,
            streams: Arc::new(Semaphore::new(MAX_PUBLIC_STREAMS)),
        }
    }
}

#[derive(Deserialize)]
pub struct BoardQuery {
    /// How many of the newest events to include (default and most: 2000).
    events: Option<i64>,
}

/// A worker as the public board names it: nothing but its name.
#[derive(Serialize)]
struct WorkerName {
    worker_id: String,
    name: String,
}

#[derive(Serialize)]
struct BoardState {
    repos: Vec<RepoPolicy>,
    tasks: Vec<Task>,
    workers: Vec<WorkerName>,
    events: Vec<Event>,
}

/// `GET /board/state`.
pub async fn state(
    State(board): State<PublicBoards>,
    query: Result<Query<BoardQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return ApiError::invalid("validation_failed", "`events` must be a whole number")
            .into_response();
    };
    let limit = q
        .events
        .unwrap_or(MAX_STATE_EVENTS)
        .clamp(0, MAX_STATE_EVENTS);
    let since = crate::store::now_ms() - OUTCOME_DAYS * 86_400_000;
    let read = async {
        let b = board.store.board().public(limit).await?;
        let outcomes = board.store.outcomes().of_repo(since, true).await?;
        Ok::<_, crate::store::StoreError>((b, outcomes))
    };
    match read.await {
        Ok((mut b, mut outcomes)) => {
            let public: std::collections::HashSet<String> =
                b.repos.iter().map(|r| r.name.to_lowercase()).collect();
            for e in &mut b.events {
                if e.kind == "task.waiting" {
                    for field in ["blocked_by", "waiting_on", "waiting_on_paths"] {
                        if let Some(keys) = e
                            .data
                            .get(field)
                            .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
                        {
                            e.data[field] = serde_json::json!(hide_private(&keys, &public));
                        }
                    }
                }
            }
            let body = BoardState {
                repos: b
                    .repos
                    .iter()
                    .map(|r| {
                        // Where the code lives and how work is done are for workers, not the board.
                        let mut policy = r.to_api();
                        policy.contract = None;
                        policy.clone_url = None;
                        policy.outcomes =
                            Some(outcomes.remove(&r.name).unwrap_or_else(RepoOutcomes::empty));
                        policy
                    })
                    .collect(),
                tasks: b
                    .tasks
                    .iter()
                    .map(|t| {
                        let mut task = t.to_api();
                        (task.lease_progress, task.lease_progress_at) = (None, None);
                        task.blocked_by = hide_private(&task.blocked_by, &public);
                        task.waiting_on = hide_private(&task.waiting_on, &public);
                        task.waiting_on_paths = hide_private(&task.waiting_on_paths, &public);
                        task
                    })
                    .collect(),
                workers: b
                    .workers
                    .into_iter()
                    .map(|(worker_id, name)| WorkerName { worker_id, name })
                    .collect(),
                events: b.events,
            };
            let mut resp = Json(body).into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => {
            tracing::warn!(error = %e, "reading the public board failed");
            ApiError::internal().into_response()
        }
    }
}

/// `GET /board/events`.
pub async fn events(State(board): State<PublicBoards>, headers: HeaderMap) -> Response {
    let Ok(permit) = board.streams.clone().try_acquire_owned() else {
        let mut resp = ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            "too many open event streams on the public board; try again shortly",
        )
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        return resp;
    };
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let store = board.store.clone();
    let opened = async {
        let start = match resume {
            Some(id) => id,
            None => store.events().last_id().await?,
        };
        Ok::<_, crate::store::StoreError>((start, store.board().public_repo_names().await?))
    };
    let (start, mut public) = match opened.await {
        Ok(opened) => opened,
        Err(e) => {
            tracing::warn!(error = %e, "opening a public event stream failed");
            return ApiError::internal().into_response();
        }
    };
    let mut changes = board.last_event.clone();
    let stream = async_stream::stream! {
        // Held for as long as the stream is open.
        let _permit = permit;
        let mut last = start;
        loop {
            changes.mark_unchanged();
            let events = match store.events().after(last, STREAM_BATCH).await {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "public event stream read failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let full = events.len() as i64 == STREAM_BATCH;
            if !events.is_empty() {
                // Visibility as it is now, read after the events: a repository made private
                // meanwhile is already left out.
                match store.board().public_repo_names().await {
                    Ok(now) => {
                        if now != public {
                            public = now;
                            yield Ok::<_, Infallible>(
                                SseEvent::default().event("board.changed").data("{}"),
                            );
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "public event stream read failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            for e in events {
                last = e.id;
                if !is_public(&e, &public) {
                    continue;
                }
                let data = serde_json::to_string(&e).unwrap_or_default();
                yield Ok(SseEvent::default().id(e.id.to_string()).event(e.kind.clone()).data(data));
            }
            if full {
                continue;
            }
            if changes.changed().await.is_err() {
                break;
            }
        }
    };
    let mut resp = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// An event belongs on the public board when it names a public repository.
fn is_public(event: &Event, public: &HashSet<String>) -> bool {
    event.repo.as_ref().is_some_and(|r| public.contains(r))
}

/// Blockers as the public board shows them: an issue of a repository that is not on the board
/// (`owner/name#N` of a private or unknown repository) is only "a private issue".
fn hide_private(keys: &[String], public: &std::collections::HashSet<String>) -> Vec<String> {
    keys.iter()
        .map(|k| match k.rsplit_once('#') {
            Some((repo, _)) if repo.contains('/') && !public.contains(&repo.to_lowercase()) => {
                "a private issue".to_string()
            }
            _ => k.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(repo: Option<&str>) -> Event {
        Event {
            id: 1,
            kind: "task.created".into(),
            at: "2030-01-01T00:00:00Z".into(),
            repo: repo.map(str::to_string),
            task_id: None,
            worker_id: None,
            actor: "admin".into(),
            data: serde_json::Value::Null,
        }
    }

    #[test]
    fn only_events_of_public_repositories_are_public() {
        let public: HashSet<String> = ["acme/open".to_string()].into();
        assert!(is_public(&event(Some("acme/open")), &public));
        assert!(!is_public(&event(Some("acme/secret")), &public));
        assert!(
            !is_public(&event(None), &public),
            "events of no repository (workers) stay private"
        );
        assert!(!is_public(&event(Some("ACME/OPEN")), &public));
    }
}
