-- Delivery $1 ended ($2: `applied`, `ignored` or `failed`) at $3 (ms), with error $4 if any.
UPDATE gh_deliveries SET state = $2, finished_at = $3, error = $4, claimed_by = NULL,
    claimed_until = NULL
WHERE seq = $1
