-- The answer to the request of key $5 of caller $4: status $1, content type $2, body $3.
UPDATE idempotency_keys SET status = $1, content_type = $2, body = $3
WHERE caller = $4 AND key = $5
