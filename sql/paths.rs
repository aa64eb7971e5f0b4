//! Path locks (`owp::store::paths`): the patterns a task holds, and whether a repository's
//! tasks hold any. Storing the rows of many prefixes at once, and whether they are held, are
//! composed (the rows' count; the rule of a task in flight).

use super::Db;

/// The patterns task `task_seq` holds from `source`, in order.
pub async fn patterns<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    task_seq: i64,
    source: &str,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/paths/patterns.sql", task_seq, source)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.pattern).collect())
}

writes! {
    /// Task `task_seq` holds no pattern from `source`.
    forget(task_seq: i64, source: &str) = "../../sql/paths/forget.sql";
}

writes! {
    /// Records whether task `task_seq` has paths now, of any source.
    has_paths(task_seq: i64) = "../../sql/paths/has_paths.sql";
}

/// Whether a task of repository `repo_id` holds a path now.
pub async fn repo_holds<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
) -> sqlx::Result<bool> {
    let row = sqlx::query_file!("../../sql/paths/repo_holds.sql", repo_id)
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}
