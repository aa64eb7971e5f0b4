-- Worker $2 speaks for account $1 when its link does (or it is a person's own comment worker,
-- which has no token): its login, when it changed.
UPDATE workers SET github_account_id = $1
WHERE id = $2 AND github_account_id IS NULL
    AND (token_hash IS NULL OR EXISTS (SELECT 1 FROM gh_links gl
        WHERE gl.worker_id = $2 AND gl.account_id = $1))
RETURNING github_login AS "github_login?"
