-- Reserves key $2 of caller $1 for a request whose body hashes to $3, at $4 (ms), unless it is
-- reserved already.
INSERT INTO idempotency_keys (caller, key, request_hash, created_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (caller, key) DO NOTHING
