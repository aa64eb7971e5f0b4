-- Reviewer $2 (its key) of repository $1 (its id) was last assigned at $3 (ms).
UPDATE repo_reviewers SET last_assigned_at = $3 WHERE repo_id = $1 AND login_key = $2
