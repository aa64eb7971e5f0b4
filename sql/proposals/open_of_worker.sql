-- The open proposals of worker $1, oldest first.
SELECT id AS "id!" FROM proposals WHERE worker_id = $1 AND state = 'open' ORDER BY seq
