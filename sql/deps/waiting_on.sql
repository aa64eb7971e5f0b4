-- The tasks that wait on $1 outside the pool and whose hold on it is not $2 yet, in order.
SELECT t.id AS "id!"
FROM task_deps d
JOIN tasks t ON t.seq = d.task_seq
WHERE d.blocker_key = $1 AND d.blocker_seq IS NULL AND d.holds <> $2
ORDER BY t.seq
