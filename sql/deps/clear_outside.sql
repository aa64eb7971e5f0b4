-- Forgets the blockers outside the pool (GitHub's) of task $1 (its seq).
DELETE FROM task_deps WHERE task_seq = $1 AND blocker_seq IS NULL
