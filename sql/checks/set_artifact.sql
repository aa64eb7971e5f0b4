-- Task $1 (its seq), while in `pr_opened`, shows artifact $2 (JSON) from $3 (ms).
UPDATE tasks SET artifact = $2, updated_at = $3 WHERE seq = $1 AND status = 'pr_opened'
