//! What tasks wait on outside the pool (`owp::store::deps`, table `task_deps`): blockers GitHub
//! keeps (an issue's "blocked by"), whether each still holds. The writes return the rows they
//! changed.

use super::Db;

/// Forgets the blockers outside the pool of task `seq`.
pub async fn clear_outside<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    seq: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/deps/clear_outside.sql", seq)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Task `seq` waits on `key` outside the pool, its `position`th blocker, holding while
/// `holds` (1).
pub async fn add_outside<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    seq: i64,
    key: &str,
    position: i64,
    holds: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/deps/add_outside.sql", seq, key, position, holds)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// No blocker outside the pool holds task `seq` any more.
pub async fn release_outside<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    seq: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/deps/release_outside.sql", seq)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// How many blockers task `seq` has besides `key`.
pub async fn other_count<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    seq: i64,
    key: &str,
) -> sqlx::Result<i64> {
    let row = sqlx::query_file!("../../sql/deps/other_count.sql", seq, key)
        .fetch_one(db)
        .await?;
    Ok(row.n)
}

/// Task `seq` waits on `key` outside the pool, after its other blockers, holding while
/// `holds` (1).
pub async fn keep_outside<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    seq: i64,
    key: &str,
    holds: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/deps/keep_outside.sql", seq, key, holds)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Task `seq` no longer waits on `key` outside the pool.
pub async fn drop_outside<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    seq: i64,
    key: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/deps/drop_outside.sql", seq, key)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// The tasks that wait on `key` outside the pool and whose hold on it is not `holds` yet.
pub async fn waiting_on<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    key: &str,
    holds: i64,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/deps/waiting_on.sql", key, holds)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// The blocker `key` outside the pool holds (`holds` 1) or not (0) every task that waits on it.
pub async fn set_holds<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    key: &str,
    holds: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query_file!("../../sql/deps/set_holds.sql", key, holds)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
