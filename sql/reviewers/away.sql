-- Reviewer $2 (its key) of repository $1 (its id) is away until $3 (ms), or back (none).
UPDATE repo_reviewers SET away_until = $3 WHERE repo_id = $1 AND login_key = $2
