-- Forgets the comment claim of task $1.
DELETE FROM gh_claims WHERE task_id = $1
