-- Task $1, held by lease $2, is worker $3's.
UPDATE tasks SET worker_id = $3 WHERE id = $1 AND lease_id = $2
