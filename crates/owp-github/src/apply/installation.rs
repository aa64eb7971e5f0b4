//! `installation`, `installation_repositories` and `repository`: repositories join the pool
//! (budget 3 unless the repository's file or an admin says otherwise), follow their visibility, or
//! leave it (tasks nobody holds are cancelled).

use crate::domain::Visibility;
use crate::events::{
    InstallationAction, InstallationEvent, InstallationRepositoriesEvent, RepositoryAction,
    RepositoryEvent,
};
use crate::identity;
use crate::store::github::inbox::DeliveryOutcome;
use crate::sync::{join_repo, leave_repo, leave_repo_because, to_i64};

use super::{After, NOT_INSTALLED, Write, actor, write_then};

pub(super) fn installation(seq: i64, e: &InstallationEvent) -> Write {
    let e = e.clone();
    write_then(move |github| async move {
        let id = to_i64(e.installation_id);
        let who = actor(&e.sender.login);
        let mut tx = github.store.begin().await?;
        match e.action {
            InstallationAction::Created | InstallationAction::Unsuspended => {
                tx.installations().upsert(id, &e.account, false).await?;
                for repo in &e.repositories {
                    let github_id = Some(to_i64(repo.id));
                    join_repo(&mut tx, &repo.full_name, github_id, repo.private, id, &who).await?;
                }
            }
            InstallationAction::Suspended => {
                tx.installations().upsert(id, &e.account, true).await?;
            }
            InstallationAction::Deleted => {
                let repos = tx.installations().delete(id).await?;
                for repo in repos {
                    leave_repo(&mut tx, &repo, &who).await?;
                }
            }
        }
        tx.inbox()
            .finish(seq, DeliveryOutcome::Applied, None)
            .await?;
        tx.commit().await?;
        Ok(match e.action {
            // Issues labelled before the App came: picked up now, not at the next schedule.
            InstallationAction::Created | InstallationAction::Unsuspended => {
                After::ReconcileInstallation(id)
            }
            InstallationAction::Deleted | InstallationAction::Suspended => {
                After::ForgetInstallation(e.installation_id)
            }
        })
    })
}

pub(super) fn installation_repositories(seq: i64, e: &InstallationRepositoriesEvent) -> Write {
    let e = e.clone();
    write_then(move |github| async move {
        let id = to_i64(e.installation_id);
        let who = actor(&e.sender.login);
        let mut tx = github.store.begin().await?;
        for repo in &e.added {
            let github_id = Some(to_i64(repo.id));
            join_repo(&mut tx, &repo.full_name, github_id, repo.private, id, &who).await?;
        }
        for repo in &e.removed {
            // Only the installation that serves a repository can take it out of the pool.
            let serving = tx.installations().repo(&repo.full_name).await?;
            if serving.is_some_and(|r| r.installation_id == Some(id)) {
                leave_repo(&mut tx, &repo.full_name, &who).await?;
            } else {
                tracing::warn!(repo = %repo.full_name, installation = id, "a removal by an installation that does not serve the repository; ignored");
            }
        }
        tx.inbox()
            .finish(seq, DeliveryOutcome::Applied, None)
            .await?;
        tx.commit().await?;
        let added = e.added.iter().map(|r| r.full_name.clone()).collect();
        Ok(After::ReconcileRepos(id, added))
    })
}

/// `repository` events. A rename or transfer renames the repository in place (found by its id);
/// deleting or archiving it takes it out of the pool (archived repositories are read-only, so
/// nothing could be written there) and unarchiving brings it back; a change of visibility
/// follows GitHub.
pub(super) fn repository_event(seq: i64, e: &RepositoryEvent) -> Write {
    let e = e.clone();
    write_then(move |github| async move {
        let who = actor(&e.sender.login);
        let github_id = Some(to_i64(e.repo.id));
        let mut tx = github.store.begin().await?;
        let known = match tx.identity().repo_by_github_id(to_i64(e.repo.id)).await? {
            Some(r) => Some(r),
            None => tx.installations().repo(&e.repo.full_name).await?,
        };
        let Some(known) = known else {
            tx.inbox()
                .finish(seq, DeliveryOutcome::Ignored, Some(NOT_INSTALLED))
                .await?;
            tx.commit().await?;
            return Ok(After::Nothing);
        };
        let name = e.repo.full_name.as_str();
        let mut rejoin = None;
        match e.action {
            RepositoryAction::Renamed | RepositoryAction::Transferred => {
                identity::follow_rename(&mut tx, name, github_id, &who).await?;
                // A transfer may bring the repository to another installation of the App.
                let serving = e.installation_id.map(to_i64).or(known.installation_id);
                if let Some(installation) = serving
                    && known.installation_id.is_some()
                {
                    tx.installations()
                        .attach_repo(name, github_id, installation)
                        .await?;
                    tx.identity()
                        .outbox_follow_installation(name, installation)
                        .await?;
                }
            }
            RepositoryAction::Deleted => {
                if known.installation_id.is_some() {
                    leave_repo_because(&mut tx, &known.repo, "the repository was deleted", &who)
                        .await?;
                }
            }
            RepositoryAction::Archived => {
                if known.installation_id.is_some() {
                    leave_repo_because(&mut tx, &known.repo, "the repository was archived", &who)
                        .await?;
                }
            }
            RepositoryAction::Unarchived => {
                if let Some(installation) = e.installation_id.map(to_i64) {
                    join_repo(&mut tx, name, github_id, e.repo.private, installation, &who).await?;
                    rejoin = Some(installation);
                }
            }
            RepositoryAction::Privatized | RepositoryAction::Publicized => {
                let private = e.action == RepositoryAction::Privatized;
                identity::follow_rename(&mut tx, name, github_id, &who).await?;
                tx.repos()
                    .set_visibility(name, Visibility::from_private(private), &who)
                    .await?;
            }
        }
        tx.inbox()
            .finish(seq, DeliveryOutcome::Applied, None)
            .await?;
        tx.commit().await?;
        Ok(match rejoin {
            Some(installation) => After::ReconcileRepos(installation, vec![name.to_string()]),
            None => After::Nothing,
        })
    })
}
