-- The issue number task $1 was made from, if it was.
SELECT issue_number AS "issue_number!: i64" FROM gh_tasks WHERE task_id = $1
