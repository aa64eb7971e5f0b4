-- The claim of task $1 was reminded at $2 (ms), unless it was already or its claimer was
-- active since $3 (ms), the activity the reminder was about.
UPDATE gh_claims SET reminded_at = $2
WHERE task_id = $1 AND reminded_at IS NULL AND last_activity_at = $3
