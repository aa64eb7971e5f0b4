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

writes! {
    /// `name` joins the pool at `now` (ms): its review budget, area locks (1 or 0), its board's
    /// visibility (`private` 1) pinned by a person (1), what GitHub said (`github_private`; none:
    /// not asked) and its extensions (JSON).
    create(
        name: &str,
        max_open_prs: i64,
        area_locks: i64,
        private: i64,
        pinned: i64,
        github_private: Option<i64>,
        extensions: &str,
        now: i64,
    ) = "../../sql/repos/create.sql";
}

writes! {
    /// Repository `id` changes at `now` (ms); with `unarchive` it leaves the archive, and what
    /// GitHub said (`github_private`) is kept when `None`.
    update(
        id: i64,
        max_open_prs: i64,
        area_locks: i64,
        private: i64,
        pinned: i64,
        extensions: &str,
        now: i64,
        unarchive: bool,
        github_private: Option<i64>,
    ) = "../../sql/repos/update.sql";
}

writes! {
    /// `name` is cloned from `url` (none: the default of its kind).
    set_clone_url(name: &str, url: Option<&str>) = "../../sql/repos/set_clone_url.sql";
}

writes! {
    /// `name`'s plans first: `approval`, the trust that claims directly (`skip_trust`; none:
    /// nobody), the days a proposal stays open.
    set_approval(name: &str, approval: &str, skip_trust: Option<i64>, proposal_days: i64)
        = "../../sql/repos/set_approval.sql";
}

writes! {
    /// `name`'s contract (JSON; none: no contract).
    set_contract(name: &str, contract: Option<&str>) = "../../sql/repos/set_contract.sql";
}

writes! {
    /// `name` is cloned from `url` unless it has a clone URL already.
    default_clone_url(name: &str, url: &str) = "../../sql/repos/default_clone_url.sql";
}

writes! {
    /// Repository `id`'s board is `private` (1), GitHub says `github_private` (1), a person's
    /// choice `pinned` (1), at `now` (ms).
    set_visibility(id: i64, private: i64, github_private: i64, pinned: i64, now: i64)
        = "../../sql/repos/set_visibility.sql";
}

writes! {
    /// Repository `repo_id` is archived at `now` (ms) by `actor`.
    archive(now: i64, actor: &str, repo_id: i64) = "../../sql/repos/archive.sql";
}
