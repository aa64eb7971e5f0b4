-- Forgets the reservation of key $2 of caller $1 while it has no answer.
DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2 AND status IS NULL
