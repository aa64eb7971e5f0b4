-- Task $1's comment claim by worker $2 is worker $3's.
UPDATE gh_claims SET worker_id = $3 WHERE task_id = $1 AND worker_id = $2
