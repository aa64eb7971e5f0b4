-- Ends the session (or token) of digest $1 at $2 (ms), unless it was ended already.
UPDATE signin_sessions SET revoked_at = $2 WHERE digest = $1 AND revoked_at IS NULL
