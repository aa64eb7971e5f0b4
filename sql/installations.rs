//! The App's installations and the repositories they reach
//! (`owp::store::github::installations`): joining, leaving, the live figures and the settings
//! read from `.github/owp.yml`. The writes return the rows they changed.

use super::Db;

writes! {
    /// Installation `id` of `account` (empty: the one known stays), `suspended` (1), seen at
    /// `now` (ms).
    keep_installation(id: i64, account: &str, suspended: i64, now: i64)
        = "../../sql/installations/keep_installation.sql";
}

/// The repositories `installation_id` reaches.
pub async fn repos_of<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    installation_id: i64,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/installations/repos_of.sql", installation_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.repo).collect())
}

writes! {
    /// Forgets installation `id`.
    forget_installation(id: i64) = "../../sql/installations/forget_installation.sql";
}

writes! {
    /// Forgets the writes of `installation_id`.
    forget_write_log(installation_id: i64) = "../../sql/installations/forget_write_log.sql";
}

/// The App's record of `repo`: `Some` with the installation that reaches it (none: the App
/// left), `None` without a record.
pub async fn installation_of<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
) -> sqlx::Result<Option<Option<i64>>> {
    let row = sqlx::query_file!("../../sql/installations/installation_of.sql", repo)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.installation_id))
}

writes! {
    /// `repo` (GitHub's `github_id`, kept when `None`) is reached through `installation_id`
    /// from `now` (ms).
    attach(repo: &str, github_id: Option<i64>, installation_id: i64, now: i64)
        = "../../sql/installations/attach.sql";
}

writes! {
    /// The App left `repo` at `now` (ms).
    detach(repo: &str, now: i64) = "../../sql/installations/detach.sql";
}

writes! {
    /// Drops the pending rows of `repo` (the App left it).
    drop_repo_comments(repo: &str) = "../../sql/installations/drop_repo_comments.sql";
}

/// The tasks made from issues of `repo` that nobody took yet.
pub async fn untaken_issue_tasks<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/installations/untaken_issue_tasks.sql", repo)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

writes! {
    /// `repo`'s live figures: `open_prs` open pull requests, `active_leases` active leases.
    set_figures(repo: &str, open_prs: i64, active_leases: i64)
        = "../../sql/installations/set_figures.sql";
}

writes! {
    /// `repo`'s `.github/owp.yml` read at `checked_at` (ms): in force as `config` (JSON; none:
    /// the defaults), with `error` if any.
    config_read(repo: &str, config: Option<&str>, error: Option<&str>, checked_at: i64)
        = "../../sql/installations/config_read.sql";
}

writes! {
    /// `repo`'s `.github/owp.yml` read at `checked_at` (ms) could not be used (`error`).
    config_refused(repo: &str, error: Option<&str>, checked_at: i64)
        = "../../sql/installations/config_refused.sql";
}

writes! {
    /// `repo`'s `.github/owp.yml` is read again at its next delivery or reconciliation.
    config_stale(repo: &str) = "../../sql/installations/config_stale.sql";
}

writes! {
    /// What `repo`'s `.github/owp.yml` sets, as every claim path reads it: the hourly claim cap,
    /// the contract (JSON), the youngest account that may claim (days), the first-timers label, the
    /// cool-down (hours), verified commits (below a trust), the claims one person may hold and the
    /// allowlist (logins joined by commas).
    settings(
        repo: &str,
        claims_per_hour: Option<i64>,
        contract: Option<&str>,
        min_account_age_days: i64,
        first_timers_label: Option<&str>,
        cooldown_hours: i64,
        verified_commits: &str,
        verified_commits_below_trust: Option<i64>,
        max_claims_per_user: Option<i64>,
        claim_allowlist: Option<&str>,
    ) = "../../sql/installations/settings.sql";
}
