-- The implicit worker of GitHub account $1 (a person claiming by comment): tokenless, its id
-- beginning `gh_`; the oldest, if several.
SELECT id AS "id!"
FROM workers
WHERE github_account_id = $1 AND token_hash IS NULL AND substr(id, 1, 3) = 'gh_'
ORDER BY created_at, id
LIMIT 1
