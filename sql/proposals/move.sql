-- Person $2's open and approved proposals move to worker $1, which speaks for them now.
UPDATE proposals SET worker_id = $1
WHERE proposer = $2 AND state IN ('open', 'approved') AND worker_id <> $1
