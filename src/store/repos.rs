//! Repository policies.

use serde_json::{Map, Value, json};
use sqlx::AssertSqlSafe;

use super::rows::{REPO_SELECT, RepoRow};
use super::{NewEvent, Store, StoreError, WriteTx};
use crate::domain::Visibility;
use crate::domain::contract::{RepoContract, validate_clone_url};
use crate::domain::limits;

/// What an admin (or a repo's config file) sets on a repository.
#[derive(Clone, Debug, Default)]
pub struct RepoUpsert {
    pub name: String,
    pub max_open_prs: i64,
    pub area_locks_enabled: Option<bool>,
    pub extensions: Map<String, Value>,
    /// `None`: keep the current contract; `Some(None)`: remove it.
    pub contract: Option<Option<RepoContract>>,
    /// `None`: keep the current clone URL; `Some(None)`: remove it.
    pub clone_url: Option<Option<String>>,
}

impl WriteTx {
    /// Creates or updates a repository policy. Returns the row and whether it was created. A new
    /// repository is private; an existing one keeps its visibility.
    pub async fn upsert_repo(
        &mut self,
        input: &RepoUpsert,
        actor: &str,
    ) -> Result<(RepoRow, bool), StoreError> {
        self.upsert_repo_with(input, None, actor).await
    }

