-- Proposal $2, open at $1 (ms), is approved then.
UPDATE proposals SET state = 'approved', ended_at = $1
WHERE id = $2 AND state = 'open' AND expires_at > $1
