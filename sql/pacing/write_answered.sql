-- Installation $1's write reserved at $2 (ms) was sent at $4 and answered: it counts from $3
-- (ms) and is no longer in flight.
UPDATE gh_write_log SET at = $3, sent_at = $4, in_flight_until = NULL
WHERE installation_id = $1 AND at = $2
