-- Why a proposal for task $1 wrote nothing: the task's status, and how many proposals open at
-- $3 (ms) worker $2 or proposer $4 already has on it.
SELECT (SELECT status FROM tasks WHERE seq = $1) AS "status?",
    (SELECT COUNT(*) FROM proposals o WHERE o.task_seq = $1
        AND (o.worker_id = $2 OR o.proposer = $4) AND o.state = 'open' AND o.expires_at > $3)
        AS "own!: i64"
