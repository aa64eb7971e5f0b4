-- What person $1's record does not hold yet (trust, opt-ins: their first link) it takes from
-- worker $2.
UPDATE persons SET
    trust_level = COALESCE(trust_level,
        (SELECT w.trust_level FROM workers w WHERE w.id = $2)),
    reputation_opt_in = COALESCE(reputation_opt_in,
        (SELECT w.reputation_opt_in FROM workers w WHERE w.id = $2)),
    leaderboard_opt_in = COALESCE(leaderboard_opt_in,
        (SELECT w.leaderboard_opt_in FROM workers w WHERE w.id = $2))
WHERE account_id = $1
