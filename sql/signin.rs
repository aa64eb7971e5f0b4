//! Signing in with GitHub (`owp::store::signin`): sign-ins under way, sessions, the permission
//! cache and each person's list of repositories. The writes return the rows they changed.

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

writes! {
    /// Forgets the sign-ins that expired before `before` (ms).
    sweep_flows(before: i64) = "../../sql/signin/sweep_flows.sql";
}

writes! {
    /// A sign-in under way: `kind` `web` (with its PKCE `verifier`) or `device` (polled no sooner
    /// than every `interval_ms`), made at `now` and valid until `expires_at` (ms).
    start_flow(
        digest: &str,
        kind: &str,
        verifier: Option<&str>,
        interval_ms: i64,
        now: i64,
        expires_at: i64,
    ) = "../../sql/signin/start_flow.sql";
}

/// Takes the live, unused web sign-in `digest` at `now` (ms), once: `Some` (its verifier, if
/// it had one) for the one caller that takes it.
pub async fn take_web_flow<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    digest: &str,
    now: i64,
) -> sqlx::Result<Option<Option<String>>> {
    let row = sqlx::query_file!("../../sql/signin/take_web_flow.sql", digest, now)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.verifier))
}

/// A poll of the live, unused device flow `digest` at `now` (ms), if its interval has passed
/// since the last one (which this one then is).
pub async fn poll_device_flow<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    digest: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let row = sqlx::query_file!("../../sql/signin/poll_device_flow.sql", digest, now)
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}

/// The live, unused device flow `digest` at `now` (ms): `(polled_at, interval_ms)`.
pub async fn device_flow_wait<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    digest: &str,
    now: i64,
) -> sqlx::Result<Option<(Option<i64>, i64)>> {
    let row = sqlx::query_file!("../../sql/signin/device_flow_wait.sql", digest, now)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.polled_at, r.interval_ms)))
}

writes! {
    /// The device flow `digest` polls no sooner than every `interval_ms` from now on.
    slow_device_flow(digest: &str, interval_ms: i64) = "../../sql/signin/slow_device_flow.sql";
}

writes! {
    /// Ends the unused sign-in `digest` at `now` (ms).
    finish_flow(digest: &str, now: i64) = "../../sql/signin/finish_flow.sql";
}

writes! {
    /// Forgets the sessions and tokens that expired before `before` (ms).
    sweep_sessions(before: i64) = "../../sql/signin/sweep_sessions.sql";
}

writes! {
    /// A session or token of kind `kind` (`admin`, `web`, `token`), made at `now` and valid until
    /// `expires_at` (ms).
    create_session(
        digest: &str,
        kind: &str,
        login: Option<&str>,
        github_id: Option<i64>,
        csrf: Option<&str>,
        now: i64,
        expires_at: i64,
    ) = "../../sql/signin/create_session.sql";
}

writes! {
    /// Ends the session (or token) `digest` at `now` (ms), unless it was ended already.
    end_session(digest: &str, now: i64) = "../../sql/signin/end_session.sql";
}

writes! {
    /// Ends every live session and token of `login` (any case) at `now` (ms).
    revoke_login(login: &str, now: i64) = "../../sql/signin/revoke_login.sql";
}

writes! {
    /// Forgets what GitHub said `login` (any case) may do.
    forget_permissions_of(login: &str) = "../../sql/signin/forget_permissions_of.sql";
}

writes! {
    /// Forgets the sign-in list of `login` (any case).
    forget_repos_of(login: &str) = "../../sql/signin/forget_repos_of.sql";
}

writes! {
    /// What GitHub said `login` may do on `repo` (`permission`), at `now` (ms).
    save_permission(login: &str, repo: &str, permission: &str, now: i64)
        = "../../sql/signin/save_permission.sql";
}

writes! {
    /// Empties the sign-in list of `login` (lower-case).
    clear_repos(login: &str) = "../../sql/signin/clear_repos.sql";
}

writes! {
    /// `repo` on the sign-in list of `login` (lower-case) with `permission`, at `now` (ms).
    list_repo(login: &str, repo: &str, permission: &str, now: i64)
        = "../../sql/signin/list_repo.sql";
}
