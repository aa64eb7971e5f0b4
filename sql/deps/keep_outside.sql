-- Task $1 (its seq) waits on $2 outside the pool, after its other blockers, holding while $3
-- (1); a blocker it has already holds as $3.
INSERT INTO task_deps (task_seq, blocker_key, position, holds)
VALUES ($1, $2, (SELECT COALESCE(MAX(position), -1) + 1 FROM task_deps WHERE task_seq = $1), $3)
ON CONFLICT (task_seq, blocker_key) DO UPDATE SET holds = $3
