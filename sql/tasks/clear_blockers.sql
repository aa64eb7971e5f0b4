-- Forgets which tasks of the pool task $1 (its seq) waits on (GitHub's own blockers stay).
DELETE FROM task_deps WHERE task_seq = $1 AND blocker_seq IS NOT NULL
