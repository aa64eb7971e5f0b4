-- Locks key $2 of caller $1 until commit: as idempotency/stored.sql reads it.
SELECT request_hash AS "request_hash!", status AS "status?: i64", content_type AS "content_type?",
    body AS "body?", created_at AS "created_at!: i64"
FROM idempotency_keys
WHERE caller = $1 AND key = $2
FOR UPDATE
