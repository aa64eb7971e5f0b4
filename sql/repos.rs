//! Repositories (`owp::store::repos`): read-only statements.

use super::Db;

/// The id of the repository named `name`, if the pool has one.
pub async fn id<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    name: &str,
) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query_file!("../../sql/repos/id.sql", name)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.id))
}

/// `name` joins the pool at `now` (ms): its review budget, area locks (1 or 0), its board's
/// visibility (`private` 1) pinned by a person (1), what GitHub said (`github_private`; none:
/// not asked) and its extensions (JSON).
#[allow(clippy::too_many_arguments)]
pub async fn create<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    name: &str,
    max_open_prs: i64,
    area_locks: i64,
    private: i64,
    pinned: i64,
    github_private: Option<i64>,
    extensions: &str,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/repos/create.sql",
        name,
        max_open_prs,
        area_locks,
        private,
        pinned,
        github_private,
        extensions,
        now
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Repository `id` changes at `now` (ms); with `unarchive` it leaves the archive, and what
/// GitHub said (`github_private`) is kept when `None`.
#[allow(clippy::too_many_arguments)]
pub async fn update<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: i64,
    max_open_prs: i64,
    area_locks: i64,
    private: i64,
    pinned: i64,
    extensions: &str,
    now: i64,
    unarchive: bool,
    github_private: Option<i64>,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/repos/update.sql",
        id,
        max_open_prs,
        area_locks,
        private,
        pinned,
        extensions,
        now,
        unarchive,
        github_private
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// `name` is cloned from `url` (none: the default of its kind).
pub async fn set_clone_url<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    name: &str,
    url: Option<&str>,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/repos/set_clone_url.sql", name, url)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// `name`'s plans first: `approval`, the trust that claims directly (`skip_trust`; none:
/// nobody), the days a proposal stays open.
pub async fn set_approval<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    name: &str,
    approval: &str,
    skip_trust: Option<i64>,
    proposal_days: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/repos/set_approval.sql",
        name,
        approval,
        skip_trust,
        proposal_days
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// `name`'s contract (JSON; none: no contract).
pub async fn set_contract<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    name: &str,
    contract: Option<&str>,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/repos/set_contract.sql", name, contract)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// `name` is cloned from `url` unless it has a clone URL already.
pub async fn default_clone_url<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    name: &str,
    url: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/repos/default_clone_url.sql", name, url)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Repository `id`'s board is `private` (1), GitHub says `github_private` (1), a person's
/// choice `pinned` (1), at `now` (ms).
pub async fn set_visibility<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    id: i64,
    private: i64,
    github_private: i64,
    pinned: i64,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/repos/set_visibility.sql",
        id,
        private,
        github_private,
        pinned,
        now
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

writes! {
    /// Repository `repo_id` is archived at `now` (ms) by `actor`.
    archive(now: i64, actor: &str, repo_id: i64) = "../../sql/repos/archive.sql";
}
