-- The tasks of the first 200 leases that have not ended and are due at $1 (ms), earliest first.
SELECT t.id AS "id!"
FROM leases l
JOIN tasks t ON t.seq = l.task_seq
WHERE l.ended_at IS NULL AND l.deadline <= $1
ORDER BY l.deadline
LIMIT 200
