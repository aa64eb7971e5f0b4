-- Installation $1's pause: until when it is blocked (ms) and how many limits in a row paused it.
SELECT blocked_until AS "blocked_until!: i64", limit_streak AS "limit_streak!: i64"
FROM gh_installations
WHERE id = $1
