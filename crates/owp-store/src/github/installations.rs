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

/// Installations and the repositories they put in the pool, read; each change in a transaction of
/// its own ([`Store::installations`]).
pub struct Installations<'s> {
    store: &'s Store,
}

/// Installations and their repositories inside a caller's write transaction
/// ([`WriteTx::installations`]).
pub struct InstallationsTx<'t> {
    tx: &'t mut WriteTx,
}

impl Store {
    /// The view of the store named by [`Installations`].
    pub fn installations(&self) -> Installations<'_> {
        Installations { store: self }
    }
}

impl WriteTx {
    /// The view of this transaction named by [`InstallationsTx`].
    pub fn installations(&mut self) -> InstallationsTx<'_> {
        InstallationsTx { tx: self }
    }
}

impl InstallationsTx<'_> {
    /// Records an installation (created, or seen again).
    pub async fn upsert(
        &mut self,
        id: i64,
        account: &str,
        suspended: bool,
    ) -> Result<(), StoreError> {
        let now = self.tx.now;
        let suspended = i64::from(suspended);
        checked_in_tx!(
            self.tx.conn(),
            installations::keep_installation(id, account, suspended, now)
        )?;
        Ok(())
    }

    /// Forgets an installation: its repositories leave and its pending comments are dropped.
    /// Returns the repositories that left.
    pub async fn delete(&mut self, id: i64) -> Result<Vec<String>, StoreError> {
        let repos = checked_in_tx!(self.tx.conn(), installations::repos_of(id))?;
        for repo in &repos {
            self.tx.installations().detach_repo(repo).await?;
        }
        checked_in_tx!(self.tx.conn(), installations::forget_installation(id))?;
        checked_in_tx!(self.tx.conn(), installations::forget_write_log(id))?;
        Ok(repos)
    }

    /// Attaches a repository to an installation; true when it was not attached before.
    pub async fn attach_repo(
        &mut self,
        repo: &str,
        github_id: Option<i64>,
        installation_id: i64,
    ) -> Result<bool, StoreError> {
        let now = self.tx.now;
        let before = checked_in_tx!(self.tx.conn(), installations::installation_of(repo))?;
        checked_in_tx!(
            self.tx.conn(),
            installations::attach(repo, github_id, installation_id, now)
        )?;
        Ok(!matches!(before, Some(Some(_))))
    }

    /// The App left a repository: it stays in the pool's records, and its pending comments are
    /// dropped (they can no longer be written).
    pub async fn detach_repo(&mut self, repo: &str) -> Result<(), StoreError> {
        let now = self.tx.now;
        checked_in_tx!(self.tx.conn(), installations::detach(repo, now))?;
        checked_in_tx!(self.tx.conn(), installations::drop_repo_comments(repo))?;
        Ok(())
    }

    /// Ids of a repository's issue tasks not yet taken (ready or blocked), for the repository's
    /// leaving the pool.
    pub async fn untaken_issue_tasks(&mut self, repo: &str) -> Result<Vec<String>, StoreError> {
        Ok(checked_in_tx!(
            self.tx.conn(),
            installations::untaken_issue_tasks(repo)
        )?)
    }

    /// The GitHub record of a repository.
    pub async fn repo(&mut self, repo: &str) -> Result<Option<GhRepo>, StoreError> {
        let row = checked_in_tx!(self.tx.conn(), github_rows::repo(repo))?;
        Ok(row.map(decode_repo))
    }

    /// Sets a repository's live figures from its tasks when they drifted; returns the figures
    /// before and after when they were corrected.
    pub async fn recount_repo(
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
        .fetch_optional(self.tx.conn())
        .await?;
        let Some((open, active, real_open, real_active)) = row else {
            return Ok(None);
        };
        if (open, active) == (real_open, real_active) {
            return Ok(None);
        }
        checked_in_tx!(
            self.tx.conn(),
            installations::set_figures(repo, real_open, real_active)
        )?;
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

impl Installations<'_> {
    /// The installations the App knows.
    pub async fn all(&self) -> Result<Vec<GhInstallation>, StoreError> {
        let rows = checked_read!(self.store, github::installations())?;
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
    pub async fn repo(&self, repo: &str) -> Result<Option<GhRepo>, StoreError> {
        let row = checked_read!(self.store, github_rows::repo(repo))?;
        Ok(row.map(decode_repo))
    }

    /// The repositories the App is installed on, optionally of one installation.
    pub async fn repos(&self, installation_id: Option<i64>) -> Result<Vec<GhRepo>, StoreError> {
        let rows = match installation_id {
            Some(id) => checked_read!(self.store, github_rows::installed_repos_of(id))?,
            None => checked_read!(self.store, github_rows::installed_repos())?,
        };
        Ok(rows.into_iter().map(decode_repo).collect())
    }
}

impl InstallationsTx<'_> {
    /// Records the result of reading a repository's `.github/owp.yml`: the config to use from
    /// now on ([`RepoConfigColumns::default`] for the defaults, `None` to keep the last good one)
    /// and the error to show. The cap, the contract and the config they came from change together.
    pub async fn set_repo_config(
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
            let verified = verified_commits.as_str();
            let below_trust = verified_commits_below_trust.map(i64::from);
            checked_in_tx!(
                self.tx.conn(),
                installations::settings(
                    repo,
                    claims_per_hour,
                    contract,
                    min_account_age_days,
                    first_timers_label,
                    cooldown_hours,
                    verified,
                    below_trust,
                    max_claims_per_user,
                    claim_allowlist
                )
            )?;
            self.tx.repos().set_approval(repo, &approval).await?;
            checked_in_tx!(
                self.tx.conn(),
                installations::config_read(repo, config, error, checked_at)
            )?;
        } else {
            checked_in_tx!(
                self.tx.conn(),
                installations::config_refused(repo, error, checked_at)
            )?;
        }
        Ok(())
    }

    /// Makes the next delivery or reconciliation of a repository read its `.github/owp.yml`
    /// again (a read that GitHub did not answer).
    pub async fn config_stale(&mut self, repo: &str) -> Result<(), StoreError> {
        checked_in_tx!(self.tx.conn(), installations::config_stale(repo))?;
        Ok(())
    }
}
