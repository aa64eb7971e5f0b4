-- Reviewer $2 (its key) of repository $1 (its id) is listed as $4 under key $3, $5 at once,
-- resolved to account $6.
UPDATE repo_reviewers SET login_key = $3, login = $4, capacity = $5, account_id = $6
WHERE repo_id = $1 AND login_key = $2
