-- What GitHub said login $1 may do ($3) on repository $2, at $4 (ms).
INSERT INTO signin_permissions (login, repo, permission, fetched_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (login, repo) DO UPDATE SET
    permission = excluded.permission, fetched_at = excluded.fetched_at
