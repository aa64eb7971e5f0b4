-- The patterns task $1 holds from source $2 (the patterns themselves, not their prefixes), in
-- order.
SELECT pattern AS "pattern!"
FROM task_paths
WHERE task_seq = $1 AND source = $2 AND exact = 1
ORDER BY pattern
