//! Vouch lists (`owp::store::github::vouch`): read-only statements.

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
