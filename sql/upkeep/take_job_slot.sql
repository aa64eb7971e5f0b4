-- Runner $3 takes slot $2 (its scheduled instant) of job $1 at $4 (ms), unless another did.
INSERT INTO gh_job_runs (name, slot, runner, started_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (name, slot) DO NOTHING
