-- Locks task $1's row until commit: its holder and its lease then.
SELECT worker_id AS "worker_id?", lease_id AS "lease_id?" FROM tasks WHERE id = $1 FOR UPDATE
