-- Installation $1's pending rows due before $2 (ms) and not claimed at $3 (ms) wait until $2;
-- with $4, only its replies and reactions (status comments have more of its budget).
UPDATE gh_outbox SET next_attempt_at = $2
WHERE installation_id = $1 AND state = 'pending' AND next_attempt_at < $2
    AND (claimed_until IS NULL OR claimed_until <= $3)
    AND (NOT $4 OR kind <> 'status')
