-- A session or token: its digest $1, kind $2 (`admin`, `web`, `token`), GitHub login $3 and
-- account id $4 (maintainers), CSRF token $5 (web), made at $6 and valid until $7 (ms).
INSERT INTO signin_sessions (digest, kind, login, github_id, csrf, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
