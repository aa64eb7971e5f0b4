-- Lease $1: its task's id, its worker and when it ended.
SELECT t.id AS "task_id!", l.worker_id AS "worker_id!", l.ended_at AS "ended_at?: i64"
FROM leases l JOIN tasks t ON t.seq = l.task_seq
WHERE l.id = $1
