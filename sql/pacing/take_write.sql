-- A write of installation $1 reserved at $2 (ms), in flight until $3 (none: not tracked).
INSERT INTO gh_write_log (installation_id, at, in_flight_until, sent_at) VALUES ($1, $2, $3, $2)
