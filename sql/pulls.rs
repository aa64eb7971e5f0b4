//! Pull requests as the GitHub App keeps them (`owp::store::github::pulls`,
//! `owp::store::github::known_answers`): the links of pull requests to tasks, and what GitHub
//! said lately of pull requests and of logins. Their reads are in `github_rows` and `github`;
//! the writes return the rows they changed.

use super::Db;

/// Pull request `pr_number` of `repo` links `task_id`: its `pr_url`, `author` (account
/// `author_id`), `state`, `draft` (1) and whether it is `acting` on the task (1), seen at
/// `now` (ms).
#[allow(clippy::too_many_arguments)]
pub async fn link<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    pr_number: i64,
    task_id: &str,
    pr_url: &str,
    author: &str,
    state: &str,
    draft: i64,
    acting: i64,
    now: i64,
    author_id: Option<i64>,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/pulls/link.sql",
        repo,
        pr_number,
        task_id,
        pr_url,
        author,
        state,
        draft,
        acting,
        now,
        author_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// What GitHub said at `read_at` (ms) of pull request `number` of `repo`: its `state`
/// (`missing`: none), its `author` (account `author_id`); an older answer does not replace a
/// newer one.
pub async fn note_pull<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    number: i64,
    state: &str,
    author_id: Option<i64>,
    author: Option<&str>,
    read_at: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/pulls/note_pull.sql",
        repo,
        number,
        state,
        author_id,
        author,
        read_at
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// What GitHub answered at `asked_at` (ms) about `login` (lower-case): its `account_id`,
/// or `missing` (1).
pub async fn login_asked<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    login: &str,
    asked_at: i64,
    account_id: Option<i64>,
    missing: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/pulls/login_asked.sql",
        login,
        asked_at,
        account_id,
        missing
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Forgets what GitHub said of pull requests before `before` (ms).
pub async fn sweep_pr_facts<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    before: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/pulls/sweep_pr_facts.sql", before)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Forgets what GitHub said of logins before `before` (ms).
pub async fn sweep_login_asks<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    before: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/pulls/sweep_login_asks.sql", before)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Whether the files of pull request `pr_number` of `repo`, linked to `task_id`, are too broad
/// to lock (`too_broad`, 1 or 0); 0 when the mark did not change.
pub async fn paths_too_broad<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    pr_number: i64,
    task_id: &str,
    too_broad: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!(
        "../../sql/pulls/paths_too_broad.sql",
        repo,
        pr_number,
        task_id,
        too_broad
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
