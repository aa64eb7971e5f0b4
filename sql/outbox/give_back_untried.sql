-- Gives row $1, claimed by runner $2, back untried, to be sent at $3 (ms): the claim does not
-- count as an attempt.
UPDATE gh_outbox SET next_attempt_at = $3, attempts = attempts - 1,
    claimed_by = NULL, claimed_until = NULL
WHERE id = $1 AND claimed_by = $2
