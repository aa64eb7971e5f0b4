-- A comment claim of task $1 by lease $2 of login $3 on worker $4 ($5: 1 the login's implicit
-- worker, 0 a linked one), living $6 ms from each sign of activity, reminded at half time with
-- $7 (1), made at $8 (ms): a claim of the task before it is replaced.
INSERT INTO gh_claims (task_id, lease_id, login, worker_id, person, ttl_ms, reminder,
    claimed_at, last_activity_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
ON CONFLICT (task_id) DO UPDATE SET lease_id = excluded.lease_id, login = excluded.login,
    worker_id = excluded.worker_id, person = excluded.person, ttl_ms = excluded.ttl_ms,
    reminder = excluded.reminder, claimed_at = excluded.claimed_at,
    last_activity_at = excluded.last_activity_at, reminded_at = NULL
