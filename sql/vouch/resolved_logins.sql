-- The logins of list $3 (source $2) of repository $1 (its id) resolved to an account, with it.
SELECT login AS "login!", account_id AS "account_id!: i64"
FROM vouch_entries
WHERE repo_id = $1 AND source = $2 AND origin = $3 AND account_id IS NOT NULL
