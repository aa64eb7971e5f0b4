-- Task $1 holds no pattern from source $2.
DELETE FROM task_paths WHERE task_seq = $1 AND source = $2
