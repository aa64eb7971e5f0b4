-- The open proposals of worker $1 not yet its person $2's, on a task on which $2 already has an
-- open proposal: a person proposes once per task.
SELECT p.id AS "id!"
FROM proposals p
WHERE p.worker_id = $1 AND p.state = 'open' AND p.proposer <> $2
    AND EXISTS (SELECT 1 FROM proposals o
        WHERE o.task_seq = p.task_seq AND o.proposer = $2 AND o.state = 'open')
ORDER BY p.seq
