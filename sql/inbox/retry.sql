-- Delivery $1 is given back, to be tried again at $2 (ms), after error $3.
UPDATE gh_deliveries SET next_attempt_at = $2, error = $3, claimed_by = NULL,
    claimed_until = NULL
WHERE seq = $1
