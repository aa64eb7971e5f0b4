-- The comment claims of a login's own worker whose half-time reminder is due at $1 (ms), while
-- their lease still holds the task.
SELECT c.task_id AS "task_id!", c.lease_id AS "lease_id!", c.login AS "login!",
    c.worker_id AS "worker_id!", c.person AS "person!: i64", c.ttl_ms AS "ttl_ms!: i64",
    c.reminder AS "reminder!: i64", c.claimed_at AS "claimed_at!: i64",
    c.last_activity_at AS "last_activity_at!: i64", c.reminded_at AS "reminded_at?: i64"
FROM gh_claims c
JOIN tasks t ON t.id = c.task_id
WHERE c.person = 1 AND c.reminder = 1 AND c.reminded_at IS NULL
    AND c.last_activity_at + c.ttl_ms / 2 <= $1
    AND t.status = 'in_progress' AND t.lease_id = c.lease_id
