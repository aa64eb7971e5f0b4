-- List $2 of repository $1 (its id) read at $5 (ms): found at $3 (none: no file), with error
-- $4, its applied entries' digest $6.
INSERT INTO vouch_lists (repo_id, origin, path, error, read_at, digest)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (repo_id, origin) DO UPDATE SET path = excluded.path, error = excluded.error,
    read_at = excluded.read_at, digest = excluded.digest
