-- Gives row $1, claimed by runner $2, back, to be tried at $3 (ms), with error $4 if any.
UPDATE gh_outbox SET next_attempt_at = $3, last_error = COALESCE($4, last_error),
    claimed_by = NULL, claimed_until = NULL
WHERE id = $1 AND claimed_by = $2
