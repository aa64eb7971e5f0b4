-- The tasks of repository $1's issues that are neither merged nor cancelled, by issue number.
SELECT g.task_id AS "task_id!"
FROM gh_tasks g
JOIN tasks t ON t.id = g.task_id
WHERE g.repo = $1 AND t.status NOT IN ('merged', 'cancelled')
ORDER BY g.issue_number
