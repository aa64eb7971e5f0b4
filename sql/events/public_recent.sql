-- The newest $1 events of the public repositories (neither private nor archived), newest first.
SELECT id AS "id!: i64", kind AS "kind!", at AS "at!: i64", repo AS "repo?", task_id AS "task_id?",
    worker_id AS "worker_id?", actor AS "actor!", data AS "data!"
FROM events
WHERE repo IN (SELECT name FROM repos WHERE private = 0 AND archived_at IS NULL)
ORDER BY id DESC
LIMIT $1
