-- No blocker outside the pool holds task $1 (its seq) any more.
UPDATE task_deps SET holds = 0 WHERE task_seq = $1 AND blocker_seq IS NULL AND holds = 1
