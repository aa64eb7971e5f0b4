-- Worker $1 opts in or out (1 or 0) of reputation $2 and the leaderboard $3 (none: unchanged).
UPDATE workers SET reputation_opt_in = COALESCE($2, reputation_opt_in),
    leaderboard_opt_in = COALESCE($3, leaderboard_opt_in)
WHERE id = $1
