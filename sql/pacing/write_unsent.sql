-- Installation $1's write reserved at $2 (ms) was never sent: its reservation is taken back.
DELETE FROM gh_write_log WHERE installation_id = $1 AND at = $2 AND in_flight_until IS NOT NULL
