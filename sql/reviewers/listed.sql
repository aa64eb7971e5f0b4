-- The listed reviewers of repository $1 (its id): key, listed login, how many at once, account.
SELECT login_key AS "login_key!", login AS "login!", capacity AS "capacity!: i64",
    account_id AS "account_id?: i64"
FROM repo_reviewers
WHERE repo_id = $1
