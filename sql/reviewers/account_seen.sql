-- GitHub names account $1 login $2 now (key $3): a reviewer listed by that login and not
-- resolved yet is that account, unless another reviewer of the repository is.
UPDATE repo_reviewers SET account_id = $1, account_login = $2
WHERE account_id IS NULL AND login_key = $3
    AND NOT EXISTS (SELECT 1 FROM repo_reviewers o
        WHERE o.repo_id = repo_reviewers.repo_id AND o.account_id = $1)
