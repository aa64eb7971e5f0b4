-- Ends every live session and token of GitHub login $1 (any case) at $2 (ms).
UPDATE signin_sessions SET revoked_at = $2
WHERE LOWER(login) = LOWER($1) AND revoked_at IS NULL AND expires_at > $2
