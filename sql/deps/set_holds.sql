-- The blocker $1 outside the pool holds ($2: 1) or not (0) every task that waits on it.
UPDATE task_deps SET holds = $2 WHERE blocker_key = $1 AND blocker_seq IS NULL
