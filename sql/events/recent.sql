-- The newest $1 events, newest first.
SELECT id AS "id!: i64", kind AS "kind!", at AS "at!: i64", repo AS "repo?", task_id AS "task_id?",
    worker_id AS "worker_id?", actor AS "actor!", data AS "data!"
FROM events
ORDER BY id DESC
LIMIT $1
