-- Task $1 (its seq) waits on the task of key $2 of repository $4 (its id), its $3rd blocker.
INSERT INTO task_deps (task_seq, blocker_key, position, blocker_seq)
SELECT $1, $2, $3, seq FROM tasks WHERE repo_id = $4 AND key = $2
ON CONFLICT (task_seq, blocker_key) DO UPDATE
SET blocker_seq = excluded.blocker_seq, position = excluded.position
