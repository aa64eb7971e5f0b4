-- A sign-in under way: its digest $1, kind $2 (`web`, `device`), PKCE verifier $3 (web), the
-- least time between polls $4 (ms, device), made at $5 and valid until $6 (ms).
INSERT INTO signin_flows (digest, kind, verifier, interval_ms, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
