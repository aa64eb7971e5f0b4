-- The first event about task $1 (its creation): one entry of index `events_task`.
SELECT id AS "id!: i64", kind AS "kind!", at AS "at!: i64", repo AS "repo?", task_id AS "task_id?",
    worker_id AS "worker_id?", actor AS "actor!", data AS "data!"
FROM events
WHERE task_id = $1
ORDER BY id
LIMIT 1
