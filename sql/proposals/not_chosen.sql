-- The other open proposals of task $2 (its seq) than $3 were not chosen, at $1 (ms): their ids
-- and workers.
UPDATE proposals SET state = 'not_chosen', ended_at = $1
WHERE task_seq = $2 AND state = 'open' AND id <> $3
RETURNING id AS "id!", worker_id AS "worker_id!"
