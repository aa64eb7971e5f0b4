-- Account $1 is named $2 now: its implicit worker (named by its login) and the worker it proved
-- to own show that login.
UPDATE workers SET github_login = $2, name = CASE WHEN token_hash IS NULL THEN $2 ELSE name END
WHERE github_account_id = $1 AND github_login IS NOT NULL AND github_login <> $2
    AND (token_hash IS NULL
        OR EXISTS (SELECT 1 FROM gh_links gl WHERE gl.worker_id = workers.id
            AND gl.account_id = $1))
