-- The tasks made from issues of repository $1 that nobody took yet (ready or blocked).
SELECT t.id AS "id!"
FROM tasks t
JOIN repos r ON r.id = t.repo_id
JOIN gh_tasks g ON g.task_id = t.id
WHERE r.name = $1 AND t.status IN ('ready', 'blocked')
