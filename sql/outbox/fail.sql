-- Row $1, claimed by runner $2, cannot be sent: error $3.
UPDATE gh_outbox SET state = 'failed', last_error = $3, claimed_by = NULL, claimed_until = NULL
WHERE id = $1 AND claimed_by = $2
