//! Tasks as imports write them (`owp::store::tasks`): a task made or imported again, its skill
//! set and the tasks it waits on. The task rows the store reads are composed (`TASK_SELECT`,
//! with its lease's clock and who waits on whom); the writes return the rows they changed.

use super::Db;

/// The task of repository `repo_id` with `key`, if any: `(id, extensions)`.
pub async fn by_key<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    key: &str,
) -> sqlx::Result<Option<(String, String)>> {
    let row = sqlx::query_file!("../../sql/tasks/by_key.sql", repo_id, key)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.id, r.extensions)))
}

writes! {
    /// Task `id` imported again at `now` (ms); a task in flight keeps its lock on its area.
    update(
        id: &str,
        title: &str,
        description: &str,
        estimate_points: i64,
        priority: i64,
        skill_set_id: i64,
        area: Option<&str>,
        tier: i64,
        now: i64,
        extensions: &str,
        requires: &str,
    ) = "../../sql/tasks/update.sql";
}

writes! {
    /// Task `id` of repository `repo_id`, `key`, made ready at `now` (ms).
    create(
        id: &str,
        repo_id: i64,
        key: Option<&str>,
        title: &str,
        description: &str,
        estimate_points: i64,
        priority: i64,
        skill_set_id: i64,
        area: Option<&str>,
        tier: i64,
        extensions: &str,
        now: i64,
        requires: &str,
    ) = "../../sql/tasks/create.sql";
}

/// Repository `repo_id`'s dependencies between its own tasks, as stored: `(key, blocker's
/// key)`, in order.
pub async fn stored_graph<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
) -> sqlx::Result<Vec<(String, String)>> {
    let rows = sqlx::query_file!("../../sql/tasks/stored_graph.sql", repo_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.key, r.blocker_key)).collect())
}

/// The seq of repository `repo_id`'s task with `key`, if any.
pub async fn seq_by_key<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
    key: &str,
) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query_file!("../../sql/tasks/seq_by_key.sql", repo_id, key)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.seq))
}

/// The seq of task `id`.
pub async fn seq_of<'c>(db: impl sqlx::Executor<'c, Database = Db>, id: &str) -> sqlx::Result<i64> {
    let row = sqlx::query_file!("../../sql/tasks/seq_of.sql", id)
        .fetch_one(db)
        .await?;
    Ok(row.seq)
}

writes! {
    /// Forgets which tasks of the pool task `seq` waits on.
    clear_blockers(seq: i64) = "../../sql/tasks/clear_blockers.sql";
}

writes! {
    /// Task `seq` waits on the task of `key` of repository `repo_id`, its `position`th blocker.
    add_blocker(seq: i64, key: &str, position: i64, repo_id: i64)
        = "../../sql/tasks/add_blocker.sql";
}

writes! {
    /// The skill set `skills` (canonical), made if new.
    keep_skill_set(skills: &str) = "../../sql/tasks/keep_skill_set.sql";
}

/// The id of skill set `skills`.
pub async fn skill_set<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    skills: &str,
) -> sqlx::Result<i64> {
    let row = sqlx::query_file!("../../sql/tasks/skill_set.sql", skills)
        .fetch_one(db)
        .await?;
    Ok(row.id)
}

writes! {
    /// `skill` is one of skill set `id`'s.
    skill_set_member(id: i64, skill: &str) = "../../sql/tasks/skill_set_member.sql";
}

/// The tasks of repository `repo_id` nobody works on yet (ready or blocked), oldest first.
pub async fn open_of_repo<'c>(
    db: impl sqlx::Executor<'c, Database = Db>,
    repo_id: i64,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query_file!("../../sql/tasks/open_of_repo.sql", repo_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

writes! {
    /// Task `seq`, while worker `worker_id` holds it with its pull request open, reports
    /// `artifact` (JSON) at `now` (ms).
    later_report(artifact: &str, now: i64, seq: i64, worker_id: &str)
        = "../../sql/tasks/later_report.sql";
}
