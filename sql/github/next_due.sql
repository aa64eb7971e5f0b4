-- The earliest instant (ms) a pending delivery is due, and a pending outbox row (none when there
-- is none).
SELECT (SELECT MIN(next_attempt_at) FROM gh_deliveries WHERE state = 'pending')
        AS "deliveries?: i64",
    (SELECT MIN(next_attempt_at) FROM gh_outbox WHERE state = 'pending') AS "outbox?: i64"
