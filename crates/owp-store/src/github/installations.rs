//! Installations of the App and the repositories they put in the pool (`gh_installations`,
//! `gh_repos`): attaching and detaching a repository, its `.github/owp.yml` configuration, and
//! its live figures recounted from its tasks.

use owp_sql_sqlite::github_rows::RepoFields;

use crate::budget_rule::takes_review_slot;
use crate::engine::checked::{checked_in_tx, checked_read};
use crate::in_flight::holds_lease;
use crate::{Store, StoreError, WriteTx};

/// A repository the App is (or was) installed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GhRepo {
    pub repo: String,
    pub github_id: Option<i64>,
    /// `None` once the App left the repository.
    pub installation_id: Option<i64>,
    /// The last good `.github/owp.yml`, as JSON; `None`: the defaults.
    pub config: Option<String>,
    pub config_error: Option<String>,
    pub config_checked_at: i64,
}

/// A repository's record as the statements of `sql/github_rows/` read it.
pub(super) fn decode_repo(fields: RepoFields) -> GhRepo {
    let (repo, github_id, installation_id, config, config_error, config_checked_at) = fields;
    GhRepo {
        repo,
        github_id,
        installation_id,
        config,
        config_error,
        config_checked_at,
    }
}

/// An installation of the App.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GhInstallation {
    pub id: i64,
    pub account: String,
    pub suspended: bool,
    pub blocked_until: i64,
}

