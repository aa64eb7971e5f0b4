-- Takes the live, unused web sign-in of digest $1 at $2 (ms), once: its PKCE verifier.
UPDATE signin_flows SET used_at = $2
WHERE digest = $1 AND kind = 'web' AND used_at IS NULL AND expires_at > $2
RETURNING verifier AS "verifier?"
