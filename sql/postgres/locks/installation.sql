-- Locks installation $1's row until commit: its pause then (as pacing/blocked.sql reads it).
SELECT blocked_until AS "blocked_until!: i64", limit_streak AS "limit_streak!: i64"
FROM gh_installations
WHERE id = $1
FOR UPDATE
