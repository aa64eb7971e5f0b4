-- Whether task $1 has paths now, of any source, as the claim's path rule and the path-lock
-- trigger read it.
UPDATE tasks
SET has_paths = CASE WHEN EXISTS (SELECT 1 FROM task_paths p WHERE p.task_seq = $1) THEN 1 ELSE 0 END
WHERE seq = $1
