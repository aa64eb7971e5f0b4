//! The GitHub App's tables (`owp::store::github`): read-only statements.

use super::Db;

/// The installations the App knows, by id: `(id, account, suspended, blocked_until)`.
pub async fn installations<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<Vec<(i64, String, i64, i64)>> {
    let rows = sqlx::query_file!("../../sql/github/installations.sql")
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.account, r.suspended, r.blocked_until))
        .collect())
}

/// Tasks that are `ready` although their issue left the pool while someone held them:
/// `(task_id, left_pool)`.
pub async fn left_pool_ready<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<Vec<(String, String)>> {
    let rows = sqlx::query_file!("../../sql/github/left_pool_ready.sql")
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.task_id, r.left_pool)).collect())
}

/// GitHub's remembered answers, newest first, at most `limit`:
/// `(path, etag, body, next_page)`.
pub async fn etags<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    limit: i64,
) -> sqlx::Result<Vec<(String, String, String, Option<String>)>> {
    let rows = sqlx::query_file!("../../sql/github/etags.sql", limit)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.path, r.etag, r.body, r.next_page))
        .collect())
}

/// How many deliveries of id `delivery_id` the inbox holds.
pub async fn delivery_known<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    delivery_id: &str,
) -> sqlx::Result<i64> {
    let r = sqlx::query_file!("../../sql/github/delivery_known.sql", delivery_id)
        .fetch_one(db)
        .await?;
    Ok(r.n)
}

/// How many deliveries the inbox holds, in any state.
pub async fn delivery_count<'c>(db: impl sqlx::Executor<'c, Database = Db>) -> sqlx::Result<i64> {
    let r = sqlx::query_file!("../../sql/github/delivery_count.sql")
        .fetch_one(db)
        .await?;
    Ok(r.n)
}

/// How many times the App asked GitHub to redeliver `guid`.
pub async fn redelivery_requested<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    guid: &str,
) -> sqlx::Result<i64> {
    let r = sqlx::query_file!("../../sql/github/redelivery_requested.sql", guid)
        .fetch_one(db)
        .await?;
    Ok(r.n)
}

/// Pending deliveries and pending outbox rows: `(deliveries, outbox)`.
pub async fn backlog<'c>(db: impl sqlx::Executor<'c, Database = Db>) -> sqlx::Result<(i64, i64)> {
    let r = sqlx::query_file!("../../sql/github/backlog.sql")
        .fetch_one(db)
        .await?;
    Ok((r.deliveries, r.outbox))
}

/// The earliest instant (ms) a pending delivery is due, and a pending outbox row:
/// `(deliveries, outbox)`.
pub async fn next_due<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
) -> sqlx::Result<(Option<i64>, Option<i64>)> {
    let r = sqlx::query_file!("../../sql/github/next_due.sql")
        .fetch_one(db)
        .await?;
    Ok((r.deliveries, r.outbox))
}

/// The outbox rows of issue `number` of `repo`, in any state, oldest first:
/// `(kind, state, body)`.
pub async fn outbox_of_issue<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    number: i64,
) -> sqlx::Result<Vec<(String, String, String)>> {
    let rows = sqlx::query_file!("../../sql/github/outbox_of_issue.sql", repo, number)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.kind, r.state, r.body))
        .collect())
}

/// The ids of the outbox rows that may go out at `now` (ms), at most `limit`, by id (see
/// `Store::gh_claim_outbox`).
pub async fn outbox_due<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    now: i64,
    limit: i64,
) -> sqlx::Result<Vec<i64>> {
    let rows = sqlx::query_file!("../../sql/github/outbox_due.sql", now, limit)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// What GitHub said of pull request `number` of `repo` at `since` (ms) or later:
/// `(state, author_id, author, read_at)`.
pub async fn known_pull<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo: &str,
    number: i64,
    since: i64,
) -> sqlx::Result<Option<(String, Option<i64>, Option<String>, i64)>> {
    let row = sqlx::query_file!("../../sql/github/known_pull.sql", repo, number, since)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.state, r.author_id, r.author, r.read_at)))
}
