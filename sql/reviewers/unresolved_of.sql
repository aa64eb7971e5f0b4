-- The listed reviewers of repository $1 whose login names no account the App has found yet.
SELECT rv.login AS "login!"
FROM repo_reviewers rv
JOIN repos r ON r.id = rv.repo_id
WHERE r.name = $1 AND rv.account_id IS NULL
ORDER BY rv.login_key
