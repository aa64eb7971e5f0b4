-- Ends the unused sign-in of digest $1 at $2 (ms).
UPDATE signin_flows SET used_at = $2 WHERE digest = $1 AND used_at IS NULL
