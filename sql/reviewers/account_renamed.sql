-- GitHub names account $1 login $2 now: the reviewers resolved to it show that login.
UPDATE repo_reviewers SET account_login = $2
WHERE account_id = $1 AND (account_login IS NULL OR account_login <> $2)
