-- The listed logins of repository $1's reviewers (lower case), each with its account, if
-- resolved.
SELECT rv.login_key AS "login_key!", rv.account_id AS "account_id?: i64"
FROM repo_reviewers rv
JOIN repos r ON r.id = rv.repo_id
WHERE r.name = $1
