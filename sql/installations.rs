//! The App's installations and the repositories they reach
//! (`owp::store::github::installations`): joining, leaving, the live figures and the settings
//! read from `.github/owp.yml`. The writes return the rows they changed.

use super::Db;

/// Installation `id` of `account` (empty: the one known stays), `suspended` (1), seen at
/// `now` (ms).
pub async fn keep_installation<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: i64,
    account: &str,
    suspended: i64,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/installations/keep_installation.sql",
        id,
        account,
        suspended,
        now
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
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

/// Forgets installation `id`.
pub async fn forget_installation<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/installations/forget_installation.sql", id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Forgets the writes of `installation_id`.
pub async fn forget_write_log<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    installation_id: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/installations/forget_write_log.sql",
        installation_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
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

/// `repo` (GitHub's `github_id`, kept when `None`) is reached through `installation_id`
/// from `now` (ms).
pub async fn attach<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    github_id: Option<i64>,
    installation_id: i64,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/installations/attach.sql",
        repo,
        github_id,
        installation_id,
        now
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// The App left `repo` at `now` (ms).
pub async fn detach<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/installations/detach.sql", repo, now)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Drops the pending rows of `repo` (the App left it).
pub async fn drop_repo_comments<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/installations/drop_repo_comments.sql", repo)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
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

/// `repo`'s live figures: `open_prs` open pull requests, `active_leases` active leases.
pub async fn set_figures<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    open_prs: i64,
    active_leases: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/installations/set_figures.sql",
        repo,
        open_prs,
        active_leases
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// `repo`'s `.github/owp.yml` read at `checked_at` (ms): in force as `config` (JSON; none:
/// the defaults), with `error` if any.
pub async fn config_read<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    config: Option<&str>,
    error: Option<&str>,
    checked_at: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/installations/config_read.sql",
        repo,
        config,
        error,
        checked_at
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// `repo`'s `.github/owp.yml` read at `checked_at` (ms) could not be used (`error`).
pub async fn config_refused<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    error: Option<&str>,
    checked_at: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/installations/config_refused.sql",
        repo,
        error,
        checked_at
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// `repo`'s `.github/owp.yml` is read again at its next delivery or reconciliation.
pub async fn config_stale<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/installations/config_stale.sql", repo)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// What `repo`'s `.github/owp.yml` sets, as every claim path reads it: the hourly claim cap, the
/// contract (JSON), the youngest account that may claim (days), the first-timers label, the
/// cool-down (hours), verified commits (below a trust), the claims one person may hold and the
/// allowlist (logins joined by commas).
#[allow(clippy::too_many_arguments)]
pub async fn settings<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
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
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/installations/settings.sql",
        repo,
        claims_per_hour,
        contract,
        min_account_age_days,
        first_timers_label,
        cooldown_hours,
        verified_commits,
        verified_commits_below_trust,
        max_claims_per_user,
        claim_allowlist
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
