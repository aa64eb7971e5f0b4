//! The clock of comment claims.
//!
//! A claim made by commenting `/owp claim` lives for the repository's claim TTL (default 7 days)
//! after the claimer's last human activity: their comments on the issue, or a pull request that
//! closes it (which ends the claim by moving the task to `pr_opened`). The bot's own comments
//! never count. At half time the claimer gets a reminder that mentions them; at the end the
//! scheduler's expiry returns the task to the queue (the task's lease deadline *is* the claim's
//! end, kept in step by every activity), and the expiry's own transaction writes the expiry
//! comment to the outbox (`store::github::on_commit`).
//!
//! This job also lets go of tasks whose issue left the pool while someone held them, once that
//! person is done with them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tracing::Instrument;

use crate::messages;
use crate::service::{Github, target};
use crate::store::{NewEvent, StoreError};

/// How often claims are looked at.
pub const TICK: Duration = Duration::from_millis(250);

/// Runs until the process stops.
pub async fn run(github: Arc<Github>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match step(&github).await {
            Ok(0) => {}
            Ok(_) => github.progressed(),
            Err(e) => tracing::warn!(error = %e, "claim clock failed"),
        }
    }
}

/// Sends the reminders that are due and lets go of tasks that left the pool; returns how many
/// changes were made.
pub async fn step(github: &Github) -> Result<usize, StoreError> {
    let now = crate::store::now_ms();
    let mut done = 0;
    for claim in github.store.comment_claims().due_reminders(now).await? {
        let Some(gh_task) = github.store.issues().task(&claim.task_id).await? else {
            continue;
        };
        let Some(installation) = github
            .store
            .installations()
            .repo(&gh_task.repo)
            .await?
            .and_then(|r| r.installation_id)
        else {
            continue;
        };
        let span = tracing::info_span!("claim_reminder", repo = %gh_task.repo, issue = gh_task.issue_number, actor = %claim.login);
        let reminded = async {
            let mut tx = github.store.begin().await?;
            let mut reminded = false;
            if tx.comment_claims().mark_reminded(&claim.task_id, claim.last_activity_at).await? {
                let expires = chrono::DateTime::from_timestamp_millis(claim.expires_at()).unwrap_or_default();
                let body = messages::claim_reminder(&claim.login, expires);
                let to = target(installation, &gh_task.repo, gh_task.issue_number);
                tx.outbox().enqueue_comment(&to, Some(&claim.task_id), &body).await?;
                tx.event(
                    NewEvent::new("github.claim_reminder", "system")
                        .repo(&gh_task.repo)
                        .task(&claim.task_id)
                        .worker(Some(&claim.worker_id))
                        .data(json!({"login": claim.login, "expires_at": crate::store::format_ts(claim.expires_at())})),
                );
                tracing::info!("claim reminder queued");
                reminded = true;
            }
            tx.commit().await?;
            Ok::<bool, StoreError>(reminded)
        }
        .instrument(span)
        .await?;
        if reminded {
            done += 1;
        }
    }
    for (task_id, _) in github.store.issues().left_pool_ready().await? {
        let mut tx = github.store.begin().await?;
        crate::sync::let_go_if_out_of_pool(&mut tx, &task_id, "system").await?;
        tx.commit().await?;
        done += 1;
    }
    Ok(done)
}
