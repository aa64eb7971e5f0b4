-- Key $2 of caller $1 is forgotten if it was reserved before $3 (ms).
DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2 AND created_at < $3
