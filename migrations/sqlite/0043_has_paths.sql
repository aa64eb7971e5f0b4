-- Whether a task has paths (`task_paths`), kept on the task (see the PostgreSQL migration of the
-- same number): the path-lock trigger runs only for a task that has paths, and the path rule
-- reads it. `Store::set_task_paths`, the one writer of `task_paths`, keeps it.
ALTER TABLE tasks ADD COLUMN has_paths INTEGER NOT NULL DEFAULT 0;

UPDATE tasks SET has_paths = 1
WHERE EXISTS (SELECT 1 FROM task_paths p WHERE p.task_seq = tasks.seq);

-- 0028's trigger, for tasks that have paths only.
DROP TRIGGER tasks_path_locks;
CREATE TRIGGER tasks_path_locks AFTER UPDATE OF status, awaits_maintainer ON tasks
WHEN NEW.has_paths = 1
    AND (OLD.status IN ('leased', 'in_progress', 'pr_opened') OR OLD.awaits_maintainer = 1)
    <> (NEW.status IN ('leased', 'in_progress', 'pr_opened') OR NEW.awaits_maintainer = 1)
BEGIN
    UPDATE task_paths
    SET held = CASE WHEN NEW.status IN ('leased', 'in_progress', 'pr_opened')
        OR NEW.awaits_maintainer = 1 THEN 1 ELSE 0 END
    WHERE task_seq = NEW.seq;
END;
