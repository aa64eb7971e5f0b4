-- Worker $2's link flow of digest $1, polled no sooner than every $3 ms, made at $4 and valid
-- until $5 (ms).
INSERT INTO worker_link_flows (digest, worker_id, interval_ms, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5)
