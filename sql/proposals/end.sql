-- Proposal $4, open at $2 (ms), ends then as $1 for reason $3.
UPDATE proposals SET state = $1, ended_at = $2, reason = $3
WHERE id = $4 AND state = 'open' AND expires_at > $2
