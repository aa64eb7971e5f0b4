//! GitHub's numeric ids as the identity of repositories (schema in
//! `migrations/*/0010_github_identity.sql`).
//!
//! The pool names a repository `owner/name` everywhere a person sees it (the policy, task keys,
//! the outbox, linked pull requests). GitHub keeps a repository's id when it is renamed or
//! transferred, so a known id under a new name renames the repository in place: task ids, claims,
//! leases, budgets and status comments stay; only the names change, in one transaction. An issue
//! moved to another pooled repository takes its task along the same way.

use serde_json::json;

use super::installations::{GhRepo, decode_repo};
use crate::engine::checked::checked_in_tx;
use crate::rows::TaskRow;
use crate::{NewEvent, StoreError, WriteTx};

/// The clone URL a GitHub repository gets when nobody set one.
fn default_clone_url(repo: &str) -> String {
    crate::domain::contract::github_clone_url(repo)
}

/// A repository known by GitHub's id inside a caller's write transaction: renamed, transferred, its
/// tasks moved ([`WriteTx::identity`]).
pub struct RepoIdentityTx<'t> {
    tx: &'t mut WriteTx,
}

impl WriteTx {
    /// The view of this transaction named by [`RepoIdentityTx`].
    pub fn identity(&mut self) -> RepoIdentityTx<'_> {
        RepoIdentityTx { tx: self }
    }
}

impl RepoIdentityTx<'_> {
    /// The repository GitHub knows by `github_id`, under whatever name the pool has it.
    pub async fn repo_by_github_id(
        &mut self,
        github_id: i64,
    ) -> Result<Option<GhRepo>, StoreError> {
        let row = checked_in_tx!(self.tx.conn(), github_rows::repo_by_github_id(github_id))?;
        Ok(row.map(decode_repo))
    }

    /// Renames repository `old` to `new` everywhere the pool names it: the policy, the App's
    /// record, the task keys (`owner/name#N`), the GitHub side of its tasks, pending and past
    /// comments, linked pull requests and a default clone URL. Task ids, claims, leases and the
    /// live figures stay as they are. False (and nothing changed) when `new` already names
    /// another repository of the pool.
    pub async fn rename_repo(
        &mut self,
        old: &str,
        new: &str,
        actor: &str,
    ) -> Result<bool, StoreError> {
        if old == new {
            return Ok(true);
        }
        let taken = checked_in_tx!(self.tx.conn(), repos::id(new))?;
        let taken_gh = checked_in_tx!(self.tx.conn(), identity::app_repo_named(new))?;
        // A case-only rename finds itself under the new spelling on a case-insensitive match;
        // names are compared exactly here, so only another repository blocks it.
        if taken.is_some() || taken_gh {
            return Ok(false);
        }
        let now = self.tx.now;
        checked_in_tx!(self.tx.conn(), identity::rename_policy(old, new, now))?;
        let (former, url) = (default_clone_url(old), default_clone_url(new));
        checked_in_tx!(
            self.tx.conn(),
            identity::follow_clone_url(new, &former, &url)
        )?;
        checked_in_tx!(self.tx.conn(), identity::rename_gh_repos(new, old))?;
        checked_in_tx!(self.tx.conn(), identity::rename_gh_tasks(new, old))?;
        checked_in_tx!(self.tx.conn(), identity::rename_gh_outbox(new, old))?;
        checked_in_tx!(self.tx.conn(), identity::rename_gh_linked_prs(new, old))?;
        // Keys of GitHub tasks are `owner/name#N`: the part after the name stays.
        let prefix = format!("{old}#");
        let prefix_len = i32::try_from(prefix.len()).unwrap_or(i32::MAX);
        let new_prefix = format!("{new}#");
        checked_in_tx!(
            self.tx.conn(),
            identity::rename_keys(
                &new_prefix,
                prefix_len.saturating_add(1),
                now,
                new,
                prefix_len,
                &prefix
            )
        )?;
        self.tx.event(
            NewEvent::new("github.repo_renamed", actor)
                .repo(new)
                .data(json!({"from": old, "to": new})),
        );
        Ok(true)
    }

    /// Moves a task made from an issue to issue `number` of repository `repo` (an issue moved to
    /// another pooled repository): its id, status, claim and lease stay; its key, repository and
    /// pending comments follow the issue. False (nothing changed) when the new key is taken.
    /// The live figures of both repositories are corrected by the caller
    /// ([`InstallationsTx::recount_repo`]).
    ///
    /// [`InstallationsTx::recount_repo`]: super::installations::InstallationsTx::recount_repo
    pub async fn move_task(
        &mut self,
        task: &TaskRow,
        repo: &str,
        number: i64,
    ) -> Result<bool, StoreError> {
        let key = format!("{repo}#{number}");
        let Some(repo_id) = checked_in_tx!(self.tx.conn(), repos::id(repo))? else {
            return Ok(false);
        };
        if checked_in_tx!(self.tx.conn(), identity::task_with_key(repo_id, &key))?.is_some() {
            return Ok(false);
        }
        let old_number = checked_in_tx!(self.tx.conn(), identity::issue_of_task(&task.id))?;
        // The area lock stays only when nobody holds the same area in the new repository.
        let now = self.tx.now;
        checked_in_tx!(
            self.tx.conn(),
            identity::move_task(&task.id, repo_id, &key, now)
        )?;
        let (seq, from) = (task.seq, task.repo_id);
        checked_in_tx!(self.tx.conn(), identity::move_leases(seq, from, repo_id))?;
        checked_in_tx!(self.tx.conn(), identity::move_issue(&task.id, repo, number))?;
        if let Some(old_number) = old_number {
            checked_in_tx!(
                self.tx.conn(),
                identity::move_pending_comments(&task.repo, old_number, repo, number)
            )?;
        }
        Ok(true)
    }

    /// Pending comments of a repository go through the installation that serves it now (a
    /// repository transferred to another account).
    pub async fn outbox_follow_installation(
        &mut self,
        repo: &str,
        installation_id: i64,
    ) -> Result<(), StoreError> {
        checked_in_tx!(
            self.tx.conn(),
            identity::follow_installation(repo, installation_id)
        )?;
        Ok(())
    }

    /// Forgets the GitHub id of a repository record (another record has the id now).
    pub async fn forget_github_id(&mut self, repo: &str) -> Result<(), StoreError> {
        checked_in_tx!(self.tx.conn(), identity::forget_github_id(repo))?;
        Ok(())
    }
}
