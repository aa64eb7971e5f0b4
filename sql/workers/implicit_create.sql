-- The implicit worker $1 of GitHub account $6, named $2 (its login), made at $5 (ms): every
-- skill, $3 points, at most $4 tasks at once; nothing when the id is taken.
INSERT INTO workers (id, name, token_hash, skills, all_skills, capacity_points,
    max_concurrent_tasks, github_login, status, last_seen_at, presence, created_at,
    github_account_id)
VALUES ($1, $2, NULL, '', 1, $3, $4, $2, 'idle', $5, 'online', $5, $6)
ON CONFLICT (id) DO NOTHING
