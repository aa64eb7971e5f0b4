-- Whether worker $2 ever held a lease on task $1.
SELECT worker_id AS "worker_id!" FROM leases WHERE task_seq = $1 AND worker_id = $2 LIMIT 1
