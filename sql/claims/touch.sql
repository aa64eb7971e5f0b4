-- The claimer of task $1 showed activity at $2 (ms): no reminder is due before half its time.
UPDATE gh_claims SET last_activity_at = $2, reminded_at = NULL WHERE task_id = $1
