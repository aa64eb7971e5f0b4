-- Task $1 (its seq) waits on $2 outside the pool, its $3rd blocker, holding while $4 (1).
INSERT INTO task_deps (task_seq, blocker_key, position, holds) VALUES ($1, $2, $3, $4)
ON CONFLICT (task_seq, blocker_key) DO NOTHING
