-- Key $2 of caller $1 as stored: the request's hash, the answer's status, content type and body,
-- and when it was reserved.
SELECT request_hash AS "request_hash!", status AS "status?: i64", content_type AS "content_type?",
    body AS "body?", created_at AS "created_at!: i64"
FROM idempotency_keys
WHERE caller = $1 AND key = $2
