-- The worker that holds task $1 now (before any lock).
SELECT worker_id AS "worker_id?" FROM tasks WHERE id = $1
