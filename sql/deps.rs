//! What tasks wait on outside the pool (`owp::store::deps`, table `task_deps`): blockers GitHub
//! keeps (an issue's "blocked by"), whether each still holds. The writes return the rows they
//! changed.

use super::Db;

writes! {
    /// Forgets the blockers outside the pool of task `seq`.
    clear_outside(seq: i64) = "../../sql/deps/clear_outside.sql";
}

writes! {
    /// Task `seq` waits on `key` outside the pool, its `position`th blocker, holding while
    /// `holds` (1).
    add_outside(seq: i64, key: &str, position: i64, holds: i64) = "../../sql/deps/add_outside.sql";
}

writes! {
    /// No blocker outside the pool holds task `seq` any more.
    release_outside(seq: i64) = "../../sql/deps/release_outside.sql";
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

writes! {
    /// Task `seq` waits on `key` outside the pool, after its other blockers, holding while
    /// `holds` (1).
    keep_outside(seq: i64, key: &str, holds: i64) = "../../sql/deps/keep_outside.sql";
}

writes! {
    /// Task `seq` no longer waits on `key` outside the pool.
    drop_outside(seq: i64, key: &str) = "../../sql/deps/drop_outside.sql";
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

writes! {
    /// The blocker `key` outside the pool holds (`holds` 1) or not (0) every task that waits on it.
    set_holds(key: &str, holds: i64) = "../../sql/deps/set_holds.sql";
}
