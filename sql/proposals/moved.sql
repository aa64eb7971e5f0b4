-- The tasks of person $2's open or approved proposals made through another worker than $1.
SELECT t.id AS "task_id!"
FROM proposals p JOIN tasks t ON t.seq = p.task_seq
WHERE p.proposer = $2 AND p.state IN ('open', 'approved') AND p.worker_id <> $1
ORDER BY p.seq
