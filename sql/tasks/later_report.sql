-- Task $3, while worker $4 holds it with its pull request open, reports artifact $1 at $2 (ms).
UPDATE tasks SET artifact = $1, updated_at = $2
WHERE seq = $3 AND status = 'pr_opened' AND worker_id = $4
