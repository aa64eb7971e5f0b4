-- Forgets the job slots started before $1 (ms).
DELETE FROM gh_job_runs WHERE started_at < $1
