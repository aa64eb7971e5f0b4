-- The comment claim of task $1.
SELECT task_id AS "task_id!", lease_id AS "lease_id!", login AS "login!",
    worker_id AS "worker_id!", person AS "person!: i64", ttl_ms AS "ttl_ms!: i64",
    reminder AS "reminder!: i64", claimed_at AS "claimed_at!: i64",
    last_activity_at AS "last_activity_at!: i64", reminded_at AS "reminded_at?: i64"
FROM gh_claims
WHERE task_id = $1
