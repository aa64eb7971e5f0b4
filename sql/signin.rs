//! Signing in with GitHub (`owp::store::signin`): sessions, the permission cache and each
//! person's list of repositories; read-only statements.

use super::Db;

/// The live session (or token) whose secret has the digest `digest` at `now` (ms):
/// `(kind, login, github_id, csrf, expires_at)`.
pub async fn session<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    digest: &str,
    now: i64,
) -> sqlx::Result<Option<(String, Option<String>, Option<i64>, Option<String>, i64)>> {
    let row = sqlx::query_file!("../../sql/signin/session.sql", digest, now)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.kind, r.login, r.github_id, r.csrf, r.expires_at)))
}

/// How many sessions and tokens are live at `now` (ms).
pub async fn live_sessions<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    now: i64,
) -> sqlx::Result<i64> {
    let r = sqlx::query_file!("../../sql/signin/live_sessions.sql", now)
        .fetch_one(db)
        .await?;
    Ok(r.n)
}

/// What GitHub said `login` may do on `repo`, and when (ms), when it said so after `after` (ms):
/// `(permission, fetched_at)`.
pub async fn permission<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    login: &str,
    repo: &str,
    after: i64,
) -> sqlx::Result<Option<(String, i64)>> {
    let row = sqlx::query_file!("../../sql/signin/permission.sql", login, repo, after)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.permission, r.fetched_at)))
}

/// The actor of the newest status change of task `task_id`, if it had one.
pub async fn status_person<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_id: &str,
) -> sqlx::Result<Option<String>> {
    let row = sqlx::query_file!("../../sql/signin/status_person.sql", task_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.actor))
}

/// The installations of the App that this service knows, by id.
pub async fn known_installations<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<Vec<i64>> {
    let rows = sqlx::query_file!("../../sql/signin/known_installations.sql")
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// The repositories on `login`'s sign-in list that are still repositories of the App's
/// installations, by name: `(repo, installation_id)`.
pub async fn repos_of<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    login: &str,
) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query_file!("../../sql/signin/repos_of.sql", login)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.repo, r.installation_id))
        .collect())
}

/// The repositories of the App's installations, by name: `(repo, installation_id)`.
pub async fn installed_repos<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query_file!("../../sql/signin/installed_repos.sql")
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.repo, r.installation_id))
        .collect())
}
