//! `pull_request`: a pull request closing a task's issue moves it to `pr_opened`; merged →
//! `merged`; closed unmerged → `ready` with one more attempt; reopened → `pr_opened`.

use crate::github::events::{PullRequestAction, PullRequestEvent};
use crate::github::service::Github;
use crate::github::sync::{ApplyError, pr_author_is_maintainer, sync_pull};
use crate::store::github::inbox::DeliveryOutcome;

use super::{NOT_INSTALLED, actor, ignore, installation_for};

pub(super) async fn pull_event(
    github: &Github,
    seq: i64,
    e: &PullRequestEvent,
) -> Result<(), ApplyError> {
    let who = actor(&e.sender.login);
    let repo = e.repo.full_name.as_str();
    let Some(installation) = installation_for(github, &e.repo, e.installation_id, &who).await?
    else {
        return ignore(github, seq, NOT_INSTALLED).await;
    };
    let maintainer = pr_author_is_maintainer(github, installation, repo, &e.pull_request).await?;
    let mut tx = github.store.begin().await?;
    let unlink_missing = matches!(e.action, PullRequestAction::Edited { .. });
    sync_pull(
        &mut tx,
        repo,
        &e.pull_request,
        unlink_missing,
        maintainer,
        &who,
    )
    .await?;
    tx.gh_finish_delivery(seq, DeliveryOutcome::Applied, None)
        .await?;
    tx.commit().await?;
    if e.action == PullRequestAction::Closed
        && e.pull_request.merged
        && e.repo.default_branch.as_deref() == Some(e.pull_request.base_ref.as_str())
    {
        // The merge may have changed `.github/owp.yml`.
        github.store.gh_config_stale(repo).await?;
    }
    Ok(())
}
