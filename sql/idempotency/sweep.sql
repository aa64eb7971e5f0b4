-- Forgets the keys reserved before $1 (ms).
DELETE FROM idempotency_keys WHERE created_at < $1
