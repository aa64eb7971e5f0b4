-- The logins of the entries of repository $1 (by name), each with 1 when GitHub resolved it to
-- an account id, else 0.
SELECT e.login AS "login!",
    CAST(MAX(CASE WHEN e.account_id IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS "resolved!: i64"
FROM vouch_entries e
JOIN repos r ON r.id = e.repo_id
WHERE r.name = $1
GROUP BY e.login
