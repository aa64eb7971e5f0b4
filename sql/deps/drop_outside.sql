-- Task $1 (its seq) no longer waits on $2 outside the pool.
DELETE FROM task_deps WHERE task_seq = $1 AND blocker_key = $2 AND blocker_seq IS NULL
