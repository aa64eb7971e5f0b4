-- The leases of task $1 (its seq) in repository $2 (its id) are counted in repository $3.
UPDATE leases SET repo_id = $3 WHERE task_seq = $1 AND repo_id = $2
