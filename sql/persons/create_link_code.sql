-- A link code (its hash $1) for worker $2, made at $3 and valid until $4 (ms).
INSERT INTO gh_link_codes (code_hash, worker_id, created_at, expires_at) VALUES ($1, $2, $3, $4)
