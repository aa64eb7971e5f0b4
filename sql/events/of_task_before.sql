-- At most $3 events about task $1 with an id below $2, newest first.
SELECT id AS "id!: i64", kind AS "kind!", at AS "at!: i64", repo AS "repo?", task_id AS "task_id?",
    worker_id AS "worker_id?", actor AS "actor!", data AS "data!"
FROM events
WHERE task_id = $1 AND id < $2
ORDER BY id DESC
LIMIT $3
