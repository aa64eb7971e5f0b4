-- Repository $1's (its id) reviewer of key $2, not resolved yet, is account $3, unless another
-- of its reviewers is.
UPDATE repo_reviewers SET account_id = $3
WHERE repo_id = $1 AND login_key = $2 AND account_id IS NULL
    AND NOT EXISTS (SELECT 1 FROM repo_reviewers o WHERE o.repo_id = $1 AND o.account_id = $3)
