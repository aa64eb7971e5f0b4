-- The live session (or token) whose secret has the digest $1, at $2 (ms): neither revoked nor
-- expired.
SELECT kind AS "kind!", login AS "login?", github_id AS "github_id?: i64", csrf AS "csrf?",
    expires_at AS "expires_at!: i64"
FROM signin_sessions
WHERE digest = $1 AND revoked_at IS NULL AND expires_at > $2
