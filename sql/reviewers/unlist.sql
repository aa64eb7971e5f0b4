-- Reviewer $2 (its key) of repository $1 (its id) is no longer listed.
DELETE FROM repo_reviewers WHERE repo_id = $1 AND login_key = $2
