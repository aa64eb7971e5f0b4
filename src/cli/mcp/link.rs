//! `owp_link`: the person behind the AI tool proves their GitHub account for this worker, as
//! `owp worker link` does. The first call starts GitHub's device flow through the pool and
//! answers the page to open and the code to enter (shown only when the page is GitHub's, see
//! [`device_page`]); each later call polls once and answers "still waiting" or who the worker
//! now speaks for. In a pool whose App has no OAuth client it answers the `/owp link CODE` to
//! comment instead.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::client::{ClientError, OwpClient};
use crate::cli::worker::link::{device_page, user_code};
use crate::github::settings::DEFAULT_GITHUB_WEB_URL;

/// A device flow under way in this session.
pub struct Pending {
    device_code: String,
    page: String,
    code: String,
    expires: Instant,
    /// Not polled again before this (the pool's interval, longer after `slow_down`).
    next_poll: Instant,
    interval: Duration,
}

/// What a call of `owp_link` answers: a JSON document, or a tool error's line.
pub enum Answer {
    Done(Value),
    Failed(String),
}

/// GitHub's web address as configured here (`GITHUB_WEB_URL`, by default `https://github.com`).
fn github_web_url() -> String {
    std::env::var("GITHUB_WEB_URL")
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_GITHUB_WEB_URL.to_string())
}

fn waiting(p: &Pending, next: &str) -> Value {
    json!({
        "status": "waiting",
        "verification_uri": p.page,
        "user_code": p.code,
        "expires_in": p.expires.saturating_duration_since(Instant::now()).as_secs(),
        "show": format!("Open {} and enter {}", p.page, p.code),
        "next": next,
    })
}

/// One call of `owp_link`: polls the flow under way in `pending`, or starts one. `fail` words a
/// refusal of the server as the tool's error line.
pub async fn call(
    client: &OwpClient,
    pending: &mut Option<Pending>,
    fail: impl Fn(&ClientError) -> String,
) -> Answer {
    let now = Instant::now();
    if let Some(p) = pending.take().filter(|p| p.expires > now) {
        return poll(client, p, pending, fail).await;
    }
    let start = match client.link_device_start().await {
        Ok(start) => start,
        Err(e) if e.status() == Some(404) => return by_comment(client, fail).await,
        Err(e) => return Answer::Failed(fail(&e)),
    };
    let shown = device_page(&start.verification_uri, &github_web_url())
        .and_then(|page| Ok((page, user_code(&start.user_code)?.to_string())));
    let (page, code) = match shown {
        Ok(shown) => shown,
        Err(why) => return Answer::Failed(format!("owp_link failed: {why}")),
    };
    let interval = Duration::from_secs(start.interval.clamp(1, 60));
    let p = Pending {
        device_code: start.device_code,
        page,
        code,
        expires: now + Duration::from_secs(start.expires_in.min(30 * 60)),
        next_poll: now + interval,
        interval,
    };
    let answer = waiting(
        &p,
        "Show the person this line: they open the page, sign in to GitHub as the account this \
         worker works for, and enter the code. Then call owp_link again to finish.",
    );
    *pending = Some(p);
    Answer::Done(answer)
}

async fn poll(
    client: &OwpClient,
    mut p: Pending,
    pending: &mut Option<Pending>,
    fail: impl Fn(&ClientError) -> String,
) -> Answer {
    const AGAIN: &str = "Not approved yet: the person enters the code on GitHub's page; call \
                         owp_link again in a few seconds.";
    if Instant::now() < p.next_poll {
        let answer = waiting(&p, AGAIN);
        *pending = Some(p);
        return Answer::Done(answer);
    }
    match client.link_device_poll(&p.device_code).await {
        Ok(linked) => Answer::Done(json!({
            "status": "linked",
            "worker_id": linked.worker_id,
            "github_login": linked.github_login,
            "github_account_id": linked.github_account_id,
            "show": format!("Linked to GitHub account {}", linked.github_login),
        })),
        Err(e) if matches!(e.status(), Some(428 | 429)) || e.is_transport() => {
            if e.status() == Some(429) {
                p.interval = (p.interval + Duration::from_secs(5)).min(Duration::from_secs(120));
            }
            p.next_poll = Instant::now() + p.interval;
            let answer = waiting(&p, AGAIN);
            *pending = Some(p);
            Answer::Done(answer)
        }
        Err(e) => Answer::Failed(fail(&e)),
    }
}

/// The pool proves accounts only by comment: the `/owp link CODE` to write.
async fn by_comment(client: &OwpClient, fail: impl Fn(&ClientError) -> String) -> Answer {
    match client.link_code().await {
        Ok(body) => {
            let comment = body["comment"].as_str().unwrap_or_default().to_string();
            Answer::Done(json!({
                "status": "comment",
                "comment": comment,
                "expires_at": body["expires_at"],
                "show": format!(
                    "Comment `{comment}` on any issue of a repository that uses the OWP Pool \
                     GitHub App, signed in to GitHub as the account this worker works for."
                ),
                "next": "Show the person this line; the worker is linked once they comment it.",
            }))
        }
        Err(e) if e.status() == Some(404) => Answer::Failed(
            "owp_link failed: this pool has no GitHub App, so there is no GitHub account to link"
                .into(),
        ),
        Err(e) => Answer::Failed(fail(&e)),
    }
}
