-- The open proposals whose time ran out by $1 (ms) expired then, their ends not yet recorded.
UPDATE proposals SET state = 'expired', ended_at = expires_at, recorded = 0
WHERE state = 'open' AND expires_at <= $1
