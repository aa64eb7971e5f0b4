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

impl WriteTx {
    /// The repository GitHub knows by `github_id`, under whatever name the pool has it.
    pub async fn gh_repo_by_github_id(
        &mut self,
        github_id: i64,
    ) -> Result<Option<GhRepo>, StoreError> {
        let row = checked_in_tx!(self.conn(), github_rows::repo_by_github_id(github_id))?;
        Ok(row.map(decode_repo))
    }

    /// Renames repository `old` to `new` everywhere the pool names it: the policy, the App's
    /// record, the task keys (`owner/name#N`), the GitHub side of its tasks, pending and past
    /// comments, linked pull requests and a default clone URL. Task ids, claims, leases and the
    /// live figures stay as they are. False (and nothing changed) when `new` already names
    /// another repository of the pool.
    pub async fn gh_rename_repo(
        &mut self,
        old: &str,
        new: &str,
        actor: &str,
    ) -> Result<bool, StoreError> {
        if old == new {
            return Ok(true);
        }
        let taken: Option<(i64,)> = sqlx::query_as("SELECT id FROM repos WHERE name = $1")
            .bind(new)
            .fetch_optional(self.conn())
            .await?;
        let taken_gh: Option<(String,)> =
            sqlx::query_as("SELECT repo FROM gh_repos WHERE repo = $1")
                .bind(new)
                .fetch_optional(self.conn())
                .await?;
        // A case-only rename finds itself under the new spelling on a case-insensitive match;
        // names are compared exactly here, so only another repository blocks it.
        if taken.is_some() || taken_gh.is_some() {
            return Ok(false);
        }
        let now = self.now;
        sqlx::query("UPDATE repos SET name = $1, updated_at = $2 WHERE name = $3")
            .bind(new)
            .bind(now)
            .bind(old)
            .execute(self.conn())
            .await?;
        sqlx::query("UPDATE repos SET clone_url = $1 WHERE name = $2 AND clone_url = $3")
            .bind(default_clone_url(new))
            .bind(new)
            .bind(default_clone_url(old))
            .execute(self.conn())
            .await?;
        for table in ["gh_repos", "gh_tasks", "gh_outbox", "gh_linked_prs"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET repo = $1 WHERE repo = $2"
            )))
            .bind(new)
            .bind(old)
            .execute(self.conn())
            .await?;
        }
        // Keys of GitHub tasks are `owner/name#N`: the part after the name stays.
        let prefix = format!("{old}#");
        sqlx::query(
            "UPDATE tasks SET key = $1 || substr(key, CAST($2 AS INTEGER)), updated_at = $3 \
             WHERE repo_id = (SELECT id FROM repos WHERE name = $4) \
               AND substr(key, 1, CAST($5 AS INTEGER)) = $6",
        )
        .bind(format!("{new}#"))
        .bind(i64::try_from(prefix.len() + 1).unwrap_or(i64::MAX))
        .bind(now)
        .bind(new)
        .bind(i64::try_from(prefix.len()).unwrap_or(i64::MAX))
        .bind(&prefix)
        .execute(self.conn())
        .await?;
        self.event(
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
    /// ([`WriteTx::gh_recount_repo`]).
    pub async fn gh_move_task(
        &mut self,
        task: &TaskRow,
        repo: &str,
        number: i64,
    ) -> Result<bool, StoreError> {
        let key = format!("{repo}#{number}");
        let target: Option<(i64,)> = sqlx::query_as("SELECT id FROM repos WHERE name = $1")
            .bind(repo)
            .fetch_optional(self.conn())
            .await?;
        let Some((repo_id,)) = target else {
            return Ok(false);
        };
        let taken: Option<(String,)> =
            sqlx::query_as("SELECT id FROM tasks WHERE repo_id = $1 AND key = $2")
                .bind(repo_id)
                .bind(&key)
                .fetch_optional(self.conn())
                .await?;
        if taken.is_some() {
            return Ok(false);
        }
        let old_number: Option<(i64,)> =
            sqlx::query_as("SELECT issue_number FROM gh_tasks WHERE task_id = $1")
                .bind(&task.id)
                .fetch_optional(self.conn())
                .await?;
        // The area lock stays only when nobody holds the same area in the new repository.
        sqlx::query(
            "UPDATE tasks SET repo_id = $1, key = $2, updated_at = $3, \
             area_lock = CASE WHEN area_lock IS NOT NULL AND EXISTS (SELECT 1 FROM tasks x \
                 WHERE x.repo_id = $1 AND x.area_lock = tasks.area_lock) THEN NULL \
                 ELSE area_lock END \
             WHERE id = $4",
        )
        .bind(repo_id)
        .bind(&key)
        .bind(self.now)
        .bind(&task.id)
        .execute(self.conn())
        .await?;
        sqlx::query("UPDATE leases SET repo_id = $1 WHERE task_seq = $2 AND repo_id = $3")
            .bind(repo_id)
            .bind(task.seq)
            .bind(task.repo_id)
            .execute(self.conn())
            .await?;
        sqlx::query("UPDATE gh_tasks SET repo = $1, issue_number = $2 WHERE task_id = $3")
            .bind(repo)
            .bind(number)
            .bind(&task.id)
            .execute(self.conn())
            .await?;
        if let Some((old_number,)) = old_number {
            sqlx::query(
                "UPDATE gh_outbox SET repo = $1, issue_number = $2, installation_id = \
                 COALESCE((SELECT installation_id FROM gh_repos WHERE repo = $1), installation_id) \
                 WHERE repo = $3 AND issue_number = $4 AND state = 'pending'",
            )
            .bind(repo)
            .bind(number)
            .bind(&task.repo)
            .bind(old_number)
            .execute(self.conn())
            .await?;
        }
        Ok(true)
    }

    /// Pending comments of a repository go through the installation that serves it now (a
    /// repository transferred to another account).
    pub async fn gh_outbox_follow_installation(
        &mut self,
        repo: &str,
        installation_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE gh_outbox SET installation_id = $1 \
             WHERE repo = $2 AND state = 'pending' AND installation_id <> $1",
        )
        .bind(installation_id)
        .bind(repo)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Forgets the GitHub id of a repository record (another record has the id now).
    pub async fn gh_forget_github_id(&mut self, repo: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE gh_repos SET github_id = NULL WHERE repo = $1")
            .bind(repo)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
