-- The pull request of task $1 (its seq) of repository $2 (its id) is reviewed by $3 (lower
-- case; account $4) from $5 (ms) on.
INSERT INTO task_reviews (task_seq, repo_id, reviewer, reviewer_id, assigned_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (task_seq) DO UPDATE SET repo_id = $2, reviewer = $3, reviewer_id = $4,
    assigned_at = $5
