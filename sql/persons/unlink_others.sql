-- The workers other than $2 that account $1 proved to own speak for nobody now.
UPDATE workers SET github_account_id = NULL
WHERE github_account_id = $1 AND id <> $2
    AND id IN (SELECT worker_id FROM gh_links WHERE account_id = $1)
