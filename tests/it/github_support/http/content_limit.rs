//! GitHub's secondary limit on content-creating requests, per installation: at most 80 a minute
//! and 500 an hour (or the (limit, window) pairs a test sets with
//! [`FakeGithub::set_content_limits`](super::super::FakeGithub::set_content_limits), to run
//! GitHub's clock faster), each over a sliding window of the requests GitHub accepted.
//!
//! Past a limit, the request is refused as GitHub refuses it: GitHub's documentation says a
//! secondary limit is answered `403` or `429`, with a message that names it, and with
//! `retry-after` (seconds) when GitHub says how long to wait. The fake answers a full minute
//! with `403` and a full hour (the longest window) with `429`, both with `retry-after`: the whole seconds until the
//! oldest write of that window leaves it (at least 1), on the fake's clock.

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};

use super::super::model::{CallAuth, Model};
use super::Reply;

/// GitHub's message when content creation is blocked by a secondary limit.
const BLOCKED: &str = "You have exceeded a secondary rate limit and have been temporarily \
                       blocked from content creation. Please retry your request again later.";

/// The key writes are counted under: the installation of the token (the App's limits are per
/// installation), or 0 for any other credential.
fn counted_as(auth: &CallAuth) -> u64 {
    match auth {
        CallAuth::Installation(id) => *id,
        _ => 0,
    }
}

/// Counts a content-creating request of `auth`; past one of the limits, GitHub's refusal.
pub(super) fn content_write(m: &mut Model, auth: &CallAuth) -> Result<(), Reply> {
    let now = Utc::now();
    let longest = m
        .content_limits
        .iter()
        .map(|(_, window)| *window)
        .max()
        .unwrap_or_else(|| TimeDelta::minutes(1));
    let limits = m.content_limits.clone();
    let writes = m.content_writes.entry(counted_as(auth)).or_default();
    writes.retain(|at| now.signed_duration_since(*at) < longest);
    if let Some(refusal) = refusal(writes, &limits, longest, now) {
        return Err(refusal);
    }
    writes.push(now);
    m.accepted_write = Some(counted_as(auth));
    Ok(())
}

/// The answer to a write past a limit: the first full window, shortest first.
fn refusal(
    writes: &[DateTime<Utc>],
    limits: &[(usize, TimeDelta)],
    longest: TimeDelta,
    now: DateTime<Utc>,
) -> Option<Reply> {
    let several = limits.len() > 1;
    let mut limits = limits.to_vec();
    limits.sort_by_key(|(_, window)| *window);
    limits.into_iter().find_map(|(limit, window)| {
        let inside: Vec<&DateTime<Utc>> = writes
            .iter()
            .filter(|at| now.signed_duration_since(**at) < window)
            .collect();
        if inside.len() < limit {
            return None;
        }
        // The write that has to leave the window before another fits.
        let leaves = *inside[inside.len() - limit] + window;
        let wait_ms = (leaves - now).num_milliseconds().max(1);
        let retry_after = (wait_ms + 999) / 1000;
        let status = if several && window == longest {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::FORBIDDEN
        };
        Some(Reply::error(status, BLOCKED).header("retry-after", retry_after))
    })
}
