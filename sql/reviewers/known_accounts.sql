-- The accounts the pool knows by the login $1 (lower case): persons it has met by that login,
-- and reviewers' accounts for which GitHub last gave it.
SELECT account_id AS "account_id!: i64" FROM persons WHERE LOWER(login) = $1
UNION
SELECT account_id AS "account_id!: i64" FROM repo_reviewers
WHERE account_id IS NOT NULL AND LOWER(account_login) = $1
