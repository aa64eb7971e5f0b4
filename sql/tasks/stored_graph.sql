-- Repository $1's (its id) dependencies between its own tasks, as stored: each task's key and
-- its blockers' keys, in order.
SELECT t.key AS "key!", d.blocker_key AS "blocker_key!"
FROM task_deps d
JOIN tasks t ON t.seq = d.task_seq
WHERE t.repo_id = $1 AND t.key IS NOT NULL AND d.blocker_seq IS NOT NULL
ORDER BY t.seq, d.position
