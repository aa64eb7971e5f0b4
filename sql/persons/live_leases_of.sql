-- Worker $1's live leases, by task: the task, the lease, its points and its repository.
SELECT t.id AS "task_id!", l.id AS "lease_id!", t.lease_points AS "points!: i64",
    r.name AS "repo!"
FROM leases l
JOIN tasks t ON t.seq = l.task_seq AND t.lease_id = l.id
JOIN repos r ON r.id = t.repo_id
WHERE l.worker_id = $1 AND l.ended_at IS NULL
ORDER BY t.seq
