-- Worker $2's give-backs from before it spoke for anyone are person $1's.
UPDATE nacks SET person_id = $1 WHERE worker_id = $2 AND person_id IS NULL
