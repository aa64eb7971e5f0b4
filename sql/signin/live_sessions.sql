-- How many sessions and tokens are live at $1 (ms).
SELECT COUNT(*) AS "n!: i64"
FROM signin_sessions
WHERE revoked_at IS NULL AND expires_at > $1
