//! `GET /v1/events`: the audit log as Server-Sent Events, live across every process sharing the
//! database. `Last-Event-ID` (or `?after=`) resumes after a given event.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::error::{ApiResult, Problem};
use super::extract::Admin;

#[derive(Deserialize, IntoParams)]
pub struct StreamQuery {
    /// Replay events after this id first (as `Last-Event-ID` does).
    pub after: Option<i64>,
}

/// A stream of every state change; each event's `data` is the JSON event (`id`, `kind`, `at`,
/// `repo`, `task_id`, `worker_id`, `actor`, `data`).
#[utoipa::path(get, path = "/v1/events", tag = "events", params(StreamQuery),
    security(("admin_token" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "Server-Sent Events"),
              (status = 401, body = Problem)))]
pub async fn stream(
    State(state): State<AppState>,
    _admin: Admin,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(q.after);
    let start = match resume {
        Some(id) => id,
        None => state.store.last_event_id().await?,
    };
    let store = state.store.clone();
    let mut changes = state.last_event.clone();
    let stream = async_stream::stream! {
        let mut last = start;
        loop {
            changes.mark_unchanged();
            match store.events_after(last, 500).await {
                Ok(events) => {
                    let full = events.len() == 500;
                    for e in events {
                        last = e.id;
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
            if changes.changed().await.is_err() {
                break;
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