    /// [`WriteTx::upsert_repo`] that also sets the repository's visibility when one is given.
    pub async fn upsert_repo_with(
        &mut self,
        input: &RepoUpsert,
        visibility: Option<Visibility>,
        actor: &str,
    ) -> Result<(RepoRow, bool), StoreError> {
        if input.name.trim().is_empty() {
            return Err(StoreError::invalid(
                "invalid_repo",
                "`repo` must not be empty",
            ));
        }
        limits::text("repo", &input.name, limits::MAX_KEY_CHARS)?;
        // The upper bound of `max_open_prs` is the API's (see `http::admin`); tools of the
        // service itself (the benchmark) may set larger budgets.
        limits::range(
            "max_open_prs",
            "invalid_max_open_prs",
            input.max_open_prs,
            (limits::MAX_OPEN_PRS.0, i64::MAX),
        )?;
        if let Some(Some(contract)) = &input.contract {
            contract
                .validate("contract")
                .map_err(|e| StoreError::invalid("invalid_contract", e.to_string()))?;
        }
        if let Some(Some(url)) = &input.clone_url {
            validate_clone_url(url)
                .map_err(|e| StoreError::invalid("invalid_clone_url", e.to_string()))?;
        }
        let now = self.now;
        let existing = self.repo_by_name(&input.name).await?;
        let created = existing.is_none();
        match &existing {
            None => {
                let private = visibility.unwrap_or_default().is_private();
                sqlx::query(
                    "INSERT INTO repos (name, max_open_prs, area_locks_enabled, private, \
                     extensions, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(&input.name)
                .bind(input.max_open_prs)
                .bind(i64::from(input.area_locks_enabled.unwrap_or(true)))
                .bind(i64::from(private))
                .bind(Value::Object(input.extensions.clone()).to_string())
                .bind(now)
                .execute(self.conn())
                .await?;
            }
            Some(old) => {
                let mut ext = old.extensions.clone();
                ext.extend(input.extensions.clone());
                let locks = input.area_locks_enabled.unwrap_or(old.area_locks_enabled);
                let private = visibility.map_or(old.private, Visibility::is_private);
                sqlx::query(
                    "UPDATE repos SET max_open_prs = $1, area_locks_enabled = $2, private = $3, \
                     extensions = $4, updated_at = $5, archived_at = NULL WHERE id = $6",
                )
                .bind(input.max_open_prs)
                .bind(i64::from(locks))
                .bind(i64::from(private))
                .bind(Value::Object(ext).to_string())
                .bind(now)
                .bind(old.id)
                .execute(self.conn())
                .await?;
                if locks != old.area_locks_enabled {
                    self.reset_area_locks(old.id, locks).await?;
                }
            }
        }
        if let Some(contract) = &input.contract {
            self.set_repo_contract(&input.name, contract.as_ref())
                .await?;
        }
        if let Some(url) = &input.clone_url {
            sqlx::query("UPDATE repos SET clone_url = $1 WHERE name = $2")
                .bind(url.as_deref().map(str::trim))
                .bind(&input.name)
                .execute(self.conn())
                .await?;
        }
        let row = self
            .repo_by_name(&input.name)
            .await?
            .ok_or_else(|| StoreError::not_found("repo_not_found", "repo vanished"))?;
        self.event(
            NewEvent::new(
                if created {
                    "repo.created"
                } else {
                    "repo.updated"
                },
                actor,
            )
            .repo(&row.name)
            .data(json!({
                "max_open_prs": row.max_open_prs,
                "area_locks_enabled": row.area_locks_enabled,
                "visibility": Visibility::from_private(row.private).as_str(),
            })),
        );
        Ok((row, created))
    }

    /// Stores a repository's contract (`None` removes it; an empty one is stored as none).
    pub async fn set_repo_contract(
        &mut self,
        name: &str,
        contract: Option<&RepoContract>,
    ) -> Result<(), StoreError> {
        let text = contract
            .filter(|c| !c.is_empty())
            .map(|c| serde_json::to_string(c).unwrap_or_default());
        sqlx::query("UPDATE repos SET contract = $1 WHERE name = $2")
            .bind(text)
            .bind(name)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Gives a repository the clone URL `url` unless it already has one.
    pub async fn default_clone_url(&mut self, name: &str, url: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE repos SET clone_url = $1 WHERE name = $2 AND clone_url IS NULL")
            .bind(url)
            .bind(name)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Sets a repository's visibility (GitHub said whether it is private). True when it changed;
    /// an unknown repository is left alone.
    pub async fn set_repo_visibility(
        &mut self,
        name: &str,
        visibility: Visibility,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let private = i64::from(visibility.is_private());
        let changed = sqlx::query(
            "UPDATE repos SET private = $1, updated_at = $2 WHERE name = $3 AND private <> $1",
        )
        .bind(private)
        .bind(self.now)
        .bind(name)
        .execute(self.conn())
        .await?
        .rows_affected()
            > 0;
        if changed {
            self.event(
                NewEvent::new("repo.updated", actor)
                    .repo(name)
                    .data(json!({"visibility": visibility.as_str()})),
            );
        }
        Ok(changed)
    }

    /// Turning area locks on gives each area's oldest in-flight task the lock; turning them off
    /// drops every lock of the repo.
    async fn reset_area_locks(&mut self, repo_id: i64, enabled: bool) -> Result<(), StoreError> {
        if enabled {
            sqlx::query(
                "UPDATE tasks SET area_lock = area WHERE repo_id = $1 AND area IS NOT NULL \
                 AND status IN ('leased', 'in_progress', 'pr_opened') \
                 AND seq = (SELECT MIN(x.seq) FROM tasks x WHERE x.repo_id = tasks.repo_id \
                   AND x.area = tasks.area AND x.status IN ('leased', 'in_progress', 'pr_opened'))",
            )
        } else {
            sqlx::query("UPDATE tasks SET area_lock = NULL WHERE repo_id = $1")
        }
        .bind(repo_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn repo_by_name(&mut self, name: &str) -> Result<Option<RepoRow>, StoreError> {
        let sql = format!("{REPO_SELECT} WHERE name = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(RepoRow::decode).transpose()
    }
}

impl Store {
    pub async fn repo(&self, name: &str) -> Result<Option<RepoRow>, StoreError> {
        let sql = format!("{REPO_SELECT} WHERE name = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(RepoRow::decode).transpose()
    }

    pub async fn repos(&self) -> Result<Vec<RepoRow>, StoreError> {
        let sql = format!("{REPO_SELECT} ORDER BY name");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(RepoRow::decode).collect()
    }

    /// Creates or updates a repository policy in its own transaction.
    pub async fn upsert_repo(
        &self,
        input: &RepoUpsert,
        actor: &str,
    ) -> Result<(RepoRow, bool), StoreError> {
        self.upsert_repo_with(input, None, actor).await
    }

    /// [`Store::upsert_repo`] that also sets the repository's visibility when one is given.
    pub async fn upsert_repo_with(
        &self,
        input: &RepoUpsert,
        visibility: Option<Visibility>,
        actor: &str,
    ) -> Result<(RepoRow, bool), StoreError> {
        self.write_upsert(|mut tx| async move {
            let r = tx.upsert_repo_with(input, visibility, actor).await;
            (tx, r)
        })
        .await
    }
}
