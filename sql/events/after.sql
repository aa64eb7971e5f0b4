-- At most $3 events with an id above $1 and at most $2 (the log's horizon), oldest first.
SELECT id AS "id!: i64", kind AS "kind!", at AS "at!: i64", repo AS "repo?", task_id AS "task_id?",
    worker_id AS "worker_id?", actor AS "actor!", data AS "data!"
FROM events
WHERE id > $1 AND id <= $2
ORDER BY id
LIMIT $3
