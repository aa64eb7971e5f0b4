-- Worker $1 registers at $8 (ms): its name $2, its token's digest $3, skills $4 (canonical,
-- comma-separated), capacity $5 (points) and $6 (tasks at once), the login it declared $7
-- (shown only), capabilities $9 and extensions $10 (JSON), opt-ins $11 (reputation) and $12
-- (leaderboard), specialist $13 (1 or 0). It is online.
INSERT INTO workers (id, name, token_hash, skills, capacity_points, max_concurrent_tasks,
    claimed_login, status, last_seen_at, presence, capabilities, extensions, created_at,
    reputation_opt_in, leaderboard_opt_in, specialist)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'idle', $8, 'online', $9, $10, $8, $11, $12, $13)
