//! Vouch lists (`owp::store::github::vouch`): the lists each repository reads, their entries
//! and a maintainer's commands. The writes return the rows they changed.

use super::Db;

/// Why a vouch list is not (wholly) applied, for every repository with such a list, by
/// repository then list: `(repo, error)`.
pub async fn list_errors<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<Vec<(String, String)>> {
    let rows = sqlx::query_file!("../../sql/vouch/list_errors.sql")
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.repo, r.error)).collect())
}

/// The state of each list repository `repo_id` reads, by origin:
/// `(origin, path, error, read_at)`.
pub async fn lists<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
) -> sqlx::Result<Vec<(String, Option<String>, Option<String>, Option<i64>)>> {
    let rows = sqlx::query_file!("../../sql/vouch/lists.sql", repo_id)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.origin, r.path, r.error, r.read_at))
        .collect())
}

/// How many entries the merged list of repository `repo_id` has.
pub async fn entry_count<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
) -> sqlx::Result<i64> {
    let r = sqlx::query_file!("../../sql/vouch/entry_count.sql", repo_id)
        .fetch_one(db)
        .await?;
    Ok(r.n)
}

/// The logins of `repo`'s entries, each with whether GitHub resolved it to an account id:
/// `(login, resolved)`, `resolved` 1 or 0.
pub async fn logins<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query_file!("../../sql/vouch/logins.sql", repo)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.login, r.resolved)).collect())
}

/// One entry of a merged list: `(login, vouched, denounced, details, source, origin)`,
/// `vouched` and `denounced` 1 or 0.
pub type EntryFields = (String, i64, i64, Option<String>, String, String);

/// The fields of one entry of either statement below (each has its own record type).
macro_rules! entry {
    ($r:expr) => {{
        let r = $r;
        (
            r.login,
            r.vouched,
            r.denounced,
            r.details,
            r.source,
            r.origin,
        )
    }};
}

/// Every entry of repository `repo_id`'s merged list, by login, then source and origin.
pub async fn entries<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
) -> sqlx::Result<Vec<EntryFields>> {
    let rows = sqlx::query_file!("../../sql/vouch/entries.sql", repo_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| entry!(r)).collect())
}

/// At most `limit` entries of repository `repo_id`'s merged list, its denouncements first.
pub async fn entries_denounced_first<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<EntryFields>> {
    let rows = sqlx::query_file!(
        "../../sql/vouch/entries_denounced_first.sql",
        repo_id,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| entry!(r)).collect())
}

/// Why each list `repo` reads is not (wholly) applied, by list.
pub async fn errors_of<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/vouch/errors_of.sql", repo)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.error).collect())
}

writes! {
    /// `repo`'s `vouch.trust` and `vouch.required` (1 or 0).
    set_settings(repo: &str, trust: i64, required: i64) = "../../sql/vouch/set_settings.sql";
}

/// The lists repository `repo_id` reads, by origin.
pub async fn origins<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/vouch/origins.sql", repo_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.origin).collect())
}

writes! {
    /// Forgets list `origin` of repository `repo_id`.
    forget_list(repo_id: i64, origin: &str) = "../../sql/vouch/forget_list.sql";
}

writes! {
    /// Forgets the entries list `origin` of repository `repo_id` gave (a maintainer's commands
    /// stay).
    forget_list_entries(repo_id: i64, origin: &str) = "../../sql/vouch/forget_list_entries.sql";
}

/// What list `origin` of repository `repo_id` last was: `(digest, error)`.
pub async fn list_read<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    origin: &str,
) -> sqlx::Result<Option<(Option<String>, Option<String>)>> {
    let row = sqlx::query_file!("../../sql/vouch/list_read.sql", repo_id, origin)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.digest, r.error)))
}

writes! {
    /// List `origin` of repository `repo_id`, which GitHub never answered for.
    list_unanswered(repo_id: i64, origin: &str) = "../../sql/vouch/list_unanswered.sql";
}

/// The logins of list `origin` (`source`) of repository `repo_id` resolved to an account,
/// with it.
pub async fn resolved_logins<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    source: &str,
    origin: &str,
) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query_file!(
        "../../sql/vouch/resolved_logins.sql",
        repo_id,
        source,
        origin
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.login, r.account_id)).collect())
}

writes! {
    /// Forgets the entries of list `origin` (`source`) of repository `repo_id`.
    clear_entries(repo_id: i64, source: &str, origin: &str) = "../../sql/vouch/clear_entries.sql";
}

writes! {
    /// `login` on list `origin` (`source`) of repository `repo_id`: `vouched` or `denounced`
    /// (1), with `details`, at `now` (ms), resolved to `account_id` if it was.
    add_entry(
        repo_id: i64,
        source: &str,
        origin: &str,
        login: &str,
        vouched: i64,
        denounced: i64,
        details: Option<&str>,
        now: i64,
        account_id: Option<i64>,
    ) = "../../sql/vouch/add_entry.sql";
}

writes! {
    /// List `origin` of repository `repo_id` read at `now` (ms): found at `path` (none: no
    /// file), with `error`, its applied entries' `digest`.
    keep_list(
        repo_id: i64,
        origin: &str,
        path: Option<&str>,
        error: Option<&str>,
        now: i64,
        digest: Option<&str>,
    ) = "../../sql/vouch/keep_list.sql";
}

writes! {
    /// Repository `repo_id`'s entries of `login` not resolved yet name `account_id`.
    resolve_in_repo(repo_id: i64, login: &str, account_id: i64)
        = "../../sql/vouch/resolve_in_repo.sql";
}

writes! {
    /// Every entry of `login` not resolved yet names `account_id`.
    resolve_everywhere(login: &str, account_id: i64) = "../../sql/vouch/resolve_everywhere.sql";
}

writes! {
    /// `repo` is closed to all but maintainers while a list it reads was never read or is not
    /// valid.
    update_closed(repo: &str) = "../../sql/vouch/update_closed.sql";
}

writes! {
    /// A maintainer's `/owp unvouch` of `login` in repository `repo_id`.
    unvouch(repo_id: i64, login: &str) = "../../sql/vouch/unvouch.sql";
}

writes! {
    /// A maintainer's `/owp vouch` (`vouched` 1) or `/owp denounce` (`denounced` 1, for
    /// `details`) of `login` in repository `repo_id`, at `now` (ms).
    command_entry(
        repo_id: i64,
        login: &str,
        vouched: i64,
        denounced: i64,
        details: Option<&str>,
        now: i64,
    ) = "../../sql/vouch/command_entry.sql";
}
