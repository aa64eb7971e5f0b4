-- Slot $2 of job $1 ended at $3 (ms) with outcome $4.
UPDATE gh_job_runs SET finished_at = $3, outcome = $4 WHERE name = $1 AND slot = $2
