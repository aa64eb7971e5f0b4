-- The installations the App knows, by id.
SELECT id AS "id!: i64", account AS "account!", suspended AS "suspended!: i64",
    blocked_until AS "blocked_until!: i64"
FROM gh_installations
ORDER BY id
