-- A maintainer's `/owp vouch` ($3: 1) or `/owp denounce` ($4: 1, for $5) of login $2 in
-- repository $1 (its id), at $6 (ms).
INSERT INTO vouch_entries (repo_id, source, origin, login, vouched, denounced, details,
    updated_at)
VALUES ($1, 'command', '', $2, $3, $4, $5, $6)
ON CONFLICT (repo_id, source, origin, login) DO UPDATE SET vouched = excluded.vouched,
    denounced = excluded.denounced, details = excluded.details, updated_at = excluded.updated_at