impl WriteTx {
    /// Records an installation (created, or seen again).
    pub async fn gh_upsert_installation(
        &mut self,
        id: i64,
        account: &str,
        suspended: bool,
    ) -> Result<(), StoreError> {
        let now = self.now;
        sqlx::query(
            "INSERT INTO gh_installations (id, account, suspended, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (id) DO UPDATE SET \
             account = CASE WHEN excluded.account = '' THEN gh_installations.account \
                            ELSE excluded.account END, \
             suspended = excluded.suspended, updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(account)
        .bind(i64::from(suspended))
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Forgets an installation: its repositories leave and its pending comments are dropped.
    /// Returns the repositories that left.
    pub async fn gh_delete_installation(&mut self, id: i64) -> Result<Vec<String>, StoreError> {
        let repos: Vec<(String,)> =
            sqlx::query_as("SELECT repo FROM gh_repos WHERE installation_id = $1")
                .bind(id)
                .fetch_all(self.conn())
                .await?;
        for (repo,) in &repos {
            self.gh_detach_repo(repo).await?;
        }
        sqlx::query("DELETE FROM gh_installations WHERE id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        sqlx::query("DELETE FROM gh_write_log WHERE installation_id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(repos.into_iter().map(|(r,)| r).collect())
    }

    /// Attaches a repository to an installation; true when it was not attached before.
    pub async fn gh_attach_repo(
        &mut self,
        repo: &str,
        github_id: Option<i64>,
        installation_id: i64,
    ) -> Result<bool, StoreError> {
        let now = self.now;
        let before: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT installation_id FROM gh_repos WHERE repo = $1")
                .bind(repo)
                .fetch_optional(self.conn())
                .await?;
        sqlx::query(
            "INSERT INTO gh_repos (repo, github_id, installation_id, joined_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (repo) DO UPDATE SET \
             github_id = COALESCE(excluded.github_id, gh_repos.github_id), \
             installation_id = excluded.installation_id, left_at = NULL, \
             joined_at = CASE WHEN gh_repos.installation_id IS NULL THEN excluded.joined_at \
                              ELSE gh_repos.joined_at END",
        )
        .bind(repo)
        .bind(github_id)
        .bind(installation_id)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(!matches!(before, Some((Some(_),))))
    }

    /// The App left a repository: it stays in the pool's records, and its pending comments are
    /// dropped (they can no longer be written).
    pub async fn gh_detach_repo(&mut self, repo: &str) -> Result<(), StoreError> {
        let now = self.now;
        sqlx::query("UPDATE gh_repos SET installation_id = NULL, left_at = $1 WHERE repo = $2")
            .bind(now)
            .bind(repo)
            .execute(self.conn())
            .await?;
        sqlx::query(
            "UPDATE gh_outbox SET state = 'dropped', last_error = 'the App left the repository', \
             claimed_by = NULL, claimed_until = NULL WHERE repo = $1 AND state = 'pending'",
        )
        .bind(repo)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Ids of a repository's issue tasks not yet taken (ready or blocked), for the repository's
    /// leaving the pool.
    pub async fn gh_untaken_issue_tasks(&mut self, repo: &str) -> Result<Vec<String>, StoreError> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT t.id FROM tasks t JOIN repos r ON r.id = t.repo_id \
             JOIN gh_tasks g ON g.task_id = t.id WHERE r.name = $1 AND t.status IN ('ready', 'blocked')",
        )
        .bind(repo)
        .fetch_all(self.conn())
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// The GitHub record of a repository.
    pub async fn gh_repo(&mut self, repo: &str) -> Result<Option<GhRepo>, StoreError> {
        let row = checked_in_tx!(self.conn(), github_rows::repo(repo))?;
        Ok(row.map(decode_repo))
    }

    /// Sets a repository's live figures from its tasks when they drifted; returns the figures
    /// before and after when they were corrected.
    pub async fn gh_recount_repo(
        &mut self,
        repo: &str,
    ) -> Result<Option<((i64, i64), (i64, i64))>, StoreError> {
        let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(concat!(
            "SELECT r.open_prs, r.active_leases, \
             (SELECT COUNT(*) FROM tasks t WHERE t.repo_id = r.id AND ",
            takes_review_slot!("t."),
            "), (SELECT COUNT(*) FROM tasks t WHERE t.repo_id = r.id AND ",
            holds_lease!("t."),
            ") FROM repos r WHERE r.name = $1"
        ))
        .bind(repo)
        .fetch_optional(self.conn())
        .await?;
        let Some((open, active, real_open, real_active)) = row else {
            return Ok(None);
        };
        if (open, active) == (real_open, real_active) {
            return Ok(None);
        }
        sqlx::query("UPDATE repos SET open_prs = $1, active_leases = $2 WHERE name = $3")
            .bind(real_open)
            .bind(real_active)
            .bind(repo)
            .execute(self.conn())
            .await?;
        Ok(Some(((open, active), (real_open, real_active))))
    }
}

/// What a repository's `.github/owp.yml` sets in the database.
#[derive(Clone, Copy, Debug, Default)]
pub struct RepoConfigColumns<'a> {
    /// The config as JSON (`None`: the defaults).
    pub config: Option<&'a str>,
    /// The hourly claim cap, which every claim path enforces.
    pub claims_per_hour: Option<i64>,
    /// The repo contract (JSON), which every lease carries.
    pub contract: Option<&'a str>,
    /// The youngest GitHub account, in days, that may claim (0: any).
    pub min_account_age_days: i64,
    /// The label of issues kept for first timers (`None`: the rule is off), kept for the words
    /// of a refusal; whether a task carries it is the task's (`tasks.first_timers`).
    pub first_timers_label: Option<&'a str>,
    /// Hours a person waits to claim again in the repository after a claim ended without a pull
    /// request (0: none).
    pub cooldown_hours: i64,
    /// Plan first (`claim.approval`, `approval_skip_trust`, `proposal_days`).
    pub approval: crate::domain::proposals::ApprovalPolicy,
    /// `claim.verified_commits`.
    pub verified_commits: crate::domain::task_policy::VerifiedCommits,
    /// `claim.verified_commits_below_trust` (0–3).
    pub verified_commits_below_trust: Option<u8>,
    /// `max_claims_per_user`: claims one person holds at once in the repository, on all their
    /// workers and comments together (`None`: no such limit).
    pub max_claims_per_user: Option<i64>,
    /// `who_may_claim: {allowlist: […]}`: the logins, lower-case, joined by commas (`None`: no
    /// allowlist), which the claim reads on every path.
    pub claim_allowlist: Option<&'a str>,
}

impl Store {
    /// The installations the App knows.
    pub async fn gh_installations(&self) -> Result<Vec<GhInstallation>, StoreError> {
        let rows = checked_read!(self, github::installations())?;
        Ok(rows
            .into_iter()
            .map(|(id, account, suspended, blocked_until)| GhInstallation {
                id,
                account,
                suspended: suspended != 0,
                blocked_until,
            })
            .collect())
    }

    /// The GitHub record of a repository.
    pub async fn gh_repo(&self, repo: &str) -> Result<Option<GhRepo>, StoreError> {
        let row = checked_read!(self, github_rows::repo(repo))?;
        Ok(row.map(decode_repo))
    }

    /// The repositories the App is installed on, optionally of one installation.
    pub async fn gh_installed_repos(
        &self,
        installation_id: Option<i64>,
    ) -> Result<Vec<GhRepo>, StoreError> {
        let rows = match installation_id {
            Some(id) => checked_read!(self, github_rows::installed_repos_of(id))?,
            None => checked_read!(self, github_rows::installed_repos())?,
        };
        Ok(rows.into_iter().map(decode_repo).collect())
    }
}

impl WriteTx {
    /// Records the result of reading a repository's `.github/owp.yml`: the config to use from
    /// now on ([`RepoConfigColumns::default`] for the defaults, `None` to keep the last good one)
    /// and the error to show. The cap, the contract and the config they came from change together.
    pub async fn gh_set_repo_config(
        &mut self,
        repo: &str,
        config: Option<RepoConfigColumns<'_>>,
        error: Option<&str>,
        checked_at: i64,
    ) -> Result<(), StoreError> {
        if let Some(RepoConfigColumns {
            config,
            claims_per_hour,
            contract,
            min_account_age_days,
            first_timers_label,
            cooldown_hours,
            approval,
            verified_commits,
            verified_commits_below_trust,
            max_claims_per_user,
            claim_allowlist,
        }) = config
        {
            sqlx::query(
                "UPDATE repos SET claims_per_hour = $1, contract = $2, \
                 min_account_age_days = $3, first_timers_label = $4, cooldown_hours = $5, \
                 verified_commits = $6, verified_commits_below_trust = $7, \
                 max_claims_per_user = $8, claim_allowlist = $9 WHERE name = $10",
            )
            .bind(claims_per_hour)
            .bind(contract)
            .bind(min_account_age_days)
            .bind(first_timers_label)
            .bind(cooldown_hours)
            .bind(verified_commits.as_str())
            .bind(verified_commits_below_trust.map(i64::from))
            .bind(max_claims_per_user)
            .bind(claim_allowlist)
            .bind(repo)
            .execute(self.conn())
            .await?;
            self.set_repo_approval(repo, &approval).await?;
            sqlx::query(
                "UPDATE gh_repos SET config = $1, config_error = $2, config_checked_at = $3 \
                 WHERE repo = $4",
            )
            .bind(config)
            .bind(error)
            .bind(checked_at)
            .bind(repo)
            .execute(self.conn())
            .await?;
        } else {
            sqlx::query(
                "UPDATE gh_repos SET config_error = $1, config_checked_at = $2 WHERE repo = $3",
            )
            .bind(error)
            .bind(checked_at)
            .bind(repo)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// Makes the next delivery or reconciliation of a repository read its `.github/owp.yml`
    /// again (a read that GitHub did not answer).
    pub async fn gh_config_stale(&mut self, repo: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE gh_repos SET config_checked_at = 0 WHERE repo = $1")
            .bind(repo)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
