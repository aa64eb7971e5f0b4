-- What GitHub said $1 may do on repository $2, and when (ms), when it said so after $3 (ms).
SELECT permission AS "permission!", fetched_at AS "fetched_at!: i64"
FROM signin_permissions
WHERE login = $1 AND repo = $2 AND fetched_at > $3
