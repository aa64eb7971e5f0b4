-- Whether a task of repository $1 holds a path now (one probe of the index of held rows).
SELECT 1 AS "held!: i64" FROM task_paths WHERE repo_id = $1 AND held = 1 LIMIT 1
