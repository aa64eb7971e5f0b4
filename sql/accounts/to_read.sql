-- Up to $2 linked or claiming workers whose GitHub account's age is not known and was not asked
-- for before $1 (ms), when some repository asks for a minimum age: the worker, the login, and
-- the account id (none for a link made before account ids were kept).
SELECT w.id AS "id!", w.github_login AS "github_login!", w.github_account_id AS "github_account_id?: i64"
FROM workers w
LEFT JOIN gh_accounts ga ON ga.account_id = w.github_account_id
WHERE w.github_login IS NOT NULL AND ga.created_at IS NULL
  AND (ga.read_at IS NULL OR ga.read_at < $1)
  AND (w.github_account_id IS NOT NULL
    OR EXISTS (SELECT 1 FROM gh_links gl WHERE gl.worker_id = w.id))
  AND EXISTS (SELECT 1 FROM repos r WHERE r.min_account_age_days > 0)
ORDER BY w.id
LIMIT $2
