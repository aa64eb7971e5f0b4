-- How many blockers task $1 (its seq) has besides $2.
SELECT COUNT(*) AS "n!: i64" FROM task_deps WHERE task_seq = $1 AND blocker_key <> $2
