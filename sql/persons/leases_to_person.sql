-- Worker $2's leases from before it spoke for anyone are person $1's.
UPDATE leases SET person_id = $1 WHERE worker_id = $2 AND person_id IS NULL
